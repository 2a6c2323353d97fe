//! The `where` clause as a typed tree. `parse` builds it from Parse's JSON; the stores compile it
//! to SQL. Values inside stay in Parse's JSON encoding, the form they are stored in.

pub mod cases;
pub mod matcher;
mod parse;
pub mod text;

pub use parse::parse_where;

use serde_json::Value;

use crate::value::GeoPoint;

/// Radius of the earth used to turn distances into radians, as Parse does.
pub const EARTH_RADIUS_KM: f64 = 6371.0;
/// The same radius in miles.
pub const EARTH_RADIUS_MILES: f64 = 3958.8;

/// A field, or a dotted path into an Object field.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldPath {
    /// The top-level field.
    pub field: String,
    /// Keys below it (`"stats.wins"` → `["wins"]`).
    pub sub: Vec<String>,
}

impl FieldPath {
    /// Splits `"a.b.c"`.
    pub fn parse(key: &str) -> FieldPath {
        let mut parts = key.split('.');
        let field = parts.next().unwrap_or_default().to_owned();
        FieldPath {
            field,
            sub: parts.map(str::to_owned).collect(),
        }
    }
}

/// A filter over the objects of one class.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Every object.
    All,
    /// All of these.
    And(Vec<Filter>),
    /// Any of these.
    Or(Vec<Filter>),
    /// None of these.
    Nor(Vec<Filter>),
    /// A condition on one field.
    Field(FieldPath, Condition),
    /// Objects linked from `object_id`'s Relation field `key` in `class`.
    RelatedTo {
        /// The owning object's class.
        class: String,
        /// The owning object's id.
        object_id: String,
        /// Its Relation field.
        key: String,
    },
}

/// The comparison kinds that take one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `$lt`
    Lt,
    /// `$lte`
    Lte,
    /// `$gt`
    Gt,
    /// `$gte`
    Gte,
}

/// A sub-query on another class: `{className, where}`.
#[derive(Debug, Clone, PartialEq)]
pub struct SubQuery {
    /// The class queried.
    pub class: String,
    /// Its filter.
    pub filter: Box<Filter>,
}

/// Full-text search options of `$text.$search`.
#[derive(Debug, Clone, PartialEq)]
pub struct TextSearch {
    /// The words (and "quoted phrases", and -negations) searched for.
    pub term: String,
    /// Match case exactly.
    pub case_sensitive: bool,
    /// Match accents exactly.
    pub diacritic_sensitive: bool,
}

/// What one field must satisfy.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Equal, or for an Array field, containing the value.
    Eq(Value),
    /// Not equal (missing counts as not equal).
    Ne(Value),
    /// An ordering comparison.
    Compare(Cmp, Value),
    /// One of these values.
    In(Vec<Value>),
    /// None of these values (missing matches).
    Nin(Vec<Value>),
    /// Present (true) or absent (false).
    Exists(bool),
    /// An Array field containing all of these.
    All(Vec<Value>),
    /// An Array field whose every element is one of these.
    ContainedBy(Vec<Value>),
    /// A regular expression with Parse's options (`i`, `m`, `x`, `s`).
    Regex {
        /// The pattern (Parse's `\Q…\E` quoting allowed).
        pattern: String,
        /// Option letters.
        options: String,
    },
    /// Full-text search.
    Text(TextSearch),
    /// The field's value appears as `key` in the sub-query's results (`$select`), or not
    /// (`$dontSelect`).
    Select {
        /// The sub-query.
        query: SubQuery,
        /// The sub-query's field compared.
        key: String,
        /// `$dontSelect`.
        negate: bool,
    },
    /// The Pointer field points into the sub-query's results (`$inQuery`), or not
    /// (`$notInQuery`).
    InQuery {
        /// The sub-query.
        query: SubQuery,
        /// `$notInQuery`.
        negate: bool,
    },
    /// Near a point, nearest first, optionally within a distance in radians.
    Near {
        /// The centre.
        point: GeoPoint,
        /// Maximum distance in radians.
        max_radians: Option<f64>,
    },
    /// Inside a latitude/longitude box.
    WithinBox {
        /// South-west corner.
        southwest: GeoPoint,
        /// North-east corner.
        northeast: GeoPoint,
    },
    /// Inside a polygon.
    WithinPolygon(Vec<GeoPoint>),
    /// Within a distance (radians) of a point.
    CenterSphere {
        /// The centre.
        center: GeoPoint,
        /// Radius in radians.
        radians: f64,
    },
    /// A Polygon field that contains this point.
    Intersects(GeoPoint),
}

/// Great-circle distance in radians between two points (haversine).
pub fn distance_radians(a: GeoPoint, b: GeoPoint) -> f64 {
    let (lat1, lat2) = (a.latitude.to_radians(), b.latitude.to_radians());
    let dlat = lat2 - lat1;
    let dlon = (b.longitude - a.longitude).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * h.sqrt().min(1.0).asin()
}

/// True when `p` lies inside the polygon (ray casting on latitude/longitude).
pub fn point_in_polygon(p: GeoPoint, polygon: &[GeoPoint]) -> bool {
    let mut inside = false;
    let n = polygon.len();
    if n < 3 {
        return false;
    }
    let mut j = n - 1;
    for i in 0..n {
        let (xi, yi) = (polygon[i].latitude, polygon[i].longitude);
        let (xj, yj) = (polygon[j].latitude, polygon[j].longitude);
        let crosses = (yi > p.longitude) != (yj > p.longitude)
            && p.latitude < (xj - xi) * (p.longitude - yi) / (yj - yi) + xi;
        if crosses {
            inside = !inside;
        }
        j = i;
    }
    inside
}

/// Rewrites Parse's `\Q…\E` literal quoting (used by the SDKs' `startsWith`, `endsWith` and
/// `contains`) into escaped text that standard regex engines understand.
pub fn expand_regex_quotes(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(start) = rest.find("\\Q") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let (literal, tail) = match after.find("\\E") {
            Some(end) => (&after[..end], &after[end + 2..]),
            None => (after, ""),
        };
        for c in literal.chars() {
            if "\\.+*?()|[]{}^$#&-~ ".contains(c) {
                out.push('\\');
            }
            out.push(c);
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests;
