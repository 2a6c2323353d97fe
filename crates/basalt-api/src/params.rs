//! Query-string parameters of finds and gets, checked the way Parse's ClassesRouter checks them.

use basalt_core::{ErrorCode, ParseError};
use basalt_engine::{FindRequest, GetRequest};
use serde_json::Value;

const FIND_PARAMS: &[&str] = &[
    "where",
    "limit",
    "skip",
    "order",
    "count",
    "keys",
    "excludeKeys",
    "include",
    "includeAll",
    "redirectClassNameForKey",
    "readPreference",
    "includeReadPreference",
    "subqueryReadPreference",
    "hint",
    "explain",
    "comment",
];

const GET_PARAMS: &[&str] = &[
    "keys",
    "include",
    "excludeKeys",
    "readPreference",
    "includeReadPreference",
    "subqueryReadPreference",
];

/// Decoded `name=value` pairs of a query string.
pub(crate) fn pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

fn number(name: &str, v: &str) -> Result<i64, ParseError> {
    if let Ok(n) = v.trim().parse::<i64>() {
        return Ok(n);
    }
    match v.trim().parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(f.trunc() as i64),
        _ => Err(ParseError::new(
            ErrorCode::InvalidQuery,
            format!("Invalid {name}: {v} is not a number"),
        )),
    }
}

fn truthy(v: &str) -> bool {
    !matches!(v, "" | "0" | "false")
}

/// The find options in a query string.
pub(crate) fn find_request(query: Option<&str>) -> Result<FindRequest, ParseError> {
    let mut req = FindRequest::default();
    for (k, v) in pairs(query) {
        if !FIND_PARAMS.contains(&k.as_str()) {
            return Err(ParseError::new(
                ErrorCode::InvalidQuery,
                format!("Invalid parameter for query: {k}"),
            ));
        }
        match k.as_str() {
            "where" => {
                req.where_ = serde_json::from_str::<Value>(&v).map_err(|_| {
                    ParseError::new(ErrorCode::InvalidJson, "where parameter is not valid JSON")
                })?;
            }
            "limit" => req.limit = Some(number("limit", &v)?),
            "skip" => req.skip = Some(number("skip", &v)?),
            "order" => req.order = Some(v),
            "count" => req.count = truthy(&v),
            "keys" => req.keys = Some(v),
            "excludeKeys" => req.exclude_keys = Some(v),
            "include" => req.include = Some(v),
            "includeAll" if truthy(&v) => {
                req.include = Some("*".to_owned());
            }
            _ => {}
        }
    }
    Ok(req)
}

/// The get options in a query string.
pub(crate) fn get_request(query: Option<&str>) -> Result<GetRequest, ParseError> {
    let mut req = GetRequest::default();
    for (k, v) in pairs(query) {
        if !GET_PARAMS.contains(&k.as_str()) {
            return Err(ParseError::new(
                ErrorCode::InvalidQuery,
                "Improper encode of parameter",
            ));
        }
        match k.as_str() {
            "keys" => req.keys = Some(v),
            "include" => req.include = Some(v),
            "excludeKeys" => req.exclude_keys = Some(v),
            _ => {}
        }
    }
    Ok(req)
}
