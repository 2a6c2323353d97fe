//! How MongoDB sees a JSON value: numbers that stay integers until they overflow, the total
//! order it sorts values of every type in, `$match` equality across Parse's encodings, and the
//! identity `$group` and `$addToSet` tell values apart by.

use std::borrow::Cow;
use std::cmp::Ordering;

use basalt_core::value::{as_pointer, special_type};
use serde_json::{Value, json};

use super::dates::{date_iso, is_date};

/// A JSON number as MongoDB keeps it: integers stay integers until they overflow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    pub(super) fn of(v: &Value) -> Option<Num> {
        let n = v.as_number()?;
        Some(match n.as_i64() {
            Some(i) => Num::Int(i),
            None => Num::Float(n.as_f64()?),
        })
    }

    pub(super) fn float(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    pub(super) fn add(self, other: Num) -> Num {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => a
                .checked_add(b)
                .map_or(Num::Float(a as f64 + b as f64), Num::Int),
            _ => Num::Float(self.float() + other.float()),
        }
    }

    pub(super) fn mul(self, other: Num) -> Num {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => a
                .checked_mul(b)
                .map_or(Num::Float(a as f64 * b as f64), Num::Int),
            _ => Num::Float(self.float() * other.float()),
        }
    }

    pub(super) fn negate(self) -> Num {
        match self {
            Num::Int(i) => i.checked_neg().map_or(Num::Float(-(i as f64)), Num::Int),
            Num::Float(f) => Num::Float(-f),
        }
    }

    pub(super) fn value(self) -> Value {
        match self {
            Num::Int(i) => Value::from(i),
            Num::Float(f) => float_value(f),
        }
    }
}

/// A double as JavaScript prints it: integral values without a fraction.
pub(super) fn float_value(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        Value::from(f as i64)
    } else {
        serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

/// MongoDB's order of types: null < numbers < strings < objects < arrays < binary < booleans
/// < dates. Pointers and Files sort as the strings MongoDB stores them as.
pub(super) fn type_rank(v: &Value) -> u8 {
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
pub(super) fn bson_cmp(a: &Value, b: &Value) -> Ordering {
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
pub(super) fn cross_encoding_cmp(a: &Value, b: &Value) -> Option<Ordering> {
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
pub(super) fn loose_eq(a: &Value, b: &Value) -> bool {
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
pub(super) fn canonical(v: &Value) -> String {
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
