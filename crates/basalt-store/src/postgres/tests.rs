//! PostgreSQL-only checks: the compiled SQL can be served by the indexes `/schemas` declares
//! (sequential scans are switched off, so a plan that cannot use the index shows a Seq Scan),
//! and schema changes on a table that holds data leave valid indexes behind.

use std::sync::Arc;
use std::time::Duration;

use basalt_core::query::{FieldPath, distance_radians, parse_where, point_in_polygon};
use basalt_core::schema::{ClassSchema, FieldDef, FieldType, SchemaMap};
use basalt_core::value::GeoPoint;
use serde_json::json;

use super::PgStore;
use super::compile::find_sql;
use crate::testing::pg::FreshDatabase;
use crate::testing::{create, object};
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
        ("place", FieldType::GeoPoint),
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
        .map(|i| {
            let fields = json!({
                "score": i, "name": format!("n{i}"), "tags": [format!("t{}", i % 50)],
                "when": {"__type": "Date", "iso": format!("2024-01-01T00:00:{:02}.000Z", i % 60)},
                "bio": format!("word{} common", i % 97),
                "place": {"__type": "GeoPoint", "latitude": place(i).latitude, "longitude": place(i).longitude}
            });
            create("BenchItem", object(&format!("obj{i:07}"), fields))
        })
        .collect();
    store.write(writes).await.unwrap();
}

/// Where `fill` puts object `i`: a grid of 50 by 10 points 0.1 degrees apart.
fn place(i: usize) -> GeoPoint {
    let (row, col) = (i % 50, (i / 50) % 10);
    GeoPoint {
        latitude: row as f64 * 0.1,
        longitude: col as f64 * 0.1,
    }
}

async fn plan(store: &PgStore, schemas: &SchemaMap, spec: &FindSpec) -> String {
    explain(store, schemas, "BenchItem", spec).await
}

/// The plan of a find on `class` with sequential scans switched off.
async fn explain(store: &PgStore, schemas: &SchemaMap, class: &str, spec: &FindSpec) -> String {
    let plan = find_sql(schemas, class, spec, store.postgis)
        .unwrap()
        .unwrap();
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
    let mut want: Vec<(String, bool)> = [
        "ix_BenchItem_bio_text",
        "ix_BenchItem_score_1",
        "ix_BenchItem_tags_1",
        "ix_BenchItem_when_1",
    ]
    .iter()
    .map(|n| ((*n).to_owned(), true))
    .collect();
    if store.postgis {
        // Not declared: every GeoPoint field gets one where PostGIS is.
        want.insert(1, ("ix_BenchItem_place_geo".to_owned(), true));
    }
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
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    assert_eq!(found.len(), 1, "gets on {name} did not recover");
    assert_eq!(found[0].object_id, "obj0000004");
}

#[tokio::test]
async fn near_and_center_sphere_use_the_geo_index_and_find_the_same_points() {
    let Some((store, _db, schemas)) = indexed_store("near_geo_index").await else {
        return;
    };
    if !has_postgis(&store, "near_and_center_sphere_use_the_geo_index") {
        return;
    }
    let center = GeoPoint {
        latitude: 2.0,
        longitude: 0.5,
    };
    // About 32 km: three grid steps around the centre, so the edge runs between points.
    let radius = 0.005;
    let point =
        json!({"__type": "GeoPoint", "latitude": center.latitude, "longitude": center.longitude});
    let mut expected: Vec<String> = (0..500)
        .filter(|&i| distance_radians(place(i), center) <= radius)
        .map(|i| format!("obj{i:07}"))
        .collect();
    expected.sort();
    assert!(
        expected.len() > 10 && expected.len() < 100,
        "{}",
        expected.len()
    );
    for where_ in [
        json!({"place": {"$nearSphere": point, "$maxDistanceInRadians": radius}}),
        json!({"place": {"$geoWithin": {"$centerSphere": [[center.longitude, center.latitude], radius]}}}),
    ] {
        let spec = FindSpec {
            limit: Some(1000),
            ..FindSpec::filter(parse_where(&where_).unwrap())
        };

        let text = plan(&store, &schemas, &spec).await;
        let found = store.find(&schemas, "BenchItem", &spec).await.unwrap();

        assert!(text.contains("ix_BenchItem_place_geo"), "{where_}: {text}");
        let mut ids: Vec<String> = found.into_iter().map(|o| o.object_id).collect();
        ids.sort();
        assert_eq!(ids, expected, "{where_}");
    }
}

/// Whether the test database has PostGIS; CI requires it, a plain run says it skipped.
fn has_postgis(store: &PgStore, test: &str) -> bool {
    if !store.postgis {
        assert_ne!(
            std::env::var("BASALT_REQUIRE_POSTGRES").as_deref(),
            Ok("1"),
            "PostGIS is not installed on the test database server \
             (apt-get install postgresql-<major>-postgis-3)"
        );
        eprintln!("SKIPPED {test}: no PostGIS");
    }
    store.postgis
}

/// The sorted ids of the objects `fill` placed where `keep` says.
fn placed_where(keep: impl Fn(GeoPoint) -> bool) -> Vec<String> {
    (0..500)
        .filter(|&i| keep(place(i)))
        .map(|i| format!("obj{i:07}"))
        .collect()
}

#[tokio::test]
async fn box_and_polygon_use_the_geo_index_and_find_the_same_points() {
    let Some((store, _db, schemas)) = indexed_store("box_geo_index").await else {
        return;
    };
    if !has_postgis(&store, "box_and_polygon_use_the_geo_index") {
        return;
    }
    let geo = |lat: f64, lng: f64| json!({"__type": "GeoPoint", "latitude": lat, "longitude": lng});
    // Edges on grid points (both edges count), and a triangle whose sides pass between them.
    let (s, w, n, e) = (1.0, 0.2, 1.6, 0.5);
    let in_box = placed_where(|p| {
        p.latitude >= s && p.latitude <= n && p.longitude >= w && p.longitude <= e
    });
    let triangle =
        [(0.95, 0.05), (2.05, 0.85), (1.45, -0.1)].map(|(latitude, longitude)| GeoPoint {
            latitude,
            longitude,
        });
    let in_triangle = placed_where(|p| point_in_polygon(p, &triangle));
    // Crossing the antimeridian: longitudes from 0.75 east round to 0.15; no cap helps here.
    let (ws, we) = (0.75, 0.15);
    let in_wrapping_box = placed_where(|p| {
        (3.0..=3.4).contains(&p.latitude) && (p.longitude >= ws || p.longitude <= we)
    });
    for found in [&in_box, &in_triangle, &in_wrapping_box] {
        assert!(found.len() > 5 && found.len() < 100, "{}", found.len());
    }
    let vertices: Vec<_> = triangle
        .iter()
        .map(|p| geo(p.latitude, p.longitude))
        .collect();
    for (where_, expected, indexed) in [
        (
            json!({"place": {"$within": {"$box": [geo(s, w), geo(n, e)]}}}),
            &in_box,
            true,
        ),
        (
            json!({"place": {"$geoWithin": {"$polygon": vertices}}}),
            &in_triangle,
            true,
        ),
        (
            json!({"place": {"$within": {"$box": [geo(3.0, ws), geo(3.4, we)]}}}),
            &in_wrapping_box,
            false,
        ),
    ] {
        let spec = FindSpec {
            limit: Some(1000),
            ..FindSpec::filter(parse_where(&where_).unwrap())
        };

        let text = plan(&store, &schemas, &spec).await;
        let found = store.find(&schemas, "BenchItem", &spec).await.unwrap();

        assert_eq!(
            text.contains("ix_BenchItem_place_geo"),
            indexed,
            "{where_}: {text}"
        );
        let mut ids: Vec<String> = found.into_iter().map(|o| o.object_id).collect();
        ids.sort();
        assert_eq!(&ids, expected, "{where_}");
    }
}

/// Zone `i`'s area: a quadrilateral around a point of a 20 by 20 grid 0.1 degrees apart, wide
/// enough that neighbours overlap, skewed so that its sides are not parallel to the axes.
fn zone(i: usize) -> Vec<GeoPoint> {
    let (lat, lng) = ((i % 20) as f64 * 0.1, (i / 20) as f64 * 0.1);
    [
        (-0.056, -0.016),
        (0.008, 0.064),
        (0.072, 0.024),
        (0.016, -0.072),
    ]
    .map(|(dlat, dlng)| GeoPoint {
        latitude: lat + dlat,
        longitude: lng + dlng,
    })
    .to_vec()
}

#[tokio::test]
async fn geo_intersects_uses_the_polygon_index_and_finds_the_same_areas() {
    let Some((store, _db)) = fresh("polygon_index").await else {
        return;
    };
    let mut schema = ClassSchema::new("Zone");
    schema
        .fields
        .insert("area".into(), FieldDef::of(FieldType::Polygon));
    store.save_schema(&schema).await.unwrap();
    let writes = (0..400)
        .map(|i| {
            let coordinates: Vec<_> = zone(i)
                .iter()
                .map(|p| json!([p.latitude, p.longitude]))
                .collect();
            let area = json!({"area": {"__type": "Polygon", "coordinates": coordinates}});
            create("Zone", object(&format!("zone{i:06}"), area))
        })
        .collect();
    store.write(writes).await.unwrap();
    let client = store.pool.get().await.unwrap();
    client.batch_execute("ANALYZE \"cls_Zone\"").await.unwrap();
    let mut schemas = SchemaMap::new();
    schemas.insert("Zone".into(), Arc::new(schema));

    // A 12 by 12 grid of points that falls at every distance from the zones' edges, a zone's
    // vertex, and a point outside them all.
    let mut points: Vec<(f64, f64)> = (0..144)
        .map(|k| {
            (
                0.013 + (k % 12) as f64 * 0.157,
                0.021 + (k / 12) as f64 * 0.163,
            )
        })
        .collect();
    points.extend([(0.53, 0.68), (5.0, 5.0)]);
    let (mut hits, mut overlaps) = (0, 0);
    for (lat, lng) in points {
        let point = GeoPoint {
            latitude: lat,
            longitude: lng,
        };
        let expected: Vec<String> = (0..400)
            .filter(|&i| point_in_polygon(point, &zone(i)))
            .map(|i| format!("zone{i:06}"))
            .collect();
        let where_ = json!({"area": {"$geoIntersects": {"$point":
            {"__type": "GeoPoint", "latitude": lat, "longitude": lng}}}});
        let spec = FindSpec {
            limit: Some(1000),
            ..FindSpec::filter(parse_where(&where_).unwrap())
        };

        let found = store.find(&schemas, "Zone", &spec).await.unwrap();

        let mut ids: Vec<String> = found.into_iter().map(|o| o.object_id).collect();
        ids.sort();
        assert_eq!(ids, expected, "{where_}");
        hits += usize::from(!ids.is_empty());
        overlaps += usize::from(ids.len() > 1);
        if lat == 0.53 {
            let text = explain(&store, &schemas, "Zone", &spec).await;
            assert!(text.contains("ix_Zone_area_geo"), "{where_}: {text}");
        }
    }
    // The points must test both sides of the question, and overlapping zones.
    assert!(hits > 40 && hits < 140 && overlaps > 5, "{hits} {overlaps}");
}

fn page(where_: serde_json::Value, limit: usize) -> FindSpec {
    FindSpec {
        order: vec![(FieldPath::parse("score"), Direction::Descending)],
        limit: Some(limit),
        readers: Some(vec!["*".into()]),
        ..FindSpec::filter(parse_where(&where_).unwrap())
    }
}

fn ids(objects: &[StoredObject]) -> Vec<&str> {
    objects.iter().map(|o| o.object_id.as_str()).collect()
}

/// The statement a find compiles to.
fn statement(store: &PgStore, schemas: &SchemaMap, spec: &FindSpec) -> String {
    find_sql(schemas, "BenchItem", spec, store.postgis)
        .unwrap()
        .unwrap()
        .sql
}

/// Objects with a score of at least `min`, best first, `limit` of them.
async fn top_scores(
    store: &PgStore,
    schemas: &SchemaMap,
    min: i32,
    limit: usize,
) -> Vec<StoredObject> {
    let spec = page(json!({"score": {"$gte": min}}), limit);
    store.find(schemas, "BenchItem", &spec).await.unwrap()
}

#[tokio::test]
async fn quick_small_pages_move_to_the_shared_connection_and_read_the_same() {
    let Some((store, _db, schemas)) = indexed_store("quick_pages_shared").await else {
        return;
    };
    let sql = statement(&store, &schemas, &page(json!({"score": {"$gte": 0}}), 20));
    let first = top_scores(&store, &schemas, 100, 20).await;
    assert_eq!(ids(&first)[..2], ["obj0000499", "obj0000498"]);
    assert!(!store.routes.shared(&sql), "one run is not enough");

    // Quick runs in a row earn it; a busy machine may make one slow, so allow a few more.
    for i in 0..20 {
        if store.routes.shared(&sql) {
            break;
        }
        top_scores(&store, &schemas, i, 20).await;
    }
    assert!(
        store.routes.shared(&sql),
        "20 quick pages did not earn the shared connection"
    );
    let again = top_scores(&store, &schemas, 100, 20).await;
    assert_eq!(ids(&again), ids(&first));
    let bigger = statement(&store, &schemas, &page(json!({"score": {"$gte": 0}}), 101));
    for _ in 0..5 {
        top_scores(&store, &schemas, 0, 101).await;
    }
    assert!(
        !store.routes.shared(&bigger),
        "pages over 100 stay on the pool"
    );
}

#[tokio::test]
async fn a_find_the_shared_timeout_cancels_runs_again_on_the_pool() {
    let Some(db) = FreshDatabase::create("shared_timeout").await.unwrap() else {
        return;
    };
    // A 1 ms timeout, so a scan of the table below is sure to reach it.
    let store = PgStore::connect_with(&db.uri, Duration::from_millis(1))
        .await
        .unwrap();
    let schema = bench_schema();
    store.save_schema(&schema).await.unwrap();
    let mut schemas = SchemaMap::new();
    schemas.insert("BenchItem".into(), Arc::new(schema));
    store
        .pool
        .get()
        .await
        .unwrap()
        .batch_execute(
            "INSERT INTO \"cls_BenchItem\" (object_id, created_at, updated_at, doc)
             SELECT 'row' || i, '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z',
                    jsonb_build_object('bio', 'row ' || i, 'score', i)
             FROM generate_series(1, 50000) AS i;
             ANALYZE \"cls_BenchItem\"",
        )
        .await
        .unwrap();
    // bio has no btree index: a regular expression on it scans the table.
    let slow = page(json!({"bio": {"$regex": "^never"}}), 10);
    let sql = statement(&store, &schemas, &slow);
    for _ in 0..3 {
        store.routes.ran_pooled(&sql, Duration::ZERO);
    }
    assert!(store.routes.shared(&sql));

    let found = store.find(&schemas, "BenchItem", &slow).await.unwrap();

    assert!(found.is_empty(), "{:?}", ids(&found));
    assert!(
        !store.routes.shared(&sql),
        "the cancelled statement went back to the pool"
    );
    let found = store
        .find(
            &schemas,
            "BenchItem",
            &page(json!({"bio": {"$regex": "^row 4999"}}), 10),
        )
        .await
        .unwrap();
    assert_eq!(
        ids(&found)[0],
        "row49999",
        "the same statement answers from the pool"
    );
}

fn update(object_id: &str, body: serde_json::Value, writers: Option<&[&str]>) -> Write {
    Write::Update {
        class: "BenchItem".into(),
        object_id: object_id.into(),
        patch: basalt_core::ops::decode_patch(body.as_object().cloned().unwrap()).unwrap(),
        updated_at: "2025-01-01T00:00:00.000Z".into(),
        relations: vec![],
        writers: writers.map(|w| w.iter().map(|s| (*s).to_owned()).collect()),
    }
}

/// Sends the writes all at once, each as its own `write` call, so they arrive together and
/// are applied in groups; their results in order.
async fn concurrently(
    store: &Arc<PgStore>,
    writes: Vec<Write>,
) -> Vec<Result<crate::WriteOutcome, crate::StoreError>> {
    let tasks: Vec<_> = writes
        .into_iter()
        .map(|w| {
            let store = Arc::clone(store);
            tokio::spawn(async move {
                store
                    .write(vec![w])
                    .await
                    .map(|mut out| out.pop().unwrap())
                    .map_err(|(_, e)| e)
            })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    results
}

async fn score_of(store: &PgStore, schemas: &SchemaMap, id: &str) -> f64 {
    let spec = FindSpec {
        readers: None,
        ..get_by_id(id)
    };
    let found = store.find(schemas, "BenchItem", &spec).await.unwrap();
    found[0].fields["score"].as_f64().unwrap()
}

#[tokio::test]
async fn concurrent_increments_are_neither_lost_nor_repeated() {
    let Some((store, _db, schemas)) = indexed_store("grouped_increments").await else {
        return;
    };
    let store = Arc::new(store);
    let ids = ["obj0000010", "obj0000011", "obj0000012"];
    let writes = (0..120)
        .map(|i| {
            update(
                ids[i % 3],
                json!({"score": {"__op": "Increment", "amount": 1}}),
                None,
            )
        })
        .collect();

    let results = concurrently(&store, writes).await;

    let mut echoed: Vec<Vec<f64>> = vec![Vec::new(); 3];
    for (i, r) in results.into_iter().enumerate() {
        match r {
            Ok(crate::WriteOutcome::Updated { echoed: e, .. }) => {
                echoed[i % 3].push(e["score"].as_f64().unwrap());
            }
            other => panic!("update {i}: {other:?}"),
        }
    }
    for (k, id) in ids.iter().enumerate() {
        // Seeded with score = 10, 11, 12; forty increments each.
        let start = 10.0 + k as f64;
        assert_eq!(score_of(&store, &schemas, id).await, start + 40.0, "{id}");
        // Every increment saw a different value: none was applied twice or lost.
        echoed[k].sort_by(f64::total_cmp);
        let expected: Vec<f64> = (1..=40).map(|n| start + f64::from(n)).collect();
        assert_eq!(echoed[k], expected, "{id}");
    }
}

#[tokio::test]
async fn updates_applied_together_fail_alone() {
    updates_fail_alone(false, "grouped_failures").await;
}

#[tokio::test]
async fn a_unique_violation_in_a_group_fails_only_its_update() {
    updates_fail_alone(true, "grouped_unique_violation").await;
}

async fn updates_fail_alone(with_duplicates: bool, test: &str) {
    let Some((store, _db, schemas)) = indexed_store(test).await else {
        return;
    };
    // An object only user u1 may write.
    store
        .write(vec![update(
            "obj0000020",
            json!({"ACL": {"u1": {"read": true, "write": true}}}),
            None,
        )])
        .await
        .unwrap();
    store
        .ensure_unique("BenchItem", "name", crate::Case::Sensitive)
        .await
        .unwrap();
    let store = Arc::new(store);
    let mut writes = Vec::new();
    for round in 0..10 {
        let id = format!("obj{:07}", 30 + round);
        writes.push(update(
            &id,
            json!({"score": {"__op": "Increment", "amount": 2}}),
            Some(&["*"]),
        ));
        // Not a writer of obj0000020: as if it did not exist.
        writes.push(update(
            "obj0000020",
            json!({"score": 0}),
            Some(&["*", "u2"]),
        ));
        // A number field cannot take an Add.
        writes.push(update(
            &id,
            json!({"score": {"__op": "Add", "objects": [1]}}),
            None,
        ));
        writes.push(update("obj0000020", json!({"score": 7}), Some(&["u1"])));
        if with_duplicates {
            // Another object's name, unique: the whole group falls back to one by one.
            writes.push(update(&id, json!({"name": "n5"}), None));
        }
    }

    let results = concurrently(&store, writes).await;

    let per_round = if with_duplicates { 5 } else { 4 };
    for (i, r) in results.iter().enumerate() {
        match (i % per_round, r) {
            (0 | 3, Ok(crate::WriteOutcome::Updated { .. })) => {}
            (1, Err(crate::StoreError::NotFound)) => {}
            (2, Err(crate::StoreError::Invalid(_))) => {}
            (4, Err(crate::StoreError::Duplicate { field })) if field == "name" => {}
            other => panic!("write {i}: {other:?}"),
        }
    }
    for round in 0..10 {
        let id = format!("obj{:07}", 30 + round);
        assert_eq!(
            score_of(&store, &schemas, &id).await,
            f64::from(30 + round + 2),
            "{id}"
        );
    }
    assert_eq!(score_of(&store, &schemas, "obj0000020").await, 7.0);
}

async fn setting(store: &PgStore, name: &str) -> String {
    let client = store.pool.get().await.unwrap();
    let row = client
        .query_one(&format!("SHOW {name}"), &[])
        .await
        .unwrap();
    row.get(0)
}

/// basalt's connections plan for SSDs unless the URI's own options say otherwise.
#[tokio::test]
async fn connections_plan_for_ssds_unless_the_uri_says_otherwise() {
    let Some(db) = FreshDatabase::create("session_defaults").await.unwrap() else {
        return;
    };
    let store = PgStore::connect(&db.uri).await.unwrap();
    assert_eq!(setting(&store, "random_page_cost").await, "1.1");
    store.close().await;

    let separator = if db.uri.contains('?') { '&' } else { '?' };
    let own = format!("{}{separator}options=-c%20random_page_cost%3D2.5", db.uri);
    let store = PgStore::connect(&own).await.unwrap();
    assert_eq!(setting(&store, "random_page_cost").await, "2.5");
    store.close().await;
}
