//! Parse's REST aggregate request → a [`Pipeline`], as `AggregateRouter` reads it
//! (`handleFind`, `getPipeline`, `transformStage`): which parameters form the pipeline, the
//! router's own checks and messages, and which stage name becomes which [`Stage`].

use basalt_core::ParseError;
use serde_json::{Map, Value};

use super::expr::parse_expr;
use super::matching::{leading_where, parse_match};
use super::specs::{
    parse_add_fields, parse_count, parse_group, parse_limit, parse_project, parse_sample,
    parse_skip, parse_sort, parse_sort_by_count, parse_unset, parse_unwind,
};
use super::{Pipeline, Stage, bad};

/// Parses Parse's REST aggregate request: either `pipeline` (a JSON array of stages, or an
/// object of stages) or the stages given as separate `$`-named parameters, in request order as
/// (name, JSON value) pairs. `hint`, `explain`, `comment`, `readPreference`, `rawValues` and
/// `rawFieldNames` are request options and are skipped, as Parse does. Errors carry Parse's
/// codes and messages: those `AggregateRouter` raises come back here, while a stage its
/// storage adapter would reject becomes [`Stage::Invalid`], because a `distinct` request
/// (which Parse parses the same way) never runs its stages.
pub fn parse_pipeline(params: &[(String, Value)]) -> Result<Pipeline, ParseError> {
    let raw = raw_stages(&request_body(params))?;
    // Parse checks every stage's name before its adapter reads any of them.
    raw.iter()
        .try_for_each(|(name, spec)| check_stage_name(name, spec))?;
    let mut leading_match = None;
    let mut stages = Vec::new();
    for (i, (name, spec)) in raw.iter().enumerate() {
        if i == 0
            && name == "$match"
            && let Ok(where_) = leading_where(spec)
        {
            leading_match = Some(where_);
            continue;
        }
        match parse_stage(name, spec) {
            Ok(parsed) => stages.extend(parsed),
            Err(e) => stages.push(Stage::Invalid(e)),
        }
    }
    Ok(Pipeline {
        leading_match,
        stages,
    })
}

/// Later parameters replace earlier ones of the same name in place (`Object.assign`), and the
/// options the router deletes from the body are dropped.
fn request_body(params: &[(String, Value)]) -> Vec<(String, Value)> {
    let mut body: Vec<(String, Value)> = Vec::new();
    for (name, value) in params {
        match body.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = value.clone(),
            None => body.push((name.clone(), value.clone())),
        }
    }
    body.retain(|(name, value)| !is_request_option(name, value));
    body
}

fn is_request_option(name: &str, value: &Value) -> bool {
    let deleted_when_truthy = ["hint", "explain", "comment", "readPreference"];
    let deleted_when_boolean = ["rawValues", "rawFieldNames"];
    (deleted_when_truthy.contains(&name) && truthy(value))
        || (deleted_when_boolean.contains(&name) && value.is_boolean())
}

/// JavaScript truthiness, which decides whether `pipeline` or the whole body is the pipeline.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// `getPipeline`: the stage list as (name, spec) pairs.
fn raw_stages(body: &[(String, Value)]) -> Result<Vec<(String, Value)>, ParseError> {
    let pipeline = body
        .iter()
        .find(|(k, _)| k == "pipeline")
        .map(|(_, v)| v)
        .filter(|v| truthy(v));
    let entries: Vec<Value> = match pipeline {
        Some(Value::Array(items)) => items.clone(),
        Some(other @ (Value::Object(_) | Value::String(_))) => js_entries(other)
            .into_iter()
            .map(|(k, v)| one_key(k, v))
            .collect(),
        Some(Value::Null | Value::Bool(_) | Value::Number(_)) => Vec::new(),
        None => body
            .iter()
            .map(|(k, v)| one_key(k.clone(), v.clone()))
            .collect(),
    };
    entries.iter().map(stage_entry).collect()
}

/// `Object.keys(v).map(k => [k, v[k]])` for the JSON value kinds.
fn js_entries(v: &Value) -> Vec<(String, Value)> {
    match v {
        Value::Object(o) => o.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v.clone()))
            .collect(),
        Value::String(s) => s
            .chars()
            .enumerate()
            .map(|(i, c)| (i.to_string(), Value::from(c.to_string())))
            .collect(),
        Value::Null | Value::Bool(_) | Value::Number(_) => Vec::new(),
    }
}

fn one_key(key: String, value: Value) -> Value {
    let mut m = Map::new();
    m.insert(key, value);
    Value::Object(m)
}

fn stage_entry(stage: &Value) -> Result<(String, Value), ParseError> {
    let mut entries = js_entries(stage);
    match (entries.pop(), entries.is_empty()) {
        (Some(entry), true) => Ok(entry),
        (last, _) => {
            let mut names: Vec<String> = entries.into_iter().map(|(k, _)| k).collect();
            names.extend(last.map(|(k, _)| k));
            Err(bad(format!(
                "Pipeline stages should only have one key but found {}.",
                names.join(", ")
            )))
        }
    }
}

/// `transformStage`'s checks, which come before any adapter's.
fn check_stage_name(name: &str, spec: &Value) -> Result<(), ParseError> {
    if name == "distinct" || name == "where" {
        return Ok(());
    }
    if !name.starts_with('$') {
        return Err(bad(format!("Invalid aggregate stage '{name}'.")));
    }
    if name == "$group" {
        if spec.get("objectId").is_some() {
            return Err(bad("Cannot use 'objectId' in aggregation stage $group."));
        }
        if spec.get("_id").is_none() {
            return Err(bad("Invalid parameter for query: group. Missing key _id"));
        }
    }
    Ok(())
}

/// MongoDB stages this server knows but does not run.
const UNSUPPORTED_STAGES: &[&str] = &[
    "$bucket",
    "$bucketAuto",
    "$changeStream",
    "$collStats",
    "$currentOp",
    "$densify",
    "$facet",
    "$fill",
    "$geoNear",
    "$graphLookup",
    "$indexStats",
    "$lookup",
    "$merge",
    "$out",
    "$planCacheStats",
    "$redact",
    "$search",
    "$setWindowFields",
    "$unionWith",
];

fn parse_stage(name: &str, spec: &Value) -> Result<Vec<Stage>, ParseError> {
    let stage = match name {
        "distinct" | "where" => {
            return Err(bad(format!(
                "Invalid aggregate stage '{name}': it is only read by a distinct request"
            )));
        }
        "$match" => Stage::Match(parse_match(spec)?),
        "$group" => Stage::Group(parse_group(spec)?),
        "$project" => Stage::Project(parse_project(spec)?),
        "$unset" => Stage::Project(parse_unset(spec)?),
        "$addFields" | "$set" => Stage::AddFields(parse_add_fields(name, spec)?),
        "$replaceRoot" => match spec.get("newRoot") {
            Some(root) => Stage::ReplaceRoot(parse_expr(root)?),
            None => return Err(bad("no newRoot specified for the $replaceRoot stage")),
        },
        "$replaceWith" => Stage::ReplaceRoot(parse_expr(spec)?),
        "$sort" => Stage::Sort(parse_sort(spec)?),
        "$limit" => Stage::Limit(parse_limit(spec)?),
        "$skip" => Stage::Skip(parse_skip(spec)?),
        "$unwind" => Stage::Unwind(parse_unwind(spec)?),
        "$count" => Stage::Count(parse_count(spec)?),
        "$sample" => Stage::Sample(parse_sample(spec)?),
        "$sortByCount" => return parse_sort_by_count(spec),
        other if UNSUPPORTED_STAGES.contains(&other) => {
            return Err(bad(format!("The aggregate stage {other} is not supported")));
        }
        other => return Err(bad(format!("Unrecognized pipeline stage name: '{other}'"))),
    };
    Ok(vec![stage])
}
