//! SQLite-only checks: the compiled SQL is served by the indexes `/schemas` declares.

use std::sync::Arc;

use basalt_core::query::{FieldPath, parse_where};
use basalt_core::schema::{ClassSchema, FieldDef, FieldType, SchemaMap};
use rusqlite::params_from_iter;
use serde_json::json;

use super::SqliteStore;
use super::compile::find_sql;
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
                let object = crate::StoredObject {
                    object_id: format!("w{w}n{i}"),
                    created_at: "2024-01-01T00:00:00.000Z".into(),
                    updated_at: "2024-01-01T00:00:00.000Z".into(),
                    fields: json!({ "body": filler }).as_object().cloned().unwrap(),
                };
                store
                    .write(vec![crate::Write::Create {
                        class: "Blob".into(),
                        object,
                        relations: vec![],
                    }])
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
