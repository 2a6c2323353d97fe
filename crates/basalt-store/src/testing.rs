//! The conformance suite every `Store` implementation must pass, with the same assertions for
//! each. `where_cases` runs basalt-core's shared case table, the one the in-memory matcher is
//! tested with, so the SQL compilers and the matcher cannot drift apart.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use anyhow::{Context as _, bail, ensure};
use basalt_core::ops::{FieldChange, Op, Patch};
use basalt_core::query::{Condition, FieldPath, Filter, cases, parse_where};
use basalt_core::schema::{ClassSchema, FieldDef, FieldType, SchemaMap};
use basalt_core::value::Document;
use serde_json::json;

use crate::{
    Direction, FindSpec, RelationChange, Store, StoreError, StoredObject, Write, WriteOutcome,
};

/// Runs each named behaviour as its own test against a store built by `$make` (an async
/// expression returning `anyhow::Result<Arc<dyn Store>>`-compatible values).
#[macro_export]
macro_rules! store_conformance {
    ($make:expr) => {
        #[tokio::test]
        async fn creates_reads_updates_and_deletes() -> anyhow::Result<()> {
            $crate::testing::creates_reads_updates_and_deletes(&*$make).await
        }
        #[tokio::test]
        async fn transactions_are_all_or_nothing() -> anyhow::Result<()> {
            $crate::testing::transactions_are_all_or_nothing(&*$make).await
        }
        #[tokio::test]
        async fn acl_columns_filter_reads_and_writes() -> anyhow::Result<()> {
            $crate::testing::acl_columns_filter_reads_and_writes(&*$make).await
        }
        #[tokio::test]
        async fn order_limit_skip_and_count() -> anyhow::Result<()> {
            $crate::testing::order_limit_skip_and_count(&*$make).await
        }
        #[tokio::test]
        async fn where_cases() -> anyhow::Result<()> {
            $crate::testing::where_cases(&*$make).await
        }
        #[tokio::test]
        async fn schema_replacement_checks_what_is_stored() -> anyhow::Result<()> {
            $crate::testing::schema_replacement_checks_what_is_stored(&*$make).await
        }
    };
}

fn stored(doc: &Document) -> anyhow::Result<StoredObject> {
    let mut fields = doc.clone();
    let mut take = |k: &str| -> anyhow::Result<String> {
        fields
            .remove(k)
            .and_then(|v| v.as_str().map(str::to_owned))
            .with_context(|| format!("fixture lacks {k}"))
    };
    let (object_id, created_at, updated_at) =
        (take("objectId")?, take("createdAt")?, take("updatedAt")?);
    Ok(StoredObject {
        object_id,
        created_at,
        updated_at,
        fields,
    })
}

/// An object dated 2024-01-01 holding `fields`.
pub fn object(id: &str, fields: serde_json::Value) -> StoredObject {
    StoredObject {
        object_id: id.to_owned(),
        created_at: "2024-01-01T00:00:00.000Z".to_owned(),
        updated_at: "2024-01-01T00:00:00.000Z".to_owned(),
        fields: fields.as_object().cloned().unwrap_or_default(),
    }
}

fn schema_with(class: &str, fields: &[(&str, FieldType)]) -> ClassSchema {
    let mut s = ClassSchema::new(class);
    for (name, ty) in fields {
        s.fields
            .insert((*name).to_owned(), FieldDef::of(ty.clone()));
    }
    s
}

async fn setup(store: &dyn Store, schema: ClassSchema) -> anyhow::Result<SchemaMap> {
    let _ = store.delete_class(&schema.class_name).await;
    store.save_schema(&schema).await?;
    let mut map = SchemaMap::new();
    map.insert(schema.class_name.clone(), Arc::new(schema));
    Ok(map)
}

/// The write that creates `o` in `class`.
pub fn create(class: &str, o: StoredObject) -> Write {
    Write::Create {
        class: class.to_owned(),
        object: o,
        relations: vec![],
    }
}

fn by_id(id: &str) -> Filter {
    Filter::Field(FieldPath::parse("objectId"), Condition::Eq(json!(id)))
}

/// Create, read back, patch with an operator, delete, and not-found afterwards.
pub async fn creates_reads_updates_and_deletes(store: &dyn Store) -> anyhow::Result<()> {
    let schemas = setup(store, schema_with("ConfCrud", &[("n", FieldType::Number)])).await?;
    store
        .write(vec![create("ConfCrud", object("a1", json!({"n": 1})))])
        .await
        .map_err(|(_, e)| e)?;

    let found = store
        .find(&schemas, "ConfCrud", &FindSpec::filter(by_id("a1")))
        .await?;
    ensure!(
        found.len() == 1 && found[0].fields["n"] == 1,
        "read back {found:?}"
    );

    let patch = Patch {
        changes: vec![FieldChange {
            field: "n".into(),
            sub: vec![],
            op: Op::Increment(5.into()),
        }],
    };
    let out = store
        .write(vec![Write::Update {
            class: "ConfCrud".into(),
            object_id: "a1".into(),
            patch,
            updated_at: "2024-02-01T00:00:00.000Z".into(),
            relations: vec![],
            writers: None,
        }])
        .await
        .map_err(|(_, e)| e)?;
    match out.first() {
        Some(WriteOutcome::Updated { echoed, object }) => {
            ensure!(
                echoed["n"] == 6 && object.fields["n"] == 6,
                "increment result {echoed:?}"
            );
            ensure!(object.updated_at == "2024-02-01T00:00:00.000Z");
        }
        other => bail!("expected Updated, got {other:?}"),
    }

    store
        .write(vec![Write::Delete {
            class: "ConfCrud".into(),
            object_id: "a1".into(),
            writers: None,
        }])
        .await
        .map_err(|(_, e)| e)?;
    let again = store
        .write(vec![Write::Delete {
            class: "ConfCrud".into(),
            object_id: "a1".into(),
            writers: None,
        }])
        .await;
    ensure!(
        matches!(again, Err((0, StoreError::NotFound))),
        "second delete: {again:?}"
    );
    Ok(())
}

/// A failing write rolls back the earlier writes of the same call; duplicate ids are reported.
pub async fn transactions_are_all_or_nothing(store: &dyn Store) -> anyhow::Result<()> {
    let schemas = setup(store, schema_with("ConfTx", &[("n", FieldType::Number)])).await?;
    store
        .write(vec![create("ConfTx", object("keep", json!({"n": 1})))])
        .await
        .map_err(|(_, e)| e)?;

    let result = store
        .write(vec![
            create("ConfTx", object("new1", json!({"n": 2}))),
            Write::Delete {
                class: "ConfTx".into(),
                object_id: "keep".into(),
                writers: None,
            },
            create("ConfTx", object("new1", json!({"n": 3}))),
        ])
        .await;

    ensure!(
        matches!(result, Err((2, StoreError::Duplicate { .. }))),
        "got {result:?}"
    );
    let all = store
        .find(&schemas, "ConfTx", &FindSpec::filter(Filter::All))
        .await?;
    let ids: Vec<&str> = all.iter().map(|o| o.object_id.as_str()).collect();
    ensure!(ids == ["keep"], "after rollback: {ids:?}");
    Ok(())
}

/// `readers` hide objects whose ACL denies them; `writers` make denied writes not-found.
pub async fn acl_columns_filter_reads_and_writes(store: &dyn Store) -> anyhow::Result<()> {
    let schemas = setup(store, schema_with("ConfAcl", &[("n", FieldType::Number)])).await?;
    store
        .write(vec![
            create("ConfAcl", object("open", json!({"n": 1}))),
            create(
                "ConfAcl",
                object(
                    "mine",
                    json!({"n": 2, "ACL": {"u1": {"read": true, "write": true}}}),
                ),
            ),
            create(
                "ConfAcl",
                object("ro", json!({"n": 3, "ACL": {"*": {"read": true}}})),
            ),
        ])
        .await
        .map_err(|(_, e)| e)?;
    let public = vec!["*".to_owned()];

    let spec = FindSpec {
        readers: Some(public.clone()),
        ..FindSpec::filter(Filter::All)
    };
    let mut seen: Vec<String> = store
        .find(&schemas, "ConfAcl", &spec)
        .await?
        .into_iter()
        .map(|o| o.object_id)
        .collect();
    seen.sort();
    ensure!(seen == ["open", "ro"], "public sees {seen:?}");
    ensure!(
        store
            .count(&schemas, "ConfAcl", &Filter::All, Some(&public))
            .await?
            == 2
    );
    ensure!(
        store
            .count(&schemas, "ConfAcl", &Filter::All, Some(&["u1".to_owned()]))
            .await?
            == 2,
        "u1 sees open and mine"
    );

    let denied = store
        .write(vec![Write::Delete {
            class: "ConfAcl".into(),
            object_id: "ro".into(),
            writers: Some(public.clone()),
        }])
        .await;
    ensure!(
        matches!(denied, Err((0, StoreError::NotFound))),
        "public delete of read-only: {denied:?}"
    );
    store
        .write(vec![Write::Delete {
            class: "ConfAcl".into(),
            object_id: "open".into(),
            writers: Some(public),
        }])
        .await
        .map_err(|(_, e)| e)?;
    Ok(())
}

/// Sorting on several keys, paging and counting.
pub async fn order_limit_skip_and_count(store: &dyn Store) -> anyhow::Result<()> {
    let schemas = setup(
        store,
        schema_with(
            "ConfOrder",
            &[("g", FieldType::String), ("n", FieldType::Number)],
        ),
    )
    .await?;
    let rows = [("a", "x", 3), ("b", "y", 1), ("c", "x", 1), ("d", "y", 2)];
    let writes = rows
        .iter()
        .map(|(id, g, n)| create("ConfOrder", object(id, json!({"g": g, "n": n}))))
        .collect();
    store.write(writes).await.map_err(|(_, e)| e)?;

    let spec = FindSpec {
        order: vec![
            (FieldPath::parse("g"), Direction::Ascending),
            (FieldPath::parse("n"), Direction::Descending),
        ],
        limit: Some(2),
        skip: 1,
        ..FindSpec::filter(Filter::All)
    };
    let ids: Vec<String> = store
        .find(&schemas, "ConfOrder", &spec)
        .await?
        .into_iter()
        .map(|o| o.object_id)
        .collect();

    ensure!(ids == ["c", "d"], "g asc, n desc, skip 1, limit 2: {ids:?}");
    let filter = parse_where(&json!({"n": {"$lt": 3}}))?;
    ensure!(store.count(&schemas, "ConfOrder", &filter, None).await? == 3);
    Ok(())
}

/// `replace_schema` saves only over the schema it was given as the previous one.
pub async fn schema_replacement_checks_what_is_stored(store: &dyn Store) -> anyhow::Result<()> {
    let stored = |class: &'static str| async move {
        anyhow::Ok(
            store
                .load_schemas()
                .await?
                .into_iter()
                .find(|s| s.class_name == class),
        )
    };
    let mut first = ClassSchema::new("ConfReplace");
    first
        .fields
        .insert("a".into(), FieldDef::of(FieldType::Number));
    ensure!(
        store.replace_schema(&first, None).await?,
        "a new class is saved"
    );
    let base = stored("ConfReplace").await?.context("saved")?;
    ensure!(
        !store.replace_schema(&first, None).await?,
        "a class that exists is not new"
    );

    let mut mine = base.clone();
    mine.fields
        .insert("b".into(), FieldDef::of(FieldType::String));
    let mut theirs = base.clone();
    theirs
        .fields
        .insert("c".into(), FieldDef::of(FieldType::Boolean));
    ensure!(store.replace_schema(&theirs, Some(&base)).await?);
    ensure!(
        !store.replace_schema(&mine, Some(&base)).await?,
        "a save over a schema changed meanwhile is refused"
    );

    let now = stored("ConfReplace").await?.context("still saved")?;
    ensure!(now.fields.contains_key("c") && !now.fields.contains_key("b"));
    mine = now.clone();
    mine.fields
        .insert("b".into(), FieldDef::of(FieldType::String));
    ensure!(store.replace_schema(&mine, Some(&now)).await?);
    let last = stored("ConfReplace").await?.context("still saved")?;
    ensure!(last.fields.contains_key("b") && last.fields.contains_key("c"));
    Ok(())
}

/// Every case of the shared table: the store must return exactly the objects the case names.
pub async fn where_cases(store: &dyn Store) -> anyhow::Result<()> {
    let world = cases::world();
    let mut schemas: SchemaMap = HashMap::new();
    for s in &world.schemas {
        let _ = store.delete_class(&s.class_name).await;
        store.save_schema(s).await?;
        schemas.insert(s.class_name.clone(), Arc::new(s.clone()));
    }
    let mut writes = Vec::new();
    for (class, obj) in &world.objects {
        let o = stored(obj)?;
        let relations = world
            .relations
            .iter()
            .filter(|r| r.owner_class == *class && r.owner_id == o.object_id)
            .map(|r| RelationChange {
                field: r.field.to_owned(),
                add: r.related_ids.iter().map(|s| (*s).to_owned()).collect(),
                remove: vec![],
            })
            .collect();
        writes.push(Write::Create {
            class: (*class).to_owned(),
            object: o,
            relations,
        });
    }
    store.write(writes).await.map_err(|(_, e)| e)?;
    let mut problems = Vec::new();
    for case in cases::cases() {
        let _ = store.delete_class(cases::CLASS).await;
        store.save_schema(&cases::schema()).await?;
        let writes = case
            .objects
            .iter()
            .map(|o| stored(o).map(|s| create(cases::CLASS, s)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        store.write(writes).await.map_err(|(_, e)| e)?;
        let filter = parse_where(&case.where_).with_context(|| format!("case {}", case.name))?;
        match store
            .find(&schemas, cases::CLASS, &FindSpec::filter(filter))
            .await
        {
            Ok(found) => {
                let got: BTreeSet<String> = found.into_iter().map(|o| o.object_id).collect();
                let want: BTreeSet<String> = case.expect.iter().map(|s| (*s).to_owned()).collect();
                if got != want {
                    problems.push(format!("{}: got {got:?}, want {want:?}", case.name));
                }
            }
            Err(e) => problems.push(format!("{}: error {e}", case.name)),
        }
    }
    ensure!(
        problems.is_empty(),
        "{} case(s) disagree:\n{}",
        problems.len(),
        problems.join("\n")
    );
    Ok(())
}

/// Fresh PostgreSQL databases for tests: one per test, created on the server
/// `BASALT_TEST_POSTGRES_URL` names (default `postgres://postgres@127.0.0.1:5432/postgres`) and
/// dropped when the handle is dropped, also when the test fails.
pub mod pg {
    use std::io::Write as _;

    use anyhow::Context as _;

    /// The server tests create their databases on.
    pub fn admin_url() -> String {
        std::env::var("BASALT_TEST_POSTGRES_URL")
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
    }

    /// Whether an unreachable server must fail the tests (`BASALT_REQUIRE_POSTGRES=1`).
    pub fn required() -> bool {
        std::env::var("BASALT_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
    }

    /// A database that exists until this is dropped.
    pub struct FreshDatabase {
        /// Its URI.
        pub uri: String,
        name: String,
        admin: String,
    }

    async fn admin_client(admin: &str) -> anyhow::Result<tokio_postgres::Client> {
        let (client, conn) = tokio_postgres::connect(admin, tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        Ok(client)
    }

    fn random_suffix() -> String {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        h.write_u32(std::process::id());
        format!("{:016x}", h.finish())
    }

    impl FreshDatabase {
        /// Creates `basalt_t_<random>`. When the server is unreachable: an error if
        /// [`required`], otherwise `None` after telling the terminal (past the test harness's
        /// output capture) that `test` was skipped and why.
        pub async fn create(test: &str) -> anyhow::Result<Option<FreshDatabase>> {
            let admin = admin_url();
            let client = match admin_client(&admin).await {
                Ok(c) => c,
                Err(e) if !required() => {
                    let _ = writeln!(
                        std::io::stderr(),
                        "SKIPPED {test}: PostgreSQL at {admin} is unreachable ({e}); set BASALT_REQUIRE_POSTGRES=1 to make this a failure"
                    );
                    return Ok(None);
                }
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!(
                            "PostgreSQL at {admin} is unreachable and BASALT_REQUIRE_POSTGRES=1"
                        )
                    });
                }
            };
            let name = format!("basalt_t_{}", random_suffix());
            // A linguistic default collation (where the server has ICU), so that the tests
            // show string order and comparisons do not depend on the database's locale.
            let linguistic = client
                .batch_execute(&format!(
                    "CREATE DATABASE {name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
                ))
                .await;
            if linguistic.is_err() {
                client
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .await
                    .with_context(|| format!("creating database {name}"))?;
            }
            let mut url = url::Url::parse(&admin).context("BASALT_TEST_POSTGRES_URL")?;
            url.set_path(&format!("/{name}"));
            Ok(Some(FreshDatabase {
                uri: url.to_string(),
                name,
                admin,
            }))
        }
    }

    impl Drop for FreshDatabase {
        fn drop(&mut self) {
            let (admin, name) = (self.admin.clone(), self.name.clone());
            // Drop runs inside the test's runtime, which cannot be blocked on; a thread with
            // its own runtime can.
            let dropped = std::thread::spawn(move || -> anyhow::Result<()> {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                rt.block_on(async {
                    let client = admin_client(&admin).await?;
                    client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await?;
                    anyhow::Ok(())
                })
            })
            .join();
            if !matches!(dropped, Ok(Ok(()))) {
                let _ = writeln!(
                    std::io::stderr(),
                    "warning: test database {} was not dropped",
                    self.name
                );
            }
        }
    }
}
