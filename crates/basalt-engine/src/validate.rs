//! Checking a write against the class schema: which types its values have, whether they fit
//! the fields, and which new fields it would add.

use basalt_core::names::DEFAULT_FIELDS;
use basalt_core::ops::{Op, Patch};
use basalt_core::schema::{ClassSchema, FieldType};
use basalt_core::value::type_of;
use basalt_core::{ErrorCode, ParseError};
use serde_json::Value;

use crate::schema_cache::mismatch;

/// The type a change gives its field, if it implies one.
fn change_type(op: &Op) -> Result<Option<FieldType>, ParseError> {
    Ok(match op {
        Op::Set(v) | Op::SetOnInsert(v) | Op::Swap { value: v, .. } => type_of(v)?,
        Op::Delete => None,
        Op::Increment(_) => Some(FieldType::Number),
        Op::Add(_) | Op::AddUnique(_) | Op::Remove(_) => Some(FieldType::Array),
        Op::Relation { class, .. } => Some(FieldType::Relation(class.clone())),
    })
}

/// Checks the ACL's shape: `{ "*" | userId | "role:Name": { "read": bool, "write": bool } }`.
pub(crate) fn check_acl(v: &Value) -> Result<(), ParseError> {
    let bad = |why: &str| ParseError::new(ErrorCode::InvalidAcl, format!("Invalid ACL: {why}"));
    let acl = v.as_object().ok_or_else(|| bad("it must be an object"))?;
    for (who, perms) in acl {
        let perms = perms
            .as_object()
            .ok_or_else(|| bad(&format!("the entry for {who} must be an object")))?;
        for (perm, allowed) in perms {
            if perm != "read" && perm != "write" {
                return Err(bad(&format!("unknown permission {perm} for {who}")));
            }
            if !allowed.is_boolean() {
                return Err(bad(&format!(
                    "the {perm} permission of {who} must be a boolean"
                )));
            }
        }
    }
    Ok(())
}

/// Checks every change of a patch against the schema (which may not exist yet) and returns the
/// fields to add, in order.
pub(crate) fn check_patch(
    class: &str,
    schema: Option<&ClassSchema>,
    patch: &Patch,
) -> Result<Vec<(String, FieldType)>, ParseError> {
    let mut new_fields: Vec<(String, FieldType)> = Vec::new();
    for change in &patch.changes {
        let name = &change.field;
        if name == "ACL" {
            match &change.op {
                Op::Set(v) if change.sub.is_empty() => check_acl(v)?,
                Op::Delete if change.sub.is_empty() => {}
                _ => {
                    return Err(ParseError::new(
                        ErrorCode::InvalidAcl,
                        "Invalid ACL: it must be set as a whole",
                    ));
                }
            }
            continue;
        }
        if DEFAULT_FIELDS.contains(&name.as_str()) {
            return Err(ParseError::new(
                ErrorCode::InvalidKeyName,
                format!("{name} is an invalid field name."),
            ));
        }
        let ty = if change.sub.is_empty() {
            change_type(&change.op)?
        } else {
            // A dotted key writes inside an Object field.
            Some(FieldType::Object)
        };
        let Some(ty) = ty else { continue };
        let existing = schema
            .and_then(|s| s.field_type(name))
            .or_else(|| new_fields.iter().find(|(n, _)| n == name).map(|(_, t)| t));
        match existing {
            Some(e) if *e == ty => {}
            Some(e) => return Err(mismatch(class, name, e, &ty)),
            None => new_fields.push((name.clone(), ty)),
        }
    }
    if let Some(s) = schema {
        for (name, ty) in &new_fields {
            check_new_field(s, name, ty)?;
        }
    } else if new_fields
        .iter()
        .filter(|(_, t)| *t == FieldType::GeoPoint)
        .count()
        > 1
    {
        return Err(one_geopoint());
    }
    Ok(new_fields)
}

fn one_geopoint() -> ParseError {
    ParseError::new(
        ErrorCode::IncorrectType,
        "there can only be one geopoint field in a class",
    )
}

/// Rules for adding one field to an existing schema.
pub(crate) fn check_new_field(
    schema: &ClassSchema,
    name: &str,
    ty: &FieldType,
) -> Result<(), ParseError> {
    if *ty == FieldType::GeoPoint
        && schema
            .fields
            .iter()
            .any(|(n, f)| n != name && f.field_type == FieldType::GeoPoint)
    {
        return Err(one_geopoint());
    }
    Ok(())
}
