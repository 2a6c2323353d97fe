//! Running the stages after the leading `$match` in memory: each stage over the documents, the
//! shape documents take inside the pipeline (dates as Dates, no ACL) and the one Parse returns.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

use basalt_core::ParseError;
use basalt_core::names::field_name_is_valid;
use basalt_core::value::{Document, as_pointer};
use serde_json::{Map, Value};

use super::compare::{bson_cmp, canonical};
use super::dates::{date_iso, date_json, is_date};
use super::expr::{Acc, Expr, eval};
use super::matching::filter_holds;
use super::paths::{copy_path, get_plain, lookup, remove_path, set_path};
use super::{Group, Pipeline, Projection, SortKey, Stage, Unwind, bad};

/// Runs the stages after the leading match over the documents (already filtered by it), and
/// returns the results in Parse's REST shape.
pub fn run(pipeline: &Pipeline, docs: Vec<Document>) -> Result<Vec<Value>, ParseError> {
    if let Some(e) = pipeline.error() {
        return Err(e.clone());
    }
    let mut docs: Vec<Document> = docs.into_iter().map(to_internal).collect();
    for stage in &pipeline.stages {
        docs = run_stage(stage, docs)?;
    }
    Ok(docs.into_iter().map(to_output).collect())
}

fn run_stage(stage: &Stage, docs: Vec<Document>) -> Result<Vec<Document>, ParseError> {
    Ok(match stage {
        Stage::Match(filter) => docs
            .into_iter()
            .filter(|d| filter_holds(filter, d))
            .collect(),
        Stage::Group(group) => run_group(group, &docs)?,
        Stage::Project(p) => docs
            .into_iter()
            .map(|d| project(p, d))
            .collect::<Result<_, _>>()?,
        Stage::AddFields(fields) => docs
            .into_iter()
            .map(|d| add_fields(fields, d))
            .collect::<Result<_, _>>()?,
        Stage::ReplaceRoot(expr) => docs
            .iter()
            .map(|d| replace_root(expr, d))
            .collect::<Result<_, _>>()?,
        Stage::Sort(keys) => sort_docs(keys, docs),
        Stage::Limit(n) => docs.into_iter().take(*n).collect(),
        Stage::Skip(n) => docs.into_iter().skip(*n).collect(),
        Stage::Unwind(u) => docs.into_iter().flat_map(|d| unwind(u, d)).collect(),
        Stage::Count(name) => count(name, &docs),
        Stage::Sample(size) => sample(*size, docs),
        Stage::Invalid(e) => return Err(e.clone()),
    })
}

/// Documents inside the pipeline hold `createdAt`/`updatedAt` as Dates, as MongoDB does, and no
/// ACL (Parse's aggregate never returns it).
fn to_internal(mut doc: Document) -> Document {
    doc.remove("ACL");
    for key in ["createdAt", "updatedAt"] {
        if let Some(iso) = doc.get(key).and_then(Value::as_str).map(str::to_owned) {
            doc.insert(key.to_owned(), date_json(&iso));
        }
    }
    doc
}

/// The shape Parse returns (`MongoStorageAdapter.aggregate` + `mongoObjectToParseObject` +
/// `UsersRouter.removeHiddenProperties`).
pub(super) fn to_output(doc: Document) -> Value {
    let mut out = Map::new();
    for (key, value) in doc {
        if key != "__type" && !field_name_is_valid(&key) {
            continue;
        }
        let value = match key.as_str() {
            "createdAt" | "updatedAt" => iso_of_date(value),
            "objectId" if is_empty_key(&value) => Value::Null,
            _ => value,
        };
        out.insert(key, value);
    }
    Value::Object(out)
}

fn iso_of_date(v: Value) -> Value {
    match date_iso(&v) {
        Some(iso) if is_date(&v) => Value::String(iso),
        _ => v,
    }
}

/// Parse answers `objectId: null` for a group key that is null, "", {} or [].
fn is_empty_key(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

fn run_group(group: &Group, docs: &[Document]) -> Result<Vec<Document>, ParseError> {
    let mut groups: Vec<(Value, Vec<Acc>)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for doc in docs {
        let key = group_key(eval(&group.key, doc)?.unwrap_or(Value::Null));
        let id = canonical(&key);
        let slot = match index.get(&id) {
            Some(slot) => *slot,
            None => {
                groups.push((
                    key,
                    group.fields.iter().map(|(_, a)| Acc::new(a.op)).collect(),
                ));
                index.insert(id, groups.len() - 1);
                groups.len() - 1
            }
        };
        if let Some((_, accs)) = groups.get_mut(slot) {
            for ((_, spec), acc) in group.fields.iter().zip(accs.iter_mut()) {
                acc.add(eval(&spec.arg, doc)?);
            }
        }
    }
    Ok(groups
        .into_iter()
        .map(|(key, accs)| {
            let mut out = Map::new();
            out.insert("objectId".to_owned(), key);
            for ((name, _), acc) in group.fields.iter().zip(accs) {
                out.insert(name.clone(), acc.finish());
            }
            out
        })
        .collect())
}

/// A Pointer in a group key becomes its objectId, as Parse's MongoDB adapter does for `$_p_`
/// keys (its PostgreSQL adapter stores only the objectId).
fn group_key(v: Value) -> Value {
    if let Some((_, id)) = as_pointer(&v) {
        return Value::String(id.to_owned());
    }
    match v {
        Value::Object(o) if !o.contains_key("__type") => {
            Value::Object(o.into_iter().map(|(k, v)| (k, group_key(v))).collect())
        }
        other => other,
    }
}

fn project(p: &Projection, doc: Document) -> Result<Document, ParseError> {
    if !p.include {
        let mut doc = doc;
        if !p.keep_id {
            doc.remove("objectId");
        }
        for path in &p.paths {
            remove_path(&mut doc, path);
        }
        return Ok(doc);
    }
    let mut out = Map::new();
    if let Some(id) = doc.get("objectId").filter(|_| p.keep_id) {
        out.insert("objectId".to_owned(), id.clone());
    }
    for path in &p.paths {
        copy_path(&doc, &mut out, path);
    }
    for (path, expr) in &p.computed {
        if let Some(v) = eval(expr, &doc)? {
            set_path(&mut out, path, v);
        }
    }
    Ok(out)
}

fn add_fields(fields: &[(Vec<String>, Expr)], doc: Document) -> Result<Document, ParseError> {
    let mut out = doc.clone();
    for (path, expr) in fields {
        if let Some(v) = eval(expr, &doc)? {
            set_path(&mut out, path, v);
        }
    }
    Ok(out)
}

fn replace_root(expr: &Expr, doc: &Document) -> Result<Document, ParseError> {
    match eval(expr, doc)? {
        Some(Value::Object(o)) => Ok(o),
        other => Err(bad(format!(
            "'newRoot' expression must evaluate to an object, but resulting value was: {}",
            other.map_or_else(|| "MISSING".to_owned(), |v| v.to_string())
        ))),
    }
}

fn unwind(u: &Unwind, doc: Document) -> Vec<Document> {
    let with_index = |mut d: Document, index: Value| {
        if let Some(field) = &u.index_field {
            d.insert(field.clone(), index);
        }
        d
    };
    match get_plain(&doc, &u.path).cloned() {
        Some(Value::Array(items)) if !items.is_empty() => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                let mut d = doc.clone();
                set_path(&mut d, &u.path, item);
                with_index(d, Value::from(i))
            })
            .collect(),
        Some(Value::Array(_)) if u.preserve => {
            let mut d = doc;
            remove_path(&mut d, &u.path);
            vec![with_index(d, Value::Null)]
        }
        None | Some(Value::Null) if u.preserve => vec![with_index(doc, Value::Null)],
        None | Some(Value::Null | Value::Array(_)) => Vec::new(),
        // MongoDB treats a non-array value as an array of one.
        Some(_) => vec![with_index(doc, Value::Null)],
    }
}

fn sort_docs(keys: &[SortKey], docs: Vec<Document>) -> Vec<Document> {
    let mut keyed: Vec<(Vec<Value>, Document)> = docs
        .into_iter()
        .map(|d| (keys.iter().map(|k| sort_value(&d, k)).collect(), d))
        .collect();
    keyed.sort_by(|(a, _), (b, _)| {
        keys.iter()
            .zip(a.iter().zip(b))
            .map(|(k, (x, y))| {
                if k.descending {
                    bson_cmp(y, x)
                } else {
                    bson_cmp(x, y)
                }
            })
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    });
    keyed.into_iter().map(|(_, d)| d).collect()
}

/// What MongoDB sorts a document by: missing as null, an array by its smallest element
/// ascending and its largest descending.
fn sort_value(doc: &Document, key: &SortKey) -> Value {
    match lookup(doc, &key.path) {
        None => Value::Null,
        Some(Value::Array(items)) => {
            let extreme = if key.descending {
                items.into_iter().max_by(bson_cmp)
            } else {
                items.into_iter().min_by(bson_cmp)
            };
            extreme.unwrap_or(Value::Null)
        }
        Some(v) => v,
    }
}

/// `$count`: one document, or none when nothing reached the stage.
fn count(name: &str, docs: &[Document]) -> Vec<Document> {
    if docs.is_empty() {
        return Vec::new();
    }
    let mut out = Map::new();
    out.insert(name.to_owned(), Value::from(docs.len()));
    vec![out]
}

fn sample(size: usize, docs: Vec<Document>) -> Vec<Document> {
    let state = RandomState::new();
    let mut keyed: Vec<(u64, Document)> = docs
        .into_iter()
        .enumerate()
        .map(|(i, d)| (state.hash_one(i), d))
        .collect();
    keyed.sort_by_key(|(k, _)| *k);
    keyed.into_iter().take(size).map(|(_, d)| d).collect()
}
