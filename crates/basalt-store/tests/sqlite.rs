//! The conformance suite on the embedded SQLite store, plus checks only SQLite has (indexes).

use std::sync::Arc;

use basalt_store::Store;
use basalt_store::sqlite::SqliteStore;

/// A store in a temp dir that is removed when the store is dropped.
struct Fresh {
    store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for Fresh {
    type Target = dyn Store;
    fn deref(&self) -> &Self::Target {
        self.store.as_ref()
    }
}

async fn fresh() -> anyhow::Result<Fresh> {
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(&dir.path().join("conformance.db")).await?;
    Ok(Fresh {
        store: Arc::new(store),
        _dir: dir,
    })
}

basalt_store::store_conformance!(fresh().await?);
