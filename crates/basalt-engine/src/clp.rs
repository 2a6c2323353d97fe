//! Class-level permissions: who may find, get, count, create, update, delete or add fields in a
//! class, as the schema's `classLevelPermissions` say (`*`, user ids, `role:Name`,
//! `requiresAuthentication`, pointer permissions).

use basalt_core::query::{Condition, FieldPath, Filter};
use basalt_core::value::pointer;
use basalt_core::{ErrorCode, ParseError, Result};
use serde_json::Value;

use crate::{AuthContext, Engine};

/// An operation a CLP governs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Find,
    Get,
    Count,
    Create,
    Update,
    Delete,
    AddField,
}

impl Action {
    fn key(self) -> &'static str {
        match self {
            Action::Find => "find",
            Action::Get => "get",
            Action::Count => "count",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::AddField => "addField",
        }
    }

    fn reads(self) -> bool {
        matches!(self, Action::Find | Action::Get | Action::Count)
    }
}

/// What a CLP check grants: everything, or only objects whose pointer fields name the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Grant {
    /// No further condition.
    All,
    /// Only objects where one of these fields points at the caller (or lists the caller).
    PointerFields(Vec<String>),
}

fn denied() -> ParseError {
    // Parse sanitises CLP refusals to this text (`enableSanitizedErrorResponse`).
    crate::users::permission_denied(ErrorCode::OperationForbidden)
}

fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

impl Engine {
    /// Checks the class's CLP for `action`; `Grant::PointerFields` restricts it to objects that
    /// point at the caller.
    pub(crate) fn check_clp(
        &self,
        auth: &AuthContext,
        class: &str,
        action: Action,
    ) -> Result<Grant> {
        if auth.master || (auth.read_only_master && action.reads()) {
            return Ok(Grant::All);
        }
        let Some(schema) = self.schemas.get(class) else {
            return Ok(Grant::All);
        };
        let Some(perms) = schema.clp.get(action.key()).and_then(Value::as_object) else {
            return Ok(Grant::All);
        };
        if perms.get("*").and_then(Value::as_bool) == Some(true) {
            return Ok(Grant::All);
        }
        let ids = auth.acl_ids();
        if ids
            .iter()
            .any(|id| perms.get(id).and_then(Value::as_bool) == Some(true))
        {
            return Ok(Grant::All);
        }
        if perms.get("requiresAuthentication").and_then(Value::as_bool) == Some(true) {
            if auth.user.is_none() {
                return Err(crate::users::permission_denied(ErrorCode::ObjectNotFound).into());
            }
            return Ok(Grant::All);
        }
        if action == Action::Create || action == Action::AddField {
            return Err(denied().into());
        }
        let user_fields_key = if action.reads() {
            "readUserFields"
        } else {
            "writeUserFields"
        };
        let mut fields = string_list(schema.clp.get(user_fields_key));
        fields.extend(string_list(perms.get("pointerFields")));
        if !fields.is_empty() {
            return Ok(Grant::PointerFields(fields));
        }
        Err(denied().into())
    }

    /// The filter a pointer-permission grant adds to a read.
    pub(crate) fn pointer_filter(auth: &AuthContext, grant: &Grant) -> Option<Filter> {
        let Grant::PointerFields(fields) = grant else {
            return None;
        };
        let me = pointer("_User", auth.user_id().unwrap_or_default());
        let alternatives = fields
            .iter()
            .map(|f| Filter::Field(FieldPath::parse(f), Condition::Eq(me.clone())))
            .collect();
        Some(Filter::Or(alternatives))
    }

    /// For writes under a pointer-permission grant: the object must point at the caller.
    pub(crate) async fn check_pointer_permission(
        &self,
        auth: &AuthContext,
        class: &str,
        object_id: &str,
        grant: &Grant,
    ) -> Result<()> {
        let Some(filter) = Self::pointer_filter(auth, grant) else {
            return Ok(());
        };
        let by_id = Filter::Field(
            FieldPath::parse("objectId"),
            Condition::Eq(Value::String(object_id.to_owned())),
        );
        let schemas = self.schemas.snapshot();
        let n = self
            .store
            .count(&schemas, class, &Filter::And(vec![by_id, filter]), None)
            .await?;
        if n == 0 {
            return Err(crate::write::not_found());
        }
        Ok(())
    }

    /// A read filter with the CLP's pointer condition added.
    pub(crate) fn restrict(filter: Filter, auth: &AuthContext, grant: &Grant) -> Filter {
        match Self::pointer_filter(auth, grant) {
            Some(extra) => Filter::And(vec![filter, extra]),
            None => filter,
        }
    }
}
