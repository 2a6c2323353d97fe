//! TOTP multi-factor authentication behind `authData.mfa`, with the wire format of Parse's
//! `mfa` adapter: enrol with `{secret, token}` (answered with
//! `authDataResponse.mfa.recovery = "code1, code2"`), log in with `authData: {mfa: {token}}`,
//! re-enrol with `{old, secret, token}`.
//!
//! Stored in the hidden `_mfa` field: the secret sealed with a key derived from the master key,
//! SHA-256 hashes of the recovery codes, and the last accepted TOTP step. Codes are single use:
//! a recovery code is removed when used, a TOTP code is refused at or before the last accepted
//! step. Log-in checks for one user run one at a time on this node (so two valid codes sent at
//! once both count), and the state is stored only if it is still the one they read (`Op::Swap`,
//! checked by the store under the user row's lock), so two requests cannot both spend the same
//! code, on one node or on two. Turning MFA off takes a current code (`{old}` alone) unless the
//! master key asks.

use std::time::SystemTime;

use basalt_auth::AuthError;
use basalt_auth::totp;
use basalt_core::ops::{FieldChange, Op, Patch};
use basalt_core::{ErrorCode, ParseError, Result};
use basalt_store::{StoredObject, Write};
use serde_json::{Map, Value, json};

use super::auth_data::Entry;
use crate::{AuthContext, Engine};

/// The hidden field holding a user's sealed TOTP state.
pub(crate) const MFA_FIELD: &str = "_mfa";
/// Recovery codes issued at enrolment (as Parse does).
const RECOVERY_CODES: usize = 2;
/// Lock stripes serialising MFA log-ins per user.
pub(crate) const LOCK_STRIPES: usize = 64;

/// What `authData.mfa` reads as once enrolled.
pub(crate) fn enabled_marker() -> Value {
    json!({"status": "enabled"})
}

fn invalid_token() -> ParseError {
    AuthError::Mfa("Invalid MFA token".into()).into()
}

fn text<'a>(data: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    data.get(key).and_then(Value::as_str)
}

/// A user's TOTP state, unsealed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MfaState {
    secret: String,
    recovery: Vec<String>,
    last_step: Option<u64>,
}

impl MfaState {
    /// Accepts a log-in code: a recovery code (removed) or a TOTP code newer than the last
    /// accepted one. False leaves the state unchanged.
    fn redeem(&mut self, code: &str, now: SystemTime) -> bool {
        if let Some(i) = totp::find_recovery_code(code, &self.recovery) {
            self.recovery.remove(i);
            return true;
        }
        match totp::matching_step(&self.secret, code, now) {
            Some(step) if self.last_step.is_none_or(|last| step > last) => {
                self.last_step = Some(step);
                true
            }
            _ => false,
        }
    }

    /// Proof of possession for changing the settings (replay does not matter here: the
    /// caller is signed in already).
    fn accepts(&self, code: &str, now: SystemTime) -> bool {
        totp::find_recovery_code(code, &self.recovery).is_some()
            || totp::verify(&self.secret, code, now)
    }
}

/// What an update's `authData.mfa` entry does.
pub(crate) enum MfaChange {
    /// Nothing.
    Keep,
    /// A new secret, with the `authDataResponse.mfa` to answer (the recovery codes).
    Enrol(MfaState, Value),
    /// MFA off.
    Remove,
}

/// Per-user locks for MFA log-ins (striped: a fixed set shared by hash of the user id).
pub(crate) struct MfaLocks(Vec<tokio::sync::Mutex<()>>);

impl Default for MfaLocks {
    fn default() -> Self {
        Self(
            (0..LOCK_STRIPES)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
        )
    }
}

impl MfaLocks {
    fn for_user(&self, user_id: &str) -> &tokio::sync::Mutex<()> {
        let hash = user_id.bytes().fold(0usize, |h, b| {
            h.wrapping_mul(31).wrapping_add(usize::from(b))
        });
        &self.0[hash % self.0.len()]
    }
}

impl Engine {
    fn mfa_key(&self) -> Result<&basalt_auth::sealed::SealingKey> {
        self.config
            .mfa_key
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("no key to seal MFA secrets with").into())
    }

    /// The user's TOTP state, if enrolled.
    pub(crate) fn mfa_state(&self, user: &StoredObject) -> Result<Option<MfaState>> {
        let Some(stored) = user.fields.get(MFA_FIELD).and_then(Value::as_object) else {
            return Ok(None);
        };
        let sealed = text(stored, "secret").unwrap_or_default();
        let secret = self.mfa_key()?.open(sealed).ok_or_else(|| {
            anyhow::anyhow!("the MFA secret of user {} does not open", user.object_id)
        })?;
        let recovery = stored
            .get("recovery")
            .and_then(Value::as_array)
            .map(|codes| {
                codes
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let last_step = stored.get("last_step").and_then(Value::as_u64);
        Ok(Some(MfaState {
            secret,
            recovery,
            last_step,
        }))
    }

    /// The stored (sealed) form of a state.
    pub(crate) fn seal_mfa(&self, state: &MfaState) -> Result<Value> {
        let sealed = self
            .mfa_key()?
            .seal(&state.secret)
            .ok_or_else(|| anyhow::anyhow!("sealing the MFA secret failed"))?;
        Ok(json!({
            "secret": sealed,
            "recovery": state.recovery,
            "last_step": state.last_step,
        }))
    }

    /// Enrolment from `{secret, token}`: the token must be valid for the secret now.
    pub(crate) fn mfa_enrol(&self, data: &Map<String, Value>) -> Result<(MfaState, Value)> {
        let secret = text(data, "secret").unwrap_or_default();
        let token = text(data, "token").unwrap_or_default();
        let now = SystemTime::now();
        totp::check_enrolment(secret, token, now)?;
        let codes = totp::recovery_codes(RECOVERY_CODES);
        let state = MfaState {
            secret: secret.to_owned(),
            recovery: codes.iter().map(|c| totp::hash_recovery_code(c)).collect(),
            last_step: totp::matching_step(secret, token, now),
        };
        Ok((state, json!({ "recovery": codes.join(", ") })))
    }

    /// An update's `authData.mfa` entry, by the user or the master key.
    pub(crate) fn mfa_update(
        &self,
        auth: &AuthContext,
        user: &StoredObject,
        entry: &Entry,
    ) -> Result<MfaChange> {
        let enrolled = self.mfa_state(user)?;
        let data = match (entry, &enrolled) {
            (Entry::Unlink, None) => return Ok(MfaChange::Keep),
            (Entry::Unlink, Some(_)) if auth.master => return Ok(MfaChange::Remove),
            (Entry::Unlink, Some(_)) => {
                return Err(ParseError::new(
                    ErrorCode::ScriptFailed,
                    "Turning MFA off needs a current code: send authData.mfa = {old: <code>}",
                )
                .into());
            }
            (Entry::Data(data), _) => data,
        };
        // SDKs send back the authData they read, `{status: "enabled"}` included.
        if enrolled.is_some() && Value::Object(data.clone()) == enabled_marker() {
            return Ok(MfaChange::Keep);
        }
        let Some(state) = enrolled else {
            let (state, response) = self.mfa_enrol(data)?;
            return Ok(MfaChange::Enrol(state, response));
        };
        if !auth.master {
            let old = text(data, "old").ok_or_else(invalid_token)?;
            if !state.accepts(old, SystemTime::now()) {
                return Err(invalid_token().into());
            }
        }
        if data.contains_key("secret") {
            let (state, response) = self.mfa_enrol(data)?;
            Ok(MfaChange::Enrol(state, response))
        } else if !auth.master && data.len() == 1 {
            Ok(MfaChange::Remove)
        } else {
            Err(AuthError::Mfa("Invalid MFA data".into()).into())
        }
    }

    /// The second factor at log-in, required once the user is enrolled: `-1 Missing
    /// additional authData mfa` without it, `141 Invalid MFA token` for a wrong or spent code.
    pub(crate) async fn check_mfa_login(
        &self,
        user: &StoredObject,
        entry: Option<&Entry>,
    ) -> Result<()> {
        if self.mfa_state(user)?.is_none() {
            return Ok(());
        }
        let token = match entry {
            Some(Entry::Data(data)) => data.get("token"),
            Some(Entry::Unlink) | None => {
                return Err(ParseError::new(
                    ErrorCode::OtherCause,
                    "Missing additional authData mfa",
                )
                .into());
            }
        };
        let Some(Value::String(token)) = token else {
            return Err(invalid_token().into());
        };
        let _serial = self.mfa_locks.for_user(&user.object_id).lock().await;
        // Read again under the lock: another log-in may just have spent a code.
        let fresh = self
            .find_user_by("objectId", &user.object_id)
            .await?
            .ok_or_else(crate::write::not_found)?;
        let Some(mut state) = self.mfa_state(&fresh)? else {
            return Ok(());
        };
        if !state.redeem(token, SystemTime::now()) {
            return Err(invalid_token().into());
        }
        let write = Write::Update {
            class: "_User".into(),
            object_id: fresh.object_id.clone(),
            patch: Patch {
                changes: vec![FieldChange {
                    field: MFA_FIELD.into(),
                    sub: vec![],
                    // Another node may have spent a code since the read above.
                    op: Op::Swap {
                        expected: fresh.fields.get(MFA_FIELD).cloned(),
                        value: self.seal_mfa(&state)?,
                        refusal: invalid_token(),
                    },
                }],
            },
            updated_at: fresh.updated_at.clone(),
            relations: vec![],
            writers: None,
        };
        self.commit(vec![write]).await.map_err(|(_, e)| e)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DP";

    fn state() -> MfaState {
        MfaState {
            secret: SECRET.to_owned(),
            recovery: vec![totp::hash_recovery_code("abcde-fghjk")],
            last_step: None,
        }
    }

    #[test]
    fn a_totp_code_is_accepted_once() {
        let now = SystemTime::now();
        let code = totp::code_at(SECRET, now).unwrap();
        let mut s = state();

        assert!(s.redeem(&code, now));
        assert!(!s.redeem(&code, now), "replayed within its window");
        let next = totp::code_at(SECRET, now + Duration::from_secs(30)).unwrap();
        assert!(s.redeem(&next, now + Duration::from_secs(30)));
    }

    #[test]
    fn a_recovery_code_is_spent_on_use() {
        let mut s = state();

        assert!(s.redeem("ABCDE-FGHJK", SystemTime::now()));
        assert!(s.recovery.is_empty());
        assert!(!s.redeem("abcde-fghjk", SystemTime::now()));
    }
}
