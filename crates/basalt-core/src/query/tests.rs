use serde_json::json;

use super::*;
use crate::error::ErrorCode;

#[test]
fn parses_fields_and_operators() {
    let f = parse_where(&json!({"score": {"$gte": 5, "$lt": 10}, "name": "a"})).unwrap();
    let Filter::And(parts) = f else {
        panic!("expected And")
    };
    assert_eq!(parts.len(), 3);
    assert!(parts.contains(&Filter::Field(
        FieldPath::parse("name"),
        Condition::Eq(json!("a"))
    )));
    assert!(parts.contains(&Filter::Field(
        FieldPath::parse("score"),
        Condition::Compare(Cmp::Gte, json!(5))
    )));
}

#[test]
fn rejects_unknown_operators_and_bad_shapes() {
    let e = parse_where(&json!({"a": {"$frob": 1}})).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidJson);
    let e = parse_where(&json!({"$or": {"a": 1}})).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidQuery);
    let e = parse_where(&json!({"a": {"$in": 3}})).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidJson);
}

#[test]
fn geo_helpers() {
    let sf = GeoPoint {
        latitude: 37.7749,
        longitude: -122.4194,
    };
    let la = GeoPoint {
        latitude: 34.0522,
        longitude: -118.2437,
    };
    let km = distance_radians(sf, la) * EARTH_RADIUS_KM;
    assert!((km - 559.0).abs() < 5.0, "{km}");
    let square = [
        GeoPoint {
            latitude: 0.0,
            longitude: 0.0,
        },
        GeoPoint {
            latitude: 0.0,
            longitude: 10.0,
        },
        GeoPoint {
            latitude: 10.0,
            longitude: 10.0,
        },
        GeoPoint {
            latitude: 10.0,
            longitude: 0.0,
        },
    ];
    assert!(point_in_polygon(
        GeoPoint {
            latitude: 5.0,
            longitude: 5.0
        },
        &square
    ));
    assert!(!point_in_polygon(
        GeoPoint {
            latitude: 15.0,
            longitude: 5.0
        },
        &square
    ));
}

#[test]
fn expands_quoted_regex() {
    assert_eq!(expand_regex_quotes("^\\Qa.b\\E"), "^a\\.b");
    assert_eq!(expand_regex_quotes("\\Qx\\E$"), "x$");
}
