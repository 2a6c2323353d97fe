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

/// Two nodes sharing a database may create the same class (and its indexes) at the same time;
/// both must succeed and leave one table with valid indexes.
#[tokio::test]
async fn two_nodes_creating_the_same_class_at_once_both_succeed() -> anyhow::Result<()> {
    use basalt_core::schema::{ClassSchema, FieldDef, FieldType};
    let Some(db) = FreshDatabase::create("two_nodes_creating_the_same_class_at_once").await? else {
        return Ok(());
    };
    let (a, b) = tokio::join!(PgStore::connect(&db.uri), PgStore::connect(&db.uri));
    let (a, b) = (a?, b?);
    let mut schema = ClassSchema::new("Shared");
    schema
        .fields
        .insert("n".into(), FieldDef::of(FieldType::Number));
    schema.indexes.insert(
        "n_1".into(),
        serde_json::json!({"n": 1})
            .as_object()
            .cloned()
            .unwrap_or_default(),
    );

    for _ in 0..5 {
        let (ra, rb) = tokio::join!(a.save_schema(&schema), b.save_schema(&schema));
        ra?;
        rb?;
        let (ua, ub) = tokio::join!(
            a.ensure_unique("Shared", "n", basalt_store::Case::Sensitive),
            b.ensure_unique("Shared", "n", basalt_store::Case::Sensitive)
        );
        ua?;
        ub?;
    }

    let schemas = a.load_schemas().await?;
    anyhow::ensure!(schemas.iter().filter(|s| s.class_name == "Shared").count() == 1);
    a.close().await;
    b.close().await;
    Ok(())
}
