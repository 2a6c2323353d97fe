//! Creating, updating and deleting objects: each a short sequence of named stages that ends in
//! a `Write` for the store. Batches reuse the planning stages and commit many writes at once.

use basalt_core::names::{class_name_is_valid, new_object_id, validate_class_name};
use basalt_core::ops::{Applying, Op, Patch, apply_patch, decode_patch};
use basalt_core::schema::ClassSchema;
use basalt_core::time::now_iso;
use basalt_core::value::Document;
use basalt_core::{Error, ErrorCode, ParseError, Result};
use basalt_store::{RelationChange, StoreError, StoredObject, Write, WriteOutcome};
use serde_json::Value;

use crate::validate::check_patch;
use crate::{AuthContext, Engine};

/// What a create returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Created {
    /// The new object's id.
    pub object_id: String,
    /// Its creation time.
    pub created_at: String,
    /// Fields the server filled in (schema defaults), which Parse returns with the create.
    pub filled: Document,
}

/// What an update returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Updated {
    /// The new update time.
    pub updated_at: String,
    /// Operator results Parse echoes (Increment's new value, an Add's new array).
    pub echoed: Document,
}

fn forbid_read_only(auth: &AuthContext, action: &str) -> Result<()> {
    if auth.read_only_master && !auth.master {
        return Err(ParseError::new(
            ErrorCode::OperationForbidden,
            format!("read-only masterKey isn't allowed to perform the {action} operation."),
        )
        .into());
    }
    Ok(())
}

fn relation_changes(patch: &Patch) -> Vec<RelationChange> {
    patch
        .changes
        .iter()
        .filter_map(|c| match &c.op {
            Op::Relation { add, remove, .. } => Some(RelationChange {
                field: c.field.clone(),
                add: add.clone(),
                remove: remove.clone(),
            }),
            _ => None,
        })
        .collect()
}

fn check_required(schema: &ClassSchema, doc: &mut Document) -> Result<Document> {
    let mut filled = Document::new();
    for (name, def) in &schema.fields {
        if doc.get(name).is_none_or(Value::is_null) {
            if let Some(d) = &def.default_value {
                doc.insert(name.clone(), d.clone());
                filled.insert(name.clone(), d.clone());
            } else if def.required {
                return Err(ParseError::new(
                    ErrorCode::ValidationError,
                    format!("{name} is required"),
                )
                .into());
            }
        }
    }
    Ok(filled)
}

impl Engine {
    fn check_class_writable(&self, auth: &AuthContext, class: &str) -> Result<()> {
        if !class_name_is_valid(class) {
            // Parse's object write path reports a bad class name this way, unlike /schemas.
            return Err(ParseError::new(
                ErrorCode::InvalidJson,
                "schema class name does not revalidate",
            )
            .into());
        }
        if self.schemas.get(class).is_none()
            && !auth.master
            && !self.config.allow_client_class_creation
        {
            return Err(ParseError::new(
                ErrorCode::OperationForbidden,
                format!("This user is not allowed to access non-existent class: {class}"),
            )
            .into());
        }
        Ok(())
    }

    /// Validates a create and evolves the schema for it; returns the write to commit.
    pub(crate) async fn plan_create(
        &self,
        auth: &AuthContext,
        class: &str,
        mut body: Document,
    ) -> Result<(Write, Created)> {
        forbid_read_only(auth, "create")?;
        self.check_class_writable(auth, class)?;
        if body.contains_key("objectId") {
            return Err(ParseError::new(
                ErrorCode::InvalidKeyName,
                "objectId is an invalid field name.",
            )
            .into());
        }
        body.remove("createdAt");
        body.remove("updatedAt");
        let patch = decode_patch(body)?;
        let existing = self.schemas.get(class);
        let new_fields = check_patch(class, existing.as_deref(), &patch)?;
        let schema = self
            .schemas
            .ensure_fields(self.store.as_ref(), class, &new_fields)
            .await?;
        let mut fields = Document::new();
        apply_patch(&mut fields, &patch, Applying::Create)?;
        let filled = check_required(&schema, &mut fields)?;
        let now = now_iso();
        let object = StoredObject {
            object_id: new_object_id(),
            created_at: now.clone(),
            updated_at: now,
            fields,
        };
        let created = Created {
            object_id: object.object_id.clone(),
            created_at: object.created_at.clone(),
            filled,
        };
        let write = Write::Create {
            class: class.to_owned(),
            object,
            relations: relation_changes(&patch),
        };
        Ok((write, created))
    }

    /// Validates an update and evolves the schema for it; returns the write to commit.
    pub(crate) async fn plan_update(
        &self,
        auth: &AuthContext,
        class: &str,
        object_id: &str,
        mut body: Document,
    ) -> Result<Write> {
        forbid_read_only(auth, "update")?;
        validate_class_name(class)?;
        if self.schemas.get(class).is_none() {
            return Err(not_found());
        }
        match body.remove("objectId") {
            Some(Value::String(id)) if id == object_id => {}
            None => {}
            Some(_) => {
                return Err(ParseError::new(
                    ErrorCode::InvalidKeyName,
                    "objectId is an invalid field name.",
                )
                .into());
            }
        }
        body.remove("createdAt");
        body.remove("updatedAt");
        let patch = decode_patch(body)?;
        let existing = self.schemas.get(class);
        let new_fields = check_patch(class, existing.as_deref(), &patch)?;
        self.schemas
            .ensure_fields(self.store.as_ref(), class, &new_fields)
            .await?;
        let relations = relation_changes(&patch);
        Ok(Write::Update {
            class: class.to_owned(),
            object_id: object_id.to_owned(),
            patch,
            updated_at: now_iso(),
            relations,
            writers: auth.writers(),
        })
    }

    /// Checks a delete; returns the write to commit.
    pub(crate) fn plan_delete(
        &self,
        auth: &AuthContext,
        class: &str,
        object_id: &str,
    ) -> Result<Write> {
        forbid_read_only(auth, "delete")?;
        validate_class_name(class)?;
        if self.schemas.get(class).is_none() {
            return Err(not_found());
        }
        Ok(Write::Delete {
            class: class.to_owned(),
            object_id: object_id.to_owned(),
            writers: auth.writers(),
        })
    }

    /// Commits writes in one transaction.
    pub(crate) async fn commit(
        &self,
        writes: Vec<Write>,
    ) -> std::result::Result<Vec<WriteOutcome>, (usize, Error)> {
        self.store
            .write(writes)
            .await
            .map_err(|(i, e)| (i, store_error(e)))
    }

    /// Creates an object.
    pub async fn create(&self, auth: &AuthContext, class: &str, body: Document) -> Result<Created> {
        let (write, created) = self.plan_create(auth, class, body).await?;
        self.commit(vec![write]).await.map_err(|(_, e)| e)?;
        Ok(created)
    }

    /// Updates an object with a body of values and operators.
    pub async fn update(
        &self,
        auth: &AuthContext,
        class: &str,
        object_id: &str,
        body: Document,
    ) -> Result<Updated> {
        let write = self.plan_update(auth, class, object_id, body).await?;
        let mut outcomes = self.commit(vec![write]).await.map_err(|(_, e)| e)?;
        match outcomes.pop() {
            Some(WriteOutcome::Updated { echoed, object }) => Ok(Updated {
                updated_at: object.updated_at,
                echoed,
            }),
            other => Err(Error::Internal(anyhow::anyhow!(
                "update returned {other:?}"
            ))),
        }
    }

    /// Deletes an object.
    pub async fn delete(&self, auth: &AuthContext, class: &str, object_id: &str) -> Result<()> {
        let write = self.plan_delete(auth, class, object_id)?;
        self.commit(vec![write]).await.map_err(|(_, e)| e)?;
        Ok(())
    }
}

/// Parse's answer for a missing object.
pub(crate) fn not_found() -> Error {
    ParseError::new(ErrorCode::ObjectNotFound, "Object not found.").into()
}

/// A store failure as the client sees it.
pub(crate) fn store_error(e: StoreError) -> Error {
    match e {
        StoreError::NotFound => not_found(),
        other => other.into(),
    }
}
