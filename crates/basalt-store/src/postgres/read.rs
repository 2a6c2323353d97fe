//! Running compiled reads and turning rows into `StoredObject`s.

use deadpool_postgres::Object;
use serde_json::Value;
use tokio_postgres::Row;

use super::compile::SqlPlan;
use super::{backend, is_code};
use crate::{StoreError, StoreResult, StoredObject};

/// Builds a `StoredObject` from a row selected with `compile::OBJECT_COLUMNS`.
fn stored_object(row: &Row) -> StoreResult<StoredObject> {
    let object_id: String = row.try_get(0).map_err(backend)?;
    let fields = match row.try_get::<_, Value>(3).map_err(backend)? {
        Value::Object(o) => o,
        _ => {
            return Err(StoreError::Backend(anyhow::anyhow!(
                "object {object_id} has unreadable fields"
            )));
        }
    };
    Ok(StoredObject {
        object_id,
        created_at: row.try_get(1).map_err(backend)?,
        updated_at: row.try_get(2).map_err(backend)?,
        fields,
    })
}

/// Runs the plan's query. A class whose table is gone (dropped by another node since this one
/// read its schema) reads as empty. The driver's error is kept, so the caller can tell a
/// statement timeout from other failures.
pub(super) async fn rows(
    client: &Object,
    plan: &SqlPlan,
) -> Result<Vec<Row>, tokio_postgres::Error> {
    let stmt = match client.prepare_cached(&plan.sql).await {
        Ok(s) => s,
        Err(e) if is_code(&e, "42P01") => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    client.query(&stmt, &plan.args()).await
}

/// The objects of a find's rows.
pub(super) fn objects(rows: &[Row]) -> StoreResult<Vec<StoredObject>> {
    rows.iter().map(stored_object).collect()
}

/// Runs a count.
pub(super) async fn query_count(client: &Object, plan: &SqlPlan) -> StoreResult<u64> {
    let rows = rows(client, plan).await.map_err(super::map_read_error)?;
    let n: i64 = match rows.first() {
        Some(r) => r.try_get(0).map_err(backend)?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}
