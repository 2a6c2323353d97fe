//! The conformance suite on the PostgreSQL store, each test in a fresh database that is dropped
//! afterwards. Without a reachable server the tests say they were skipped (and fail instead
//! when `BASALT_REQUIRE_POSTGRES=1`).

use std::sync::Arc;

use basalt_store::Store;
use basalt_store::postgres::PgStore;
use basalt_store::testing::pg::FreshDatabase;

/// A store on its own database; the store is closed before the database is dropped.
struct Fresh {
    store: Arc<dyn Store>,
    _db: FreshDatabase,
}

impl std::ops::Deref for Fresh {
    type Target = dyn Store;
    fn deref(&self) -> &Self::Target {
        self.store.as_ref()
    }
}

async fn fresh() -> anyhow::Result<Option<Fresh>> {
    // The test harness names each test's thread after the test.
    let test = std::thread::current()
        .name()
        .unwrap_or("a PostgreSQL store test")
        .to_owned();
    let Some(db) = FreshDatabase::create(&test).await? else {
        return Ok(None);
    };
    let store = PgStore::connect(&db.uri).await?;
    Ok(Some(Fresh {
        store: Arc::new(store),
        _db: db,
    }))
}

basalt_store::store_conformance!(match fresh().await? {
    Some(f) => f,
    None => return Ok(()),
});
