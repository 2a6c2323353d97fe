//! Schema rows, class tables and their indexes.

use basalt_core::schema::ClassSchema;
use rusqlite::{Connection, OptionalExtension, params};

use super::compile::index_expr;
use super::{backend, table_name};
use crate::{StoreError, StoreResult};

/// Creates the store's own tables in a new database.
pub(super) fn init(conn: &Connection) -> anyhow::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS _basalt_schema (
             class_name TEXT PRIMARY KEY NOT NULL,
             body TEXT NOT NULL
         );
         CREATE TABLE IF NOT EXISTS _basalt_join (
             owner_class TEXT NOT NULL,
             field TEXT NOT NULL,
             owner_id TEXT NOT NULL,
             related_id TEXT NOT NULL,
             PRIMARY KEY (owner_class, field, owner_id, related_id)
         ) WITHOUT ROWID;
         CREATE INDEX IF NOT EXISTS _basalt_join_related
             ON _basalt_join (owner_class, field, related_id);",
    )?;
    Ok(())
}

/// Every saved schema.
pub(super) fn load_all(conn: &Connection) -> StoreResult<Vec<ClassSchema>> {
    let mut stmt = conn
        .prepare("SELECT body FROM _basalt_schema ORDER BY class_name")
        .map_err(backend)?;
    let bodies = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(backend)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend)?;
    bodies
        .iter()
        .map(|b| {
            let v: serde_json::Value =
                serde_json::from_str(b).map_err(|e| StoreError::Backend(e.into()))?;
            ClassSchema::from_stored(&v).map_err(StoreError::from)
        })
        .collect()
}

/// One class's saved schema.
pub(super) fn load_one(conn: &Connection, class: &str) -> StoreResult<Option<ClassSchema>> {
    let body: Option<String> = conn
        .query_row(
            "SELECT body FROM _basalt_schema WHERE class_name = ?1",
            params![class],
            |r| r.get(0),
        )
        .optional()
        .map_err(backend)?;
    body.map(|b| {
        let v: serde_json::Value =
            serde_json::from_str(&b).map_err(|e| StoreError::Backend(e.into()))?;
        ClassSchema::from_stored(&v).map_err(StoreError::from)
    })
    .transpose()
}

fn index_sql_name(class: &str, name: &str) -> String {
    format!("ix_{class}_{name}")
}

/// Saves the schema, creates the class table if needed and brings its indexes in line.
pub(super) fn save(tx: &Connection, schema: &ClassSchema) -> StoreResult<()> {
    let table = table_name(&schema.class_name);
    tx.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {table} (
             objectId TEXT PRIMARY KEY NOT NULL,
             createdAt TEXT NOT NULL,
             updatedAt TEXT NOT NULL,
             _rperm TEXT,
             _wperm TEXT,
             doc TEXT NOT NULL
         );"
    ))
    .map_err(backend)?;
    tx.execute(
        "INSERT INTO _basalt_schema (class_name, body) VALUES (?1, ?2)
         ON CONFLICT (class_name) DO UPDATE SET body = excluded.body",
        params![schema.class_name, schema.to_json().to_string()],
    )
    .map_err(backend)?;
    sync_indexes(tx, schema)?;
    Ok(())
}

fn sync_indexes(tx: &Connection, schema: &ClassSchema) -> StoreResult<()> {
    let class = &schema.class_name;
    let prefix = format!("ix_{class}_");
    let existing: Vec<String> = {
        let mut stmt = tx
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1")
            .map_err(backend)?;
        let names = stmt
            .query_map([format!("cls_{class}")], |r| r.get::<_, String>(0))
            .map_err(backend)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(backend)?;
        names
            .into_iter()
            .filter(|n| n.starts_with(&prefix))
            .collect()
    };
    let wanted: Vec<String> = schema
        .indexes
        .keys()
        .map(|n| index_sql_name(class, n))
        .collect();
    for name in existing.iter().filter(|n| !wanted.contains(n)) {
        tx.execute_batch(&format!("DROP INDEX IF EXISTS \"{name}\""))
            .map_err(backend)?;
    }
    for (name, keys) in &schema.indexes {
        let mut cols = Vec::new();
        for (key, dir) in keys {
            let expr = index_expr(schema, key).ok_or_else(|| {
                StoreError::Invalid(basalt_core::ParseError::new(
                    basalt_core::ErrorCode::InvalidQuery,
                    format!("cannot index field {key}"),
                ))
            })?;
            let desc = dir.as_i64() == Some(-1);
            cols.push(format!("{expr}{}", if desc { " DESC" } else { "" }));
        }
        tx.execute_batch(&format!(
            "CREATE INDEX IF NOT EXISTS \"{}\" ON {} ({})",
            index_sql_name(class, name),
            table_name(class),
            cols.join(", ")
        ))
        .map_err(backend)?;
    }
    Ok(())
}

/// Removes a field from every object of the class.
pub(super) fn delete_field(tx: &Connection, class: &str, field: &str) -> StoreResult<()> {
    let path = format!("$.\"{}\"", field.replace('"', ""));
    tx.execute(
        &format!(
            "UPDATE {} SET doc = json_remove(doc, ?1) WHERE json_type(doc, ?1) IS NOT NULL",
            table_name(class)
        ),
        [&path],
    )
    .map_err(backend)?;
    tx.execute(
        "DELETE FROM _basalt_join WHERE owner_class = ?1 AND field = ?2",
        [class, field],
    )
    .map_err(backend)?;
    Ok(())
}

/// The name of the unique index on a field; `write.rs` reads the field back from it.
pub(super) fn unique_index_name(class: &str, field: &str) -> String {
    format!("uq_{class}__{field}")
}

/// Creates the unique index on a field if it is missing.
pub(super) fn ensure_unique(
    tx: &Connection,
    class: &str,
    field: &str,
    case: crate::Case,
) -> StoreResult<()> {
    if !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(StoreError::Backend(anyhow::anyhow!(
            "cannot index field {field:?}"
        )));
    }
    let expr = match case {
        crate::Case::Insensitive => format!("lower(json_extract(doc, '$.{field}'))"),
        crate::Case::Sensitive => format!("json_extract(doc, '$.{field}')"),
    };
    tx.execute_batch(&format!(
        "CREATE UNIQUE INDEX IF NOT EXISTS \"{}\" ON {} ({expr})",
        unique_index_name(class, field),
        table_name(class)
    ))
    .map_err(backend)
}

/// Deletes every object of the class.
pub(super) fn purge(tx: &Connection, class: &str) -> StoreResult<()> {
    tx.execute_batch(&format!("DELETE FROM {}", table_name(class)))
        .map_err(backend)?;
    tx.execute("DELETE FROM _basalt_join WHERE owner_class = ?1", [class])
        .map_err(backend)?;
    Ok(())
}

/// Drops the class's table, relation links and schema.
pub(super) fn delete_class(tx: &Connection, class: &str) -> StoreResult<()> {
    let exists: Option<String> = tx
        .query_row(
            "SELECT class_name FROM _basalt_schema WHERE class_name = ?1",
            [class],
            |r| r.get(0),
        )
        .optional()
        .map_err(backend)?;
    if exists.is_none() {
        return Err(StoreError::NotFound);
    }
    tx.execute_batch(&format!("DROP TABLE IF EXISTS {}", table_name(class)))
        .map_err(backend)?;
    tx.execute("DELETE FROM _basalt_join WHERE owner_class = ?1", [class])
        .map_err(backend)?;
    tx.execute("DELETE FROM _basalt_schema WHERE class_name = ?1", [class])
        .map_err(backend)?;
    Ok(())
}
