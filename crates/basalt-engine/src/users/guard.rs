//! Password policy and account lock-out, as Parse's `passwordPolicy` and `accountLockout`
//! options define them. Lock-out state lives in hidden user fields so every node sees it.

use basalt_core::ops::{FieldChange, Op, Patch};
use basalt_core::time::{format_iso, now_iso};
use basalt_core::{ErrorCode, ParseError, Result};
use basalt_store::{StoredObject, Write};
use serde_json::Value;

use crate::Engine;

const FAILED: &str = "_failed_login_count";
const LOCKED_UNTIL: &str = "_account_lockout_expires_at";
const HISTORY: &str = "_password_history";

fn set(field: &str, value: Value) -> FieldChange {
    FieldChange {
        field: field.to_owned(),
        sub: vec![],
        op: Op::Set(value),
    }
}

impl Engine {
    /// Checks a new password against the policy; `user` is the stored user on a change.
    pub(crate) async fn check_password_policy(
        &self,
        pw: &str,
        username: Option<&str>,
        user: Option<&StoredObject>,
    ) -> Result<()> {
        let Some(policy) = &self.config.password_policy else {
            return Ok(());
        };
        let mut history: Vec<String> = Vec::new();
        if let Some(u) = user {
            if let Some(Value::String(h)) = u.fields.get("_hashed_password") {
                history.push(h.clone());
            }
            if let Some(Value::Array(old)) = u.fields.get(HISTORY) {
                history.extend(old.iter().filter_map(Value::as_str).map(str::to_owned));
            }
        }
        policy
            .check_async(pw.to_owned(), username.map(str::to_owned), history)
            .await?;
        Ok(())
    }

    /// The `_password_history` to store after a change, when the policy keeps one.
    pub(crate) fn next_password_history(&self, user: &StoredObject) -> Option<Value> {
        let policy = self
            .config
            .password_policy
            .as_ref()
            .filter(|p| p.max_history > 0)?;
        let current = user
            .fields
            .get("_hashed_password")
            .and_then(Value::as_str)?;
        let stored: Vec<String> = user
            .fields
            .get(HISTORY)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Some(Value::from(policy.next_history(&stored, current)))
    }

    /// Refuses a log-in while the account is locked.
    pub(crate) fn check_not_locked(&self, user: &StoredObject) -> Result<()> {
        let Some(lock) = self.config.account_lockout else {
            return Ok(());
        };
        let until = user
            .fields
            .get(LOCKED_UNTIL)
            .and_then(|v| v.get("iso").or(Some(v)))
            .and_then(Value::as_str);
        if until.is_some_and(|u| u > now_iso().as_str()) {
            let minutes = lock.duration.as_secs().div_ceil(60);
            return Err(ParseError::new(
                ErrorCode::ObjectNotFound,
                format!("Your account is locked due to multiple failed login attempts. Please try again after {minutes} minute(s)"),
            )
            .into());
        }
        Ok(())
    }

    /// Counts a failed log-in, locking the account at the threshold.
    pub(crate) async fn record_failed_login(&self, user: &StoredObject) -> Result<()> {
        let Some(lock) = self.config.account_lockout else {
            return Ok(());
        };
        let failed = user.fields.get(FAILED).and_then(Value::as_u64).unwrap_or(0) + 1;
        let mut changes = Vec::new();
        if failed >= u64::from(lock.threshold) {
            let until = time::OffsetDateTime::now_utc() + lock.duration;
            changes.push(set(
                LOCKED_UNTIL,
                serde_json::json!({"__type": "Date", "iso": format_iso(until)}),
            ));
            changes.push(set(FAILED, Value::from(0)));
        } else {
            changes.push(FieldChange {
                field: FAILED.to_owned(),
                sub: vec![],
                op: Op::Increment(1.into()),
            });
        }
        self.write_hidden(user, changes).await
    }

    /// Clears the failure count after a successful log-in.
    pub(crate) async fn record_good_login(&self, user: &StoredObject) -> Result<()> {
        if self.config.account_lockout.is_none()
            || user.fields.get(FAILED).and_then(Value::as_u64).unwrap_or(0) == 0
        {
            return Ok(());
        }
        self.write_hidden(user, vec![set(FAILED, Value::from(0))])
            .await
    }

    async fn write_hidden(&self, user: &StoredObject, changes: Vec<FieldChange>) -> Result<()> {
        let write = Write::Update {
            class: "_User".into(),
            object_id: user.object_id.clone(),
            patch: Patch { changes },
            updated_at: user.updated_at.clone(),
            relations: vec![],
            writers: None,
        };
        self.commit(vec![write])
            .await
            .map(|_| ())
            .map_err(|(_, e)| e)
    }
}
