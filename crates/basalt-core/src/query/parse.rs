//! Parse's `where` JSON → `Filter`. Every malformed shape is a 102 naming the problem.

use serde_json::{Map, Value};

use super::{
    Cmp, Condition, EARTH_RADIUS_KM, EARTH_RADIUS_MILES, FieldPath, Filter, SubQuery, TextSearch,
};
use crate::error::{ErrorCode, ParseError, perr};
use crate::names::{class_name_is_valid, field_name_is_valid};
use crate::value::{GeoPoint, polygon_points};

fn bad(msg: impl Into<String>) -> ParseError {
    perr(ErrorCode::InvalidQuery, msg.into())
}

/// Parses a `where` object. `{}` and `null` mean every object.
pub fn parse_where(v: &Value) -> Result<Filter, ParseError> {
    match v {
        Value::Null => Ok(Filter::All),
        Value::Object(o) => parse_object(o, 0),
        _ => Err(bad("Invalid where clause: it must be a JSON object")),
    }
}

const MAX_DEPTH: usize = 16;

fn parse_object(o: &Map<String, Value>, depth: usize) -> Result<Filter, ParseError> {
    if depth > MAX_DEPTH {
        return Err(bad("Query is nested too deeply"));
    }
    let mut parts = Vec::new();
    for (key, value) in o {
        match key.as_str() {
            "$or" | "$and" | "$nor" => {
                let items = value
                    .as_array()
                    .ok_or_else(|| bad(format!("Bad {key} format - use an array value.")))?;
                if items.is_empty() {
                    return Err(bad(format!(
                        "Bad {key} format - use an array of at least 1 value."
                    )));
                }
                let subs = items
                    .iter()
                    .map(|item| match item {
                        Value::Object(inner) => parse_object(inner, depth + 1),
                        _ => Err(bad(format!("Bad {key} format - invalid sub query."))),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                parts.push(match key.as_str() {
                    "$or" => Filter::Or(subs),
                    "$and" => Filter::And(subs),
                    _ => Filter::Nor(subs),
                });
            }
            "$relatedTo" => parts.push(parse_related_to(value)?),
            k if k.starts_with('$') => {
                return Err(perr(
                    ErrorCode::InvalidKeyName,
                    format!("Invalid key name: {k}"),
                ));
            }
            k => parse_field(k, value, depth, &mut parts)?,
        }
    }
    Ok(match parts.len() {
        0 => Filter::All,
        1 => parts.pop().unwrap_or(Filter::All),
        _ => Filter::And(parts),
    })
}

fn parse_related_to(v: &Value) -> Result<Filter, ParseError> {
    let object = v
        .get("object")
        .ok_or_else(|| bad("$relatedTo needs an object"))?;
    let class = object.get("className").and_then(Value::as_str);
    let id = object.get("objectId").and_then(Value::as_str);
    let key = v.get("key").and_then(Value::as_str);
    match (class, id, key) {
        (Some(class), Some(id), Some(key)) => Ok(Filter::RelatedTo {
            class: class.to_owned(),
            object_id: id.to_owned(),
            key: key.to_owned(),
        }),
        _ => Err(bad("$relatedTo needs an object pointer and a key")),
    }
}

fn validate_path(key: &str) -> Result<FieldPath, ParseError> {
    let path = FieldPath::parse(key);
    let top_ok = field_name_is_valid(&path.field)
        || matches!(path.field.as_str(), "objectId" | "createdAt" | "updatedAt");
    // Control characters (NUL above all) cannot be part of a stored key and would cut a JSON
    // path short in the database.
    let sub_ok = path
        .sub
        .iter()
        .all(|s| !s.is_empty() && !s.contains('$') && !s.chars().any(char::is_control));
    if top_ok && sub_ok {
        Ok(path)
    } else {
        Err(perr(
            ErrorCode::InvalidKeyName,
            format!("Invalid key name: {key}"),
        ))
    }
}

fn is_constraint_object(o: &Map<String, Value>) -> bool {
    !o.contains_key("__type") && o.keys().any(|k| k.starts_with('$'))
}

fn parse_field(
    key: &str,
    value: &Value,
    depth: usize,
    parts: &mut Vec<Filter>,
) -> Result<(), ParseError> {
    let path = validate_path(key)?;
    let constraints = match value {
        Value::Object(o) if is_constraint_object(o) => o,
        other => {
            parts.push(Filter::Field(path, Condition::Eq(other.clone())));
            return Ok(());
        }
    };
    let max_distance = max_distance(constraints)?;
    for (op, arg) in constraints {
        let cond = match op.as_str() {
            "$eq" => Condition::Eq(arg.clone()),
            "$ne" => Condition::Ne(arg.clone()),
            "$lt" => Condition::Compare(Cmp::Lt, arg.clone()),
            "$lte" => Condition::Compare(Cmp::Lte, arg.clone()),
            "$gt" => Condition::Compare(Cmp::Gt, arg.clone()),
            "$gte" => Condition::Compare(Cmp::Gte, arg.clone()),
            "$in" => Condition::In(array_arg(op, arg)?),
            "$nin" => Condition::Nin(array_arg(op, arg)?),
            "$all" => Condition::All(array_arg(op, arg)?),
            "$containedBy" => Condition::ContainedBy(array_arg(op, arg)?),
            "$exists" => Condition::Exists(
                arg.as_bool()
                    .ok_or_else(|| bad("$exists: must be a boolean"))?,
            ),
            "$regex" => Condition::Regex {
                pattern: arg
                    .as_str()
                    .ok_or_else(|| bad("$regex: must be a string"))?
                    .to_owned(),
                options: regex_options(constraints)?,
            },
            "$options" => {
                if !constraints.contains_key("$regex") {
                    return Err(bad("$options needs a $regex"));
                }
                continue;
            }
            "$text" => Condition::Text(text_search(arg)?),
            "$select" | "$dontSelect" => select(op, arg, depth)?,
            "$inQuery" | "$notInQuery" => Condition::InQuery {
                query: sub_query(op, arg, depth)?,
                negate: op == "$notInQuery",
            },
            "$nearSphere" => Condition::Near {
                point: geo_point(op, arg)?,
                max_radians: max_distance,
            },
            "$maxDistance"
            | "$maxDistanceInRadians"
            | "$maxDistanceInMiles"
            | "$maxDistanceInKilometers" => {
                if !constraints.contains_key("$nearSphere") {
                    return Err(bad(format!("{op} needs a $nearSphere")));
                }
                continue;
            }
            "$within" => within_box(arg)?,
            "$geoWithin" => geo_within(arg)?,
            "$geoIntersects" => {
                let point = arg
                    .get("$point")
                    .ok_or_else(|| bad("bad $geoIntersect value; $point should be GeoPoint"))?;
                Condition::Intersects(geo_point("$geoIntersects", point)?)
            }
            other => {
                return Err(perr(
                    ErrorCode::InvalidJson,
                    format!("bad constraint: {other}"),
                ));
            }
        };
        parts.push(Filter::Field(path.clone(), cond));
    }
    Ok(())
}

fn array_arg(op: &str, arg: &Value) -> Result<Vec<Value>, ParseError> {
    arg.as_array()
        .cloned()
        .ok_or_else(|| perr(ErrorCode::InvalidJson, format!("bad {op} value")))
}

fn regex_options(c: &Map<String, Value>) -> Result<String, ParseError> {
    match c.get("$options") {
        None => Ok(String::new()),
        Some(Value::String(s)) if s.chars().all(|ch| "imxs".contains(ch)) => Ok(s.clone()),
        Some(other) => Err(bad(format!(
            "Bad $options value for query: {}",
            other
                .as_str()
                .map_or_else(|| other.to_string(), str::to_owned)
        ))),
    }
}

fn text_search(arg: &Value) -> Result<TextSearch, ParseError> {
    let search = arg
        .get("$search")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("bad $text: $search, should be object"))?;
    let term = search
        .get("$term")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("bad $text: $term, should be string"))?;
    let flag = |name: &str| -> Result<bool, ParseError> {
        match search.get(name) {
            None => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(bad(format!("bad $text: {name}, should be boolean"))),
        }
    };
    if let Some(lang) = search.get("$language")
        && !lang.is_string()
    {
        return Err(bad("bad $text: $language, should be string"));
    }
    Ok(TextSearch {
        term: term.to_owned(),
        case_sensitive: flag("$caseSensitive")?,
        diacritic_sensitive: flag("$diacriticSensitive")?,
    })
}

fn sub_query(op: &str, arg: &Value, depth: usize) -> Result<SubQuery, ParseError> {
    let class = arg
        .get("className")
        .and_then(Value::as_str)
        .filter(|c| class_name_is_valid(c))
        .ok_or_else(|| bad(format!("bad {op} value: it needs a valid className")))?;
    let filter = match arg.get("where") {
        None | Some(Value::Null) => Filter::All,
        Some(Value::Object(o)) => parse_object(o, depth + 1)?,
        Some(_) => return Err(bad(format!("bad {op} value: where must be an object"))),
    };
    Ok(SubQuery {
        class: class.to_owned(),
        filter: Box::new(filter),
    })
}

fn select(op: &str, arg: &Value, depth: usize) -> Result<Condition, ParseError> {
    let query = arg
        .get("query")
        .ok_or_else(|| bad(format!("bad {op} value")))?;
    let key = arg
        .get("key")
        .and_then(Value::as_str)
        .ok_or_else(|| bad(format!("bad {op} value")))?;
    Ok(Condition::Select {
        query: sub_query(op, query, depth)?,
        key: key.to_owned(),
        negate: op == "$dontSelect",
    })
}

fn geo_point(op: &str, v: &Value) -> Result<GeoPoint, ParseError> {
    let p = GeoPoint::from_json(v)
        .ok_or_else(|| bad(format!("bad {op} value; should be a GeoPoint")))?;
    p.validate()?;
    Ok(p)
}

fn max_distance(c: &Map<String, Value>) -> Result<Option<f64>, ParseError> {
    let read = |k: &str| -> Result<Option<f64>, ParseError> {
        match c.get(k) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| bad(format!("bad {k} value"))),
        }
    };
    if let Some(r) = read("$maxDistance")?.or(read("$maxDistanceInRadians")?) {
        return Ok(Some(r));
    }
    if let Some(mi) = read("$maxDistanceInMiles")? {
        return Ok(Some(mi / EARTH_RADIUS_MILES));
    }
    Ok(read("$maxDistanceInKilometers")?.map(|km| km / EARTH_RADIUS_KM))
}

fn within_box(arg: &Value) -> Result<Condition, ParseError> {
    let corners = arg
        .get("$box")
        .and_then(Value::as_array)
        .filter(|b| b.len() == 2)
        .ok_or_else(|| bad("malformatted $within arg"))?;
    let southwest = geo_point("$box", &corners[0])?;
    let northeast = geo_point("$box", &corners[1])?;
    if southwest.latitude > northeast.latitude {
        return Err(perr(
            ErrorCode::InvalidJson,
            "GeoBox: the southwest corner is north of the northeast corner",
        ));
    }
    Ok(Condition::WithinBox {
        southwest,
        northeast,
    })
}

fn geo_within(arg: &Value) -> Result<Condition, ParseError> {
    if let Some(poly) = arg.get("$polygon") {
        // Either [GeoPoint…]/[[lat,lng]…] or a Polygon object.
        let coords = match poly.get("coordinates") {
            Some(c) => c,
            None => poly,
        };
        let points = polygon_points(coords)
            .map_err(|e| bad(format!("bad $geoWithin value; {}", e.message)))?;
        if points.len() < 3 {
            return Err(bad(
                "bad $geoWithin value; Polygon must have at least 3 values",
            ));
        }
        return Ok(Condition::WithinPolygon(points));
    }
    if let Some(cs) = arg.get("$centerSphere") {
        let items = cs
            .as_array()
            .filter(|a| a.len() == 2)
            .ok_or_else(|| bad("bad $geoWithin value; $centerSphere should be an array"))?;
        let center = match &items[0] {
            Value::Array(pair) if pair.len() == 2 => GeoPoint {
                // MongoDB's legacy order: [longitude, latitude].
                longitude: pair[0]
                    .as_f64()
                    .ok_or_else(|| bad("bad $centerSphere point"))?,
                latitude: pair[1]
                    .as_f64()
                    .ok_or_else(|| bad("bad $centerSphere point"))?,
            },
            other => geo_point("$centerSphere", other)?,
        };
        center.validate()?;
        let radians = items[1]
            .as_f64()
            .filter(|r| *r >= 0.0)
            .ok_or_else(|| bad("bad $geoWithin value; $centerSphere distance invalid"))?;
        return Ok(Condition::CenterSphere { center, radians });
    }
    Err(bad(
        "bad $geoWithin value; $polygon or $centerSphere required",
    ))
}
