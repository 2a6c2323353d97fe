//! The aggregate pipeline of `GET /aggregate/:className`, and `distinct`, run in memory.
//!
//! Owns: reading Parse's request parameters into a [`Pipeline`] the way `AggregateRouter`
//! does (including its error messages), running every stage after an optional leading `$match`
//! over documents the store has already filtered, and shaping results the way Parse Server's
//! MongoDB adapter returns them: the group `_id` as `objectId`, dates as `{"__type":"Date"}`
//! except top-level `createdAt`/`updatedAt` (ISO strings), hidden keys removed.
//! Knows nothing of SQL, HTTP, schemas or async; the leading `$match` is handed back as a Parse
//! `where` for the caller to push down.
//!
//! MongoDB spellings Parse passes through are accepted: `_id`, `_created_at`, `_updated_at` and
//! `_p_<field>` mean `objectId`, `createdAt`, `updatedAt` and `<field>`.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;

use basalt_core::error::perr;
use basalt_core::names::field_name_is_valid;
use basalt_core::query::{Cmp, Condition, Filter, parse_where};
use basalt_core::schema::FieldType;
use basalt_core::time::normalize_iso;
use basalt_core::value::{Document, as_pointer, pointer, special_type};
use basalt_core::{ErrorCode, ParseError};
use serde_json::{Map, Value, json};

/// A parsed pipeline: an optional leading `$match` that the caller turns into SQL, and the rest.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// The first stage when it is a `$match`, as a Parse `where` object with MongoDB key names
    /// already mapped (`_id` → `objectId`, …). It parses with `parse_where`; values may still
    /// use MongoDB's forms (an objectId for a Pointer, an ISO string for a Date), which
    /// [`where_for_schema`] rewrites once the class schema is known.
    pub leading_match: Option<Value>,
    /// The stages after it, run in memory by [`run`].
    pub stages: Vec<Stage>,
}

/// One stage run in memory.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    /// `$match` after the first stage.
    Match(Filter),
    /// `$group`.
    Group(Group),
    /// `$project` and `$unset`.
    Project(Projection),
    /// `$addFields` and `$set`: paths and the expressions that fill them.
    AddFields(Vec<(Vec<String>, Expr)>),
    /// `$replaceRoot` (`newRoot`) and `$replaceWith`.
    ReplaceRoot(Expr),
    /// `$sort`, by keys in order.
    Sort(Vec<SortKey>),
    /// `$limit`.
    Limit(usize),
    /// `$skip`.
    Skip(usize),
    /// `$unwind`.
    Unwind(Unwind),
    /// `$count`: the name of the one output field.
    Count(String),
    /// `$sample`: how many documents to pick at random.
    Sample(usize),
    /// A stage Parse's storage adapter would reject, or a `where`/`distinct` parameter listed
    /// as a stage. A `distinct` request never reads its stages, so only [`run`] reports this.
    Invalid(ParseError),
}

impl Pipeline {
    /// The error [`run`] will return whatever the documents, if any: check it before fetching.
    pub fn error(&self) -> Option<&ParseError> {
        self.stages.iter().find_map(|s| {
            if let Stage::Invalid(e) = s {
                Some(e)
            } else {
                None
            }
        })
    }
}

/// A `$group` stage: the key expression and the named accumulators.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    key: Expr,
    fields: Vec<(String, Accumulator)>,
}

/// One accumulator of a `$group`.
#[derive(Debug, Clone, PartialEq)]
pub struct Accumulator {
    op: AccOp,
    arg: Expr,
}

/// The accumulators `$group` supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccOp {
    /// `$sum`
    Sum,
    /// `$avg`
    Avg,
    /// `$min`
    Min,
    /// `$max`
    Max,
    /// `$first`
    First,
    /// `$last`
    Last,
    /// `$push`
    Push,
    /// `$addToSet`
    AddToSet,
    /// `$count`
    Count,
}

/// A `$project` or `$unset`: either the paths kept (plus computed fields) or the paths dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    include: bool,
    keep_id: bool,
    paths: Vec<Vec<String>>,
    computed: Vec<(Vec<String>, Expr)>,
}

/// One key of a `$sort`.
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    path: Vec<String>,
    descending: bool,
}

/// An `$unwind` stage.
#[derive(Debug, Clone, PartialEq)]
pub struct Unwind {
    path: Vec<String>,
    index_field: Option<String>,
    preserve: bool,
}

/// An aggregation expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A constant.
    Literal(Value),
    /// `"$a.b"`: a path into the document.
    Path(Vec<String>),
    /// `"$$ROOT"` / `"$$CURRENT"`: the whole document.
    Root,
    /// `{"a": expr, …}`; fields whose value is missing are left out.
    Object(Vec<(String, Expr)>),
    /// `[expr, …]`.
    Array(Vec<Expr>),
    /// `{"$op": args}`.
    Op(ExprOp, Vec<Expr>),
}

/// The operators an [`Expr`] may apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExprOp {
    /// `$add`: numbers, or one date plus milliseconds.
    Add,
    /// `$subtract`: numbers, date − date (milliseconds) or date − milliseconds.
    Subtract,
    /// `$multiply`
    Multiply,
    /// `$divide`
    Divide,
    /// `$mod`
    Mod,
    /// A calendar field of a date, in UTC.
    Part(DatePart),
}

/// The date operators, all in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatePart {
    /// `$year`
    Year,
    /// `$month` (1–12)
    Month,
    /// `$dayOfMonth` (1–31)
    DayOfMonth,
    /// `$hour`
    Hour,
    /// `$minute`
    Minute,
    /// `$second`
    Second,
    /// `$millisecond`
    Millisecond,
    /// `$dayOfYear` (1–366)
    DayOfYear,
    /// `$dayOfWeek` (1 = Sunday … 7)
    DayOfWeek,
    /// `$week` (0–53, weeks start on Sunday)
    Week,
    /// `$isoWeek` (1–53)
    IsoWeek,
    /// `$isoWeekYear`
    IsoWeekYear,
    /// `$isoDayOfWeek` (1 = Monday … 7)
    IsoDayOfWeek,
}

impl DatePart {
    fn from_name(name: &str) -> Option<DatePart> {
        Some(match name {
            "$year" => DatePart::Year,
            "$month" => DatePart::Month,
            "$dayOfMonth" => DatePart::DayOfMonth,
            "$hour" => DatePart::Hour,
            "$minute" => DatePart::Minute,
            "$second" => DatePart::Second,
            "$millisecond" => DatePart::Millisecond,
            "$dayOfYear" => DatePart::DayOfYear,
            "$dayOfWeek" => DatePart::DayOfWeek,
            "$week" => DatePart::Week,
            "$isoWeek" => DatePart::IsoWeek,
            "$isoWeekYear" => DatePart::IsoWeekYear,
            "$isoDayOfWeek" => DatePart::IsoDayOfWeek,
            _ => return None,
        })
    }
}

fn bad(message: impl Into<String>) -> ParseError {
    perr(ErrorCode::InvalidQuery, message.into())
}

// ---------------------------------------------------------------------------------------------
// Request parameters → stages (AggregateRouter.handleFind / getPipeline / transformStage)
// ---------------------------------------------------------------------------------------------

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

/// Splits `a.b.c`, mapping MongoDB's names for the built-in fields on the first segment.
fn parse_path(path: &str) -> Vec<String> {
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

fn int_arg(v: &Value) -> Option<i64> {
    match v.as_i64() {
        Some(i) => Some(i),
        // 2.0 is an integer to JavaScript and MongoDB.
        None => v
            .as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            .map(|f| f as i64),
    }
}

fn parse_limit(spec: &Value) -> Result<usize, ParseError> {
    let n = int_arg(spec).ok_or_else(|| bad("the limit must be specified as a number"))?;
    usize::try_from(n)
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| bad("the limit must be positive"))
}

fn parse_skip(spec: &Value) -> Result<usize, ParseError> {
    let n = int_arg(spec).ok_or_else(|| bad("the skip must be specified as a number"))?;
    usize::try_from(n).map_err(|_| bad("the number to skip cannot be negative"))
}

fn parse_sample(spec: &Value) -> Result<usize, ParseError> {
    let size = spec
        .as_object()
        .ok_or_else(|| bad("the $sample stage specification must be an object"))?
        .get("size")
        .and_then(int_arg)
        .ok_or_else(|| bad("size argument to $sample must be a number"))?;
    usize::try_from(size).map_err(|_| bad("size argument to $sample must not be negative"))
}

fn parse_count(spec: &Value) -> Result<String, ParseError> {
    let name = spec.as_str().filter(|s| !s.is_empty());
    let name = name.ok_or_else(|| bad("the count field must be a non-empty string"))?;
    if name.starts_with('$') {
        return Err(bad("the count field cannot be a $-prefixed path"));
    }
    if name.contains('.') {
        return Err(bad("the count field cannot contain '.'"));
    }
    Ok(name.to_owned())
}

fn parse_sort(spec: &Value) -> Result<Vec<SortKey>, ParseError> {
    let o = spec
        .as_object()
        .ok_or_else(|| bad("the $sort key specification must be an object"))?;
    if o.is_empty() {
        return Err(bad("$sort stage must have at least one sort key"));
    }
    o.iter()
        .map(|(key, dir)| {
            let descending = match int_arg(dir) {
                Some(1) => false,
                Some(-1) => true,
                _ if dir.is_object() => {
                    return Err(bad(format!("$sort by {dir} is not supported")));
                }
                _ => {
                    return Err(bad(
                        "$sort key ordering must be 1 (for ascending) or -1 (for descending)",
                    ));
                }
            };
            Ok(SortKey {
                path: parse_path(key),
                descending,
            })
        })
        .collect()
}

fn parse_unwind(spec: &Value) -> Result<Unwind, ParseError> {
    let (path, options) = match spec {
        Value::String(path) => (path.as_str(), None),
        Value::Object(o) => {
            let path = o.get("path").and_then(Value::as_str);
            (
                path.ok_or_else(|| bad("no path specified to $unwind stage"))?,
                Some(o),
            )
        }
        _ => {
            return Err(bad(
                "expected either a string or an object as specification for $unwind stage",
            ));
        }
    };
    let path = path
        .strip_prefix('$')
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            bad(format!(
                "path option to $unwind stage should be prefixed with a '$': {path}"
            ))
        })?;
    let mut unwind = Unwind {
        path: parse_path(path),
        index_field: None,
        preserve: false,
    };
    for (key, value) in options.into_iter().flatten() {
        match key.as_str() {
            "path" => {}
            "includeArrayIndex" => {
                let field = value
                    .as_str()
                    .filter(|f| !f.is_empty() && !f.starts_with('$'));
                let field = field.ok_or_else(|| {
                    bad("includeArrayIndex option to $unwind stage must be a non-empty string that does not start with '$'")
                })?;
                unwind.index_field = Some(field.to_owned());
            }
            "preserveNullAndEmptyArrays" => {
                unwind.preserve = value.as_bool().ok_or_else(|| {
                    bad("expected a boolean for the preserveNullAndEmptyArrays option to $unwind stage")
                })?;
            }
            other => {
                return Err(bad(format!(
                    "unrecognized option to $unwind stage: {other}"
                )));
            }
        }
    }
    Ok(unwind)
}

fn parse_sort_by_count(spec: &Value) -> Result<Vec<Stage>, ParseError> {
    let is_expression = match spec {
        Value::String(s) => s.starts_with('$'),
        Value::Object(o) => o.len() == 1 && o.keys().all(|k| k.starts_with('$')),
        _ => false,
    };
    if !is_expression {
        return Err(bad(
            "the sortByCount field must be defined as a $-prefixed path or an expression",
        ));
    }
    let count = Accumulator {
        op: AccOp::Sum,
        arg: Expr::Literal(json!(1)),
    };
    let group = Group {
        key: parse_expr(spec)?,
        fields: vec![("count".to_owned(), count)],
    };
    let sort = SortKey {
        path: vec!["count".to_owned()],
        descending: true,
    };
    Ok(vec![Stage::Group(group), Stage::Sort(vec![sort])])
}

// --- $group ---

fn parse_group(spec: &Value) -> Result<Group, ParseError> {
    let o = spec
        .as_object()
        .ok_or_else(|| bad("a group's fields must be specified in an object"))?;
    let mut key = Expr::Literal(Value::Null);
    let mut fields = Vec::new();
    for (name, value) in o {
        if name == "_id" {
            key = parse_expr(value)?;
            continue;
        }
        if name.starts_with('$') || name.contains('.') {
            return Err(bad(format!(
                "The field name '{name}' cannot be an operator name or contain '.'"
            )));
        }
        fields.push((name.clone(), parse_accumulator(name, value)?));
    }
    Ok(Group { key, fields })
}

fn parse_accumulator(field: &str, spec: &Value) -> Result<Accumulator, ParseError> {
    let o = spec
        .as_object()
        .ok_or_else(|| bad(format!("The field '{field}' must be an accumulator object")))?;
    let (name, arg) = match o.iter().next() {
        Some(entry) if o.len() == 1 => entry,
        _ => {
            return Err(bad(format!(
                "The field '{field}' must specify one accumulator"
            )));
        }
    };
    let op = match name.as_str() {
        "$sum" => AccOp::Sum,
        "$avg" => AccOp::Avg,
        "$min" => AccOp::Min,
        "$max" => AccOp::Max,
        "$first" => AccOp::First,
        "$last" => AccOp::Last,
        "$push" => AccOp::Push,
        "$addToSet" => AccOp::AddToSet,
        "$count" => {
            if arg.as_object().is_none_or(|a| !a.is_empty()) {
                return Err(bad("$count takes no arguments, i.e. $count:{}"));
            }
            return Ok(Accumulator {
                op: AccOp::Count,
                arg: Expr::Literal(Value::Null),
            });
        }
        other => return Err(bad(format!("unknown group operator '{other}'"))),
    };
    Ok(Accumulator {
        op,
        arg: parse_expr(arg)?,
    })
}

// --- $project, $unset, $addFields ---

enum ProjectionItem {
    Include,
    Exclude,
    Computed(Expr),
}

fn parse_project(spec: &Value) -> Result<Projection, ParseError> {
    let o = spec
        .as_object()
        .ok_or_else(|| bad("$project specification must be an object"))?;
    let mut items = Vec::new();
    flatten_projection("", o, &mut items)?;
    if items.is_empty() {
        return Err(bad(
            "Invalid $project :: caused by :: projection specification must have at least one field",
        ));
    }
    let mut p = Projection {
        include: false,
        keep_id: true,
        paths: Vec::new(),
        computed: Vec::new(),
    };
    let mut excluded: Vec<Vec<String>> = Vec::new();
    for (key, item) in items {
        let path = parse_path(&key);
        let is_id = matches!(path.as_slice(), [only] if only == "objectId");
        match item {
            ProjectionItem::Include => {
                p.include = true;
                if !is_id {
                    p.paths.push(path);
                }
            }
            ProjectionItem::Exclude if is_id => p.keep_id = false,
            ProjectionItem::Exclude => excluded.push(path),
            ProjectionItem::Computed(expr) => {
                p.include = true;
                p.keep_id &= !is_id;
                p.computed.push((path, expr));
            }
        }
    }
    if !p.include {
        p.paths = excluded;
    } else if let Some(path) = excluded.first() {
        return Err(bad(format!(
            "Invalid $project :: caused by :: Cannot do exclusion on field {} in inclusion projection",
            path.join(".")
        )));
    }
    Ok(p)
}

/// `{a: {b: 1}}` is `{"a.b": 1}`.
fn flatten_projection(
    prefix: &str,
    o: &Map<String, Value>,
    out: &mut Vec<(String, ProjectionItem)>,
) -> Result<(), ParseError> {
    for (key, value) in o {
        if key.starts_with('$') {
            return Err(bad(
                "Invalid $project :: caused by :: FieldPath field names may not start with '$'.",
            ));
        }
        let full = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        let item = match value {
            Value::Bool(b) => {
                if *b {
                    ProjectionItem::Include
                } else {
                    ProjectionItem::Exclude
                }
            }
            Value::Number(n) => {
                if n.as_f64().is_some_and(|f| f != 0.0) {
                    ProjectionItem::Include
                } else {
                    ProjectionItem::Exclude
                }
            }
            Value::Object(inner)
                if !inner.is_empty()
                    && !inner.keys().any(|k| k.starts_with('$') || k == "__type") =>
            {
                flatten_projection(&full, inner, out)?;
                continue;
            }
            other => ProjectionItem::Computed(parse_expr(other)?),
        };
        out.push((full, item));
    }
    Ok(())
}

fn parse_unset(spec: &Value) -> Result<Projection, ParseError> {
    let names: Vec<&str> = match spec {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let valid = !names.is_empty()
        && spec
            .as_array()
            .is_none_or(|items| items.len() == names.len());
    if !valid {
        return Err(bad(
            "$unset specification must be a string or an array of strings",
        ));
    }
    let paths: Vec<Vec<String>> = names.iter().map(|n| parse_path(n)).collect();
    let keep_id = !paths
        .iter()
        .any(|p| matches!(p.as_slice(), [only] if only == "objectId"));
    Ok(Projection {
        include: false,
        keep_id,
        paths,
        computed: Vec::new(),
    })
}

fn parse_add_fields(stage: &str, spec: &Value) -> Result<Vec<(Vec<String>, Expr)>, ParseError> {
    let o = spec
        .as_object()
        .ok_or_else(|| bad(format!("{stage} specification stage must be an object")))?;
    o.iter()
        .map(|(key, value)| {
            if key.starts_with('$') {
                return Err(bad(format!("{stage}: field names may not start with '$'")));
            }
            Ok((parse_path(key), parse_expr(value)?))
        })
        .collect()
}

// --- $match ---

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
fn leading_where(spec: &Value) -> Result<Value, ParseError> {
    let where_ = normalize_match(spec)?;
    parse_where(&where_)?;
    Ok(where_)
}

fn parse_match(spec: &Value) -> Result<Filter, ParseError> {
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

// --- expressions ---

fn parse_expr(v: &Value) -> Result<Expr, ParseError> {
    match v {
        Value::String(s) if s.starts_with('$') => parse_reference(s),
        Value::Array(items) => Ok(Expr::Array(
            items.iter().map(parse_expr).collect::<Result<_, _>>()?,
        )),
        Value::Object(o) => parse_object_expr(o),
        other => Ok(Expr::Literal(other.clone())),
    }
}

fn parse_reference(s: &str) -> Result<Expr, ParseError> {
    if let Some(var) = s.strip_prefix("$$") {
        let (name, rest) = var
            .split_once('.')
            .map_or((var, None), |(n, r)| (n, Some(r)));
        return match (name, rest) {
            ("ROOT" | "CURRENT", None) => Ok(Expr::Root),
            ("ROOT" | "CURRENT", Some(path)) => Ok(Expr::Path(parse_path(path))),
            _ => Err(bad(format!("Use of undefined variable: {name}"))),
        };
    }
    match s.strip_prefix('$') {
        Some(path) if !path.is_empty() => Ok(Expr::Path(parse_path(path))),
        _ => Err(bad("'$' by itself is not a valid FieldPath")),
    }
}

fn parse_object_expr(o: &Map<String, Value>) -> Result<Expr, ParseError> {
    if let Some((op, arg)) = o.iter().find(|(k, _)| k.starts_with('$')) {
        if o.len() != 1 {
            return Err(bad(format!(
                "an expression specification must contain exactly one field, the name of the expression. Found {} fields",
                o.len()
            )));
        }
        return parse_operator(op, arg);
    }
    let fields = o
        .iter()
        .map(|(k, v)| Ok((k.clone(), parse_expr(v)?)))
        .collect::<Result<_, ParseError>>()?;
    Ok(Expr::Object(fields))
}

fn parse_operator(op: &str, arg: &Value) -> Result<Expr, ParseError> {
    if op == "$literal" {
        return Ok(Expr::Literal(arg.clone()));
    }
    if let Some(part) = DatePart::from_name(op) {
        return Ok(Expr::Op(
            ExprOp::Part(part),
            vec![parse_date_operand(op, arg)?],
        ));
    }
    let kind = match op {
        "$add" => ExprOp::Add,
        "$subtract" => ExprOp::Subtract,
        "$multiply" => ExprOp::Multiply,
        "$divide" => ExprOp::Divide,
        "$mod" => ExprOp::Mod,
        _ => return Err(bad(format!("Unrecognized expression '{op}'"))),
    };
    let args = match arg {
        Value::Array(items) => items
            .iter()
            .map(parse_expr)
            .collect::<Result<Vec<_>, _>>()?,
        other => vec![parse_expr(other)?],
    };
    let binary = matches!(kind, ExprOp::Subtract | ExprOp::Divide | ExprOp::Mod);
    if binary && args.len() != 2 {
        return Err(bad(format!(
            "Expression {op} takes exactly 2 arguments. {} were passed in.",
            args.len()
        )));
    }
    Ok(Expr::Op(kind, args))
}

/// `{$year: "$d"}`, `{$year: ["$d"]}` or `{$year: {date: "$d", timezone: "UTC"}}`.
fn parse_date_operand(op: &str, arg: &Value) -> Result<Expr, ParseError> {
    match arg {
        Value::Array(items) => match items.as_slice() {
            [date] => parse_expr(date),
            _ => Err(bad(format!("{op} takes exactly 1 argument"))),
        },
        Value::Object(o) => match (o.get("date"), o.get("timezone")) {
            (None, _) => parse_expr(arg),
            (Some(date), None) => parse_expr(date),
            (Some(date), Some(tz)) => {
                let utc = ["UTC", "GMT", "Z", "Etc/UTC", "+00:00", "+0000", "+00"];
                if !tz.as_str().is_some_and(|t| utc.contains(&t)) {
                    return Err(bad(format!("{op}: only the UTC timezone is supported")));
                }
                parse_expr(date)
            }
        },
        other => parse_expr(other),
    }
}

// ---------------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------------

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
fn to_output(doc: Document) -> Value {
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

fn date_json(iso: &str) -> Value {
    json!({"__type": "Date", "iso": iso})
}

// --- $group ---

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

/// The running state of one accumulator.
enum Acc {
    Sum(Num),
    Avg(f64, u64),
    Min(Option<Value>),
    Max(Option<Value>),
    First(Option<Value>),
    Last(Value),
    Push(Vec<Value>),
    AddToSet(Vec<Value>, HashSet<String>),
    Count(u64),
}

impl Acc {
    fn new(op: AccOp) -> Acc {
        match op {
            AccOp::Sum => Acc::Sum(Num::Int(0)),
            AccOp::Avg => Acc::Avg(0.0, 0),
            AccOp::Min => Acc::Min(None),
            AccOp::Max => Acc::Max(None),
            AccOp::First => Acc::First(None),
            AccOp::Last => Acc::Last(Value::Null),
            AccOp::Push => Acc::Push(Vec::new()),
            AccOp::AddToSet => Acc::AddToSet(Vec::new(), HashSet::new()),
            AccOp::Count => Acc::Count(0),
        }
    }

    /// Folds in one document's value (`None` when the field is missing).
    fn add(&mut self, v: Option<Value>) {
        match self {
            Acc::Sum(total) => {
                if let Some(n) = v.as_ref().and_then(Num::of) {
                    *total = total.add(n);
                }
            }
            Acc::Avg(total, n) => {
                if let Some(x) = v.as_ref().and_then(Num::of) {
                    *total += x.float();
                    *n += 1;
                }
            }
            Acc::Min(best) => keep_extreme(best, v, Ordering::Less),
            Acc::Max(best) => keep_extreme(best, v, Ordering::Greater),
            Acc::First(first) => {
                if first.is_none() {
                    *first = Some(v.unwrap_or(Value::Null));
                }
            }
            Acc::Last(last) => *last = v.unwrap_or(Value::Null),
            Acc::Push(items) => items.extend(v),
            Acc::AddToSet(items, seen) => {
                if let Some(v) = v
                    && seen.insert(canonical(&v))
                {
                    items.push(v);
                }
            }
            Acc::Count(n) => *n += 1,
        }
    }

    fn finish(self) -> Value {
        match self {
            Acc::Sum(total) => total.value(),
            Acc::Avg(_, 0) => Value::Null,
            Acc::Avg(total, n) => float_value(total / n as f64),
            Acc::Min(v) | Acc::Max(v) | Acc::First(v) => v.unwrap_or(Value::Null),
            Acc::Last(v) => v,
            Acc::Push(items) | Acc::AddToSet(items, _) => Value::Array(items),
            Acc::Count(n) => Value::from(n),
        }
    }
}

/// `$min`/`$max` skip null and missing values and compare the rest in MongoDB's order.
fn keep_extreme(best: &mut Option<Value>, v: Option<Value>, wanted: Ordering) {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return;
    };
    if best.as_ref().is_none_or(|b| bson_cmp(&v, b) == wanted) {
        *best = Some(v);
    }
}

// --- $project, $addFields, $replaceRoot, $unwind, $sort, $sample ---

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

// --- paths ---

/// A path's value; through arrays of objects it collects each element's value, as MongoDB's
/// field paths do.
fn lookup(doc: &Document, path: &[String]) -> Option<Value> {
    let (head, tail) = path.split_first()?;
    descend(doc.get(head)?, tail)
}

fn descend(v: &Value, path: &[String]) -> Option<Value> {
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
fn get_plain<'a>(doc: &'a Document, path: &[String]) -> Option<&'a Value> {
    let (head, tail) = path.split_first()?;
    tail.iter()
        .try_fold(doc.get(head)?, |v, key| v.get(key.as_str()))
}

fn set_path(doc: &mut Document, path: &[String], v: Value) {
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

fn remove_path(doc: &mut Document, path: &[String]) {
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

fn copy_path(src: &Document, dst: &mut Document, path: &[String]) {
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

// --- expression evaluation ---

/// An expression's value over one document; `None` is a missing field.
fn eval(expr: &Expr, doc: &Document) -> Result<Option<Value>, ParseError> {
    Ok(match expr {
        Expr::Literal(v) => Some(v.clone()),
        Expr::Path(path) => lookup(doc, path),
        Expr::Root => Some(to_output(doc.clone())),
        Expr::Object(fields) => {
            let mut out = Map::new();
            for (key, e) in fields {
                if let Some(v) = eval(e, doc)? {
                    out.insert(key.clone(), v);
                }
            }
            Some(Value::Object(out))
        }
        Expr::Array(items) => Some(Value::Array(
            items
                .iter()
                .map(|e| Ok(eval(e, doc)?.unwrap_or(Value::Null)))
                .collect::<Result<_, ParseError>>()?,
        )),
        Expr::Op(op, args) => {
            let values = args
                .iter()
                .map(|a| eval(a, doc))
                .collect::<Result<Vec<_>, _>>()?;
            Some(apply_op(*op, values)?)
        }
    })
}

fn apply_op(op: ExprOp, args: Vec<Option<Value>>) -> Result<Value, ParseError> {
    if args.iter().any(|a| a.as_ref().is_none_or(Value::is_null)) {
        return Ok(Value::Null);
    }
    let args: Vec<Value> = args.into_iter().flatten().collect();
    match (op, args.as_slice()) {
        (ExprOp::Part(part), [date]) => date_part(part, date),
        (ExprOp::Add, _) => add(&args),
        (ExprOp::Multiply, _) => {
            let nums = numbers("$multiply", &args)?;
            Ok(nums.into_iter().fold(Num::Int(1), Num::mul).value())
        }
        (ExprOp::Subtract, [a, b]) => subtract(a, b),
        (ExprOp::Divide, [a, b]) => {
            let (x, y) = (numbers("$divide", &args)?, Num::of(b));
            match (x.first(), y) {
                (_, Some(y)) if y.float() == 0.0 => Err(bad("can't $divide by zero")),
                (Some(x), Some(y)) => Ok(float_value(x.float() / y.float())),
                _ => Err(bad(format!(
                    "$divide only supports numeric types, not {}",
                    type_name(a)
                ))),
            }
        }
        (ExprOp::Mod, [a, b]) => match (Num::of(a), Num::of(b)) {
            (_, Some(y)) if y.float() == 0.0 => Err(bad("can't $mod by 0")),
            (Some(Num::Int(x)), Some(Num::Int(y))) => Ok(Value::from(x.wrapping_rem(y))),
            (Some(x), Some(y)) => Ok(float_value(x.float() % y.float())),
            _ => Err(bad("$mod only supports numeric types")),
        },
        (ExprOp::Part(_) | ExprOp::Subtract | ExprOp::Divide | ExprOp::Mod, _) => {
            Err(bad("wrong number of arguments to an expression"))
        }
    }
}

fn numbers(op: &str, args: &[Value]) -> Result<Vec<Num>, ParseError> {
    args.iter()
        .map(|v| {
            Num::of(v).ok_or_else(|| {
                bad(format!(
                    "{op} only supports numeric types, not {}",
                    type_name(v)
                ))
            })
        })
        .collect()
}

fn add(args: &[Value]) -> Result<Value, ParseError> {
    let mut total = Num::Int(0);
    let mut date: Option<i64> = None;
    for v in args {
        match (Num::of(v), date_ms(v)) {
            (Some(n), _) => total = total.add(n),
            (None, Some(ms)) if date.is_none() => date = Some(ms),
            _ => {
                return Err(bad(format!(
                    "$add only supports numeric or date types, not {}",
                    type_name(v)
                )));
            }
        }
    }
    Ok(match date {
        Some(ms) => date_from_ms(ms.saturating_add(total.float() as i64)),
        None => total.value(),
    })
}

fn subtract(a: &Value, b: &Value) -> Result<Value, ParseError> {
    match (Num::of(a), Num::of(b), date_ms(a), date_ms(b)) {
        (Some(x), Some(y), _, _) => Ok(x.add(y.negate()).value()),
        (_, _, Some(x), Some(y)) => Ok(Value::from(x.saturating_sub(y))),
        (_, Some(y), Some(x), _) => Ok(date_from_ms(x.saturating_sub(y.float() as i64))),
        _ => Err(bad(format!(
            "can't $subtract {} from {}",
            type_name(b),
            type_name(a)
        ))),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "double",
        Value::Number(_) => "int",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) if is_date(v) => "date",
        Value::Object(_) => "object",
    }
}

// --- numbers ---

/// A JSON number as MongoDB keeps it: integers stay integers until they overflow.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    fn of(v: &Value) -> Option<Num> {
        let n = v.as_number()?;
        Some(match n.as_i64() {
            Some(i) => Num::Int(i),
            None => Num::Float(n.as_f64()?),
        })
    }

    fn float(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    fn add(self, other: Num) -> Num {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => a
                .checked_add(b)
                .map_or(Num::Float(a as f64 + b as f64), Num::Int),
            _ => Num::Float(self.float() + other.float()),
        }
    }

    fn mul(self, other: Num) -> Num {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => a
                .checked_mul(b)
                .map_or(Num::Float(a as f64 * b as f64), Num::Int),
            _ => Num::Float(self.float() * other.float()),
        }
    }

    fn negate(self) -> Num {
        match self {
            Num::Int(i) => i.checked_neg().map_or(Num::Float(-(i as f64)), Num::Int),
            Num::Float(f) => Num::Float(-f),
        }
    }

    fn value(self) -> Value {
        match self {
            Num::Int(i) => Value::from(i),
            Num::Float(f) => float_value(f),
        }
    }
}

/// A double as JavaScript prints it: integral values without a fraction.
fn float_value(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        Value::from(f as i64)
    } else {
        serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

// --- dates ---

fn is_date(v: &Value) -> bool {
    special_type(v) == Some("Date")
}

/// The normalised ISO string of a Date, or of a string that parses as one.
fn date_iso(v: &Value) -> Option<String> {
    let iso = match v {
        Value::String(s) => s.as_str(),
        Value::Object(o) if is_date(v) => o.get("iso")?.as_str()?,
        _ => return None,
    };
    normalize_iso(iso)
}

/// A UTC instant's calendar fields.
#[derive(Debug, Clone, Copy)]
struct Civil {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    milli: i64,
}

/// Reads `YYYY-MM-DDTHH:MM:SS.mmmZ`, the form `normalize_iso` writes.
fn civil_of(v: &Value) -> Option<Civil> {
    let iso = date_iso(v)?;
    let field = |from: usize, to: usize| -> Option<i64> { iso.get(from..to)?.parse().ok() };
    if iso.len() != 24 {
        return None;
    }
    Some(Civil {
        year: field(0, 4)?,
        month: field(5, 7)?,
        day: field(8, 10)?,
        hour: field(11, 13)?,
        minute: field(14, 16)?,
        second: field(17, 19)?,
        milli: field(20, 23)?,
    })
}

/// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

const MS_PER_DAY: i64 = 86_400_000;

/// Milliseconds since the epoch of a Date value (not of a plain string).
fn date_ms(v: &Value) -> Option<i64> {
    if !is_date(v) {
        return None;
    }
    let c = civil_of(v)?;
    let time = ((c.hour * 60 + c.minute) * 60 + c.second) * 1000 + c.milli;
    Some(days_from_civil(c.year, c.month, c.day) * MS_PER_DAY + time)
}

fn date_from_ms(ms: i64) -> Value {
    let (y, m, d) = civil_from_days(ms.div_euclid(MS_PER_DAY));
    let t = ms.rem_euclid(MS_PER_DAY);
    let iso = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        t / 3_600_000,
        t / 60_000 % 60,
        t / 1000 % 60,
        t % 1000
    );
    date_json(&iso)
}

fn date_part(part: DatePart, v: &Value) -> Result<Value, ParseError> {
    let c = civil_of(v).ok_or_else(|| {
        bad(format!(
            "can't convert from BSON type {} to Date",
            type_name(v)
        ))
    })?;
    let days = days_from_civil(c.year, c.month, c.day);
    let weekday = (days + 4).rem_euclid(7); // 0 = Sunday
    let day_of_year = days - days_from_civil(c.year, 1, 1) + 1;
    let iso_weekday = if weekday == 0 { 7 } else { weekday };
    let n = match part {
        DatePart::Year => c.year,
        DatePart::Month => c.month,
        DatePart::DayOfMonth => c.day,
        DatePart::Hour => c.hour,
        DatePart::Minute => c.minute,
        DatePart::Second => c.second,
        DatePart::Millisecond => c.milli,
        DatePart::DayOfYear => day_of_year,
        DatePart::DayOfWeek => weekday + 1,
        DatePart::IsoDayOfWeek => iso_weekday,
        DatePart::Week => (day_of_year - 1 + 7 - weekday) / 7,
        DatePart::IsoWeek => iso_week(c.year, day_of_year, iso_weekday).1,
        DatePart::IsoWeekYear => iso_week(c.year, day_of_year, iso_weekday).0,
    };
    Ok(Value::from(n))
}

/// ISO 8601 (year, week): week 1 holds the year's first Thursday.
fn iso_week(year: i64, day_of_year: i64, iso_weekday: i64) -> (i64, i64) {
    let week = (day_of_year - iso_weekday + 10) / 7;
    if week < 1 {
        (year - 1, iso_weeks_in(year - 1))
    } else if week > iso_weeks_in(year) {
        (year + 1, 1)
    } else {
        (year, week)
    }
}

fn iso_weeks_in(year: i64) -> i64 {
    let p = |y: i64| (y + y.div_euclid(4) - y.div_euclid(100) + y.div_euclid(400)).rem_euclid(7);
    if p(year) == 4 || p(year - 1) == 3 {
        53
    } else {
        52
    }
}

// --- comparing values ---

/// MongoDB's order of types: null < numbers < strings < objects < arrays < binary < booleans
/// < dates. Pointers and Files sort as the strings MongoDB stores them as.
fn type_rank(v: &Value) -> u8 {
    match v {
        Value::Null => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Object(_) => match special_type(v) {
            Some("Pointer" | "File") => 3,
            Some("GeoPoint") => 5,
            Some("Bytes") => 6,
            Some("Date") => 9,
            _ => 4,
        },
        Value::Array(_) => 5,
        Value::Bool(_) => 8,
    }
}

/// The form a Parse special value is compared in.
fn sort_form(v: &Value) -> Cow<'_, Value> {
    let text = |key: &str| {
        v.get(key)
            .cloned()
            .map(Cow::Owned)
            .unwrap_or(Cow::Borrowed(v))
    };
    match special_type(v) {
        Some("Pointer") => match as_pointer(v) {
            Some((class, id)) => Cow::Owned(Value::String(format!("{class}${id}"))),
            None => Cow::Borrowed(v),
        },
        Some("Date") => date_iso(v).map_or(Cow::Borrowed(v), |iso| Cow::Owned(Value::String(iso))),
        Some("File") => text("name"),
        Some("Bytes") => text("base64"),
        Some("GeoPoint") => Cow::Owned(json!([v.get("longitude"), v.get("latitude")])),
        _ => Cow::Borrowed(v),
    }
}

/// A total order over values, as MongoDB sorts them.
fn bson_cmp(a: &Value, b: &Value) -> Ordering {
    type_rank(a)
        .cmp(&type_rank(b))
        .then_with(|| same_rank_cmp(&sort_form(a), &sort_form(b)))
}

fn same_rank_cmp(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => match (Num::of(a), Num::of(b)) {
            (Some(Num::Int(x)), Some(Num::Int(y))) => x.cmp(&y),
            (Some(x), Some(y)) => x.float().partial_cmp(&y.float()).unwrap_or(Ordering::Equal),
            _ => Ordering::Equal,
        },
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Array(x), Value::Array(y)) => x
            .iter()
            .zip(y)
            .map(|(p, q)| bson_cmp(p, q))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| x.len().cmp(&y.len())),
        (Value::Object(x), Value::Object(y)) => {
            let (mut xs, mut ys): (Vec<_>, Vec<_>) = (x.iter().collect(), y.iter().collect());
            xs.sort_by(|p, q| p.0.cmp(q.0));
            ys.sort_by(|p, q| p.0.cmp(q.0));
            xs.iter()
                .zip(&ys)
                .map(|((k1, v1), (k2, v2))| k1.cmp(k2).then_with(|| bson_cmp(v1, v2)))
                .find(|o| o.is_ne())
                .unwrap_or_else(|| xs.len().cmp(&ys.len()))
        }
        _ => Ordering::Equal,
    }
}

/// Comparisons across Parse's encodings: a Date with an ISO string, a Pointer with its
/// objectId (or MongoDB's `Class$objectId`).
fn cross_encoding_cmp(a: &Value, b: &Value) -> Option<Ordering> {
    if is_date(a) || is_date(b) {
        return Some(date_iso(a)?.cmp(&date_iso(b)?));
    }
    let (ptr, text, flipped) = match (as_pointer(a), as_pointer(b), a, b) {
        (Some(p), None, _, Value::String(s)) => (p, s, false),
        (None, Some(p), Value::String(s), _) => (p, s, true),
        _ => return None,
    };
    let (class, id) = ptr;
    let ord = if *text == format!("{class}${id}") {
        Ordering::Equal
    } else {
        id.cmp(text.as_str())
    };
    Some(if flipped { ord.reverse() } else { ord })
}

/// Equality as `$match` sees it: numbers by value, Dates and Pointers across encodings.
fn loose_eq(a: &Value, b: &Value) -> bool {
    if let Some(ord) = cross_encoding_cmp(a, b) {
        return ord.is_eq();
    }
    match (a, b) {
        (Value::Number(_), Value::Number(_)) => bson_cmp(a, b).is_eq(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| loose_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| loose_eq(v, w)))
        }
        _ => a == b,
    }
}

/// A string equal for values that group together (1 and 1.0 alike).
fn canonical(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Number(_) => out.push_str(&Num::of(v).map_or(Value::Null, Num::value).to_string()),
        Value::Array(items) => {
            out.push('[');
            for item in items {
                write_canonical(item, out);
                out.push(',');
            }
            out.push(']');
        }
        Value::Object(o) => {
            let mut entries: Vec<_> = o.iter().collect();
            entries.sort_by(|p, q| p.0.cmp(q.0));
            out.push('{');
            for (k, item) in entries {
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
                out.push(',');
            }
            out.push('}');
        }
        Value::Null | Value::Bool(_) | Value::String(_) => out.push_str(&v.to_string()),
    }
}

// --- in-memory $match ---

fn filter_holds(filter: &Filter, doc: &Document) -> bool {
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

// ---------------------------------------------------------------------------------------------
// distinct, and the leading $match for the store
// ---------------------------------------------------------------------------------------------

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

/// Rewrites a leading `$match` (see [`Pipeline::leading_match`]) into a Parse `where` the store
/// can compile: on Pointer fields an objectId (or `Class$objectId`) becomes a Pointer, and on
/// Date fields (and `createdAt`/`updatedAt`) an ISO string becomes a Date, as MongoDB's adapter
/// converts them. `field_type` gives a top-level field's schema type.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(v: Value) -> Document {
        v.as_object().cloned().unwrap()
    }

    fn u1() -> Value {
        json!({"__type": "Pointer", "className": "_User", "objectId": "u1"})
    }

    /// Five objects shaped as the store returns them.
    fn items() -> Vec<Document> {
        let u2 = json!({"__type": "Pointer", "className": "_User", "objectId": "u2"});
        vec![
            doc(
                json!({"objectId": "A", "createdAt": "2024-01-01T10:00:00.000Z", "updatedAt": "2024-01-02T00:00:00.000Z",
                "name": "a", "score": 1, "price": 1.5, "owner": u1(), "tags": ["x", "y"], "stats": {"wins": 1},
                "when": {"__type": "Date", "iso": "2024-03-01T00:00:00.000Z"}, "ACL": {"*": {"read": true}}, "_rperm": ["*"]}),
            ),
            doc(
                json!({"objectId": "B", "createdAt": "2024-01-02T10:00:00.000Z", "updatedAt": "2024-01-02T00:00:00.000Z",
                "name": "a", "score": 2, "price": 2.5, "owner": u2, "tags": ["y"], "stats": {"wins": 2}}),
            ),
            doc(
                json!({"objectId": "C", "createdAt": "2024-02-01T10:00:00.000Z", "updatedAt": "2024-02-01T00:00:00.000Z",
                "name": "b", "score": 3, "price": 3, "owner": u1(), "tags": []}),
            ),
            doc(
                json!({"objectId": "D", "createdAt": "2024-02-02T10:00:00.000Z", "updatedAt": "2024-02-02T00:00:00.000Z",
                "name": "c", "score": 4}),
            ),
            doc(
                json!({"objectId": "E", "createdAt": "2024-03-01T10:00:00.000Z", "updatedAt": "2024-03-01T00:00:00.000Z",
                "score": 5, "tags": null}),
            ),
        ]
    }

    fn pipeline(stages: Value) -> Pipeline {
        parse_pipeline(&[("pipeline".to_owned(), stages)]).unwrap()
    }

    fn agg(stages: Value) -> Vec<Value> {
        run(&pipeline(stages), items()).unwrap()
    }

    /// Results sorted by their JSON text, for stages whose output order MongoDB leaves open.
    fn sorted(mut results: Vec<Value>) -> Vec<Value> {
        results.sort_by_key(|v| v.to_string());
        results
    }

    fn err_of(params: &[(&str, Value)]) -> (ErrorCode, String) {
        let params: Vec<(String, Value)> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        let e = parse_pipeline(&params)
            .and_then(|p| run(&p, items()))
            .unwrap_err();
        (e.code, e.message.into_owned())
    }

    #[test]
    fn request_errors_match_parse() {
        type Case<'a> = (Vec<(&'a str, Value)>, ErrorCode, &'a str);
        let cases: Vec<Case<'_>> = vec![
            (
                vec![("group", json!({"_id": "$name"}))],
                ErrorCode::InvalidQuery,
                "Invalid aggregate stage 'group'.",
            ),
            (
                vec![("pipeline", json!([{"$group": {"objectId": "$name"}}]))],
                ErrorCode::InvalidQuery,
                "Cannot use 'objectId' in aggregation stage $group.",
            ),
            (
                vec![("$group", json!({"n": {"$sum": 1}}))],
                ErrorCode::InvalidQuery,
                "Invalid parameter for query: group. Missing key _id",
            ),
            (
                vec![("pipeline", json!([{"$group": {"_id": null}, "$limit": 1}]))],
                ErrorCode::InvalidQuery,
                "Pipeline stages should only have one key but found $group, $limit.",
            ),
            (
                vec![("pipeline", json!([{}]))],
                ErrorCode::InvalidQuery,
                "Pipeline stages should only have one key but found .",
            ),
            (
                vec![("pipeline", json!("x"))],
                ErrorCode::InvalidQuery,
                "Invalid aggregate stage '0'.",
            ),
            (
                vec![("pipeline", json!(null))],
                ErrorCode::InvalidQuery,
                "Invalid aggregate stage 'pipeline'.",
            ),
            (
                vec![("pipeline", json!([{"$foo": 1}]))],
                ErrorCode::InvalidQuery,
                "Unrecognized pipeline stage name: '$foo'",
            ),
            (
                vec![("pipeline", json!([{"$lookup": {}}]))],
                ErrorCode::InvalidQuery,
                "The aggregate stage $lookup is not supported",
            ),
            (
                vec![("pipeline", json!([{"$limit": 0}]))],
                ErrorCode::InvalidQuery,
                "the limit must be positive",
            ),
            (
                vec![("pipeline", json!([{"$skip": -1}]))],
                ErrorCode::InvalidQuery,
                "the number to skip cannot be negative",
            ),
            (
                vec![("pipeline", json!([{"$sort": {"a": 2}}]))],
                ErrorCode::InvalidQuery,
                "$sort key ordering must be 1 (for ascending) or -1 (for descending)",
            ),
            (
                vec![("pipeline", json!([{"$count": "$n"}]))],
                ErrorCode::InvalidQuery,
                "the count field cannot be a $-prefixed path",
            ),
            (
                vec![("pipeline", json!([{"$unwind": "tags"}]))],
                ErrorCode::InvalidQuery,
                "path option to $unwind stage should be prefixed with a '$': tags",
            ),
            (
                vec![(
                    "pipeline",
                    json!([{"$group": {"_id": null, "n": {"$median": "$a"}}}]),
                )],
                ErrorCode::InvalidQuery,
                "unknown group operator '$median'",
            ),
            (
                vec![("pipeline", json!([{"$group": {"_id": null, "n": 1}}]))],
                ErrorCode::InvalidQuery,
                "The field 'n' must be an accumulator object",
            ),
            (
                vec![("pipeline", json!([{"$project": {"a": 1, "b": 0}}]))],
                ErrorCode::InvalidQuery,
                "Invalid $project :: caused by :: Cannot do exclusion on field b in inclusion projection",
            ),
            (
                vec![("pipeline", json!([{"$project": {"a": {"$concat": ["x"]}}}]))],
                ErrorCode::InvalidQuery,
                "Unrecognized expression '$concat'",
            ),
            (
                vec![(
                    "pipeline",
                    json!([{"$skip": 0}, {"$match": {"name": {"$regex": "^a"}}}]),
                )],
                ErrorCode::InvalidQuery,
                "$regex on name is only supported in a $match that is the first stage of the pipeline",
            ),
            (
                vec![("pipeline", json!([{"$match": {"bad-key": 1}}]))],
                ErrorCode::InvalidKeyName,
                "Invalid key name: bad-key",
            ),
            (
                vec![(
                    "pipeline",
                    json!([{"$project": {"n": {"$add": ["$name", 1]}}}]),
                )],
                ErrorCode::InvalidQuery,
                "$add only supports numeric or date types, not string",
            ),
            (
                vec![("where", json!({})), ("$limit", json!(1))],
                ErrorCode::InvalidQuery,
                "Invalid aggregate stage 'where': it is only read by a distinct request",
            ),
        ];
        for (params, code, message) in cases {
            assert_eq!(err_of(&params), (code, message.to_owned()), "{params:?}");
        }
    }

    #[test]
    fn reads_every_request_form() {
        let group = json!({"_id": "$name"});
        let expected = vec![Stage::Group(parse_group(&group).unwrap()), Stage::Limit(2)];
        let forms: Vec<Vec<(&str, Value)>> = vec![
            vec![("pipeline", json!([{"$group": group}, {"$limit": 2}]))],
            vec![("pipeline", json!({"$group": group, "$limit": 2}))],
            vec![
                ("$group", group.clone()),
                ("$limit", json!(2)),
                ("hint", json!("idx")),
                ("rawValues", json!(false)),
            ],
            vec![
                ("pipeline", json!([{"$group": group}, {"$limit": 2}])),
                ("where", json!({"a": 1})),
                ("explain", json!(true)),
            ],
            vec![
                ("$limit", json!(9)),
                ("$group", group),
                ("$limit", json!(2.0)),
            ],
        ];
        for params in forms {
            let params: Vec<(String, Value)> =
                params.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            let p = parse_pipeline(&params).unwrap();
            // Object.assign keeps a repeated key where it first appeared.
            let stages = if params[0].0 == "$limit" {
                vec![expected[1].clone(), expected[0].clone()]
            } else {
                expected.clone()
            };
            assert_eq!(
                p,
                Pipeline {
                    leading_match: None,
                    stages
                },
                "{params:?}"
            );
        }
        assert_eq!(
            pipeline(json!(5)),
            Pipeline {
                leading_match: None,
                stages: vec![]
            }
        );
        // A distinct request is parsed too, but only AggregateRouter's own checks apply to it.
        let distinct = parse_pipeline(&[
            ("distinct".to_owned(), json!("name")),
            ("where".to_owned(), json!({})),
            ("$where".to_owned(), json!({"name": "bar"})),
            ("$limit".to_owned(), json!(-1)),
        ])
        .unwrap();
        assert_eq!(distinct.stages.len(), 4);
        assert_eq!(
            distinct.error().map(|e| e.message.as_ref()),
            Some("Invalid aggregate stage 'distinct': it is only read by a distinct request")
        );
        assert_eq!(pipeline(json!([{"$limit": 1}])).error(), None);
    }

    #[test]
    fn leading_match_is_handed_to_the_store_in_parse_names() {
        let p = pipeline(
            json!([{"$match": {"_id": "A", "$or": [{"_created_at": {"$gt": "2024"}}, {"_p_owner": "u1"}]}}, {"$match": {"_id": "A"}}]),
        );
        assert_eq!(
            p.leading_match,
            Some(
                json!({"objectId": "A", "$or": [{"createdAt": {"$gt": "2024"}}, {"owner": "u1"}]})
            )
        );
        assert_eq!(p.stages.len(), 1);
        let types = |f: &str| match f {
            "owner" => Some(FieldType::Pointer("_User".to_owned())),
            "when" => Some(FieldType::Date),
            _ => None,
        };
        let m = json!({"owner": {"$in": ["u1", "_User$u2"]}, "when": {"$lt": "2024-02-01"}, "createdAt": "2024-01-01T10:00:00Z", "name": "a"});
        assert_eq!(
            where_for_schema(&m, &types),
            json!({
                "owner": {"$in": [u1(), {"__type": "Pointer", "className": "_User", "objectId": "u2"}]},
                "when": {"$lt": {"__type": "Date", "iso": "2024-02-01T00:00:00.000Z"}},
                "createdAt": {"__type": "Date", "iso": "2024-01-01T10:00:00.000Z"},
                "name": "a"
            })
        );
    }

    #[test]
    fn group_sums_counts_and_averages() {
        let results = agg(
            json!([{"$group": {"_id": "$name", "total": {"$sum": "$score"}, "n": {"$sum": 1}, "avg": {"$avg": "$price"}, "c": {"$count": {}}}}]),
        );
        assert_eq!(
            sorted(results),
            vec![
                json!({"objectId": "a", "total": 3, "n": 2, "avg": 2, "c": 2}),
                json!({"objectId": "b", "total": 3, "n": 1, "avg": 3, "c": 1}),
                json!({"objectId": "c", "total": 4, "n": 1, "avg": null, "c": 1}),
                json!({"objectId": null, "total": 5, "n": 1, "avg": null, "c": 1}),
            ]
        );
        // Integral sums of doubles print as integers, the rest as doubles.
        assert_eq!(
            agg(json!([{"$group": {"_id": null, "p": {"$sum": "$price"}, "q": {"$sum": 0.25}}}])),
            vec![json!({"objectId": null, "p": 7, "q": 1.25})]
        );
        assert_eq!(
            run(
                &pipeline(json!([{"$group": {"_id": null, "n": {"$sum": 1}}}])),
                vec![]
            )
            .unwrap(),
            Vec::<Value>::new()
        );
    }

    #[test]
    fn group_keys_take_parse_shapes() {
        let cases = vec![
            (json!("$owner"), vec![json!("u1"), json!("u2"), Value::Null]),
            (
                json!("$_p_owner"),
                vec![json!("u1"), json!("u2"), Value::Null],
            ),
            (json!(""), vec![Value::Null]),
            (json!({}), vec![Value::Null]),
            (json!([]), vec![Value::Null]),
            (
                json!({"n": "$name", "o": "$owner"}),
                vec![
                    json!({"n": "a", "o": "u1"}),
                    json!({"n": "a", "o": "u2"}),
                    json!({"n": "b", "o": "u1"}),
                    json!({"n": "c"}),
                    Value::Null,
                ],
            ),
            (
                json!({"y": {"$year": "$createdAt"}, "m": {"$month": "$_created_at"}}),
                vec![
                    json!({"y": 2024, "m": 1}),
                    json!({"y": 2024, "m": 2}),
                    json!({"y": 2024, "m": 3}),
                ],
            ),
            (
                json!("$when"),
                vec![
                    json!({"__type": "Date", "iso": "2024-03-01T00:00:00.000Z"}),
                    Value::Null,
                ],
            ),
            (
                json!("$updatedAt"),
                vec![
                    json!({"__type": "Date", "iso": "2024-01-02T00:00:00.000Z"}),
                    json!({"__type": "Date", "iso": "2024-02-01T00:00:00.000Z"}),
                    json!({"__type": "Date", "iso": "2024-02-02T00:00:00.000Z"}),
                    json!({"__type": "Date", "iso": "2024-03-01T00:00:00.000Z"}),
                ],
            ),
        ];
        for (key, expected) in cases {
            let ids: Vec<Value> = agg(json!([{"$group": {"_id": key}}, {"$sort": {"_id": 1}}]))
                .into_iter()
                .map(|r| r["objectId"].clone())
                .collect();
            let mut expected = expected;
            expected.sort_by(bson_cmp);
            let mut ids_sorted = ids.clone();
            ids_sorted.sort_by(bson_cmp);
            assert_eq!(ids_sorted, expected, "{key}");
        }
    }

    #[test]
    fn accumulators_collect_values() {
        let results = agg(json!([
            {"$sort": {"score": 1}},
            {"$group": {"_id": null,
                "min": {"$min": "$price"}, "max": {"$max": "$name"}, "first": {"$first": "$name"}, "last": {"$last": "$name"},
                "push": {"$push": "$name"}, "set": {"$addToSet": "$name"}, "latest": {"$max": "$createdAt"},
                "owners": {"$addToSet": "$owner"}}}
        ]));
        assert_eq!(
            results,
            vec![
                json!({"objectId": null, "min": 1.5, "max": "c", "first": "a", "last": null,
                "push": ["a", "a", "b", "c"], "set": ["a", "b", "c"],
                "latest": {"__type": "Date", "iso": "2024-03-01T10:00:00.000Z"},
                "owners": [u1(), {"__type": "Pointer", "className": "_User", "objectId": "u2"}]})
            ]
        );
    }

    #[test]
    fn project_includes_excludes_and_computes() {
        let cases = vec![
            (json!({"name": 1}), json!({"objectId": "A", "name": "a"})),
            (
                json!({"_id": 0, "createdAt": 1, "stats.wins": 1}),
                json!({"createdAt": "2024-01-01T10:00:00.000Z", "stats": {"wins": 1}}),
            ),
            (
                json!({"objectId": 0, "stats": {"wins": 1}}),
                json!({"stats": {"wins": 1}}),
            ),
            (
                json!({"tags": 0, "owner": 0, "when": 0, "createdAt": 0, "updatedAt": 0, "price": 0}),
                json!({"objectId": "A", "name": "a", "score": 1, "stats": {"wins": 1}}),
            ),
            (
                json!({"total": {"$multiply": ["$score", "$price"]}, "c": "$createdAt", "half": {"$divide": ["$score", 2]}, "lit": {"$literal": "$x"}}),
                json!({"objectId": "A", "total": 1.5, "c": {"__type": "Date", "iso": "2024-01-01T10:00:00.000Z"}, "half": 0.5, "lit": "$x"}),
            ),
            (
                json!({"_id": "$name", "s": {"$add": ["$score", 1]}}),
                json!({"objectId": "a", "s": 2}),
            ),
        ];
        for (spec, expected) in cases {
            let results = agg(json!([{"$sort": {"score": 1}}, {"$limit": 1}, {"$project": spec}]));
            assert_eq!(results, vec![expected], "{spec}");
        }
    }

    #[test]
    fn sort_skip_and_limit() {
        let ids = |stages: Value| -> Vec<Value> {
            agg(stages)
                .into_iter()
                .map(|r| r["objectId"].clone())
                .collect()
        };
        assert_eq!(
            ids(json!([{"$sort": {"score": -1}}, {"$skip": 1}, {"$limit": 2}])),
            vec![json!("D"), json!("C")]
        );
        assert_eq!(
            ids(json!([{"$sort": {"name": 1}}])),
            vec![json!("E"), json!("A"), json!("B"), json!("C"), json!("D")]
        );
        assert_eq!(
            ids(json!([{"$sort": {"createdAt": -1}}, {"$limit": 1}])),
            vec![json!("E")]
        );
        // Arrays sort by their smallest element ascending, largest descending.
        assert_eq!(
            ids(json!([{"$sort": {"tags": -1}}, {"$limit": 2}])),
            vec![json!("A"), json!("B")]
        );
    }

    #[test]
    fn unwind_forms() {
        let tags = |spec: Value| -> Vec<(Value, Value, Value)> {
            agg(json!([{"$sort": {"score": 1}}, {"$unwind": spec}]))
                .into_iter()
                .map(|r| {
                    (
                        r["objectId"].clone(),
                        r.get("tags").cloned().unwrap_or(json!("MISSING")),
                        r.get("i").cloned().unwrap_or(json!("-")),
                    )
                })
                .collect()
        };
        assert_eq!(
            tags(json!("$tags")),
            vec![
                (json!("A"), json!("x"), json!("-")),
                (json!("A"), json!("y"), json!("-")),
                (json!("B"), json!("y"), json!("-"))
            ]
        );
        assert_eq!(
            tags(
                json!({"path": "$tags", "includeArrayIndex": "i", "preserveNullAndEmptyArrays": true})
            ),
            vec![
                (json!("A"), json!("x"), json!(0)),
                (json!("A"), json!("y"), json!(1)),
                (json!("B"), json!("y"), json!(0)),
                (json!("C"), json!("MISSING"), json!(null)),
                (json!("D"), json!("MISSING"), json!(null)),
                (json!("E"), json!(null), json!(null)),
            ]
        );
        assert_eq!(
            agg(json!([{"$unwind": "$score"}, {"$count": "n"}])),
            vec![json!({"n": 5})]
        );
    }

    #[test]
    fn count_and_sample() {
        assert_eq!(agg(json!([{"$count": "total"}])), vec![json!({"total": 5})]);
        assert_eq!(
            run(&pipeline(json!([{"$count": "total"}])), vec![]).unwrap(),
            Vec::<Value>::new()
        );
        let picked = agg(json!([{"$sample": {"size": 3}}]));
        assert_eq!(picked.len(), 3);
        let ids: HashSet<String> = picked.iter().map(|r| r["objectId"].to_string()).collect();
        assert_eq!(ids.len(), 3);
        assert_eq!(agg(json!([{"$sample": {"size": 50}}])).len(), 5);
    }

    #[test]
    fn match_in_memory() {
        let cases = vec![
            (json!({"name": "a"}), vec!["A", "B"]),
            (json!({"score": {"$gt": 1, "$lte": 3}}), vec!["B", "C"]),
            (json!({"score": {"$gte": "2"}}), vec![]),
            (json!({"name": {"$ne": "a"}}), vec!["C", "D", "E"]),
            (json!({"name": {"$in": [null, "c"]}}), vec!["D", "E"]),
            (json!({"name": {"$nin": ["a", "b"]}}), vec!["D", "E"]),
            (json!({"name": null}), vec!["E"]),
            (json!({"tags": {"$exists": false}}), vec!["D"]),
            (json!({"tags": "y"}), vec!["A", "B"]),
            (json!({"tags": {"$all": ["x", "y"]}}), vec!["A"]),
            (json!({"owner": "u1"}), vec!["A", "C"]),
            (json!({"owner": u1()}), vec!["A", "C"]),
            (json!({"_id": "B"}), vec!["B"]),
            (json!({"stats.wins": {"$gte": 2}}), vec!["B"]),
            (
                json!({"createdAt": {"$gte": "2024-02-01T00:00:00.000Z"}}),
                vec!["C", "D", "E"],
            ),
            (
                json!({"createdAt": {"$lt": {"__type": "Date", "iso": "2024-01-02T10:00:00.000Z"}}}),
                vec!["A"],
            ),
            (json!({"when": "2024-03-01T00:00:00Z"}), vec!["A"]),
            (
                json!({"$or": [{"score": {"$lt": 2}}, {"name": "c"}]}),
                vec!["A", "D"],
            ),
            (
                json!({"$and": [{"score": {"$gt": 1}}, {"price": {"$exists": true}}]}),
                vec!["B", "C"],
            ),
            (
                json!({"$nor": [{"name": "a"}, {"score": 5}]}),
                vec!["C", "D"],
            ),
            (json!({"price": 3.0}), vec!["C"]),
        ];
        for (m, expected) in cases {
            let ids: Vec<Value> = agg(json!([{"$skip": 0}, {"$match": m}]))
                .into_iter()
                .map(|r| r["objectId"].clone())
                .collect();
            let expected: Vec<Value> = expected.into_iter().map(Value::from).collect();
            assert_eq!(ids, expected, "{m}");
        }
        // After a $group, `_id` and `objectId` both name the key.
        let after_group = agg(
            json!([{"$group": {"_id": "$name", "n": {"$sum": 1}}}, {"$match": {"_id": "a", "n": {"$gt": 1}}}]),
        );
        assert_eq!(after_group, vec![json!({"objectId": "a", "n": 2})]);
    }

    #[test]
    fn results_hide_internal_keys() {
        let results = agg(json!([{"$sort": {"score": 1}}, {"$limit": 1}]));
        let first = results[0].as_object().unwrap();
        assert_eq!(first.get("ACL"), None);
        assert_eq!(first.get("_rperm"), None);
        assert_eq!(first["createdAt"], json!("2024-01-01T10:00:00.000Z"));
        assert_eq!(first["owner"], u1());
        let renamed = agg(
            json!([{"$group": {"_id": null, "createdAt": {"$max": "$createdAt"}, "_x": {"$sum": 1}}}]),
        );
        assert_eq!(
            renamed,
            vec![json!({"objectId": null, "createdAt": "2024-03-01T10:00:00.000Z"})]
        );
    }

    #[test]
    fn other_stages() {
        let cases = vec![
            (
                json!([{"$sortByCount": "$name"}, {"$limit": 1}]),
                vec![json!({"objectId": "a", "count": 2})],
            ),
            (
                json!([{"$match": {"_id": "A"}}, {"$addFields": {"double": {"$multiply": ["$score", 2]}, "stats.losses": 0}}, {"$project": {"double": 1, "stats": 1}}]),
                vec![json!({"objectId": "A", "double": 2, "stats": {"wins": 1, "losses": 0}})],
            ),
            (
                json!([{"$match": {"_id": "A"}}, {"$replaceRoot": {"newRoot": "$stats"}}]),
                vec![json!({"wins": 1})],
            ),
            (
                json!([{"$match": {"_id": "D"}}, {"$unset": ["createdAt", "updatedAt", "_id"]}]),
                vec![json!({"name": "c", "score": 4})],
            ),
            (
                json!([{"$match": {"_id": "A"}}, {"$project": {"age": {"$subtract": ["$updatedAt", "$createdAt"]}, "later": {"$add": ["$createdAt", 86_400_000]}, "_id": 0}}]),
                vec![
                    json!({"age": 50_400_000, "later": {"__type": "Date", "iso": "2024-01-02T10:00:00.000Z"}}),
                ],
            ),
            (
                json!([{"$match": {"_id": "A"}}, {"$project": {"r": "$$ROOT.name", "m": {"$mod": [7, 4]}, "_id": 0}}]),
                vec![json!({"r": "a", "m": 3})],
            ),
        ];
        for (stages, expected) in cases {
            // The leading $match is the store's job; here the documents arrive filtered.
            let p = pipeline(stages.clone());
            let filtered: Vec<Document> = items()
                .into_iter()
                .filter(|d| {
                    p.leading_match
                        .as_ref()
                        .is_none_or(|m| m["objectId"] == d["objectId"])
                })
                .collect();
            assert_eq!(run(&p, filtered).unwrap(), expected, "{stages}");
        }
    }

    #[test]
    fn date_parts_follow_the_calendar() {
        let cases = vec![
            // 2021-01-01 is a Friday in ISO week 53 of 2020.
            (
                "2021-01-01T05:06:07.089Z",
                vec![
                    ("$year", 2021),
                    ("$month", 1),
                    ("$dayOfMonth", 1),
                    ("$hour", 5),
                    ("$minute", 6),
                    ("$second", 7),
                    ("$millisecond", 89),
                    ("$dayOfYear", 1),
                    ("$dayOfWeek", 6),
                    ("$isoDayOfWeek", 5),
                    ("$week", 0),
                    ("$isoWeek", 53),
                    ("$isoWeekYear", 2020),
                ],
            ),
            // 2024-12-30 is a Monday in ISO week 1 of 2025; 2024 is a leap year.
            (
                "2024-12-30T00:00:00.000Z",
                vec![
                    ("$dayOfYear", 365),
                    ("$dayOfWeek", 2),
                    ("$week", 52),
                    ("$isoWeek", 1),
                    ("$isoWeekYear", 2025),
                ],
            ),
            (
                "2023-01-01T00:00:00.000Z",
                vec![
                    ("$dayOfWeek", 1),
                    ("$week", 1),
                    ("$isoWeek", 52),
                    ("$isoWeekYear", 2022),
                ],
            ),
        ];
        for (iso, parts) in cases {
            let date = date_json(iso);
            for (name, expected) in parts {
                let part = DatePart::from_name(name).unwrap();
                assert_eq!(
                    date_part(part, &date).unwrap(),
                    json!(expected),
                    "{iso} {name}"
                );
            }
            assert_eq!(date_from_ms(date_ms(&date).unwrap()), date, "{iso}");
        }
        assert_eq!(
            date_part(DatePart::Year, &json!(5)).unwrap_err().message,
            "can't convert from BSON type int to Date"
        );
    }

    #[test]
    fn distinct_values() {
        let cases = vec![
            ("name", vec![json!("a"), json!("b"), json!("c")]),
            (
                "score",
                vec![json!(1), json!(2), json!(3), json!(4), json!(5)],
            ),
            ("tags", vec![json!("x"), json!("y")]),
            ("stats.wins", vec![json!(1), json!(2)]),
            (
                "owner",
                vec![
                    u1(),
                    json!({"__type": "Pointer", "className": "_User", "objectId": "u2"}),
                ],
            ),
            (
                "when",
                vec![json!({"__type": "Date", "iso": "2024-03-01T00:00:00.000Z"})],
            ),
            (
                "updatedAt",
                vec![
                    json!({"__type": "Date", "iso": "2024-01-02T00:00:00.000Z"}),
                    json!({"__type": "Date", "iso": "2024-02-01T00:00:00.000Z"}),
                    json!({"__type": "Date", "iso": "2024-02-02T00:00:00.000Z"}),
                    json!({"__type": "Date", "iso": "2024-03-01T00:00:00.000Z"}),
                ],
            ),
            (
                "objectId",
                vec![json!("A"), json!("B"), json!("C"), json!("D"), json!("E")],
            ),
            ("nothing", vec![]),
        ];
        for (field, expected) in cases {
            assert_eq!(distinct(field, &items()), expected, "{field}");
        }
        let mixed = [
            doc(json!({"v": 2})),
            doc(json!({"v": 2.0})),
            doc(json!({"v": "2"})),
            doc(json!({"v": null})),
            doc(json!({"v": true})),
        ];
        assert_eq!(
            distinct("v", &mixed),
            vec![json!(2), json!("2"), json!(true)]
        );
    }
}
