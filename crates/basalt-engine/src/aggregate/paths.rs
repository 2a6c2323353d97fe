//! Field paths: `a.b.c` with MongoDB's names for the built-in fields, and reading, writing,
//! removing and copying a path in a document.

use basalt_core::value::Document;
use serde_json::{Map, Value};

/// Splits `a.b.c`, mapping MongoDB's names for the built-in fields on the first segment.
pub(super) fn parse_path(path: &str) -> Vec<String> {
    let mut parts: Vec<String> = path.split('.').map(str::to_owned).collect();
    if let Some(first) = parts.first_mut() {
        *first = mongo_alias(first).to_owned();
    }
    parts
}

fn mongo_alias(name: &str) -> &str {
    match name {
        "_id" => "objectId",
        "_created_at" => "createdAt",
        "_updated_at" => "updatedAt",
        other => other
            .strip_prefix("_p_")
            .filter(|rest| !rest.is_empty())
            .unwrap_or(other),
    }
}

/// A path's value; through arrays of objects it collects each element's value, as MongoDB's
/// field paths do.
pub(super) fn lookup(doc: &Document, path: &[String]) -> Option<Value> {
    let (head, tail) = path.split_first()?;
    descend(doc.get(head)?, tail)
}

pub(super) fn descend(v: &Value, path: &[String]) -> Option<Value> {
    let Some((head, tail)) = path.split_first() else {
        return Some(v.clone());
    };
    match v {
        Value::Object(o) => descend(o.get(head)?, tail),
        Value::Array(items) => Some(Value::Array(
            items.iter().filter_map(|i| descend(i, path)).collect(),
        )),
        _ => None,
    }
}

/// A path's value through objects only.
pub(super) fn get_plain<'a>(doc: &'a Document, path: &[String]) -> Option<&'a Value> {
    let (head, tail) = path.split_first()?;
    tail.iter()
        .try_fold(doc.get(head)?, |v, key| v.get(key.as_str()))
}

pub(super) fn set_path(doc: &mut Document, path: &[String], v: Value) {
    let Some((head, tail)) = path.split_first() else {
        return;
    };
    if tail.is_empty() {
        doc.insert(head.clone(), v);
        return;
    }
    let slot = doc
        .entry(head.clone())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    if let Value::Object(inner) = slot {
        set_path(inner, tail, v);
    }
}

pub(super) fn remove_path(doc: &mut Document, path: &[String]) {
    let Some((head, tail)) = path.split_first() else {
        return;
    };
    if tail.is_empty() {
        doc.remove(head);
        return;
    }
    match doc.get_mut(head) {
        Some(Value::Object(inner)) => remove_path(inner, tail),
        Some(Value::Array(items)) => {
            for item in items.iter_mut() {
                if let Value::Object(inner) = item {
                    remove_path(inner, tail);
                }
            }
        }
        _ => {}
    }
}

pub(super) fn copy_path(src: &Document, dst: &mut Document, path: &[String]) {
    let Some((head, tail)) = path.split_first() else {
        return;
    };
    let Some(value) = src.get(head) else { return };
    match value {
        _ if tail.is_empty() => {
            dst.insert(head.clone(), value.clone());
        }
        Value::Object(inner) => {
            let slot = dst
                .entry(head.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(out) = slot {
                copy_path(inner, out, tail);
            }
        }
        Value::Array(items) => {
            let projected = items
                .iter()
                .filter_map(Value::as_object)
                .map(|o| {
                    let mut out = Map::new();
                    copy_path(o, &mut out, tail);
                    Value::Object(out)
                })
                .collect();
            dst.insert(head.clone(), Value::Array(projected));
        }
        _ => {}
    }
}
