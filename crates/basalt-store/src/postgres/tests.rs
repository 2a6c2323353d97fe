//! PostgreSQL-only checks: the compiled SQL can be served by the indexes `/schemas` declares
//! (sequential scans are switched off, so a plan that cannot use the index shows a Seq Scan),
//! and schema changes on a table that holds data leave valid indexes behind.

use std::sync::Arc;

use basalt_core::query::{FieldPath, parse_where};
use basalt_core::schema::{ClassSchema, FieldDef, FieldType, SchemaMap};
use serde_json::json;

use super::PgStore;
use super::compile::find_sql;
use crate::testing::pg::FreshDatabase;
use crate::{Direction, FindSpec, Store, StoredObject, Write};

async fn fresh(test: &str) -> Option<(PgStore, FreshDatabase)> {
    let db = FreshDatabase::create(test).await.unwrap()?;
    let store = PgStore::connect(&db.uri).await.unwrap();
    Some((store, db))
}

fn bench_schema() -> ClassSchema {
    let mut schema = ClassSchema::new("BenchItem");
    for (name, ty) in [
        ("score", FieldType::Number),
        ("when", FieldType::Date),
        ("name", FieldType::String),
        ("tags", FieldType::Array),
        ("bio", FieldType::String),
    ] {
        schema.fields.insert(name.into(), FieldDef::of(ty));
    }
    for (name, keys) in [
        ("score_1", json!({"score": 1})),
        ("when_1", json!({"when": 1})),
        ("name_1", json!({"name": 1})),
        ("tags_1", json!({"tags": 1})),
        ("bio_text", json!({"bio": "text"})),
    ] {
        schema
            .indexes
            .insert(name.into(), keys.as_object().cloned().unwrap());
    }
    schema
}

async fn fill(store: &PgStore, n: usize) {
    let writes = (0..n)
        .map(|i| Write::Create {
            class: "BenchItem".into(),
            object: StoredObject {
                object_id: format!("obj{i:07}"),
                created_at: "2024-01-01T00:00:00.000Z".into(),
                updated_at: "2024-01-01T00:00:00.000Z".into(),
                fields: json!({
                    "score": i, "name": format!("n{i}"), "tags": [format!("t{}", i % 50)],
                    "when": {"__type": "Date", "iso": format!("2024-01-01T00:00:{:02}.000Z", i % 60)},
                    "bio": format!("word{} common", i % 97)
                })
                .as_object()
                .cloned()
                .unwrap(),
            },
            relations: vec![],
        })
        .collect();
    store.write(writes).await.unwrap();
}

async fn plan(store: &PgStore, schemas: &SchemaMap, spec: &FindSpec) -> String {
    let plan = find_sql(schemas, "BenchItem", spec).unwrap().unwrap();
    let client = store.pool.get().await.unwrap();
    client
        .batch_execute("SET enable_seqscan = off")
        .await
        .unwrap();
    let rows = client
        .query(&format!("EXPLAIN {}", plan.sql), &plan.args())
        .await
        .unwrap();
    client.batch_execute("RESET enable_seqscan").await.unwrap();
    rows.iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n")
}

async fn indexed_store(test: &str) -> Option<(PgStore, FreshDatabase, SchemaMap)> {
    let (store, db) = fresh(test).await?;
    let schema = bench_schema();
    store.save_schema(&schema).await.unwrap();
    fill(&store, 500).await;
    let client = store.pool.get().await.unwrap();
    client
        .batch_execute("ANALYZE \"cls_BenchItem\"")
        .await
        .unwrap();
    let mut schemas = SchemaMap::new();
    schemas.insert("BenchItem".into(), Arc::new(schema));
    Some((store, db, schemas))
}

#[tokio::test]
async fn range_queries_with_order_and_limit_use_the_declared_index() {
    let Some((store, _db, schemas)) = indexed_store("range_queries_with_order_and_limit").await
    else {
        return;
    };
    let cases = [
        (
            json!({"score": {"$gte": 400}}),
            "score",
            "ix_BenchItem_score_1",
        ),
        (
            json!({"when": {"$lt": {"__type": "Date", "iso": "2024-01-01T00:00:30.000Z"}}}),
            "when",
            "ix_BenchItem_when_1",
        ),
        (
            json!({"name": {"$gt": "n4"}}),
            "name",
            "ix_BenchItem_name_1",
        ),
    ];
    for (where_, order_key, index) in cases {
        for dir in [Direction::Ascending, Direction::Descending] {
            let spec = FindSpec {
                order: vec![(FieldPath::parse(order_key), dir)],
                limit: Some(20),
                ..FindSpec::filter(parse_where(&where_).unwrap())
            };

            let text = plan(&store, &schemas, &spec).await;

            assert!(text.contains(index), "{where_} {dir:?}: {text}");
            assert!(!text.contains("Sort"), "{where_} {dir:?} sorts: {text}");
        }
    }
}

#[tokio::test]
async fn object_id_lookups_use_the_primary_key() {
    let Some((store, _db, schemas)) = indexed_store("object_id_lookups").await else {
        return;
    };
    for where_ in [
        json!({"objectId": "obj0000007"}),
        json!({"objectId": {"$in": ["obj0000007", "obj0000008"]}}),
    ] {
        let spec = FindSpec {
            limit: Some(1),
            ..FindSpec::filter(parse_where(&where_).unwrap())
        };

        let text = plan(&store, &schemas, &spec).await;

        assert!(text.contains("cls_BenchItem_pkey"), "{where_}: {text}");
    }
}

#[tokio::test]
async fn array_containment_and_text_search_use_their_gin_indexes() {
    let Some((store, _db, schemas)) = indexed_store("array_and_text_gin").await else {
        return;
    };
    let cases = [
        (json!({"tags": "t7"}), "ix_BenchItem_tags_1"),
        (
            json!({"tags": {"$all": ["t7", "t8"]}}),
            "ix_BenchItem_tags_1",
        ),
        (
            json!({"bio": {"$text": {"$search": {"$term": "word5"}}}}),
            "ix_BenchItem_bio_text",
        ),
    ];
    for (where_, index) in cases {
        let spec = FindSpec::filter(parse_where(&where_).unwrap());

        let text = plan(&store, &schemas, &spec).await;

        assert!(text.contains(index), "{where_}: {text}");
    }
    let found = store
        .find(
            &schemas,
            "BenchItem",
            &FindSpec::filter(
                parse_where(&json!({"bio": {"$text": {"$search": {"$term": "word5"}}}})).unwrap(),
            ),
        )
        .await
        .unwrap();
    assert_eq!(
        found.len(),
        6,
        "objects 5, 102, 199, 296, 393 and 490 say word5"
    );
}

#[tokio::test]
async fn indexes_added_to_a_class_with_data_are_built_online_and_valid() {
    let Some((store, _db)) = fresh("indexes_added_online").await else {
        return;
    };
    let mut schema = bench_schema();
    let declared = std::mem::take(&mut schema.indexes);
    store.save_schema(&schema).await.unwrap();
    fill(&store, 200).await;

    schema.indexes = declared;
    store.save_schema(&schema).await.unwrap();
    schema.indexes.remove("name_1");
    store.save_schema(&schema).await.unwrap();

    let client = store.pool.get().await.unwrap();
    let rows = client
        .query(
            "SELECT i.relname::text, x.indisvalid FROM pg_index x
             JOIN pg_class i ON i.oid = x.indexrelid
             WHERE x.indrelid = '\"cls_BenchItem\"'::regclass AND i.relname LIKE 'ix%'
             ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    let got: Vec<(String, bool)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let want: Vec<(String, bool)> = [
        "ix_BenchItem_bio_text",
        "ix_BenchItem_score_1",
        "ix_BenchItem_tags_1",
        "ix_BenchItem_when_1",
    ]
    .iter()
    .map(|n| ((*n).to_owned(), true))
    .collect();
    assert_eq!(got, want);
}

fn get_by_id(id: &str) -> FindSpec {
    FindSpec {
        limit: Some(1),
        readers: Some(vec!["*".into()]),
        ..FindSpec::filter(parse_where(&json!({ "objectId": id })).unwrap())
    }
}

#[tokio::test]
async fn concurrent_gets_on_the_shared_connection_each_get_their_own_object() {
    let Some((store, _db, schemas)) = indexed_store("shared_concurrent_gets").await else {
        return;
    };
    let store = Arc::new(store);
    let gets = (0..200).map(|i| {
        let (store, schemas) = (Arc::clone(&store), schemas.clone());
        tokio::spawn(async move {
            let id = format!("obj{:07}", (i * 7) % 500);
            let found = store
                .find(&schemas, "BenchItem", &get_by_id(&id))
                .await
                .unwrap();
            (id, found)
        })
    });
    for get in gets {
        let (id, found) = get.await.unwrap();
        assert_eq!(found.len(), 1, "{id}");
        assert_eq!(found[0].object_id, id);
    }
}

#[tokio::test]
async fn gets_recover_when_the_shared_connection_is_killed() {
    let Some((store, db, schemas)) = indexed_store("shared_connection_killed").await else {
        return;
    };
    let found = store
        .find(&schemas, "BenchItem", &get_by_id("obj0000003"))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);

    // What a server restart or a dropped network does to the connection the gets share.
    let admin = store.pool.get().await.unwrap();
    let killed: i64 = admin
        .query_one(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()) AS t",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(killed >= 1, "the shared connection was not found to kill");
    drop(admin);
    let name = db.uri.rsplit('/').next().unwrap().to_owned();

    let mut found = Vec::new();
    for _ in 0..50 {
        // The driver notices the closed socket asynchronously; a get issued before it does
        // may fail once, and the next ones must succeed on a fresh connection.
        match store
            .find(&schemas, "BenchItem", &get_by_id("obj0000004"))
            .await
        {
            Ok(objects) => {
                found = objects;
                break;
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
    }
    assert_eq!(found.len(), 1, "gets on {name} did not recover");
    assert_eq!(found[0].object_id, "obj0000004");
}
