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
