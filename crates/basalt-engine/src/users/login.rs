//! Log-in, `/verifyPassword`, `/loginAs`, `/users/me`, `/sessions/me`, log-out and the session
//! routes' own rules.

use basalt_auth::password;
use basalt_core::query::{Condition, FieldPath, Filter};
use basalt_core::value::{Document, pointer};
use basalt_core::{ErrorCode, ParseError, Result};
use basalt_store::{FindSpec, StoredObject, Write};
use serde_json::{Value, json};

use super::auth_data::{AuthDataInput, Entry};
use super::permission_denied;
use super::sessions::CreatedWith;
use crate::output::{sanitize, to_json};
use crate::write::Created;
use crate::{AuthContext, Engine};

/// What a log-in or `/verifyPassword` presents: a username or an e-mail, a password, and for a
/// log-in the additional authData.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Credentials {
    /// `username` (an e-mail here also matches).
    pub username: Option<String>,
    /// `email`.
    pub email: Option<String>,
    /// `password`.
    pub password: Option<String>,
    /// `authData` sent along (the second factor: `{mfa: {token}}`).
    pub auth_data: Option<Value>,
}

fn bad_credentials() -> ParseError {
    ParseError::new(ErrorCode::ObjectNotFound, "Invalid username/password.")
}

/// Session fields a client may not set.
const RESERVED_SESSION_FIELDS: &[&str] = &[
    "sessionToken",
    "installationId",
    "expiresAt",
    "createdWith",
    "user",
    "restricted",
];

/// An update body carrying `input` as authData.
fn link_body(input: AuthDataInput) -> Document {
    let data: serde_json::Map<String, Value> = input
        .0
        .into_iter()
        .map(|(name, entry)| match entry {
            Entry::Unlink => (name, Value::Null),
            Entry::Data(d) => (name, Value::Object(d)),
        })
        .collect();
    let mut body = Document::new();
    body.insert("authData".into(), Value::Object(data));
    body
}

impl Engine {
    /// Finds the user a username (or e-mail) names and checks the password; upgrades old hashes.
    async fn check_credentials(&self, credentials: &Credentials) -> Result<StoredObject> {
        let (username, email, pw) = (
            credentials.username.as_deref(),
            credentials.email.as_deref(),
            credentials.password.as_deref(),
        );
        let user = match (
            username.filter(|u| !u.is_empty()),
            email.filter(|e| !e.is_empty()),
        ) {
            (Some(u), _) => match self.find_user_by("username", u).await? {
                Some(found) => Some(found),
                // Parse accepts the e-mail in the username field too.
                None => self.find_user_by("email", u).await?,
            },
            (None, Some(e)) => self.find_user_by("email", e).await?,
            (None, None) => {
                return Err(ParseError::new(
                    ErrorCode::UsernameMissing,
                    "username/email is required.",
                )
                .into());
            }
        };
        let Some(pw) = pw.filter(|p| !p.is_empty()) else {
            return Err(
                ParseError::new(ErrorCode::PasswordMissing, "password is required.").into(),
            );
        };
        let user = user.ok_or_else(bad_credentials)?;
        self.check_not_locked(&user)?;
        let stored = user
            .fields
            .get("_hashed_password")
            .and_then(Value::as_str)
            .ok_or_else(bad_credentials)?;
        let verdict = password::verify_async(pw.to_owned(), stored.to_owned()).await?;
        if !verdict.ok {
            self.record_failed_login(&user).await?;
            return Err(bad_credentials().into());
        }
        self.record_good_login(&user).await?;
        self.check_verified_for_login(&user)?;
        if verdict.needs_rehash {
            let rehashed = password::hash_async(pw.to_owned()).await?;
            let patch = basalt_core::ops::Patch {
                changes: vec![basalt_core::ops::FieldChange {
                    field: "_hashed_password".into(),
                    sub: vec![],
                    op: basalt_core::ops::Op::Set(Value::String(rehashed)),
                }],
            };
            let write = Write::Update {
                class: "_User".into(),
                object_id: user.object_id.clone(),
                patch,
                updated_at: user.updated_at.clone(),
                relations: vec![],
                writers: None,
            };
            self.commit(vec![write]).await.map_err(|(_, e)| e)?;
        }
        Ok(user)
    }

    /// The sessions of `user_id` from `installation_id`, which a new log-in from it replaces.
    async fn installation_sessions(
        &self,
        user_id: &str,
        installation_id: Option<&str>,
    ) -> Result<Vec<Write>> {
        let Some(inst) = installation_id else {
            return Ok(vec![]);
        };
        let filter = Filter::And(vec![
            Filter::Field(
                FieldPath::parse("user"),
                Condition::Eq(pointer("_User", user_id)),
            ),
            Filter::Field(
                FieldPath::parse("installationId"),
                Condition::Eq(json!(inst)),
            ),
        ]);
        let schemas = self.schemas.snapshot();
        let found = self
            .store
            .find(&schemas, "_Session", &FindSpec::filter(filter))
            .await?;
        Ok(found
            .into_iter()
            .map(|s| Write::Delete {
                class: "_Session".into(),
                object_id: s.object_id,
                writers: None,
            })
            .collect())
    }

    /// A new session for `user`, replacing its sessions from the same installation; the user as
    /// it sees itself, with the token.
    async fn log_in_as(
        &self,
        auth: &AuthContext,
        user: StoredObject,
        how: CreatedWith<'_>,
    ) -> Result<Document> {
        let mut writes = self
            .installation_sessions(&user.object_id, auth.installation_id.as_deref())
            .await?;
        let (session, token) = self.new_session(auth, &user.object_id, how);
        writes.push(session);
        self.commit(writes).await.map_err(|(_, e)| e)?;
        // Sessions of the same installation were replaced.
        self.sessions.forget_user(&user.object_id);
        let me = auth.as_user(&user.object_id, &token);
        let mut doc = self.user_json(&me, user);
        doc.insert("sessionToken".into(), Value::String(token));
        Ok(doc)
    }

    /// Log-in with a username (or e-mail) and password: the user with a new session token.
    /// With authData, an enrolled user's TOTP code is checked and other providers are linked
    /// as by an update.
    pub async fn login(&self, auth: &AuthContext, credentials: &Credentials) -> Result<Document> {
        let mut input = match &credentials.auth_data {
            None | Some(Value::Null) => AuthDataInput::default(),
            Some(value) => AuthDataInput::parse(value)?,
        };
        let user = self.check_credentials(credentials).await?;
        let mfa = input.take_mfa();
        self.check_mfa_login(&user, mfa.as_ref()).await?;
        let user = if input.is_empty() {
            user
        } else {
            let me = auth.as_user(&user.object_id, "");
            self.update(&me, "_User", &user.object_id, link_body(input))
                .await?;
            self.find_user_by("objectId", &user.object_id)
                .await?
                .ok_or_else(crate::write::not_found)?
        };
        self.log_in_as(auth, user, CreatedWith::Login("password"))
            .await
    }

    /// `/loginAs` (master key): a session for any user.
    pub async fn login_as(&self, auth: &AuthContext, user_id: Option<&str>) -> Result<Document> {
        if !auth.master {
            return Err(permission_denied(ErrorCode::OperationForbidden).into());
        }
        let id = user_id.filter(|u| !u.is_empty()).ok_or_else(|| {
            ParseError::new(
                ErrorCode::InvalidValue,
                "userId must not be empty, null, or undefined",
            )
        })?;
        let user = self
            .find_user_by("objectId", id)
            .await?
            .ok_or_else(|| ParseError::new(ErrorCode::ObjectNotFound, "user not found"))?;
        self.log_in_as(auth, user, CreatedWith::Login("masterkey"))
            .await
    }

    /// `/verifyPassword`: the user if the password is right, without a new session.
    pub async fn verify_password(
        &self,
        auth: &AuthContext,
        credentials: &Credentials,
    ) -> Result<Document> {
        let user = self.check_credentials(credentials).await?;
        let me = auth.as_user(&user.object_id, "");
        Ok(self.user_json(&me, user))
    }

    /// The current user (`/users/me`) with its session token.
    pub async fn me(&self, auth: &AuthContext) -> Result<Document> {
        let session = auth
            .user
            .as_ref()
            .ok_or_else(|| permission_denied(ErrorCode::InvalidSessionToken))?;
        let user = self
            .find_user_by("objectId", &session.user_id)
            .await?
            .ok_or_else(|| permission_denied(ErrorCode::InvalidSessionToken))?;
        let mut doc = self.user_json(auth, user);
        doc.insert(
            "sessionToken".into(),
            Value::String(session.session_token.clone()),
        );
        Ok(doc)
    }

    async fn session_json(&self, auth: &AuthContext, session_id: &str) -> Result<Document> {
        let filter = Filter::Field(
            FieldPath::parse("objectId"),
            Condition::Eq(json!(session_id)),
        );
        let schemas = self.schemas.snapshot();
        let found = self
            .store
            .find(&schemas, "_Session", &FindSpec::filter(filter))
            .await?;
        let object = found.into_iter().next().ok_or_else(|| {
            ParseError::new(ErrorCode::InvalidSessionToken, "Session token not found.")
        })?;
        let schema = schemas.get("_Session").cloned();
        let mut doc = to_json(schema.as_deref(), object, None);
        sanitize("_Session", &mut doc, auth);
        Ok(doc)
    }

    /// The current session (`/sessions/me`).
    pub async fn current_session(&self, auth: &AuthContext) -> Result<Document> {
        let session = auth.user.as_ref().ok_or_else(|| {
            ParseError::new(ErrorCode::InvalidSessionToken, "Session token required.")
        })?;
        self.session_json(auth, &session.session_id).await
    }

    /// Log-out: ends the current session. Without one there is nothing to end.
    pub async fn logout(&self, auth: &AuthContext) -> Result<()> {
        let Some(session) = &auth.user else {
            return Ok(());
        };
        let write = Write::Delete {
            class: "_Session".into(),
            object_id: session.session_id.clone(),
            writers: None,
        };
        match self.commit(vec![write]).await {
            Ok(_) | Err((_, basalt_core::Error::Parse(_))) => {}
            Err((_, e)) => return Err(e),
        }
        self.sessions.forget_user(&session.user_id);
        Ok(())
    }

    /// Every session here is revocable already; the upgrade issues a fresh one for the caller.
    pub async fn upgrade_session(&self, auth: &AuthContext) -> Result<Document> {
        let user = auth
            .user
            .as_ref()
            .ok_or_else(|| ParseError::new(ErrorCode::ObjectNotFound, "invalid session"))?;
        let (write, token) = self.new_session(auth, &user.user_id, CreatedWith::Upgrade);
        let Write::Create { object, .. } = &write else {
            return Err(basalt_core::Error::Internal(anyhow::anyhow!(
                "a new session is a create"
            )));
        };
        let session_id = object.object_id.clone();
        self.commit(vec![write]).await.map_err(|(_, e)| e)?;
        let mut me = auth.as_user(&user.user_id, &token);
        if let Some(u) = me.user.as_mut() {
            std::sync::Arc::make_mut(u).session_id = session_id.clone();
        }
        self.session_json(&me, &session_id).await
    }

    /// `POST /sessions`: an extra session for the signed-in caller, with its custom fields.
    pub(crate) async fn plan_session_create(
        &self,
        auth: &AuthContext,
        mut body: Document,
    ) -> Result<(Vec<Write>, Created)> {
        let user = auth.user.as_ref().ok_or_else(|| {
            ParseError::new(ErrorCode::InvalidSessionToken, "Session token required.")
        })?;
        for key in RESERVED_SESSION_FIELDS {
            if body.contains_key(*key) {
                return Err(ParseError::new(
                    ErrorCode::InvalidKeyName,
                    format!("Invalid key name: {key}"),
                )
                .into());
            }
        }
        if body.contains_key("ACL") {
            return Err(
                ParseError::new(ErrorCode::InvalidKeyName, "Cannot set ACL on a Session.").into(),
            );
        }
        let (write, token) = self.new_session(auth, &user.user_id, CreatedWith::Create);
        let Write::Create { object, .. } = write else {
            return Err(basalt_core::Error::Internal(anyhow::anyhow!(
                "a new session is a create"
            )));
        };
        let mut internal = crate::write::Internal {
            object_id: Some(object.object_id.clone()),
            fields: Document::new(),
        };
        // The session's own fields bypass the reserved-field check; its ACL goes through it.
        for (k, v) in object.fields {
            if k == "ACL" {
                body.insert(k, v);
            } else {
                internal.fields.insert(k, v);
            }
        }
        let (write, mut created) = self
            .plan_create_with(&AuthContext::master(), "_Session", body, internal)
            .await?;
        let Write::Create { object, .. } = &write else {
            return Err(basalt_core::Error::Internal(anyhow::anyhow!(
                "a new session is a create"
            )));
        };
        for key in ["user", "createdWith", "expiresAt", "installationId"] {
            if let Some(v) = object.fields.get(key) {
                created.filled.insert(key.into(), v.clone());
            }
        }
        created
            .filled
            .insert("sessionToken".into(), Value::String(token));
        for (k, v) in object.fields.iter().filter(|(k, _)| {
            !k.starts_with('_') && !RESERVED_SESSION_FIELDS.contains(&k.as_str()) && *k != "ACL"
        }) {
            created.filled.insert(k.clone(), v.clone());
        }
        Ok((vec![write], created))
    }

    /// Rules for updating a session: reserved fields stay, no ACL; the master key may extend it.
    pub(crate) fn check_session_update(&self, auth: &AuthContext, body: &Document) -> Result<()> {
        for key in RESERVED_SESSION_FIELDS {
            if body.contains_key(*key) && !(auth.master && *key == "expiresAt") {
                return Err(ParseError::new(
                    ErrorCode::InvalidKeyName,
                    format!("Invalid key name: {key}"),
                )
                .into());
            }
        }
        if body.contains_key("ACL") && !auth.master {
            return Err(
                ParseError::new(ErrorCode::InvalidKeyName, "Cannot set ACL on a Session.").into(),
            );
        }
        Ok(())
    }
}
