//! Schema rows, class tables and their indexes, changed online: a new class's table and indexes
//! are created in one short transaction; indexes on an existing table are built and dropped
//! `CONCURRENTLY`, so reads and writes go on meanwhile. DDL on one class is serialised across
//! every node sharing the database by an advisory lock, and every statement tolerates the work
//! having been done already by another node.

use basalt_core::schema::{ClassSchema, FieldType};
use basalt_core::{ErrorCode, ParseError};
use deadpool_postgres::Object;
use serde_json::Value;

use super::compile::{
    direction_sql, geo_index_expr, index_expr, json_expr, polygon_box_expr, strip_alias,
};
use super::sql::{
    INIT_FUNCTIONS, INIT_LOCK, INIT_POSTGIS, INIT_TABLES, class_lock, class_name_fits, ident,
    index_lock, quote, schema_index, table, table_ident, unique_index,
};
use super::{backend, is_code};
use crate::compile_common::safe_segment;
use crate::{Case, Direction, StoreError, StoreResult};

/// How long DDL waits for a table lock before failing, so a DROP queued behind a slow read
/// cannot stall the reads queued behind it for long.
const DDL_LOCK_TIMEOUT: &str = "SET LOCAL lock_timeout = '5s'";

/// Creates the store's own tables and functions (idempotent; serialised across nodes), and
/// says whether PostGIS is there to index GeoPoint fields with.
pub(super) async fn init(client: &mut Object) -> anyhow::Result<bool> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&INIT_LOCK])
        .await?;
    // "… already exists, skipping" on every start is not worth a log line each.
    tx.batch_execute("SET LOCAL client_min_messages = warning")
        .await?;
    tx.batch_execute(INIT_TABLES).await?;
    tx.batch_execute(INIT_FUNCTIONS).await?;
    tx.batch_execute("SAVEPOINT postgis").await?;
    let postgis = match tx.batch_execute(INIT_POSTGIS).await {
        Ok(()) => true,
        Err(e) => {
            tracing::info!(
                error = %backend(e),
                "PostGIS is not available: geo queries run without a geo index"
            );
            tx.batch_execute("ROLLBACK TO SAVEPOINT postgis").await?;
            false
        }
    };
    tx.commit().await?;
    Ok(postgis)
}

/// Every saved schema.
pub(super) async fn load_all(client: &Object) -> StoreResult<Vec<ClassSchema>> {
    let rows = client
        .query("SELECT body FROM _basalt_schema ORDER BY class_name", &[])
        .await
        .map_err(backend)?;
    rows.iter()
        .map(|r| {
            let v: Value = r.try_get(0).map_err(backend)?;
            ClassSchema::from_stored(&v).map_err(StoreError::from)
        })
        .collect()
}

/// One index as SQL: its method and key list.
struct IndexDef {
    name: String,
    using: &'static str,
    keys: String,
}

fn cannot_index(key: &str) -> StoreError {
    ParseError::new(ErrorCode::InvalidQuery, format!("cannot index field {key}")).into()
}

/// The definition of a declared index: btree over the keys' typed expressions, a GIN over a
/// lone Array field (for `@>` containment), or a GIN over the folded words of a `"text"` key.
fn index_def(
    schema: &ClassSchema,
    name: &str,
    keys: &serde_json::Map<String, Value>,
) -> StoreResult<IndexDef> {
    let sql_name = schema_index(&schema.class_name, name);
    if keys.len() == 1
        && let Some((key, kind)) = keys.iter().next()
    {
        if kind.as_str() == Some("text") {
            let Some(expr) = json_expr(key) else {
                return Err(cannot_index(key));
            };
            return Ok(IndexDef {
                name: sql_name,
                using: "gin",
                keys: text_words_expr(&expr),
            });
        }
        if matches!(schema.field_type(key), Some(FieldType::Array)) {
            let Some(expr) = index_expr(schema, key) else {
                return Err(cannot_index(key));
            };
            return Ok(IndexDef {
                name: sql_name,
                using: "gin",
                keys: format!("{expr} jsonb_path_ops"),
            });
        }
    }
    let mut cols = Vec::new();
    for (key, dir) in keys {
        let expr = index_expr(schema, key).ok_or_else(|| cannot_index(key))?;
        let dir = if dir.as_i64() == Some(-1) {
            Direction::Descending
        } else {
            Direction::Ascending
        };
        cols.push(format!("{expr} {}", direction_sql(dir)));
    }
    Ok(IndexDef {
        name: sql_name,
        using: "btree",
        keys: cols.join(", "),
    })
}

/// The folded words of a field's text, as `$text` prefilters them (see compile.rs).
pub(crate) fn text_words_expr(field_json: &str) -> String {
    format!(
        "(basalt_words(basalt_fold(CASE WHEN jsonb_typeof({field_json}) = 'string' THEN {field_json} #>> '{{}}' END, false, false)))"
    )
}

fn create_index_sql(class: &str, def: &IndexDef, concurrently: bool) -> String {
    format!(
        "CREATE INDEX {}IF NOT EXISTS {} ON {} USING {} ({})",
        if concurrently { "CONCURRENTLY " } else { "" },
        quote(&def.name),
        table(class),
        def.using,
        def.keys
    )
}

/// The indexes the schema declares and a GiST index (`ix_<Class>_<field>_geo`) on each Polygon
/// field's bounding box, which `$geoIntersects` uses (`compile::polygon_box_expr`), and, with
/// PostGIS, on each GeoPoint field, which `$nearSphere` with a `$maxDistance`, `$centerSphere`,
/// `$box` and `$polygon` use (`compile::geo_index_expr`).
fn declared_indexes(schema: &ClassSchema, postgis: bool) -> StoreResult<Vec<IndexDef>> {
    let mut defs = schema
        .indexes
        .iter()
        .map(|(name, keys)| index_def(schema, name, keys))
        .collect::<StoreResult<Vec<_>>>()?;
    for (field, def) in &schema.fields {
        if !safe_segment(field) {
            continue;
        }
        let keys = match def.field_type {
            FieldType::GeoPoint if postgis => geo_index_expr("t0", field),
            FieldType::Polygon => polygon_box_expr("t0", field),
            _ => continue,
        };
        defs.push(IndexDef {
            name: schema_index(&schema.class_name, &format!("{field}_geo")),
            using: "gist",
            keys: strip_alias(&keys),
        });
    }
    Ok(defs)
}

/// Saves the schema, creates the class table if needed and brings its indexes in line.
/// What a save replaces.
#[derive(Debug, Clone, Copy)]
pub(super) enum Base<'a> {
    /// Whatever is stored.
    Any,
    /// Only this stored schema (None: no schema yet); otherwise nothing is saved.
    Exactly(Option<&'a ClassSchema>),
}

/// The class's stored schema, read inside the transaction that holds the class's lock.
async fn stored_schema(
    tx: &deadpool_postgres::Transaction<'_>,
    class: &str,
) -> StoreResult<Option<ClassSchema>> {
    let row = tx
        .query_opt(
            "SELECT body FROM _basalt_schema WHERE class_name = $1",
            &[&class],
        )
        .await
        .map_err(backend)?;
    row.map(|r| {
        let v: Value = r.try_get(0).map_err(backend)?;
        ClassSchema::from_stored(&v).map_err(StoreError::from)
    })
    .transpose()
}

/// Saves a schema (see `Base`); false when the stored one was not the expected one.
pub(super) async fn save(
    client: &mut Object,
    schema: &ClassSchema,
    base: Base<'_>,
    postgis: bool,
) -> StoreResult<bool> {
    let class = &schema.class_name;
    if !class_name_fits(class) {
        return Err(ParseError::new(
            ErrorCode::InvalidClassName,
            format!("class name {class} is too long for PostgreSQL (at most 59 bytes)"),
        )
        .into());
    }
    let wanted = declared_indexes(schema, postgis)?;
    let tx = client.transaction().await.map_err(backend)?;
    tx.batch_execute(DDL_LOCK_TIMEOUT).await.map_err(backend)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&class_lock(class)])
        .await
        .map_err(backend)?;
    if let Base::Exactly(expected) = base
        && stored_schema(&tx, class).await?.as_ref() != expected
    {
        return Ok(false);
    }
    let existed: bool = tx
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table(class)])
        .await
        .map_err(backend)?
        .get(0);
    if !existed {
        tx.batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {t} (
                 object_id text COLLATE \"C\" PRIMARY KEY,
                 created_at text COLLATE \"C\" NOT NULL,
                 updated_at text COLLATE \"C\" NOT NULL,
                 _rperm text[],
                 _wperm text[],
                 doc jsonb NOT NULL
             );
             CREATE INDEX IF NOT EXISTS {rp} ON {t} USING gin (_rperm);",
            t = table(class),
            rp = quote(&ident("rp", &[class])),
        ))
        .await
        .map_err(backend)?;
        // The table is new and empty, so its indexes are built here at no cost to anyone.
        for def in &wanted {
            tx.batch_execute(&create_index_sql(class, def, false))
                .await
                .map_err(backend)?;
        }
    }
    tx.execute(
        "INSERT INTO _basalt_schema (class_name, body) VALUES ($1, $2)
         ON CONFLICT (class_name) DO UPDATE SET body = excluded.body",
        &[class, &schema.to_json()],
    )
    .await
    .map_err(backend)?;
    tx.commit().await.map_err(backend)?;
    if existed {
        with_class_lock(client, class, sync_indexes(client, class, &wanted)).await?;
    }
    Ok(true)
}

/// Runs `work` holding the class's session-level index lock (DDL that cannot run inside a
/// transaction, such as `CREATE INDEX CONCURRENTLY`). The lock is polled rather than waited
/// for: a node waiting inside `pg_advisory_lock` has a statement open, and the other node's
/// concurrent index build would wait for that statement to end, a deadlock.
async fn with_class_lock<T>(
    client: &Object,
    class: &str,
    work: impl Future<Output = StoreResult<T>>,
) -> StoreResult<T> {
    let key = index_lock(class);
    let mut pause = std::time::Duration::from_millis(5);
    loop {
        let got: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .await
            .map_err(backend)?
            .get(0);
        if got {
            break;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(std::time::Duration::from_millis(200));
    }
    let out = work.await;
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&key])
        .await
        .map_err(backend);
    let out = out?;
    unlocked?;
    Ok(out)
}

/// Names of the class's declared indexes that exist, with whether each is valid (a failed
/// concurrent build leaves an invalid one behind).
async fn existing_indexes(
    client: &Object,
    class: &str,
    prefix: &str,
) -> StoreResult<Vec<(String, bool)>> {
    let rows = client
        .query(
            "SELECT i.relname::text, x.indisvalid FROM pg_index x
             JOIN pg_class i ON i.oid = x.indexrelid
             WHERE x.indrelid = to_regclass($1) AND starts_with(i.relname::text, $2)",
            &[&table(class), &prefix],
        )
        .await
        .map_err(backend)?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Drops indexes the schema no longer names and builds the missing ones, concurrently.
async fn sync_indexes(client: &Object, class: &str, wanted: &[IndexDef]) -> StoreResult<()> {
    let existing = existing_indexes(client, class, "ix_").await?;
    for (name, valid) in &existing {
        if !valid || !wanted.iter().any(|d| &d.name == name) {
            client
                .batch_execute(&format!(
                    "DROP INDEX CONCURRENTLY IF EXISTS {}",
                    quote(name)
                ))
                .await
                .map_err(backend)?;
        }
    }
    for def in wanted {
        if existing.iter().any(|(n, valid)| *n == def.name && *valid) {
            continue;
        }
        create_concurrently(client, &create_index_sql(class, def, true), &def.name).await?;
    }
    Ok(())
}

/// Runs a `CREATE … INDEX CONCURRENTLY`; when it fails, the invalid index it leaves is dropped
/// so that a later attempt starts clean.
async fn create_concurrently(client: &Object, sql: &str, name: &str) -> StoreResult<()> {
    match client.batch_execute(sql).await {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = client
                .batch_execute(&format!(
                    "DROP INDEX CONCURRENTLY IF EXISTS {}",
                    quote(name)
                ))
                .await;
            Err(super::map_write_error(e, ""))
        }
    }
}

/// Removes a field from every object of the class.
pub(super) async fn delete_field(client: &mut Object, class: &str, field: &str) -> StoreResult<()> {
    let tx = client.transaction().await.map_err(backend)?;
    let updated = tx
        .execute(
            &format!(
                "UPDATE {} SET doc = doc - $1::text WHERE doc ? $1::text",
                table(class)
            ),
            &[&field],
        )
        .await;
    match updated {
        Err(e) if is_code(&e, "42P01") => return Ok(()),
        other => {
            other.map_err(backend)?;
        }
    }
    tx.execute(
        "DELETE FROM _basalt_join WHERE owner_class = $1 AND field = $2",
        &[&class, &field],
    )
    .await
    .map_err(backend)?;
    tx.commit().await.map_err(backend)
}

/// Creates the unique index on a field if it is missing. A case-insensitive one also gets a
/// plain index on the exact value, which equality lookups (log-in by username) use.
pub(super) async fn ensure_unique(
    client: &Object,
    class: &str,
    field: &str,
    case: Case,
) -> StoreResult<()> {
    let name = unique_index(class, field);
    if name != format!("uq_{class}_{field}") {
        return Err(StoreError::Backend(anyhow::anyhow!(
            "class and field names {class}.{field} are too long for a unique index in PostgreSQL"
        )));
    }
    let exact = format!("((doc->>{}) COLLATE \"C\")", super::sql::literal(field));
    let mut wanted = vec![match case {
        Case::Sensitive => (
            name.clone(),
            format!(
                "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {} ON {} ({exact})",
                quote(&name),
                table(class)
            ),
        ),
        Case::Insensitive => (
            name.clone(),
            format!(
                "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS {} ON {} (lower(doc->>{}))",
                quote(&name),
                table(class),
                super::sql::literal(field)
            ),
        ),
    }];
    if case == Case::Insensitive {
        let lookup = ident("lk", &[class, field]);
        wanted.push((
            lookup.clone(),
            format!(
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS {} ON {} ({exact})",
                quote(&lookup),
                table(class)
            ),
        ));
    }
    with_class_lock(client, class, async {
        let existing = [
            existing_indexes(client, class, "uq_").await?,
            existing_indexes(client, class, "lk_").await?,
        ]
        .concat();
        for (index, sql) in &wanted {
            match existing.iter().find(|(n, _)| n == index) {
                Some((_, true)) => continue,
                Some((_, false)) => {
                    client
                        .batch_execute(&format!(
                            "DROP INDEX CONCURRENTLY IF EXISTS {}",
                            quote(index)
                        ))
                        .await
                        .map_err(backend)?;
                }
                None => {}
            }
            create_concurrently(client, sql, index)
                .await
                .map_err(|e| match e {
                    StoreError::Duplicate { .. } => StoreError::Duplicate {
                        field: field.to_owned(),
                    },
                    other => other,
                })?;
        }
        Ok(())
    })
    .await
}

/// Deletes every object of the class.
pub(super) async fn purge(client: &mut Object, class: &str) -> StoreResult<()> {
    let tx = client.transaction().await.map_err(backend)?;
    tx.batch_execute(&format!("DELETE FROM {}", table(class)))
        .await
        .map_err(backend)?;
    tx.execute("DELETE FROM _basalt_join WHERE owner_class = $1", &[&class])
        .await
        .map_err(backend)?;
    tx.commit().await.map_err(backend)
}

/// Drops the class's table, relation links and schema.
pub(super) async fn delete_class(client: &mut Object, class: &str) -> StoreResult<()> {
    let tx = client.transaction().await.map_err(backend)?;
    tx.batch_execute(DDL_LOCK_TIMEOUT).await.map_err(backend)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&class_lock(class)])
        .await
        .map_err(backend)?;
    let removed = tx
        .execute(
            "DELETE FROM _basalt_schema WHERE class_name = $1",
            &[&class],
        )
        .await
        .map_err(backend)?;
    if removed == 0 {
        return Err(StoreError::NotFound);
    }
    tx.batch_execute(&format!(
        "DROP TABLE IF EXISTS {}",
        quote(&table_ident(class))
    ))
    .await
    .map_err(backend)?;
    tx.execute("DELETE FROM _basalt_join WHERE owner_class = $1", &[&class])
        .await
        .map_err(backend)?;
    tx.commit().await.map_err(backend)
}
