//! `distinct`: the distinct values of one field over documents, in Parse's shapes and
//! MongoDB's order.

use std::collections::HashSet;

use basalt_core::value::Document;
use serde_json::Value;

use super::compare::{bson_cmp, canonical};
use super::dates::date_json;
use super::paths::{lookup, parse_path};

/// `distinct`: the distinct values of `field` (dot paths allowed) over docs, as Parse returns
/// them: array values counted element by element, null and missing left out, Pointers as
/// Pointers, Dates (`createdAt` and `updatedAt` too) as `{"__type":"Date"}`, in MongoDB's order.
pub fn distinct(field: &str, docs: &[Document]) -> Vec<Value> {
    let path = parse_path(field);
    let mut seen = HashSet::new();
    let mut values = Vec::new();
    for doc in docs {
        let value = match path.as_slice() {
            [only] if only == "createdAt" || only == "updatedAt" => doc
                .get(only)
                .map(|v| v.as_str().map_or_else(|| v.clone(), date_json)),
            _ => lookup(doc, &path),
        };
        let items = match value {
            Some(Value::Array(items)) => items,
            Some(v) => vec![v],
            None => continue,
        };
        for item in items.into_iter().filter(|i| !i.is_null()) {
            if seen.insert(canonical(&item)) {
                values.push(item);
            }
        }
    }
    values.sort_by(bson_cmp);
    values
}
