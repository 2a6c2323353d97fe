//! Each stage's specification → its [`Stage`], with the checks and messages MongoDB gives:
//! `$limit`, `$skip`, `$sample`, `$count`, `$sort`, `$unwind`, `$sortByCount`, `$group`,
//! `$project`, `$unset` and `$addFields`.

use basalt_core::ParseError;
use serde_json::{Map, Value, json};

use super::expr::{Expr, parse_expr};
use super::paths::parse_path;
use super::{AccOp, Accumulator, Group, Projection, SortKey, Stage, Unwind, bad};

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

pub(super) fn parse_limit(spec: &Value) -> Result<usize, ParseError> {
    let n = int_arg(spec).ok_or_else(|| bad("the limit must be specified as a number"))?;
    usize::try_from(n)
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| bad("the limit must be positive"))
}

pub(super) fn parse_skip(spec: &Value) -> Result<usize, ParseError> {
    let n = int_arg(spec).ok_or_else(|| bad("the skip must be specified as a number"))?;
    usize::try_from(n).map_err(|_| bad("the number to skip cannot be negative"))
}

pub(super) fn parse_sample(spec: &Value) -> Result<usize, ParseError> {
    let size = spec
        .as_object()
        .ok_or_else(|| bad("the $sample stage specification must be an object"))?
        .get("size")
        .and_then(int_arg)
        .ok_or_else(|| bad("size argument to $sample must be a number"))?;
    usize::try_from(size).map_err(|_| bad("size argument to $sample must not be negative"))
}

pub(super) fn parse_count(spec: &Value) -> Result<String, ParseError> {
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

pub(super) fn parse_sort(spec: &Value) -> Result<Vec<SortKey>, ParseError> {
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

pub(super) fn parse_unwind(spec: &Value) -> Result<Unwind, ParseError> {
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

pub(super) fn parse_sort_by_count(spec: &Value) -> Result<Vec<Stage>, ParseError> {
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

pub(super) fn parse_group(spec: &Value) -> Result<Group, ParseError> {
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

enum ProjectionItem {
    Include,
    Exclude,
    Computed(Expr),
}

pub(super) fn parse_project(spec: &Value) -> Result<Projection, ParseError> {
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

pub(super) fn parse_unset(spec: &Value) -> Result<Projection, ParseError> {
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

pub(super) fn parse_add_fields(
    stage: &str,
    spec: &Value,
) -> Result<Vec<(Vec<String>, Expr)>, ParseError> {
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
