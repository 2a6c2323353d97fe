//! Validated class names, field names and object ids.

use rand::Rng;
use rand::distr::Alphanumeric;

use crate::error::{ErrorCode, ParseError, perr};

/// Classes Parse defines itself; their names start with `_`.
pub const SYSTEM_CLASSES: &[&str] = &[
    "_User",
    "_Installation",
    "_Role",
    "_Session",
    "_Product",
    "_PushStatus",
    "_JobStatus",
    "_JobSchedule",
    "_Audience",
    "_Idempotency",
];

/// Fields every object has; clients cannot define them.
pub const DEFAULT_FIELDS: &[&str] = &["objectId", "createdAt", "updatedAt", "ACL"];

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// True for a name a class may have: a system class or `^[A-Za-z][A-Za-z0-9_]*$`.
pub fn class_name_is_valid(name: &str) -> bool {
    SYSTEM_CLASSES.contains(&name) || is_identifier(name)
}

/// Checks a class name, with Parse's message for a bad one.
pub fn validate_class_name(name: &str) -> Result<(), ParseError> {
    if class_name_is_valid(name) {
        Ok(())
    } else {
        Err(invalid_class_name(name))
    }
}

/// Parse's error for a bad class name.
pub fn invalid_class_name(name: &str) -> ParseError {
    perr(
        ErrorCode::InvalidClassName,
        format!(
            "Invalid classname: {name}, classnames can only have alphanumeric characters and _, and must start with an alpha character "
        ),
    )
}

/// True for a name a field may have: `^[A-Za-z][A-Za-z0-9_]*$`.
pub fn field_name_is_valid(name: &str) -> bool {
    is_identifier(name)
}

/// Checks a field name, with Parse's message for a bad one.
pub fn validate_field_name(name: &str) -> Result<(), ParseError> {
    if field_name_is_valid(name) {
        Ok(())
    } else {
        Err(perr(
            ErrorCode::InvalidKeyName,
            format!("invalid field name: {name}"),
        ))
    }
}

/// Length of generated object ids, as Parse's default `objectIdSize`.
pub const OBJECT_ID_LEN: usize = 10;

/// A new random object id: ten alphanumerics.
pub fn new_object_id() -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(OBJECT_ID_LEN)
        .map(char::from)
        .collect()
}

/// True for a string that can name an object: non-empty alphanumerics (custom ids included).
pub fn object_id_is_valid(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names() {
        assert!(class_name_is_valid("GameScore"));
        assert!(class_name_is_valid("_User"));
        assert!(!class_name_is_valid("_Foo"));
        assert!(!class_name_is_valid("1abc"));
        assert!(!class_name_is_valid("a-b"));
    }

    #[test]
    fn field_names_and_ids() {
        assert!(field_name_is_valid("score_2"));
        assert!(!field_name_is_valid("_score"));
        assert!(!field_name_is_valid("a.b"));
        let id = new_object_id();
        assert_eq!(id.len(), 10);
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}
