//! `$match`, both halves: a leading one is handed to the store as a Parse `where` (MongoDB key
//! names mapped here, values fitted to the class schema by [`where_for_schema`]); a later one is
//! checked and evaluated here, in memory.

use basalt_core::ParseError;
use basalt_core::query::{Cmp, Condition, Filter, parse_where};
use basalt_core::schema::FieldType;
use basalt_core::time::normalize_iso;
use basalt_core::value::{Document, pointer};
use serde_json::{Map, Value};

use super::bad;
use super::compare::{bson_cmp, cross_encoding_cmp, loose_eq, type_rank};
use super::dates::date_json;
use super::paths::{descend, parse_path};

/// Maps MongoDB's key names to Parse's, inside `$and`/`$or`/`$nor` too.
fn normalize_match(spec: &Value) -> Result<Value, ParseError> {
    let o = spec
        .as_object()
        .ok_or_else(|| bad("the match filter must be an expression in an object"))?;
    let mut out = Map::new();
    for (key, value) in o {
        let value = match (key.as_str(), value) {
            ("$and" | "$or" | "$nor", Value::Array(items)) => Value::Array(
                items
                    .iter()
                    .map(|i| {
                        if i.is_object() {
                            normalize_match(i)
                        } else {
                            Ok(i.clone())
                        }
                    })
                    .collect::<Result<_, _>>()?,
            ),
            _ => value.clone(),
        };
        let key = if key.starts_with('$') {
            key.clone()
        } else {
            parse_path(key).join(".")
        };
        out.insert(key, value);
    }
    Ok(Value::Object(out))
}

/// A leading `$match` as the `where` the store applies.
pub(super) fn leading_where(spec: &Value) -> Result<Value, ParseError> {
    let where_ = normalize_match(spec)?;
    parse_where(&where_)?;
    Ok(where_)
}

pub(super) fn parse_match(spec: &Value) -> Result<Filter, ParseError> {
    let filter = parse_where(&normalize_match(spec)?)?;
    check_in_memory(&filter)?;
    Ok(filter)
}

/// A `$match` after the first stage runs here, so it may use only what [`condition_holds`]
/// evaluates.
fn check_in_memory(filter: &Filter) -> Result<(), ParseError> {
    let (field, op) = match filter {
        Filter::All => return Ok(()),
        Filter::And(fs) | Filter::Or(fs) | Filter::Nor(fs) => {
            return fs.iter().try_for_each(check_in_memory);
        }
        Filter::RelatedTo { key, .. } => (key.as_str(), "$relatedTo"),
        Filter::Field(path, cond) => (
            path.field.as_str(),
            match cond {
                Condition::Eq(_)
                | Condition::Ne(_)
                | Condition::Compare(..)
                | Condition::In(_)
                | Condition::Nin(_)
                | Condition::Exists(_)
                | Condition::All(_)
                | Condition::ContainedBy(_) => return Ok(()),
                Condition::Regex { .. } => "$regex",
                Condition::Text(_) => "$text",
                Condition::Select { negate, .. } => {
                    if *negate {
                        "$dontSelect"
                    } else {
                        "$select"
                    }
                }
                Condition::InQuery { negate, .. } => {
                    if *negate {
                        "$notInQuery"
                    } else {
                        "$inQuery"
                    }
                }
                Condition::Near { .. } => "$nearSphere",
                Condition::WithinBox { .. } => "$within",
                Condition::WithinPolygon(_) | Condition::CenterSphere { .. } => "$geoWithin",
                Condition::Intersects(_) => "$geoIntersects",
            },
        ),
    };
    Err(bad(format!(
        "{op} on {field} is only supported in a $match that is the first stage of the pipeline"
    )))
}

pub(super) fn filter_holds(filter: &Filter, doc: &Document) -> bool {
    match filter {
        Filter::All => true,
        Filter::And(fs) => fs.iter().all(|f| filter_holds(f, doc)),
        Filter::Or(fs) => fs.iter().any(|f| filter_holds(f, doc)),
        Filter::Nor(fs) => !fs.iter().any(|f| filter_holds(f, doc)),
        Filter::Field(path, cond) => {
            let value = doc.get(&path.field).and_then(|v| descend(v, &path.sub));
            condition_holds(cond, value.as_ref())
        }
        // Rejected by `check_in_memory`.
        Filter::RelatedTo { .. } => false,
    }
}

fn condition_holds(cond: &Condition, v: Option<&Value>) -> bool {
    match cond {
        Condition::Eq(q) => equals(v, q),
        Condition::Ne(q) => !equals(v, q),
        Condition::Compare(op, q) => {
            v.is_some_and(|v| any_element(v, |e| compare_holds(*op, e, q)))
        }
        Condition::In(list) => list.iter().any(|q| equals(v, q)),
        Condition::Nin(list) => !list.iter().any(|q| equals(v, q)),
        Condition::Exists(wanted) => v.is_some() == *wanted,
        Condition::All(list) => v
            .and_then(Value::as_array)
            .is_some_and(|items| list.iter().all(|q| items.iter().any(|e| loose_eq(e, q)))),
        Condition::ContainedBy(list) => v
            .and_then(Value::as_array)
            .is_some_and(|items| items.iter().all(|e| list.iter().any(|q| loose_eq(e, q)))),
        // Rejected by `check_in_memory`.
        Condition::Regex { .. }
        | Condition::Text(_)
        | Condition::Select { .. }
        | Condition::InQuery { .. }
        | Condition::Near { .. }
        | Condition::WithinBox { .. }
        | Condition::WithinPolygon(_)
        | Condition::CenterSphere { .. }
        | Condition::Intersects(_) => false,
    }
}

/// `{f: q}`: equal, an array holding it, or (for null) missing.
fn equals(v: Option<&Value>, q: &Value) -> bool {
    match v {
        None => q.is_null(),
        Some(v) => any_element(v, |e| loose_eq(e, q)),
    }
}

fn any_element(v: &Value, test: impl Fn(&Value) -> bool) -> bool {
    test(v) || v.as_array().is_some_and(|items| items.iter().any(&test))
}

/// `$lt` and friends compare only values of the same kind, as MongoDB does.
fn compare_holds(op: Cmp, v: &Value, q: &Value) -> bool {
    let ord = match cross_encoding_cmp(v, q) {
        Some(ord) => ord,
        None if type_rank(v) == type_rank(q) => bson_cmp(v, q),
        None => return false,
    };
    match op {
        Cmp::Lt => ord.is_lt(),
        Cmp::Lte => ord.is_le(),
        Cmp::Gt => ord.is_gt(),
        Cmp::Gte => ord.is_ge(),
    }
}

/// Rewrites a leading `$match` (see [`Pipeline::leading_match`]) into a Parse `where` the store
/// can compile: on Pointer fields an objectId (or `Class$objectId`) becomes a Pointer, and on
/// Date fields (and `createdAt`/`updatedAt`) an ISO string becomes a Date, as MongoDB's adapter
/// converts them. `field_type` gives a top-level field's schema type.
///
/// [`Pipeline::leading_match`]: super::Pipeline::leading_match
pub fn where_for_schema(m: &Value, field_type: &dyn Fn(&str) -> Option<FieldType>) -> Value {
    let Value::Object(o) = m else {
        return m.clone();
    };
    let mut out = Map::new();
    for (key, value) in o {
        let value = match (key.as_str(), value) {
            ("$and" | "$or" | "$nor", Value::Array(items)) => Value::Array(
                items
                    .iter()
                    .map(|i| where_for_schema(i, field_type))
                    .collect(),
            ),
            ("createdAt" | "updatedAt", _) => coerce_constraint(value, &FieldType::Date),
            _ if key.contains('.') => value.clone(),
            _ => match field_type(key) {
                Some(t) => coerce_constraint(value, &t),
                None => value.clone(),
            },
        };
        out.insert(key.clone(), value);
    }
    Value::Object(out)
}

fn coerce_constraint(v: &Value, t: &FieldType) -> Value {
    match v {
        Value::Object(o) if !o.contains_key("__type") && o.keys().any(|k| k.starts_with('$')) => {
            let coerce_op = |op: &str, arg: &Value| match (op, arg) {
                ("$eq" | "$ne" | "$lt" | "$lte" | "$gt" | "$gte", _) => coerce_value(arg, t),
                ("$in" | "$nin" | "$all", Value::Array(items)) => {
                    Value::Array(items.iter().map(|i| coerce_value(i, t)).collect())
                }
                _ => arg.clone(),
            };
            Value::Object(
                o.iter()
                    .map(|(op, arg)| (op.clone(), coerce_op(op, arg)))
                    .collect(),
            )
        }
        other => coerce_value(other, t),
    }
}

fn coerce_value(v: &Value, t: &FieldType) -> Value {
    match (t, v) {
        (FieldType::Pointer(class), Value::String(s)) => {
            let id = s
                .strip_prefix(class.as_str())
                .and_then(|r| r.strip_prefix('$'))
                .unwrap_or(s);
            pointer(class, id)
        }
        (FieldType::Date, Value::String(s)) => {
            normalize_iso(s).map_or_else(|| v.clone(), |iso| date_json(&iso))
        }
        _ => v.clone(),
    }
}
