//! Writes: each call is one transaction, so a batch marked `transaction` is all or nothing and
//! operators such as Increment read and write the document without a race.

use basalt_core::ops::{Applying, apply_patch};
use basalt_core::value::Document;
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use super::{backend, table_name};
use crate::{RelationChange, StoreError, StoreResult, StoredObject, Write, WriteOutcome};

/// Permission columns derived from the ACL field: JSON arrays of the ids allowed to read and
/// write, or NULL for an object without an ACL (public).
fn permissions(fields: &Document) -> (Option<String>, Option<String>) {
    let Some(Value::Object(acl)) = fields.get("ACL") else {
        return (None, None);
    };
    let allowed = |perm: &str| -> String {
        let ids: Vec<&String> = acl
            .iter()
            .filter(|(_, v)| v.get(perm).and_then(Value::as_bool) == Some(true))
            .map(|(k, _)| k)
            .collect();
        serde_json::to_string(&ids).unwrap_or_else(|_| "[]".to_owned())
    };
    (Some(allowed("read")), Some(allowed("write")))
}

fn encode(fields: &Document) -> StoreResult<String> {
    serde_json::to_string(fields).map_err(|e| StoreError::Backend(e.into()))
}

/// A constraint violation names its unique index (`uq_<Class>__<field>`) or the primary key.
fn map_write_error(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, msg) = &e
        && f.code == rusqlite::ErrorCode::ConstraintViolation
    {
        let field = msg
            .as_deref()
            .filter(|m| m.contains("index 'uq_"))
            .and_then(|m| m.rsplit("__").next())
            .map(|rest| rest.trim_end_matches('\'').to_owned())
            .unwrap_or_else(|| "objectId".to_owned());
        return StoreError::Duplicate { field };
    }
    backend(e)
}

fn change_relations(
    tx: &Connection,
    class: &str,
    owner: &str,
    changes: &[RelationChange],
) -> StoreResult<()> {
    for change in changes {
        let mut add = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO _basalt_join (owner_class, field, owner_id, related_id) VALUES (?1, ?2, ?3, ?4)",
            )
            .map_err(backend)?;
        for id in &change.add {
            add.execute(params![class, change.field, owner, id])
                .map_err(backend)?;
        }
        let mut remove = tx
            .prepare_cached(
                "DELETE FROM _basalt_join WHERE owner_class = ?1 AND field = ?2 AND owner_id = ?3 AND related_id = ?4",
            )
            .map_err(backend)?;
        for id in &change.remove {
            remove
                .execute(params![class, change.field, owner, id])
                .map_err(backend)?;
        }
    }
    Ok(())
}

fn create(
    tx: &Connection,
    class: &str,
    object: &StoredObject,
    relations: &[RelationChange],
) -> StoreResult<WriteOutcome> {
    let (rperm, wperm) = permissions(&object.fields);
    let sql = format!(
        "INSERT INTO {} (objectId, createdAt, updatedAt, _rperm, _wperm, doc) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        table_name(class)
    );
    tx.prepare_cached(&sql)
        .map_err(backend)?
        .execute(params![
            object.object_id,
            object.created_at,
            object.updated_at,
            rperm,
            wperm,
            encode(&object.fields)?
        ])
        .map_err(map_write_error)?;
    change_relations(tx, class, &object.object_id, relations)?;
    Ok(WriteOutcome::Created)
}

/// ` AND <row writable by the caller>` with its bound ids, numbered from `first`.
fn write_acl(writers: Option<&[String]>, first: usize) -> (String, Vec<String>) {
    let Some(ids) = writers else {
        return (String::new(), vec![]);
    };
    let binds: Vec<String> = (0..ids.len()).map(|i| format!("?{}", first + i)).collect();
    (
        format!(
            " AND (_wperm IS NULL OR EXISTS (SELECT 1 FROM json_each(_wperm) WHERE value IN ({})))",
            binds.join(", ")
        ),
        ids.to_vec(),
    )
}

fn update(
    tx: &Connection,
    class: &str,
    object_id: &str,
    patch: &basalt_core::ops::Patch,
    updated_at: &str,
    relations: &[RelationChange],
    writers: Option<&[String]>,
) -> StoreResult<WriteOutcome> {
    let (acl, ids) = write_acl(writers, 2);
    let select = format!(
        "SELECT createdAt, doc FROM {} WHERE objectId = ?1{acl}",
        table_name(class)
    );
    let mut args = vec![object_id.to_owned()];
    args.extend(ids);
    let row: Option<(String, String)> = tx
        .prepare_cached(&select)
        .map_err(backend)?
        .query_row(rusqlite::params_from_iter(args.iter()), |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .map_err(backend)?;
    let (created_at, doc) = row.ok_or(StoreError::NotFound)?;
    let mut fields: Document =
        serde_json::from_str(&doc).map_err(|e| StoreError::Backend(e.into()))?;
    let echoed = apply_patch(&mut fields, patch, Applying::Update)?;
    let (rperm, wperm) = permissions(&fields);
    let sql = format!(
        "UPDATE {} SET updatedAt = ?2, _rperm = ?3, _wperm = ?4, doc = ?5 WHERE objectId = ?1",
        table_name(class)
    );
    tx.prepare_cached(&sql)
        .map_err(backend)?
        .execute(params![
            object_id,
            updated_at,
            rperm,
            wperm,
            encode(&fields)?
        ])
        .map_err(map_write_error)?;
    change_relations(tx, class, object_id, relations)?;
    let object = StoredObject {
        object_id: object_id.to_owned(),
        created_at,
        updated_at: updated_at.to_owned(),
        fields,
    };
    Ok(WriteOutcome::Updated { echoed, object })
}

fn delete(
    tx: &Connection,
    class: &str,
    object_id: &str,
    writers: Option<&[String]>,
) -> StoreResult<WriteOutcome> {
    let (acl, ids) = write_acl(writers, 2);
    let sql = format!("DELETE FROM {} WHERE objectId = ?1{acl}", table_name(class));
    let mut args = vec![object_id.to_owned()];
    args.extend(ids);
    let n = tx
        .prepare_cached(&sql)
        .map_err(backend)?
        .execute(rusqlite::params_from_iter(args.iter()))
        .map_err(backend)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    tx.prepare_cached("DELETE FROM _basalt_join WHERE owner_class = ?1 AND owner_id = ?2")
        .map_err(backend)?
        .execute([class, object_id])
        .map_err(backend)?;
    Ok(WriteOutcome::Deleted)
}

fn table_missing(e: &StoreError) -> bool {
    matches!(e, StoreError::Backend(inner) if inner.to_string().contains("no such table"))
}

/// Applies the writes in one transaction; the first failure rolls everything back.
/// A failed write and its index in the batch.
pub(super) struct Failed(pub usize, pub StoreError);

impl From<StoreError> for Failed {
    fn from(e: StoreError) -> Self {
        Failed(0, e)
    }
}

/// Applies the writes on a connection inside a transaction (or savepoint) the caller owns; the
/// caller rolls back on the first failure.
pub(super) fn apply(
    tx: &Connection,
    writes: &[Write],
) -> Result<Vec<WriteOutcome>, (usize, StoreError)> {
    let mut out = Vec::with_capacity(writes.len());
    for (i, w) in writes.iter().enumerate() {
        let result = match w {
            Write::Create {
                class,
                object,
                relations,
            } => create(tx, class, object, relations),
            Write::Update {
                class,
                object_id,
                patch,
                updated_at,
                relations,
                writers,
            } => update(
                tx,
                class,
                object_id,
                patch,
                updated_at,
                relations,
                writers.as_deref(),
            ),
            Write::Delete {
                class,
                object_id,
                writers,
            } => delete(tx, class, object_id, writers.as_deref()),
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
