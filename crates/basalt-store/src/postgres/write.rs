//! Writes: each call is one database transaction, so a batch marked `transaction` is all or
//! nothing, and an update reads its row `FOR UPDATE` so operators such as Increment cannot race
//! another node's write.

use basalt_core::ops::{Applying, Patch, apply_patch};
use basalt_core::value::Document;
use deadpool_postgres::{Object, Transaction};
use serde_json::Value;

use super::sql::table;
use super::{backend, is_code, map_write_error};
use crate::{RelationChange, StoreError, StoreResult, StoredObject, Write, WriteOutcome};

/// Permission columns derived from the ACL field: the ids allowed to read and to write, or
/// NULL for an object without an ACL (public).
pub(super) fn permissions(fields: &Document) -> (Option<Vec<String>>, Option<Vec<String>>) {
    let Some(Value::Object(acl)) = fields.get("ACL") else {
        return (None, None);
    };
    let allowed = |perm: &str| -> Option<Vec<String>> {
        Some(
            acl.iter()
                .filter(|(_, v)| v.get(perm).and_then(Value::as_bool) == Some(true))
                .map(|(k, _)| k.clone())
                .collect(),
        )
    };
    (allowed("read"), allowed("write"))
}

/// The writer ids, or None for callers who write anything.
fn writer_ids(writers: Option<&[String]>) -> Option<Vec<String>> {
    writers.map(<[String]>::to_vec)
}

async fn change_relations(
    tx: &Transaction<'_>,
    class: &str,
    owner: &str,
    changes: &[RelationChange],
) -> StoreResult<()> {
    for change in changes {
        if !change.add.is_empty() {
            let add = tx
                .prepare_cached(
                    "INSERT INTO _basalt_join (owner_class, field, owner_id, related_id)
                     SELECT $1, $2, $3, unnest($4::text[]) ON CONFLICT DO NOTHING",
                )
                .await
                .map_err(backend)?;
            tx.execute(&add, &[&class, &change.field, &owner, &change.add])
                .await
                .map_err(backend)?;
        }
        if !change.remove.is_empty() {
            let remove = tx
                .prepare_cached(
                    "DELETE FROM _basalt_join
                     WHERE owner_class = $1 AND field = $2 AND owner_id = $3 AND related_id = ANY($4::text[])",
                )
                .await
                .map_err(backend)?;
            tx.execute(&remove, &[&class, &change.field, &owner, &change.remove])
                .await
                .map_err(backend)?;
        }
    }
    Ok(())
}

async fn create(
    tx: &Transaction<'_>,
    class: &str,
    object: &StoredObject,
    relations: &[RelationChange],
) -> StoreResult<WriteOutcome> {
    let (rperm, wperm) = permissions(&object.fields);
    let sql = format!(
        "INSERT INTO {} (object_id, created_at, updated_at, _rperm, _wperm, doc)
         VALUES ($1, $2, $3, $4, $5, $6)",
        table(class)
    );
    let stmt = tx.prepare_cached(&sql).await.map_err(backend)?;
    let doc = Value::Object(object.fields.clone());
    tx.execute(
        &stmt,
        &[
            &object.object_id,
            &object.created_at,
            &object.updated_at,
            &rperm,
            &wperm,
            &doc,
        ],
    )
    .await
    .map_err(|e| map_write_error(e, class))?;
    change_relations(tx, class, &object.object_id, relations).await?;
    Ok(WriteOutcome::Created)
}

/// What one update changes.
struct UpdateSpec<'a> {
    class: &'a str,
    object_id: &'a str,
    patch: &'a Patch,
    updated_at: &'a str,
    relations: &'a [RelationChange],
    writers: Option<&'a [String]>,
}

async fn update(tx: &Transaction<'_>, u: UpdateSpec<'_>) -> StoreResult<WriteOutcome> {
    let writers = writer_ids(u.writers);
    let acl = if writers.is_some() {
        " AND (_wperm IS NULL OR _wperm && $2::text[])"
    } else {
        ""
    };
    let select = format!(
        "SELECT created_at, doc FROM {} WHERE object_id = $1{acl} FOR UPDATE",
        table(u.class)
    );
    let stmt = tx.prepare_cached(&select).await.map_err(backend)?;
    let row = match &writers {
        Some(ids) => tx.query_opt(&stmt, &[&u.object_id, ids]).await,
        None => tx.query_opt(&stmt, &[&u.object_id]).await,
    }
    .map_err(backend)?
    .ok_or(StoreError::NotFound)?;
    let created_at: String = row.try_get(0).map_err(backend)?;
    let mut fields = match row.try_get::<_, Value>(1).map_err(backend)? {
        Value::Object(o) => o,
        _ => Document::new(),
    };
    let echoed = apply_patch(&mut fields, u.patch, Applying::Update)?;
    let (rperm, wperm) = permissions(&fields);
    let sql = format!(
        "UPDATE {} SET updated_at = $2, _rperm = $3, _wperm = $4, doc = $5 WHERE object_id = $1",
        table(u.class)
    );
    let stmt = tx.prepare_cached(&sql).await.map_err(backend)?;
    let doc = Value::Object(fields);
    tx.execute(&stmt, &[&u.object_id, &u.updated_at, &rperm, &wperm, &doc])
        .await
        .map_err(|e| map_write_error(e, u.class))?;
    change_relations(tx, u.class, u.object_id, u.relations).await?;
    let Value::Object(fields) = doc else {
        return Err(StoreError::Backend(anyhow::anyhow!(
            "document is not an object"
        )));
    };
    let object = StoredObject {
        object_id: u.object_id.to_owned(),
        created_at,
        updated_at: u.updated_at.to_owned(),
        fields,
    };
    Ok(WriteOutcome::Updated { echoed, object })
}

async fn delete(
    tx: &Transaction<'_>,
    class: &str,
    object_id: &str,
    writers: Option<&[String]>,
) -> StoreResult<WriteOutcome> {
    let writers = writer_ids(writers);
    let acl = if writers.is_some() {
        " AND (_wperm IS NULL OR _wperm && $2::text[])"
    } else {
        ""
    };
    let sql = format!("DELETE FROM {} WHERE object_id = $1{acl}", table(class));
    let stmt = tx.prepare_cached(&sql).await.map_err(backend)?;
    let n = match &writers {
        Some(ids) => tx.execute(&stmt, &[&object_id, ids]).await,
        None => tx.execute(&stmt, &[&object_id]).await,
    }
    .map_err(backend)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    let stmt = tx
        .prepare_cached("DELETE FROM _basalt_join WHERE owner_class = $1 AND owner_id = $2")
        .await
        .map_err(backend)?;
    tx.execute(&stmt, &[&class, &object_id])
        .await
        .map_err(backend)?;
    Ok(WriteOutcome::Deleted)
}

/// Whether the error says the class's table does not exist.
fn table_missing(e: &StoreError) -> bool {
    match e {
        StoreError::Backend(inner) => inner
            .downcast_ref::<tokio_postgres::Error>()
            .is_some_and(|pg| is_code(pg, "42P01")),
        _ => false,
    }
}

/// Applies the writes in one transaction of their own on `client`; on a failure, nothing is
/// written and the failing write's index comes back with its error.
pub(super) async fn in_transaction(
    client: &mut Object,
    writes: &[Write],
) -> Result<Vec<WriteOutcome>, (usize, StoreError)> {
    let tx = client.transaction().await.map_err(|e| (0, backend(e)))?;
    let out = apply(&tx, writes).await?;
    let last = writes.len().saturating_sub(1);
    tx.commit()
        .await
        .map_err(|e| (last, map_write_error(e, "")))?;
    Ok(out)
}

/// Applies the writes inside the caller's transaction; the caller rolls back on the first
/// failure, which is returned with its index.
async fn apply(
    tx: &Transaction<'_>,
    writes: &[Write],
) -> Result<Vec<WriteOutcome>, (usize, StoreError)> {
    let mut out = Vec::with_capacity(writes.len());
    for (i, w) in writes.iter().enumerate() {
        let result = match w {
            Write::Create {
                class,
                object,
                relations,
            } => create(tx, class, object, relations).await,
            Write::Update {
                class,
                object_id,
                patch,
                updated_at,
                relations,
                writers,
            } => {
                update(
                    tx,
                    UpdateSpec {
                        class,
                        object_id,
                        patch,
                        updated_at,
                        relations,
                        writers: writers.as_deref(),
                    },
                )
                .await
            }
            Write::Delete {
                class,
                object_id,
                writers,
            } => delete(tx, class, object_id, writers.as_deref()).await,
        };
        match result {
            Ok(o) => out.push(o),
            // A class without a table has no objects to update or delete.
            Err(e) if table_missing(&e) && !matches!(w, Write::Create { .. }) => {
                return Err((i, StoreError::NotFound));
            }
            Err(e) => return Err((i, e)),
        }
    }
    Ok(out)
}
