//! authData: log-in or sign-up with a provider (`POST /users`), linking and unlinking providers
//! on an existing user (`PUT /users/:id`), as Parse's RestWrite does it. Every identity is
//! verified by its provider before it is looked up or stored; an identity another user holds is
//! 208; a provider not configured is 252.
//!
//! What is stored: `authData.<provider> = {id}` only. Tokens the client sent (id_token,
//! access_token) prove the identity once and are never kept. `authData.mfa` reads
//! `{status: "enabled"}`; the TOTP secret and recovery codes live in the hidden `_mfa` field
//! (see `mfa.rs`).

use std::collections::BTreeMap;

use basalt_auth::{AuthError, ProviderRole};
use basalt_core::names::new_object_id;
use basalt_core::query::{Condition, FieldPath, Filter};
use basalt_core::value::Document;
use basalt_core::{ErrorCode, ParseError, Result};
use basalt_store::{FindSpec, StoredObject, Write};
use serde_json::{Map, Value, json};

use super::mfa::MfaChange;
use super::sessions::CreatedWith;
use crate::write::{Created, Internal};
use crate::{AuthContext, Engine};

/// One provider's part of a request's authData.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Entry {
    /// `null`: unlink the provider.
    Unlink,
    /// The provider's data (`{id, id_token}`, `{id, access_token}`, `{token}` for mfa…).
    Data(Map<String, Value>),
}

/// A request's authData, providers in name order (the order Parse validates them in).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct AuthDataInput(pub BTreeMap<String, Entry>);

pub(crate) fn unsupported() -> ParseError {
    AuthError::Unsupported.into()
}

fn already_linked() -> ParseError {
    ParseError::new(ErrorCode::AccountAlreadyLinked, "this auth is already used")
}

fn id_missing() -> ParseError {
    ParseError::new(
        ErrorCode::LinkedIdMissing,
        "A linked id is required for this authentication provider.",
    )
}

/// The account id an entry names: a non-empty string (a number, as some SDKs send GitHub's,
/// reads as its decimal text).
fn entry_id(data: &Map<String, Value>) -> Option<String> {
    match data.get("id") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// The id stored for `provider` in a user's authData.
fn stored_id<'a>(current: &'a Map<String, Value>, provider: &str) -> Option<&'a str> {
    current
        .get(provider)
        .and_then(|p| p.get("id"))
        .and_then(Value::as_str)
}

/// A user's stored authData.
pub(crate) fn auth_data_of(user: &StoredObject) -> Map<String, Value> {
    user.fields
        .get("authData")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

impl AuthDataInput {
    /// Reads a request's `authData`: an object whose values are objects or null (252 otherwise).
    pub(crate) fn parse(value: &Value) -> Result<Self> {
        let object = value.as_object().ok_or_else(unsupported)?;
        let mut entries = BTreeMap::new();
        for (provider, entry) in object {
            let entry = match entry {
                Value::Null => Entry::Unlink,
                Value::Object(data) => Entry::Data(data.clone()),
                _ => return Err(unsupported().into()),
            };
            entries.insert(provider.clone(), entry);
        }
        Ok(Self(entries))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `mfa` entry, taken out (log-in checks it apart from the identities).
    pub(crate) fn take_mfa(&mut self) -> Option<Entry> {
        self.0.remove("mfa")
    }

    /// Provider names as Parse records them in a session's `createdWith.authProvider`.
    fn provider_list(&self) -> String {
        self.0.keys().cloned().collect::<Vec<_>>().join(",")
    }

    /// `(provider, id)` for every entry that names an account.
    fn identities(&self) -> Vec<(&str, String)> {
        self.0
            .iter()
            .filter(|(name, _)| name.as_str() != "mfa")
            .filter_map(|(name, entry)| match entry {
                Entry::Data(data) => entry_id(data).map(|id| (name.as_str(), id)),
                Entry::Unlink => None,
            })
            .collect()
    }
}

impl Engine {
    /// 252 for any provider in `input` this server does not verify (unlinking is always allowed).
    fn check_providers(&self, input: &AuthDataInput) -> Result<()> {
        for (name, entry) in &input.0 {
            if matches!(entry, Entry::Data(_)) {
                self.config.auth_providers.role(name)?;
            }
        }
        Ok(())
    }

    /// Users already holding one of the identities in `input` (at most two, as Parse looks).
    async fn users_with_auth_data(&self, input: &AuthDataInput) -> Result<Vec<StoredObject>> {
        let conditions: Vec<Filter> = input
            .identities()
            .into_iter()
            .map(|(name, id)| {
                Filter::Field(
                    FieldPath::parse(&format!("authData.{name}.id")),
                    Condition::Eq(Value::String(id)),
                )
            })
            .collect();
        if conditions.is_empty() {
            return Ok(Vec::new());
        }
        let spec = FindSpec {
            limit: Some(2),
            ..FindSpec::filter(Filter::Or(conditions))
        };
        let schemas = self.schemas.snapshot();
        Ok(self.store.find(&schemas, "_User", &spec).await?)
    }

    /// Verifies every identity entry with its provider; returns what to store for each
    /// (`{id}`). An entry naming the id already stored in `unchanged_against` is not asked
    /// about again: it asserts nothing new (SDKs send back the authData they were given).
    async fn verify_identities(
        &self,
        input: &AuthDataInput,
        unchanged_against: Option<&Map<String, Value>>,
    ) -> Result<Vec<(String, Value)>> {
        let mut stored = Vec::new();
        for (name, entry) in &input.0 {
            let Entry::Data(data) = entry else { continue };
            if self.config.auth_providers.role(name)? != ProviderRole::Identity {
                continue;
            }
            let id = entry_id(data).ok_or_else(id_missing)?;
            let same = unchanged_against.and_then(|c| stored_id(c, name)) == Some(id.as_str());
            if !same {
                self.config
                    .auth_providers
                    .verify_identity(name, &id, data)
                    .await?;
            }
            stored.push((name.clone(), json!({ "id": id })));
        }
        Ok(stored)
    }

    /// Sign-up or log-in with authData (`POST /users`): the user holding the identity logs in;
    /// otherwise a new user is created with it.
    pub(crate) async fn plan_auth_data_signup(
        &self,
        auth: &AuthContext,
        mut body: Document,
        mut input: AuthDataInput,
    ) -> Result<(Vec<Write>, Created)> {
        self.check_providers(&input)?;
        let has_credentials = body.get("username").is_some_and(Value::is_string)
            && body.get("password").is_some_and(Value::is_string);
        if input.identities().is_empty() && !has_credentials && !auth.master {
            let anonymous_without_id = matches!(input.0.get("anonymous"), Some(Entry::Data(_)));
            return Err(if anonymous_without_id {
                id_missing()
            } else {
                unsupported()
            }
            .into());
        }
        let found = self.users_with_auth_data(&input).await?;
        if found.len() > 1 {
            // Verify first, so a bad token cannot learn which ids are taken.
            self.verify_identities(&input, None).await?;
            return Err(already_linked().into());
        }
        if let Some(user) = found.into_iter().next() {
            return self.auth_data_login(auth, user, input).await;
        }
        let mut stored = Map::new();
        for (name, value) in self.verify_identities(&input, None).await? {
            stored.insert(name, value);
        }
        let mut internal = Internal {
            object_id: Some(new_object_id()),
            ..Internal::default()
        };
        let mut responses = Map::new();
        if let Some(Entry::Data(data)) = input.take_mfa() {
            let (state, response) = self.mfa_enrol(&data)?;
            stored.insert("mfa".into(), super::mfa::enabled_marker());
            internal
                .fields
                .insert(super::mfa::MFA_FIELD.into(), self.seal_mfa(&state)?);
            responses.insert("mfa".into(), response);
        }
        body.insert("authData".into(), Value::Object(stored));
        let generated = if body.contains_key("username") {
            None
        } else {
            let name: String = (0..3).map(|_| new_object_id()).collect::<String>()[..25].to_owned();
            body.insert("username".into(), Value::String(name.clone()));
            Some(name)
        };
        if let Some(pw) = super::take_string(&body, "password")?.filter(|p| !p.is_empty()) {
            let username = super::take_string(&body, "username")?;
            self.check_password_policy(&pw, username.as_deref(), None)
                .await?;
            body.remove("password");
            internal.fields.insert(
                "_hashed_password".into(),
                Value::String(basalt_auth::password::hash_async(pw).await?),
            );
        }
        let providers = input.provider_list();
        let (writes, mut created) = self
            .plan_user_create(auth, body, internal, CreatedWith::Login(&providers))
            .await?;
        if let Some(name) = generated {
            created
                .filled
                .insert("username".into(), Value::String(name));
        }
        created
            .filled
            .insert("authDataResponse".into(), Value::Object(responses));
        Ok((writes, created))
    }

    /// Log-in of the user holding an identity: every provided identity is verified (never
    /// skipped: knowing an id proves nothing), the second factor is checked when the user has
    /// one, identities new to the user are linked, and a session is created.
    async fn auth_data_login(
        &self,
        auth: &AuthContext,
        user: StoredObject,
        mut input: AuthDataInput,
    ) -> Result<(Vec<Write>, Created)> {
        let current = auth_data_of(&user);
        let verified = self.verify_identities(&input, None).await?;
        let mfa = input.take_mfa();
        self.check_mfa_login(&user, mfa.as_ref()).await?;
        let mut merged = current.clone();
        for (name, value) in verified {
            merged.insert(name, value);
        }
        let mut writes = Vec::new();
        let mut user = user;
        if merged != current {
            user.fields
                .insert("authData".into(), Value::Object(merged.clone()));
            writes.push(Write::Update {
                class: "_User".into(),
                object_id: user.object_id.clone(),
                patch: basalt_core::ops::Patch {
                    changes: vec![basalt_core::ops::FieldChange {
                        field: "authData".into(),
                        sub: vec![],
                        op: basalt_core::ops::Op::Set(Value::Object(merged)),
                    }],
                },
                updated_at: basalt_core::time::now_iso(),
                relations: vec![],
                writers: None,
            });
        }
        let providers = input.provider_list();
        let (session, token) =
            self.new_session(auth, &user.object_id, CreatedWith::Login(&providers));
        writes.push(session);
        let me = auth.as_user(&user.object_id, &token);
        let mut filled = self.user_json(&me, user.clone());
        filled.insert("sessionToken".into(), Value::String(token));
        filled.insert("authDataResponse".into(), json!({}));
        // The session goes first: a batch answers a sign-up from its first write.
        if writes.len() > 1 {
            writes.rotate_left(1);
        }
        Ok((
            writes,
            Created {
                object_id: user.object_id,
                created_at: user.created_at,
                filled,
                existing: true,
            },
        ))
    }

    /// Linking and unlinking on an existing user (`PUT /users/:id` with authData, by the user or
    /// the master key): the user's new authData and `_mfa` (None: unchanged) and the
    /// `authDataResponse` to answer with (None when nothing changed).
    pub(crate) async fn plan_auth_data_update(
        &self,
        auth: &AuthContext,
        object_id: &str,
        input: AuthDataInput,
    ) -> Result<AuthDataUpdate> {
        self.check_providers(&input)?;
        let user = self
            .find_user_by("objectId", object_id)
            .await?
            .ok_or_else(crate::write::not_found)?;
        let current = auth_data_of(&user);
        let found = self.users_with_auth_data(&input).await?;
        if found.iter().any(|u| u.object_id != object_id) {
            self.verify_identities(&input, Some(&current)).await?;
            return Err(already_linked().into());
        }
        let mut update = AuthDataUpdate::default();
        let mut next = current.clone();
        let mut responses = Map::new();
        for (name, value) in self.verify_identities(&input, Some(&current)).await? {
            next.insert(name, value);
        }
        for (name, entry) in &input.0 {
            if name == "mfa" {
                match self.mfa_update(auth, &user, entry)? {
                    MfaChange::Keep => {}
                    MfaChange::Enrol(state, response) => {
                        next.insert("mfa".into(), super::mfa::enabled_marker());
                        update.mfa = Some(Some(self.seal_mfa(&state)?));
                        responses.insert("mfa".into(), response);
                    }
                    MfaChange::Remove => {
                        next.remove("mfa");
                        update.mfa = Some(None);
                    }
                }
            } else if *entry == Entry::Unlink {
                next.remove(name);
            }
        }
        if next != current || update.mfa.is_some() {
            update.auth_data = Some(next);
            update.response = Some(Value::Object(responses));
        }
        Ok(update)
    }
}

/// The result of [`Engine::plan_auth_data_update`].
#[derive(Debug, Default)]
pub(crate) struct AuthDataUpdate {
    /// The user's whole new authData (empty: remove the field).
    pub auth_data: Option<Map<String, Value>>,
    /// The new sealed `_mfa` (Some(None): remove it).
    pub mfa: Option<Option<Value>>,
    /// `authDataResponse` for the answer.
    pub response: Option<Value>,
}
