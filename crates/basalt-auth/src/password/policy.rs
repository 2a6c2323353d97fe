//! The password policy Parse Server applies on signup, password change and reset
//! (`passwordPolicy` option; `RestWrite._validatePasswordPolicy`), with Parse's code 142 and
//! messages. `min_length` is basalt's own addition and fails with the same message as the
//! pattern.
//!
//! What the engine does with it:
//! - On signup pass the new username and no history.
//! - On update or reset pass the stored username, and, when `max_history > 0`, the user's
//!   current `_hashed_password` followed by `_password_history` as stored. After the write,
//!   store [`PasswordPolicy::next_history`] into `_password_history`.

use std::borrow::Cow;

use fancy_regex::Regex;

use crate::error::AuthError;
use crate::password::{run_blocking, verify};

/// Parse's message when the pattern (or `min_length`) fails and no `validation_error` is set.
pub const DEFAULT_POLICY_MESSAGE: &str = "Password does not meet the Password Policy requirements.";
/// Parse's message when `doNotAllowUsername` is on and the password contains the username.
pub const CONTAINS_USERNAME_MESSAGE: &str = "Password cannot contain your username.";
/// Parse's upper bound for `maxPasswordHistory`.
pub const MAX_HISTORY_LIMIT: u8 = 20;

/// Rules a new password must meet. The default allows everything.
#[derive(Debug, Clone, Default)]
pub struct PasswordPolicy {
    /// Fewest characters allowed (basalt's addition; Parse expresses this in the pattern).
    pub min_length: Option<usize>,
    /// Parse's `validatorPattern`: the password must match somewhere (JavaScript `test`
    /// semantics, unanchored). Lookarounds work, as in the JavaScript patterns Parse users write.
    pub pattern: Option<Regex>,
    /// Parse's `validationError`: replaces the default message when the pattern fails.
    pub validation_error: Option<String>,
    /// Parse's `doNotAllowUsername`: the password may not contain the username.
    pub forbid_username: bool,
    /// Parse's `maxPasswordHistory` (0 = off, at most 20): the new password may not equal the
    /// current one or the last `max_history - 1` before it.
    pub max_history: u8,
}

impl PasswordPolicy {
    /// Sets `pattern` from Parse's `validatorPattern` string.
    pub fn with_pattern(mut self, pattern: &str) -> Result<Self, AuthError> {
        let compiled = Regex::new(pattern).map_err(|e| {
            AuthError::Config(format!("passwordPolicy.validatorPattern is invalid: {e}"))
        })?;
        self.pattern = Some(compiled);
        Ok(self)
    }

    /// Checks the settings the way Parse's `Config.validatePasswordPolicy` does.
    pub fn validate(&self) -> Result<(), AuthError> {
        if self.max_history > MAX_HISTORY_LIMIT {
            return Err(AuthError::Config(
                "passwordPolicy.maxPasswordHistory must be an integer ranging 0 - 20".to_owned(),
            ));
        }
        Ok(())
    }

    /// Checks `password` in Parse's order: pattern (and length), then username, then history.
    /// `username` is the new one on signup, the stored one on update or reset.
    /// `history_hashes` is the current hash followed by `_password_history` as stored; only
    /// the first `max_history` are compared, and nothing is compared when `max_history` is 0.
    /// Comparing hashes is slow: in async code use [`PasswordPolicy::check_async`].
    pub fn check(
        &self,
        password: &str,
        username: Option<&str>,
        history_hashes: &[String],
    ) -> Result<(), AuthError> {
        self.check_strength(password)?;
        self.check_username(password, username)?;
        self.check_history(password, history_hashes)
    }

    /// [`PasswordPolicy::check`] on tokio's blocking pool.
    pub async fn check_async(
        &self,
        password: String,
        username: Option<String>,
        history_hashes: Vec<String>,
    ) -> Result<(), AuthError> {
        let policy = self.clone();
        run_blocking(move || policy.check(&password, username.as_deref(), &history_hashes)).await?
    }

    /// The `_password_history` to store after a password change, as Parse keeps it: oldest
    /// first, the replaced hash appended, at most `max(1, max_history - 1)` entries.
    pub fn next_history(&self, stored_history: &[String], replaced_hash: &str) -> Vec<String> {
        let max = usize::from(self.max_history);
        let keep = max.saturating_sub(2);
        let mut history: Vec<String> = stored_history.iter().take(max).cloned().collect();
        let excess = history.len().saturating_sub(keep);
        history.drain(..excess);
        history.push(replaced_hash.to_owned());
        history
    }

    fn check_strength(&self, password: &str) -> Result<(), AuthError> {
        let too_short = self
            .min_length
            .is_some_and(|min| password.chars().count() < min);
        let mismatch = self
            .pattern
            .as_ref()
            .is_some_and(|pattern| !pattern_matches(pattern, password));
        if too_short || mismatch {
            return Err(AuthError::PasswordPolicy(self.policy_message()));
        }
        Ok(())
    }

    fn check_username(&self, password: &str, username: Option<&str>) -> Result<(), AuthError> {
        // Parse skips the check for a missing or empty username.
        match username {
            Some(name) if self.forbid_username && !name.is_empty() && password.contains(name) => {
                Err(AuthError::PasswordPolicy(CONTAINS_USERNAME_MESSAGE.into()))
            }
            _ => Ok(()),
        }
    }

    fn check_history(&self, password: &str, history_hashes: &[String]) -> Result<(), AuthError> {
        let max = usize::from(self.max_history);
        let reused = history_hashes
            .iter()
            .take(max)
            .any(|stored| verify(password, stored).ok);
        if reused {
            return Err(AuthError::PasswordPolicy(
                format!(
                    "New password should not be the same as last {} passwords.",
                    self.max_history
                )
                .into(),
            ));
        }
        Ok(())
    }

    fn policy_message(&self) -> Cow<'static, str> {
        match &self.validation_error {
            Some(message) => message.clone().into(),
            None => DEFAULT_POLICY_MESSAGE.into(),
        }
    }
}

fn pattern_matches(pattern: &Regex, password: &str) -> bool {
    pattern.is_match(password).unwrap_or_else(|e| {
        // A backtracking limit was hit: treat as not matching, so the policy fails closed.
        tracing::warn!(error = %e, "password policy pattern could not be evaluated");
        false
    })
}
