//! Running compiled reads and turning rows into `StoredObject`s.

use rusqlite::{Connection, OptionalExtension as _, Row, params_from_iter};

use super::compile::{OBJECT_COLUMNS, SqlPlan};
use super::rows::CachedRow;
use super::{backend, table_name};
use crate::{StoreError, StoreResult, StoredObject};

/// Decodes a row selected with `compile::OBJECT_COLUMNS`.
pub(crate) fn object_from_row(row: &Row<'_>) -> rusqlite::Result<(String, String, String, String)> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
}

/// Builds a `StoredObject` from its columns.
pub(crate) fn stored_object(cols: (String, String, String, String)) -> StoreResult<StoredObject> {
    let (object_id, created_at, updated_at, doc) = cols;
    let fields = serde_json::from_str(&doc).map_err(|e| {
        StoreError::Backend(anyhow::anyhow!(
            "object {object_id} has unreadable fields: {e}"
        ))
    })?;
    Ok(StoredObject {
        object_id,
        created_at,
        updated_at,
        fields,
    })
}

/// One object by id with its read permissions, for the row cache; `None` when there is none.
pub(crate) fn row_by_id(
    conn: &Connection,
    class: &str,
    id: &str,
) -> StoreResult<Option<CachedRow>> {
    let sql = format!(
        "SELECT {OBJECT_COLUMNS}, t0._rperm FROM {} AS t0 WHERE t0.objectId = ?1",
        table_name(class)
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
    let found = stmt
        .query_row([id], |row| {
            Ok((object_from_row(row)?, row.get::<_, Option<String>>(4)?))
        })
        .optional()
        .map_err(backend)?;
    let Some((cols, rperm)) = found else {
        return Ok(None);
    };
    let doc_len = cols.3.len();
    let readers = rperm
        .map(|ids| {
            serde_json::from_str::<Vec<String>>(&ids).map_err(|e| {
                StoreError::Backend(anyhow::anyhow!(
                    "object {id} has unreadable read permissions: {e}"
                ))
            })
        })
        .transpose()?;
    Ok(Some(CachedRow::new(stored_object(cols)?, readers, doc_len)))
}

/// Runs a find.
pub(crate) fn query_objects(
    conn: &Connection,
    plan: &Option<SqlPlan>,
) -> StoreResult<Vec<StoredObject>> {
    let Some(plan) = plan else {
        return Ok(Vec::new());
    };
    let mut stmt = conn.prepare_cached(&plan.sql).map_err(backend)?;
    let rows = stmt
        .query_map(params_from_iter(plan.params.iter()), object_from_row)
        .map_err(backend)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(stored_object(row.map_err(backend)?)?);
    }
    Ok(out)
}

/// Runs a count.
pub(crate) fn query_count(conn: &Connection, plan: &Option<SqlPlan>) -> StoreResult<u64> {
    let Some(plan) = plan else { return Ok(0) };
    let mut stmt = conn.prepare_cached(&plan.sql).map_err(backend)?;
    let n: i64 = stmt
        .query_row(params_from_iter(plan.params.iter()), |r| r.get(0))
        .map_err(backend)?;
    Ok(u64::try_from(n).unwrap_or(0))
}
