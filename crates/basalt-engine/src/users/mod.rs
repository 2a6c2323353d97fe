//! Users: sign-up, log-in (password or anonymous authData), log-out, the current user,
//! password checks and changes. Passwords are stored only as `_hashed_password` (argon2id;
//! imported bcrypt hashes verify and are upgraded on the next log-in).

mod roles;
pub(crate) mod sessions;

use basalt_auth::password;
use basalt_core::names::new_object_id;
use basalt_core::query::{Condition, FieldPath, Filter};
use basalt_core::value::{Document, pointer};
use basalt_core::{ErrorCode, ParseError, Result};
use basalt_store::{FindSpec, StoredObject, Write};
use serde_json::{Value, json};

pub(crate) use roles::{invalid_role_name, role_name_is_valid};
use sessions::{CreatedWith, invalid_session};

use crate::output::{sanitize, to_json};
use crate::write::{AfterCommit, Created, Internal};
use crate::{AuthContext, Engine};

fn bad_credentials() -> ParseError {
    ParseError::new(ErrorCode::ObjectNotFound, "Invalid username/password.")
}

fn email_is_valid(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(char::is_whitespace)
}

fn take_string(body: &mut Document, key: &str) -> Result<Option<String>> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => {
            Err(ParseError::new(ErrorCode::IncorrectType, format!("{key} must be a string")).into())
        }
    }
}

fn check_email(body: &Document) -> Result<()> {
    if let Some(v) = body.get("email") {
        match v {
            Value::String(e) if email_is_valid(e) => {}
            Value::Null => {}
            Value::Object(o) if o.get("__op").and_then(Value::as_str) == Some("Delete") => {}
            _ => {
                return Err(ParseError::new(
                    ErrorCode::InvalidEmailAddress,
                    "Email address format is invalid.",
                )
                .into());
            }
        }
    }
    Ok(())
}

fn forbid_email_verified(auth: &AuthContext, body: &Document) -> Result<()> {
    if body.contains_key("emailVerified") && !auth.master {
        return Err(ParseError::new(
            ErrorCode::OperationForbidden,
            "Clients aren't allowed to manually update email verification.",
        )
        .into());
    }
    Ok(())
}

/// Checks a new role's body: a valid name is required.
pub(crate) fn check_new_role(body: &Document) -> Result<()> {
    match body.get("name") {
        Some(Value::String(n)) if role_name_is_valid(n) => Ok(()),
        Some(Value::String(n)) => Err(invalid_role_name(n).into()),
        _ => {
            Err(ParseError::new(ErrorCode::MissingRequiredField, "Roles must have a name.").into())
        }
    }
}

/// A role's name cannot change once saved.
pub(crate) fn check_role_update(body: &Document) -> Result<()> {
    if body.contains_key("name") {
        return Err(ParseError::new(
            ErrorCode::ChangedImmutableField,
            "A role's name can only be set before it has been saved.",
        )
        .into());
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
        if let Some(auth_data) = body.get("authData").cloned() {
            return self.plan_auth_data_signup(auth, body, &auth_data).await;
        }
        let username = take_string(&mut body, "username")?.filter(|u| !u.is_empty());
        if username.is_none() {
            return Err(
                ParseError::new(ErrorCode::UsernameMissing, "bad or missing username").into(),
            );
        }
        let pw = take_string(&mut body, "password")?.filter(|p| !p.is_empty());
        let Some(pw) = pw else {
            return Err(ParseError::new(ErrorCode::PasswordMissing, "password is required").into());
        };
        check_email(&body)?;
        body.remove("password");
        let hashed = password::hash_async(pw).await?;
        let mut internal = Internal {
            object_id: Some(new_object_id()),
            ..Internal::default()
        };
        internal
            .fields
            .insert("_hashed_password".into(), Value::String(hashed));
        self.plan_user_create(auth, body, internal, "password")
            .await
    }

    async fn plan_auth_data_signup(
        &self,
        auth: &AuthContext,
        mut body: Document,
        auth_data: &Value,
    ) -> Result<(Vec<Write>, Created)> {
        let providers = auth_data
            .as_object()
            .filter(|o| !o.is_empty())
            .ok_or_else(|| {
                ParseError::new(
                    ErrorCode::UnsupportedService,
                    "This authentication method is unsupported.",
                )
            })?;
        let (provider, data) = providers.iter().next().ok_or_else(|| {
            ParseError::new(
                ErrorCode::UnsupportedService,
                "This authentication method is unsupported.",
            )
        })?;
        if provider != "anonymous" {
            return Err(ParseError::new(
                ErrorCode::UnsupportedService,
                "This authentication method is unsupported.",
            )
            .into());
        }
        let id = data
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                ParseError::new(
                    ErrorCode::LinkedIdMissing,
                    "A linked id is required for this authentication provider.",
                )
            })?;
        // An anonymous id already linked logs that user in.
        let filter = Filter::Field(
            FieldPath::parse("authData.anonymous.id"),
            Condition::Eq(json!(id)),
        );
        let schemas = self.schemas.snapshot();
        let existing = self
            .store
            .find(
                &schemas,
                "_User",
                &FindSpec {
                    limit: Some(1),
                    ..FindSpec::filter(filter)
                },
            )
            .await?;
        if let Some(user) = existing.into_iter().next() {
            let (session, token) =
                self.new_session(auth, &user.object_id, CreatedWith::Login("anonymous"));
            let mut filled = Document::new();
            filled.insert("sessionToken".into(), Value::String(token));
            let created = Created {
                object_id: user.object_id,
                created_at: user.created_at,
                filled,
            };
            return Ok((vec![session], created));
        }
        if !body.contains_key("username") {
            body.insert(
                "username".into(),
                Value::String(new_object_id().to_lowercase() + &new_object_id()),
            );
        }
        let internal = Internal {
            object_id: Some(new_object_id()),
            ..Internal::default()
        };
        self.plan_user_create(auth, body, internal, "anonymous")
            .await
    }

    async fn plan_user_create(
        &self,
        auth: &AuthContext,
        mut body: Document,
        internal: Internal,
        provider: &str,
    ) -> Result<(Vec<Write>, Created)> {
        let id = internal.object_id.clone().unwrap_or_default();
        if !body.contains_key("ACL") {
            body.insert(
                "ACL".into(),
                json!({ "*": {"read": true}, id.clone(): {"read": true, "write": true} }),
            );
        }
        let (user_write, mut created) =
            self.plan_create_with(auth, "_User", body, internal).await?;
        let (session, token) = self.new_session(auth, &id, CreatedWith::Signup(provider));
        created
            .filled
            .insert("sessionToken".into(), Value::String(token));
        Ok((vec![user_write, session], created))
    }

    /// The rules of a `_User` update: only the user (or the master key) changes it; a new
    /// password is hashed, and the user's other sessions end once it is committed.
    pub(crate) async fn prepare_user_update(
        &self,
        auth: &AuthContext,
        object_id: &str,
        body: &mut Document,
    ) -> Result<(Document, AfterCommit)> {
        if !auth.master && auth.user_id() != Some(object_id) {
            return Err(ParseError::new(
                ErrorCode::SessionMissing,
                format!("Cannot modify user {object_id}."),
            )
            .into());
        }
        forbid_email_verified(auth, body)?;
        check_email(body)?;
        if let Some(Value::String(u)) = body.get("username")
            && u.is_empty()
        {
            {
                return Err(
                    ParseError::new(ErrorCode::UsernameMissing, "bad or missing username").into(),
                );
            }
        }
        let mut internal = Document::new();
        let mut after = AfterCommit::ClearSessionCache;
        match body.remove("password") {
            None => {}
            Some(Value::String(pw)) if !pw.is_empty() => {
                internal.insert(
                    "_hashed_password".into(),
                    Value::String(password::hash_async(pw).await?),
                );
                let keep = auth
                    .user
                    .as_ref()
                    .filter(|u| u.user_id == object_id)
                    .map(|u| u.session_id.clone());
                after = AfterCommit::RevokeSessions {
                    user_id: object_id.to_owned(),
                    keep,
                };
            }
            Some(_) => {
                return Err(
                    ParseError::new(ErrorCode::PasswordMissing, "password is required").into(),
                );
            }
        }
        Ok((internal, after))
    }

    async fn find_user_by(&self, key: &str, value: &str) -> Result<Option<StoredObject>> {
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

    /// Finds the user a username or e-mail names and checks the password; upgrades old hashes.
    async fn check_credentials(
        &self,
        username: Option<&str>,
        email: Option<&str>,
        pw: Option<&str>,
    ) -> Result<StoredObject> {
        let user = match (
            username.filter(|u| !u.is_empty()),
            email.filter(|e| !e.is_empty()),
        ) {
            (Some(u), _) => self.find_user_by("username", u).await?,
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
        let stored = user
            .fields
            .get("_hashed_password")
            .and_then(Value::as_str)
            .ok_or_else(bad_credentials)?;
        let verdict = password::verify_async(pw.to_owned(), stored.to_owned()).await?;
        if !verdict.ok {
            return Err(bad_credentials().into());
        }
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

    fn user_json(&self, auth: &AuthContext, user: StoredObject) -> Document {
        let schema = self.schemas.get("_User");
        let mut doc = to_json(
            schema.as_deref(),
            user,
            self.config.file_url_base.as_deref(),
        );
        sanitize("_User", &mut doc, auth);
        doc
    }

    /// Log-in with a username (or e-mail) and password: the user with a new session token.
    pub async fn login(
        &self,
        auth: &AuthContext,
        username: Option<&str>,
        email: Option<&str>,
        pw: Option<&str>,
    ) -> Result<Document> {
        let user = self.check_credentials(username, email, pw).await?;
        let (session, token) =
            self.new_session(auth, &user.object_id, CreatedWith::Login("password"));
        self.commit(vec![session]).await.map_err(|(_, e)| e)?;
        let mut as_user = auth.clone();
        as_user.user = Some(std::sync::Arc::new(crate::auth::UserSession {
            user_id: user.object_id.clone(),
            session_token: token.clone(),
            session_id: String::new(),
            roles: std::sync::Arc::default(),
        }));
        let mut doc = self.user_json(&as_user, user);
        doc.insert("sessionToken".into(), Value::String(token));
        Ok(doc)
    }

    /// `/verifyPassword`: the user if the password is right, without a new session.
    pub async fn verify_password(
        &self,
        auth: &AuthContext,
        username: Option<&str>,
        email: Option<&str>,
        pw: Option<&str>,
    ) -> Result<Document> {
        let user = self.check_credentials(username, email, pw).await?;
        let mut as_user = auth.clone();
        as_user.user = Some(std::sync::Arc::new(crate::auth::UserSession {
            user_id: user.object_id.clone(),
            session_token: String::new(),
            session_id: String::new(),
            roles: std::sync::Arc::default(),
        }));
        Ok(self.user_json(&as_user, user))
    }

    /// The current user (`/users/me`) with its session token.
    pub async fn me(&self, auth: &AuthContext) -> Result<Document> {
        let session = auth.user.as_ref().ok_or_else(invalid_session)?;
        let user = self
            .find_user_by("objectId", &session.user_id)
            .await?
            .ok_or_else(invalid_session)?;
        let mut doc = self.user_json(auth, user);
        doc.insert(
            "sessionToken".into(),
            Value::String(session.session_token.clone()),
        );
        Ok(doc)
    }

    /// The current session (`/sessions/me`).
    pub async fn current_session(&self, auth: &AuthContext) -> Result<Document> {
        let session = auth.user.as_ref().ok_or_else(invalid_session)?;
        let filter = Filter::Field(
            FieldPath::parse("objectId"),
            Condition::Eq(json!(session.session_id)),
        );
        let schemas = self.schemas.snapshot();
        let found = self
            .store
            .find(&schemas, "_Session", &FindSpec::filter(filter))
            .await?;
        let object = found.into_iter().next().ok_or_else(invalid_session)?;
        let schema = schemas.get("_Session").cloned();
        let mut doc = to_json(schema.as_deref(), object, None);
        sanitize("_Session", &mut doc, auth);
        Ok(doc)
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
        self.sessions.forget_token(&session.session_token);
        Ok(())
    }

    /// Turns a legacy session into a revocable one: here every session is revocable, so this
    /// issues a fresh session for the caller.
    pub async fn upgrade_session(&self, auth: &AuthContext) -> Result<Document> {
        let user = auth.user.as_ref().ok_or_else(invalid_session)?;
        let (write, token) = self.new_session(auth, &user.user_id, CreatedWith::Upgrade);
        self.commit(vec![write]).await.map_err(|(_, e)| e)?;
        let mut doc = Document::new();
        doc.insert("sessionToken".into(), Value::String(token));
        doc.insert("user".into(), pointer("_User", &user.user_id));
        Ok(doc)
    }
}
