//! Users: sign-up, log-in (password or authData providers), linking providers, TOTP MFA,
//! log-out, the current user, password checks and changes. Passwords are stored only as `_hashed_password` (argon2id;
//! imported bcrypt hashes verify and are upgraded on the next log-in).

mod auth_data;
pub(crate) mod email;
mod guard;
mod login;
pub(crate) mod mfa;

pub use login::Credentials;
mod roles;
pub(crate) mod sessions;

use basalt_auth::password;
use basalt_core::names::new_object_id;
use basalt_core::query::{Condition, FieldPath, Filter};
use basalt_core::value::Document;
use basalt_core::{ErrorCode, ParseError, Result};
use basalt_store::{FindSpec, StoredObject, Write};
use serde_json::{Value, json};

use auth_data::AuthDataInput;
use sessions::CreatedWith;

use crate::output::{sanitize, to_json};
use crate::write::{AfterCommit, Created, Internal};

/// What a `_User` update adds to the client's changes.
pub(crate) struct UserUpdate {
    /// Fields the server sets (hidden ones included).
    pub internal: Document,
    /// Fields the server removes.
    pub removed: Vec<String>,
    /// What to do once committed.
    pub after: AfterCommit,
    /// Fields added to the answer (`authDataResponse`).
    pub response: Document,
}
use crate::{AuthContext, Engine};

/// Parse's sanitised answer for most refusals.
pub(crate) fn permission_denied(code: ErrorCode) -> ParseError {
    ParseError::new(code, "Permission denied")
}

fn email_is_valid(email: &str) -> bool {
    // Parse's own check: something, an @, something.
    matches!(email.split_once('@'), Some((local, domain)) if !local.is_empty() && !domain.is_empty())
}

fn take_string(body: &Document, key: &str) -> Result<Option<String>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => {
            Err(ParseError::new(ErrorCode::IncorrectType, format!("{key} must be a string")).into())
        }
    }
}

fn check_email(body: &Document) -> Result<()> {
    match body.get("email") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(e)) if email_is_valid(e) => Ok(()),
        Some(Value::Object(o)) if o.get("__op").and_then(Value::as_str) == Some("Delete") => Ok(()),
        Some(_) => Err(ParseError::new(
            ErrorCode::InvalidEmailAddress,
            "Email address format is invalid.",
        )
        .into()),
    }
}

fn forbid_email_verified(auth: &AuthContext, body: &Document) -> Result<()> {
    if body.contains_key("emailVerified") && !auth.master {
        return Err(permission_denied(ErrorCode::OperationForbidden).into());
    }
    Ok(())
}

/// A user always keeps read and write access to itself, whatever ACL it is given.
fn with_self_access(acl: Option<&Value>, user_id: &str) -> Value {
    let mut acl = acl.and_then(Value::as_object).cloned().unwrap_or_default();
    acl.insert(user_id.to_owned(), json!({"read": true, "write": true}));
    Value::Object(acl)
}

/// A new role needs a name and an ACL.
pub(crate) fn check_new_role(body: &Document) -> Result<()> {
    if !matches!(body.get("name"), Some(Value::String(n)) if !n.is_empty()) {
        return Err(ParseError::new(ErrorCode::IncorrectType, "name is required.").into());
    }
    if !body.get("ACL").is_some_and(Value::is_object) {
        return Err(ParseError::new(ErrorCode::IncorrectType, "ACL is required.").into());
    }
    Ok(())
}

impl Engine {
    /// Sign-up (`POST /users`, `POST /classes/_User`): the user and its first session, written
    /// together. The answer carries the session token.
    pub(crate) async fn plan_signup(
        &self,
        auth: &AuthContext,
        mut body: Document,
    ) -> Result<(Vec<Write>, Created)> {
        forbid_email_verified(auth, &body)?;
        // A session token in the body is not how sessions are made; the server issues its own.
        body.remove("sessionToken");
        if let Some(value) = body.remove("authData") {
            let input = AuthDataInput::parse(&value)?;
            if !input.is_empty() {
                return self.plan_auth_data_signup(auth, body, input).await;
            }
        }
        if take_string(&body, "username")?
            .filter(|u| !u.is_empty())
            .is_none()
        {
            return Err(
                ParseError::new(ErrorCode::UsernameMissing, "bad or missing username").into(),
            );
        }
        let Some(pw) = take_string(&body, "password")?.filter(|p| !p.is_empty()) else {
            return Err(ParseError::new(ErrorCode::PasswordMissing, "password is required").into());
        };
        check_email(&body)?;
        let username = take_string(&body, "username")?;
        self.check_password_policy(&pw, username.as_deref(), None)
            .await?;
        body.remove("password");
        let hashed = password::hash_async(pw).await?;
        let mut internal = Internal {
            object_id: Some(new_object_id()),
            ..Internal::default()
        };
        internal
            .fields
            .insert("_hashed_password".into(), Value::String(hashed));
        if body.get("email").is_some_and(Value::is_string)
            && let Some((field, token)) = self.verification_fields()
        {
            internal.fields.insert(field, token);
            body.insert("emailVerified".into(), Value::Bool(false));
        }
        let (writes, created) = self
            .plan_user_create(auth, body, internal, CreatedWith::Signup("password"))
            .await?;
        Ok((writes, created))
    }

    pub(crate) async fn plan_user_create(
        &self,
        auth: &AuthContext,
        mut body: Document,
        internal: Internal,
        how: CreatedWith<'_>,
    ) -> Result<(Vec<Write>, Created)> {
        let id = internal.object_id.clone().unwrap_or_default();
        body.insert("ACL".into(), with_self_access(body.get("ACL"), &id));
        let (user_write, mut created) =
            self.plan_create_with(auth, "_User", body, internal).await?;
        let (session, token) = self.new_session(auth, &id, how);
        created
            .filled
            .insert("sessionToken".into(), Value::String(token));
        Ok((vec![user_write, session], created))
    }

    /// The rules of a `_User` update: only the user (or the master key) changes it, it keeps
    /// access to itself, providers are linked and unlinked through authData (verified, never
    /// another user's), and a new password is hashed and ends every session of the user (the
    /// user's own caller gets a fresh one).
    pub(crate) async fn prepare_user_update(
        &self,
        auth: &AuthContext,
        object_id: &str,
        body: &mut Document,
    ) -> Result<UserUpdate> {
        if !auth.master && auth.user_id() != Some(object_id) {
            return Err(permission_denied(ErrorCode::SessionMissing).into());
        }
        forbid_email_verified(auth, body)?;
        check_email(body)?;
        // The session token is the server's to issue, never a stored user field.
        body.remove("sessionToken");
        // authData changes only whole, through the providers (never by dotted paths).
        if body.keys().any(|k| k.starts_with("authData.")) {
            return Err(auth_data::unsupported().into());
        }
        if matches!(body.get("username"), Some(Value::String(u)) if u.is_empty()) {
            return Err(
                ParseError::new(ErrorCode::UsernameMissing, "bad or missing username").into(),
            );
        }
        if !auth.master && body.contains_key("ACL") {
            let acl = with_self_access(body.get("ACL"), object_id);
            body.insert("ACL".into(), acl);
        }
        let mut update = UserUpdate {
            internal: Document::new(),
            removed: Vec::new(),
            after: AfterCommit::ForgetUserSessions(object_id.to_owned()),
            response: Document::new(),
        };
        if let Some(value) = body.remove("authData") {
            self.apply_auth_data_update(auth, object_id, &value, &mut update)
                .await?;
        }
        match body.remove("password") {
            None => {}
            Some(Value::String(pw)) if !pw.is_empty() => {
                let current = self.find_user_by("objectId", object_id).await?;
                let username = current
                    .as_ref()
                    .and_then(|u| u.fields.get("username"))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                self.check_password_policy(&pw, username.as_deref(), current.as_ref())
                    .await?;
                if let Some(history) = current.as_ref().and_then(|u| self.next_password_history(u))
                {
                    update.internal.insert("_password_history".into(), history);
                }
                update.internal.insert(
                    "_hashed_password".into(),
                    Value::String(password::hash_async(pw).await?),
                );
                update.after = AfterCommit::PasswordChanged {
                    user_id: object_id.to_owned(),
                    new_session: !auth.master,
                };
            }
            Some(_) => {
                return Err(
                    ParseError::new(ErrorCode::PasswordMissing, "password is required").into(),
                );
            }
        }
        Ok(update)
    }

    /// Links and unlinks the providers in an update's authData.
    async fn apply_auth_data_update(
        &self,
        auth: &AuthContext,
        object_id: &str,
        value: &Value,
        update: &mut UserUpdate,
    ) -> Result<()> {
        if value.is_null() {
            return Err(auth_data::unsupported().into());
        }
        let input = AuthDataInput::parse(value)?;
        if input.is_empty() {
            return Ok(());
        }
        let planned = self.plan_auth_data_update(auth, object_id, input).await?;
        match planned.auth_data {
            Some(data) if data.is_empty() => update.removed.push("authData".into()),
            Some(data) => {
                update
                    .internal
                    .insert("authData".into(), Value::Object(data));
            }
            None => {}
        }
        match planned.mfa {
            Some(Some(sealed)) => {
                update.internal.insert(mfa::MFA_FIELD.into(), sealed);
            }
            Some(None) => update.removed.push(mfa::MFA_FIELD.into()),
            None => {}
        }
        if let Some(response) = planned.response {
            update.response.insert("authDataResponse".into(), response);
        }
        Ok(())
    }

    /// A `_User` delete: only the user itself or the master key.
    pub(crate) fn check_user_delete(&self, auth: &AuthContext, object_id: &str) -> Result<()> {
        if auth.master || auth.user_id() == Some(object_id) {
            return Ok(());
        }
        Err(match auth.user {
            Some(_) => permission_denied(ErrorCode::SessionMissing),
            None => ParseError::new(
                ErrorCode::SessionMissing,
                "Insufficient auth to delete user",
            ),
        }
        .into())
    }

    pub(crate) async fn find_user_by(
        &self,
        key: &str,
        value: &str,
    ) -> Result<Option<StoredObject>> {
        let filter = Filter::Field(FieldPath::parse(key), Condition::Eq(json!(value)));
        let schemas = self.schemas.snapshot();
        let spec = FindSpec {
            limit: Some(1),
            ..FindSpec::filter(filter)
        };
        Ok(self
            .store
            .find(&schemas, "_User", &spec)
            .await?
            .into_iter()
            .next())
    }

    /// A user as `auth` sees it.
    pub(crate) fn user_json(&self, auth: &AuthContext, user: StoredObject) -> Document {
        let schema = self.schemas.get("_User");
        let mut doc = to_json(
            schema.as_deref(),
            user,
            self.config.file_url_base.as_deref(),
        );
        sanitize("_User", &mut doc, auth);
        doc
    }
}

impl AuthContext {
    /// This context acting as `user_id` with `token` (for answers that show the user to itself).
    pub(crate) fn as_user(&self, user_id: &str, token: &str) -> AuthContext {
        let mut me = self.clone();
        me.user = Some(std::sync::Arc::new(crate::auth::UserSession {
            user_id: user_id.to_owned(),
            session_token: token.to_owned(),
            session_id: String::new(),
            roles: std::sync::Arc::default(),
        }));
        me
    }
}
