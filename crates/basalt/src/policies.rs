//! Parse's `passwordPolicy` and `accountLockout` options, read from their JSON form.

use std::time::Duration;

use basalt_auth::password::PasswordPolicy;
use basalt_engine::AccountLockout;
use serde_json::Value;

/// Reads `passwordPolicy`; None when it sets nothing.
pub fn password_policy(v: &Value) -> Result<Option<PasswordPolicy>, String> {
    let o = v
        .as_object()
        .ok_or("passwordPolicy must be a JSON object")?;
    let mut policy = PasswordPolicy {
        validation_error: o
            .get("validationError")
            .and_then(Value::as_str)
            .map(str::to_owned),
        forbid_username: o
            .get("doNotAllowUsername")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        max_history: u8::try_from(
            o.get("maxPasswordHistory")
                .and_then(Value::as_u64)
                .unwrap_or(0),
        )
        .unwrap_or(u8::MAX),
        ..PasswordPolicy::default()
    };
    if let Some(p) = o.get("validatorPattern").and_then(Value::as_str) {
        policy = policy.with_pattern(p).map_err(|e| e.to_string())?;
    }
    policy.validate().map_err(|e| e.to_string())?;
    Ok(Some(policy))
}

/// Reads `accountLockout`: `threshold` failed attempts lock for `duration` minutes.
pub fn account_lockout(v: &Value) -> Result<Option<AccountLockout>, String> {
    let o = v
        .as_object()
        .ok_or("accountLockout must be a JSON object")?;
    let threshold = o
        .get("threshold")
        .and_then(Value::as_u64)
        .filter(|t| (1..1000).contains(t));
    let minutes = o
        .get("duration")
        .and_then(Value::as_f64)
        .filter(|d| *d > 0.0 && *d <= 100_000.0);
    match (threshold, minutes) {
        (Some(t), Some(m)) => Ok(Some(AccountLockout {
            threshold: u32::try_from(t).unwrap_or(u32::MAX),
            duration: Duration::from_secs_f64(m * 60.0),
        })),
        _ => {
            Err("accountLockout needs threshold (1-999) and duration (minutes, above 0)".to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_parse_options() {
        let p =
            password_policy(&json!({"validatorPattern": "^.{8,}$", "doNotAllowUsername": true}))
                .unwrap()
                .unwrap();
        assert!(p.forbid_username);
        assert!(password_policy(&json!({"validatorPattern": "("})).is_err());
        let l = account_lockout(&json!({"threshold": 3, "duration": 5}))
            .unwrap()
            .unwrap();
        assert_eq!((l.threshold, l.duration), (3, Duration::from_secs(300)));
        assert!(account_lockout(&json!({"threshold": 0, "duration": 5})).is_err());
    }
}
