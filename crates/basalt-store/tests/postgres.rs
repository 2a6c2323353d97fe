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

/// Waits for the next thing a listener hears.
async fn next_heard(
    heard: &mut tokio::sync::mpsc::Receiver<basalt_store::postgres::notify::Heard>,
) -> anyhow::Result<basalt_store::postgres::notify::Heard> {
    tokio::time::timeout(std::time::Duration::from_secs(10), heard.recv())
        .await?
        .ok_or_else(|| anyhow::anyhow!("the listener stopped"))
}

/// A notification reaches the other connection's listener; when the listening connection is
/// cut, it comes back by itself and says so (so its owner can catch up), then hears again.
#[tokio::test]
async fn notifications_reach_listeners_that_reconnect_after_a_cut() -> anyhow::Result<()> {
    use basalt_store::postgres::notify::{Heard, LISTENER_NAME, PgChannel};
    let Some(db) = FreshDatabase::create("notifications_reach_listeners").await? else {
        return Ok(());
    };
    let sender = PgChannel::connect(&db.uri, "basalt_test_channel").await?;
    let listener = PgChannel::connect(&db.uri, "basalt_test_channel").await?;
    let mut heard = listener.listen();
    assert_eq!(next_heard(&mut heard).await?, Heard::Listening);

    sender.notify("first").await?;
    assert_eq!(
        next_heard(&mut heard).await?,
        Heard::Payload("first".into())
    );

    let (admin, conn) = tokio_postgres::connect(&db.uri, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let cut = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = $1",
            &[&LISTENER_NAME],
        )
        .await?;
    assert_eq!(cut.len(), 1, "one listening connection");
    assert_eq!(next_heard(&mut heard).await?, Heard::Listening);
    sender.notify("second").await?;
    assert_eq!(
        next_heard(&mut heard).await?,
        Heard::Payload("second".into())
    );
    Ok(())
}
