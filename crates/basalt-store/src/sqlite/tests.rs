//! SQLite-only checks: the compiled SQL is served by the indexes `/schemas` declares.

use std::sync::Arc;

use basalt_core::query::{FieldPath, parse_where};
use basalt_core::schema::{ClassSchema, FieldDef, FieldType, SchemaMap};
use rusqlite::params_from_iter;
use serde_json::json;

use super::SqliteStore;
use super::compile::find_sql;
use crate::testing::{create, object};
use crate::{Direction, FindSpec, Store};

fn plan_details(
    path: &std::path::Path,
    sql: &str,
    params: &[rusqlite::types::Value],
) -> Vec<String> {
    let conn = rusqlite::Connection::open(path).unwrap();
    super::functions::register(&conn).unwrap();
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    stmt.query_map(params_from_iter(params.iter()), |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

#[tokio::test]
async fn range_query_with_order_uses_the_declared_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let mut schema = ClassSchema::new("BenchItem");
    schema
        .fields
        .insert("score".into(), FieldDef::of(FieldType::Number));
    schema
        .fields
        .insert("when".into(), FieldDef::of(FieldType::Date));
    schema.indexes.insert(
        "score_1".into(),
        json!({"score": 1}).as_object().cloned().unwrap(),
    );
    schema.indexes.insert(
        "when_1".into(),
        json!({"when": 1}).as_object().cloned().unwrap(),
    );
    store.save_schema(&schema).await.unwrap();
    let mut schemas = SchemaMap::new();
    schemas.insert("BenchItem".into(), Arc::new(schema));

    let cases = [
        (
            json!({"score": {"$gte": 500}}),
            "score",
            "ix_BenchItem_score_1",
        ),
        (
            json!({"when": {"$lt": {"__type": "Date", "iso": "2024-01-01T00:00:00.000Z"}}}),
            "when",
            "ix_BenchItem_when_1",
        ),
    ];
    for (where_, order_key, index) in cases {
        let spec = FindSpec {
            order: vec![(FieldPath::parse(order_key), Direction::Descending)],
            limit: Some(20),
            ..FindSpec::filter(parse_where(&where_).unwrap())
        };
        let plan = find_sql(&schemas, "BenchItem", &spec).unwrap().unwrap();

        let details = plan_details(&path, &plan.sql, &plan.params);

        assert!(
            details.iter().any(|d| d.contains(index)),
            "{where_}: plan {details:?} for {}",
            plan.sql
        );
        assert!(
            !details.iter().any(|d| d.contains("TEMP B-TREE")),
            "{where_}: sorts in memory: {details:?}"
        );
    }
}

#[tokio::test]
async fn get_by_object_id_uses_the_primary_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.db");
    let store = SqliteStore::open(&path).await.unwrap();
    store.save_schema(&ClassSchema::new("Thing")).await.unwrap();
    let mut schemas = SchemaMap::new();
    schemas.insert("Thing".into(), Arc::new(ClassSchema::new("Thing")));
    let spec = FindSpec {
        limit: Some(1),
        ..FindSpec::filter(parse_where(&json!({"objectId": "abc"})).unwrap())
    };
    let plan = find_sql(&schemas, "Thing", &spec).unwrap().unwrap();

    let details = plan_details(&path, &plan.sql, &plan.params);

    assert!(
        details
            .iter()
            .any(|d| d.contains("USING INDEX sqlite_autoindex")),
        "{details:?}"
    );
}

/// Under a steady stream of writes the WAL must start over once the writer has caught up with
/// the checkpoint; before, it only ever grew (4 GB after a minute of updates).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_starts_over_under_a_steady_write_load() {
    const RESTART_FRAMES: i32 = 64;
    let policy = super::writer::WalPolicy {
        checkpoint_every: std::time::Duration::from_millis(20),
        restart_frames: RESTART_FRAMES,
        catch_up_frames: 256,
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.db");
    let store = Arc::new(SqliteStore::open_with(&path, policy).await.unwrap());
    store.save_schema(&ClassSchema::new("Blob")).await.unwrap();
    // Each object spills its 20 KB string over several overflow pages, so each write adds
    // about six frames: 1,600 writes would leave a WAL of some 40 MB if it never started over.
    let filler = "x".repeat(20_000);
    let writers = (0..8).map(|w| {
        let (store, filler) = (Arc::clone(&store), filler.clone());
        tokio::spawn(async move {
            for i in 0..200 {
                let blob = object(&format!("w{w}n{i}"), json!({ "body": filler }));
                store
                    .write(vec![create("Blob", blob)])
                    .await
                    .map_err(|(_, e)| e)
                    .unwrap();
            }
        })
    });
    for w in writers.collect::<Vec<_>>() {
        w.await.unwrap();
    }

    let wal_bytes = std::fs::metadata(dir.path().join("wal.db-wal"))
        .unwrap()
        .len();
    let db_bytes = std::fs::metadata(&path).unwrap().len();
    // Up to a checkpoint interval of writes can land after the last restart: 20 ms here, a few
    // dozen writes of six frames each; the bound allows a few hundred.
    let bound = (RESTART_FRAMES as u64 + 2_000) * 4_200;
    assert!(
        wal_bytes < bound,
        "WAL is {wal_bytes} bytes (database {db_bytes}); it should start over below {bound}"
    );
    assert!(
        db_bytes > 30_000_000,
        "the rows reached the database file: {db_bytes}"
    );
    store.close().await;
}

fn by_id_spec(id: &str, readers: Option<&[&str]>) -> FindSpec {
    FindSpec {
        readers: readers.map(|r| r.iter().map(|s| (*s).to_owned()).collect()),
        ..FindSpec::filter(parse_where(&json!({ "objectId": id })).unwrap())
    }
}

fn set(field: &str, value: serde_json::Value) -> basalt_core::ops::Patch {
    basalt_core::ops::Patch {
        changes: vec![basalt_core::ops::FieldChange {
            field: field.into(),
            sub: vec![],
            op: basalt_core::ops::Op::Set(value),
        }],
    }
}

fn update(id: &str, patch: basalt_core::ops::Patch) -> crate::Write {
    crate::Write::Update {
        class: "Card".into(),
        object_id: id.into(),
        patch,
        updated_at: "2024-01-02T00:00:00.000Z".into(),
        relations: vec![],
        writers: None,
    }
}

async fn get_n(store: &SqliteStore, schemas: &SchemaMap, id: &str) -> Option<serde_json::Value> {
    let found = store
        .find(schemas, "Card", &by_id_spec(id, None))
        .await
        .unwrap();
    found
        .first()
        .map(|o| o.fields.get("n").cloned().unwrap_or_default())
}

/// Gets by id are answered from the row cache after the first; every kind of write is seen by
/// the next get all the same.
#[tokio::test]
async fn a_get_by_id_sees_every_write_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("rows.db"))
        .await
        .unwrap();
    let mut schema = ClassSchema::new("Card");
    schema
        .fields
        .insert("n".into(), FieldDef::of(FieldType::Number));
    store.save_schema(&schema).await.unwrap();
    let mut schemas = SchemaMap::new();
    schemas.insert("Card".into(), Arc::new(schema));
    store
        .write(vec![create("Card", object("c1", json!({"n": 1})))])
        .await
        .unwrap();

    assert_eq!(get_n(&store, &schemas, "c1").await, Some(json!(1)));
    assert_eq!(get_n(&store, &schemas, "c1").await, Some(json!(1)));
    store
        .write(vec![update("c1", set("n", json!(2)))])
        .await
        .unwrap();
    assert_eq!(get_n(&store, &schemas, "c1").await, Some(json!(2)));

    // A read-only ACL: the cached row answers each caller as the SQL would.
    let acl = json!({"u1": {"read": true}});
    store
        .write(vec![update("c1", set("ACL", acl))])
        .await
        .unwrap();
    for _ in 0..2 {
        let mine = store
            .find(&schemas, "Card", &by_id_spec("c1", Some(&["*", "u1"])))
            .await
            .unwrap();
        let theirs = store
            .find(&schemas, "Card", &by_id_spec("c1", Some(&["*", "u2"])))
            .await
            .unwrap();
        assert_eq!((mine.len(), theirs.len()), (1, 0));
    }

    store.delete_field("Card", "n").await.unwrap();
    assert_eq!(
        get_n(&store, &schemas, "c1").await,
        Some(serde_json::Value::Null)
    );

    store
        .write(vec![crate::Write::Delete {
            class: "Card".into(),
            object_id: "c1".into(),
            writers: None,
        }])
        .await
        .unwrap();
    assert_eq!(get_n(&store, &schemas, "c1").await, None);

    store
        .write(vec![create("Card", object("c2", json!({"n": 5})))])
        .await
        .unwrap();
    assert_eq!(get_n(&store, &schemas, "c2").await, Some(json!(5)));
    store.purge("Card").await.unwrap();
    assert_eq!(get_n(&store, &schemas, "c2").await, None);
    store.close().await;
}

/// Readers racing a stream of writes never see a value go backwards, and once the writes are
/// done every get sees the last one: a read from before a commit never stays in the cache.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gets_racing_writes_never_go_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(
        SqliteStore::open(&dir.path().join("race.db"))
            .await
            .unwrap(),
    );
    let schema = ClassSchema::new("Card");
    store.save_schema(&schema).await.unwrap();
    let mut schemas = SchemaMap::new();
    schemas.insert("Card".into(), Arc::new(schema));
    let schemas = Arc::new(schemas);
    store
        .write(vec![create("Card", object("hot", json!({"n": 0})))])
        .await
        .unwrap();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (store, schemas, done) =
                (Arc::clone(&store), Arc::clone(&schemas), Arc::clone(&done));
            tokio::spawn(async move {
                let (mut last, mut reads) = (0, 0);
                while !done.load(std::sync::atomic::Ordering::Acquire) {
                    let n = get_n(&store, &schemas, "hot")
                        .await
                        .unwrap()
                        .as_i64()
                        .unwrap();
                    assert!(n >= last, "went back from {last} to {n}");
                    (last, reads) = (n, reads + 1);
                    tokio::task::yield_now().await;
                }
                reads
            })
        })
        .collect();
    for n in 1..=300 {
        store
            .write(vec![update("hot", set("n", json!(n)))])
            .await
            .unwrap();
        // Every get that starts after a write's commit sees it.
        assert_eq!(get_n(&store, &schemas, "hot").await, Some(json!(n)));
    }
    done.store(true, std::sync::atomic::Ordering::Release);
    for r in readers {
        assert!(r.await.unwrap() > 0);
    }
    assert_eq!(get_n(&store, &schemas, "hot").await, Some(json!(300)));
    store.close().await;
}

/// One process at a time: the row cache is exact only if every write passes this store.
#[tokio::test]
async fn a_second_opener_is_refused_until_the_first_closes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("owned.db");
    let first = SqliteStore::open(&path).await.unwrap();

    let refused = SqliteStore::open(&path)
        .await
        .err()
        .expect("a second opener");
    assert!(
        refused
            .to_string()
            .contains("in use by another basalt process"),
        "{refused:#}"
    );

    first.close().await;
    let second = SqliteStore::open(&path).await.unwrap();
    second.close().await;
}
