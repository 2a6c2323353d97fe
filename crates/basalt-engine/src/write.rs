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

use crate::clp::Action;
use crate::validate::check_patch;
use crate::{AuthContext, Engine};

/// What a create returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Created {
    /// The new object's id.
    pub object_id: String,
    /// Its creation time.
    pub created_at: String,
    /// Fields the server filled in (schema defaults, a sign-up's session token), which Parse
    /// returns with the create.
    pub filled: Document,
    /// The object already existed (an anonymous id logging in again): answer 200 with `filled`
    /// as the whole object instead of 201.
    pub existing: bool,
}

/// Fields and identity the engine sets on a create besides the client's body.
#[derive(Debug, Default)]
pub(crate) struct Internal {
    /// The object id to use (generated when None).
    pub object_id: Option<String>,
    /// Hidden fields (`_hashed_password`…) stored with the object, outside the schema.
    pub fields: Document,
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
        tracing::info!(action, "refused: a write with the read-only master key");
        return Err(crate::users::permission_denied(ErrorCode::OperationForbidden).into());
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
    /// Classes only the master key may touch (Parse keeps them server-side).
    pub(crate) fn check_master_only(&self, auth: &AuthContext, class: &str) -> Result<()> {
        const MASTER_ONLY: &[&str] = &[
            "_PushStatus",
            "_JobStatus",
            "_JobSchedule",
            "_Audience",
            "_Idempotency",
        ];
        if MASTER_ONLY.contains(&class) && !auth.reads_all() {
            return Err(crate::users::permission_denied(ErrorCode::OperationForbidden).into());
        }
        Ok(())
    }

    fn check_class_writable(&self, auth: &AuthContext, class: &str) -> Result<()> {
        self.check_master_only(auth, class)?;
        if !class_name_is_valid(class) {
            // Parse's object write path reports a bad class name this way, unlike /schemas.
            return Err(ParseError::new(
                ErrorCode::InvalidJson,
                "schema class name does not revalidate",
            )
            .into());
        }
        self.check_class_exists_for(auth, class)
    }

    /// With client class creation off, only the master key may touch a class that does not
    /// exist yet (system classes always exist). The answer is Parse's sanitised one; the reason
    /// goes to the log.
    pub(crate) fn check_class_exists_for(&self, auth: &AuthContext, class: &str) -> Result<()> {
        if self.config.allow_client_class_creation
            || auth.master
            || class.starts_with('_')
            || self.schemas.get(class).is_some()
        {
            return Ok(());
        }
        tracing::info!(
            class,
            "refused: client access to a class that does not exist"
        );
        Err(crate::users::permission_denied(ErrorCode::OperationForbidden).into())
    }

    /// Validates a create (with the class's own rules: sign-up for `_User`, names for `_Role`)
    /// and evolves the schema for it; returns the writes to commit together.
    pub(crate) async fn plan_create(
        &self,
        auth: &AuthContext,
        class: &str,
        body: Document,
    ) -> Result<(Vec<Write>, Created)> {
        forbid_read_only(auth, "create")?;
        self.check_class_writable(auth, class)?;
        self.check_clp(auth, class, Action::Create)?;
        match class {
            "_User" => self.plan_signup(auth, body).await,
            "_Session" => self.plan_session_create(auth, body).await,
            "_Role" => {
                crate::users::check_new_role(&body)?;
                let (w, c) = self
                    .plan_create_with(auth, class, body, Internal::default())
                    .await?;
                Ok((vec![w], c))
            }
            _ => {
                let (w, c) = self
                    .plan_create_with(auth, class, body, Internal::default())
                    .await?;
                Ok((vec![w], c))
            }
        }
    }

    /// The create itself: checks, schema evolution, operators, defaults.
    pub(crate) async fn plan_create_with(
        &self,
        auth: &AuthContext,
        class: &str,
        mut body: Document,
        internal: Internal,
    ) -> Result<(Write, Created)> {
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
        if !new_fields.is_empty() && existing.is_some() {
            self.check_clp(auth, class, Action::AddField)?;
        }
        let schema = self
            .schemas
            .ensure_fields(self.store.as_ref(), class, &new_fields)
            .await?;
        let mut fields = Document::new();
        apply_patch(&mut fields, &patch, Applying::Create)?;
        let filled = check_required(&schema, &mut fields)?;
        fields.extend(internal.fields);
        let now = now_iso();
        let object = StoredObject {
            object_id: internal.object_id.unwrap_or_else(new_object_id),
            created_at: now.clone(),
            updated_at: now,
            fields,
        };
        let created = Created {
            object_id: object.object_id.clone(),
            created_at: object.created_at.clone(),
            filled,
            existing: false,
        };
        let write = Write::Create {
            class: class.to_owned(),
            object,
            relations: relation_changes(&patch),
        };
        Ok((write, created))
    }

    /// Validates an update (with the class's own rules) and evolves the schema for it; returns
    /// the write and what to do once it is committed.
    pub(crate) async fn plan_update(
        &self,
        auth: &AuthContext,
        class: &str,
        object_id: &str,
        mut body: Document,
    ) -> Result<(Write, AfterCommit, Document)> {
        forbid_read_only(auth, "update")?;
        validate_class_name(class)?;
        if self.schemas.get(class).is_none() {
            return Err(not_found());
        }
        let grant = self.check_clp(auth, class, Action::Update)?;
        self.check_pointer_permission(auth, class, object_id, &grant)
            .await?;
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
        let plain = |after| crate::users::UserUpdate {
            internal: Document::new(),
            removed: Vec::new(),
            after,
            response: Document::new(),
        };
        let extra = match class {
            "_User" => self.prepare_user_update(auth, object_id, &mut body).await?,
            // `commit` forgets cached sessions after any role write.
            "_Role" => plain(AfterCommit::Nothing),
            "_Session" => {
                self.check_session_update(auth, &body)?;
                plain(AfterCommit::ClearSessionCache)
            }
            _ => plain(AfterCommit::Nothing),
        };
        let mut patch = decode_patch(body)?;
        let existing = self.schemas.get(class);
        let new_fields = check_patch(class, existing.as_deref(), &patch)?;
        if !new_fields.is_empty() {
            self.check_clp(auth, class, Action::AddField)?;
        }
        self.schemas
            .ensure_fields(self.store.as_ref(), class, &new_fields)
            .await?;
        for (field, value) in extra.internal {
            patch.changes.push(basalt_core::ops::FieldChange {
                field,
                sub: vec![],
                op: Op::Set(value),
            });
        }
        for field in extra.removed {
            patch.changes.push(basalt_core::ops::FieldChange {
                field,
                sub: vec![],
                op: Op::Delete,
            });
        }
        let relations = relation_changes(&patch);
        let write = Write::Update {
            class: class.to_owned(),
            object_id: object_id.to_owned(),
            patch,
            updated_at: now_iso(),
            relations,
            writers: auth.writers(),
        };
        Ok((write, extra.after, extra.response))
    }

    /// Checks a delete; returns the write and what to do once it is committed.
    pub(crate) async fn plan_delete(
        &self,
        auth: &AuthContext,
        class: &str,
        object_id: &str,
    ) -> Result<(Write, AfterCommit)> {
        forbid_read_only(auth, "delete")?;
        validate_class_name(class)?;
        if self.schemas.get(class).is_none() {
            return Err(not_found());
        }
        let grant = self.check_clp(auth, class, Action::Delete)?;
        self.check_pointer_permission(auth, class, object_id, &grant)
            .await?;
        let after = match class {
            "_User" => {
                self.check_user_delete(auth, object_id)?;
                // Parse leaves a deleted user's sessions in place; they no longer reach a user
                // (`/users/me` answers 209).
                AfterCommit::ForgetUserSessions(object_id.to_owned())
            }
            // `commit` forgets cached sessions after any role write.
            "_Role" => AfterCommit::Nothing,
            "_Session" => AfterCommit::ClearSessionCache,
            "_Installation" if !auth.master => {
                return Err(crate::users::permission_denied(ErrorCode::OperationForbidden).into());
            }
            _ => AfterCommit::Nothing,
        };
        let write = Write::Delete {
            class: class.to_owned(),
            object_id: object_id.to_owned(),
            writers: auth.writers(),
        };
        Ok((write, after))
    }

    /// Carries out what a committed write calls for.
    pub(crate) async fn after_commit(&self, after: AfterCommit) -> Result<()> {
        match after {
            AfterCommit::Nothing => Ok(()),
            AfterCommit::ClearSessionCache => {
                self.sessions.clear();
                Ok(())
            }
            AfterCommit::ForgetUserSessions(user_id) => {
                self.sessions.forget_user(&user_id);
                Ok(())
            }
            AfterCommit::PasswordChanged { user_id, .. } => {
                self.revoke_sessions(&user_id, None).await
            }
        }
    }

    /// Commits writes in one transaction. A unique-field violation becomes the error Parse
    /// gives for that class and field (202/203 for user names and e-mails).
    pub(crate) async fn commit(
        &self,
        writes: Vec<Write>,
    ) -> std::result::Result<Vec<WriteOutcome>, (usize, Error)> {
        let classes: Vec<String> = writes
            .iter()
            .map(|w| match w {
                Write::Create { class, .. }
                | Write::Update { class, .. }
                | Write::Delete { class, .. } => class.clone(),
            })
            .collect();
        let outcomes = self.store.write(writes).await.map_err(|(i, e)| {
            let class = classes.get(i).map_or("", String::as_str);
            (i, duplicate_or_store_error(class, e))
        })?;
        // A new role (or a changed one) may grant any cached session new access; forgetting
        // them only once the role is committed keeps a lookup in between from caching the old.
        if classes.iter().any(|c| c == "_Role") {
            self.sessions.clear();
        }
        Ok(outcomes)
    }

    /// Creates an object.
    pub async fn create(&self, auth: &AuthContext, class: &str, body: Document) -> Result<Created> {
        let (writes, created) = self.plan_create(auth, class, body).await?;
        self.commit(writes).await.map_err(|(_, e)| e)?;
        if class == "_User" && !created.existing {
            self.send_verification_if_pending(&created.object_id)
                .await?;
        }
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
        let (write, after, response) = self.plan_update(auth, class, object_id, body).await?;
        let mut outcomes = self.commit(vec![write]).await.map_err(|(_, e)| e)?;
        // A password change ends every session of the user; the user's own caller gets a
        // fresh session in the answer, as Parse does.
        let fresh = match &after {
            AfterCommit::PasswordChanged {
                user_id,
                new_session: true,
            } => Some(user_id.clone()),
            _ => None,
        };
        self.after_commit(after).await?;
        let token = match fresh {
            Some(user_id) => Some(self.issue_session(auth, &user_id).await?),
            None => None,
        };
        match outcomes.pop() {
            Some(WriteOutcome::Updated { mut echoed, object }) => {
                echoed.extend(response);
                if let Some(t) = token {
                    echoed.insert("sessionToken".into(), Value::String(t));
                }
                Ok(Updated {
                    updated_at: object.updated_at,
                    echoed,
                })
            }
            other => Err(Error::Internal(anyhow::anyhow!(
                "update returned {other:?}"
            ))),
        }
    }

    /// Deletes an object.
    pub async fn delete(&self, auth: &AuthContext, class: &str, object_id: &str) -> Result<()> {
        let (write, after) = self.plan_delete(auth, class, object_id).await?;
        self.commit(vec![write]).await.map_err(|(_, e)| match e {
            Error::Parse(p) if class == "_Session" && p.code == ErrorCode::ObjectNotFound => {
                ParseError::new(ErrorCode::ObjectNotFound, "Object not found for delete.").into()
            }
            other => other,
        })?;
        self.after_commit(after).await
    }
}

/// Follow-up work a committed write calls for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AfterCommit {
    /// None.
    Nothing,
    /// Cached sessions may hold stale roles or revoked sessions.
    ClearSessionCache,
    /// One user's cached sessions may be stale (the user changed or is gone).
    ForgetUserSessions(String),
    /// A user's password changed: every session ends; the user's own caller gets a new one.
    PasswordChanged {
        /// The user.
        user_id: String,
        /// Whether to issue a session for the caller.
        new_session: bool,
    },
}

/// Parse's answer for a missing object.
pub(crate) fn not_found() -> Error {
    ParseError::new(ErrorCode::ObjectNotFound, "Object not found.").into()
}

/// A store failure as the client sees it, with unique violations named for their field.
fn duplicate_or_store_error(class: &str, e: StoreError) -> Error {
    match (&e, class) {
        (StoreError::Duplicate { field }, "_User") if field == "username" => ParseError::new(
            ErrorCode::UsernameTaken,
            "Account already exists for this username.",
        )
        .into(),
        (StoreError::Duplicate { field }, "_User") if field == "email" => ParseError::new(
            ErrorCode::EmailTaken,
            "Account already exists for this email address.",
        )
        .into(),
        (StoreError::Duplicate { field }, "_Role") if field == "name" => ParseError::new(
            ErrorCode::DuplicateValue,
            "A duplicate value for a field with unique values was provided",
        )
        .into(),
        _ => store_error(e),
    }
}

/// A store failure as the client sees it.
pub(crate) fn store_error(e: StoreError) -> Error {
    match e {
        StoreError::NotFound => not_found(),
        other => other.into(),
    }
}
