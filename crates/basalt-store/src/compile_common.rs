//! What both SQL compilers decide the same way, whatever the dialect: which part of a field a
//! comparison reads, whether a field may hold arrays, which path segments can be written into
//! SQL literally, and the error for a query a store refuses.

use basalt_core::query::{Condition, FieldPath};
use basalt_core::schema::FieldType;
use basalt_core::value::special_type;
use basalt_core::{ErrorCode, ParseError};
use serde_json::Value;

/// A 102 "invalid query" refusal.
pub(crate) fn invalid(msg: impl Into<String>) -> crate::StoreError {
    ParseError::new(ErrorCode::InvalidQuery, msg.into()).into()
}

/// A key path segment made only of letters, digits and `_`, safe to write into SQL literally.
pub(crate) fn safe_segment(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// How a value of a field is compared: on the raw value, or on a part of it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Whole,
    /// `.iso` of a Date.
    Iso,
    /// `.objectId` of a Pointer.
    PointerId,
}

/// The part a top-level field of this schema type compares on.
pub(crate) fn part_for(ft: Option<&FieldType>, path: &FieldPath) -> Part {
    if !path.sub.is_empty() {
        return Part::Whole;
    }
    match ft {
        Some(FieldType::Date) => Part::Iso,
        Some(FieldType::Pointer(_)) => Part::PointerId,
        _ => Part::Whole,
    }
}

/// Whether a field may hold an array: by its schema type, or unknown for a dotted path.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arrays {
    Always,
    Never,
    Maybe,
}

/// A Parse Date (`{"__type":"Date","iso":…}`).
pub(crate) fn is_date(v: &Value) -> bool {
    special_type(v) == Some("Date")
}

/// The condition compares the field with Dates.
pub(crate) fn compares_dates(cond: &Condition) -> bool {
    match cond {
        Condition::Eq(v) | Condition::Ne(v) | Condition::Compare(_, v) => is_date(v),
        Condition::In(vs) | Condition::Nin(vs) => vs.iter().any(is_date),
        _ => false,
    }
}
