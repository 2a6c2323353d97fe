//! Aggregation expressions and `$group` accumulators: `"$path"`, `{"$op": …}` and literals
//! parsed into an [`Expr`], an expression evaluated over one document, and the running state
//! each accumulator folds values into.

use std::cmp::Ordering;
use std::collections::HashSet;

use basalt_core::ParseError;
use basalt_core::value::Document;
use serde_json::{Map, Value};

use super::compare::{Num, bson_cmp, canonical, float_value};
use super::dates::{DatePart, date_from_ms, date_ms, date_part, is_date};
use super::paths::{lookup, parse_path};
use super::stages::to_output;
use super::{AccOp, bad};

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

pub(super) fn parse_expr(v: &Value) -> Result<Expr, ParseError> {
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

/// An expression's value over one document; `None` is a missing field.
pub(super) fn eval(expr: &Expr, doc: &Document) -> Result<Option<Value>, ParseError> {
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

pub(super) fn type_name(v: &Value) -> &'static str {
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

/// The running state of one accumulator.
pub(super) enum Acc {
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
    pub(super) fn new(op: AccOp) -> Acc {
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
    pub(super) fn add(&mut self, v: Option<Value>) {
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

    pub(super) fn finish(self) -> Value {
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
