//! Parse JSON values: what type a value has, and checking and normalising the special
//! `__type` encodings (Date, Pointer, File, GeoPoint, Polygon, Bytes) before they are stored.
//!
//! Documents travel and are stored in Parse's own JSON encoding, which is both the wire format
//! and a faithful storage format; see docs/decisions/0002-documents-in-parse-json.md.

use serde_json::{Map, Value};

use crate::error::{ErrorCode, ParseError, perr};
use crate::schema::FieldType;
use crate::time::normalize_iso;

/// A JSON object: the body of a Parse document.
pub type Document = Map<String, Value>;

/// A latitude/longitude pair in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoPoint {
    /// Degrees north, -90 to 90.
    pub latitude: f64,
    /// Degrees east, -180 to 180.
    pub longitude: f64,
}

impl GeoPoint {
    /// Reads `{"__type":"GeoPoint","latitude":…,"longitude":…}` (the `__type` may be absent).
    pub fn from_json(v: &Value) -> Option<GeoPoint> {
        let o = v.as_object()?;
        if let Some(t) = o.get("__type")
            && t != "GeoPoint"
        {
            return None;
        }
        let latitude = o.get("latitude")?.as_f64()?;
        let longitude = o.get("longitude")?.as_f64()?;
        Some(GeoPoint {
            latitude,
            longitude,
        })
    }

    /// Checks the point is on the globe, with Parse's messages.
    pub fn validate(&self) -> Result<(), ParseError> {
        if !(-90.0..=90.0).contains(&self.latitude) || self.latitude.is_nan() {
            return Err(perr(
                ErrorCode::InvalidJson,
                format!(
                    "GeoPoint latitude out of bounds: {} < -90.0 or > 90.0",
                    self.latitude
                ),
            ));
        }
        if !(-180.0..=180.0).contains(&self.longitude) || self.longitude.is_nan() {
            return Err(perr(
                ErrorCode::InvalidJson,
                format!(
                    "GeoPoint longitude out of bounds: {} < -180.0 or > 180.0",
                    self.longitude
                ),
            ));
        }
        Ok(())
    }
}

/// The `__type` of a special object, if it has one.
pub fn special_type(v: &Value) -> Option<&str> {
    v.as_object()?.get("__type")?.as_str()
}

/// A `(className, objectId)` pointer, if `v` is a Pointer.
pub fn as_pointer(v: &Value) -> Option<(&str, &str)> {
    let o = v.as_object()?;
    if o.get("__type")?.as_str()? != "Pointer" {
        return None;
    }
    Some((o.get("className")?.as_str()?, o.get("objectId")?.as_str()?))
}

/// Builds a Pointer value.
pub fn pointer(class_name: &str, object_id: &str) -> Value {
    serde_json::json!({"__type": "Pointer", "className": class_name, "objectId": object_id})
}

/// The schema type a plain (non-operator) value implies, or `None` for null.
pub fn type_of(v: &Value) -> Result<Option<FieldType>, ParseError> {
    Ok(Some(match v {
        Value::Null => return Ok(None),
        Value::Bool(_) => FieldType::Boolean,
        Value::Number(_) => FieldType::Number,
        Value::String(_) => FieldType::String,
        Value::Array(_) => FieldType::Array,
        Value::Object(o) => match o.get("__type").and_then(Value::as_str) {
            None => FieldType::Object,
            Some("Date") => FieldType::Date,
            Some("Pointer") => FieldType::Pointer(target_class(o, "Pointer")?),
            Some("Relation") => FieldType::Relation(target_class(o, "Relation")?),
            Some("File") => FieldType::File,
            Some("GeoPoint") => FieldType::GeoPoint,
            Some("Polygon") => FieldType::Polygon,
            Some("Bytes") => FieldType::Bytes,
            Some(other) => {
                return Err(perr(
                    ErrorCode::IncorrectType,
                    format!("This is not a valid {other}"),
                ));
            }
        },
    }))
}

fn target_class(o: &Map<String, Value>, kind: &str) -> Result<String, ParseError> {
    o.get("className")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            perr(
                ErrorCode::IncorrectType,
                format!("This is not a valid {kind}"),
            )
        })
}

/// Checks a value before it is stored and rewrites it into its canonical form: dates in
/// Parse's ISO format, polygons closed, nested objects checked recursively for key names.
pub fn normalize(v: &mut Value) -> Result<(), ParseError> {
    match v {
        Value::Array(items) => items.iter_mut().try_for_each(normalize),
        Value::Object(o) => match o.get("__type").and_then(Value::as_str) {
            None => {
                for (k, inner) in o.iter_mut() {
                    if k.contains('$') || k.contains('.') {
                        return Err(perr(
                            ErrorCode::InvalidNestedKey,
                            "Nested keys should not contain the '$' or '.' characters",
                        ));
                    }
                    normalize(inner)?;
                }
                Ok(())
            }
            Some("Date") => {
                let iso = o.get("iso").and_then(Value::as_str).and_then(normalize_iso);
                let iso =
                    iso.ok_or_else(|| perr(ErrorCode::IncorrectType, "This is not a valid Date"))?;
                o.insert("iso".into(), Value::String(iso));
                Ok(())
            }
            Some("Pointer") => {
                let ok = o.get("className").and_then(Value::as_str).is_some()
                    && o.get("objectId").and_then(Value::as_str).is_some();
                if !ok {
                    return Err(perr(
                        ErrorCode::IncorrectType,
                        "This is not a valid Pointer",
                    ));
                }
                // Only the reference is stored; an included object's fields are not.
                o.retain(|k, _| matches!(k.as_str(), "__type" | "className" | "objectId"));
                Ok(())
            }
            Some("GeoPoint") => {
                let p = GeoPoint::from_json(&Value::Object(o.clone())).ok_or_else(|| {
                    perr(ErrorCode::IncorrectType, "This is not a valid GeoPoint")
                })?;
                p.validate()
            }
            Some("Polygon") => normalize_polygon(o),
            Some("File") => {
                if o.get("name").and_then(Value::as_str).is_none() {
                    return Err(perr(ErrorCode::IncorrectType, "This is not a valid File"));
                }
                o.retain(|k, _| matches!(k.as_str(), "__type" | "name" | "url"));
                Ok(())
            }
            Some("Bytes") => {
                if o.get("base64").and_then(Value::as_str).is_none() {
                    return Err(perr(ErrorCode::IncorrectType, "This is not a valid Bytes"));
                }
                Ok(())
            }
            Some("Relation") => Ok(()),
            Some(other) => Err(perr(
                ErrorCode::IncorrectType,
                format!("This is not a valid {other}"),
            )),
        },
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => Ok(()),
    }
}

/// A JSON number for `f` written as JavaScript writes it: integral values without a fraction
/// (`0`, not `0.0`), so values read back compare equal to what Parse Server returns.
pub fn number(f: f64) -> Value {
    const SAFE: f64 = 9_007_199_254_740_991.0; // 2^53 - 1, JavaScript's largest exact integer
    if f.fract() == 0.0 && f.abs() <= SAFE {
        // Integral and within ±2^53: the cast is exact.
        return Value::from(f as i64);
    }
    serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
}

fn normalize_polygon(o: &mut Map<String, Value>) -> Result<(), ParseError> {
    let coords = polygon_points(o.get("coordinates").unwrap_or(&Value::Null))?;
    if coords.len() < 3 {
        return Err(perr(
            ErrorCode::InvalidJson,
            "Polygon must have at least 3 values",
        ));
    }
    let mut json: Vec<Value> = coords
        .iter()
        .map(|p| Value::Array(vec![number(p.latitude), number(p.longitude)]))
        .collect();
    // Parse stores the ring closed: the first point repeated at the end.
    if coords.first() != coords.last() {
        json.push(json[0].clone());
    }
    o.insert("coordinates".into(), Value::Array(json));
    Ok(())
}

/// Reads a polygon's vertices from `[[lat, lng], …]` or a list of GeoPoints.
pub fn polygon_points(v: &Value) -> Result<Vec<GeoPoint>, ParseError> {
    let bad = || {
        perr(
            ErrorCode::InvalidJson,
            "Polygon coordinates must be an array of [lat, lng] pairs or GeoPoints",
        )
    };
    let items = v.as_array().ok_or_else(bad)?;
    items
        .iter()
        .map(|item| {
            let p = match item {
                Value::Array(pair) if pair.len() == 2 => GeoPoint {
                    latitude: pair[0].as_f64().ok_or_else(bad)?,
                    longitude: pair[1].as_f64().ok_or_else(bad)?,
                },
                other => GeoPoint::from_json(other).ok_or_else(bad)?,
            };
            p.validate()?;
            Ok(p)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn infers_types() {
        assert_eq!(type_of(&json!(1.5)).unwrap(), Some(FieldType::Number));
        assert_eq!(type_of(&json!(null)).unwrap(), None);
        assert_eq!(
            type_of(&json!({"__type":"Pointer","className":"_User","objectId":"a"})).unwrap(),
            Some(FieldType::Pointer("_User".into()))
        );
        assert!(type_of(&json!({"__type":"Nope"})).is_err());
    }

    #[test]
    fn polygons_close_and_keep_integral_coordinates_integral() {
        let mut p = json!({"__type":"Polygon","coordinates":[[0,0],[0,1.5],[1,1]]});
        normalize(&mut p).unwrap();
        assert_eq!(p["coordinates"].to_string(), "[[0,0],[0,1.5],[1,1],[0,0]]");
        assert_eq!(number(-3.0).to_string(), "-3");
        assert_eq!(number(1e300).to_string(), "1e+300");
    }

    #[test]
    fn normalizes_dates_and_rejects_bad_points() {
        let mut d = json!({"__type":"Date","iso":"2024-01-02T03:04:05Z"});
        normalize(&mut d).unwrap();
        assert_eq!(d["iso"], "2024-01-02T03:04:05.000Z");
        let mut p = json!({"__type":"GeoPoint","latitude":91,"longitude":0});
        assert_eq!(normalize(&mut p).unwrap_err().code, ErrorCode::InvalidJson);
        let mut nested = json!({"a":{"b.c":1}});
        assert_eq!(
            normalize(&mut nested).unwrap_err().code,
            ErrorCode::InvalidNestedKey
        );
    }
}
