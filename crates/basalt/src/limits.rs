//! Building the rate-limit rules from configuration: Parse's `rateLimit` array and basalt's
//! limit on the identity routes.

use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use basalt_api::ratelimit::{LocalRateLimiter, RateLimits, RateRule, Zone};
use serde_json::Value;

/// Routes the identity limit covers: log-in, sign-up, password checks and e-mail requests.
const AUTH_ROUTES: &[(&str, &[Method])] = &[
    ("/login", &[Method::GET, Method::POST]),
    ("/verifyPassword", &[Method::GET, Method::POST]),
    ("/users", &[Method::POST]),
    ("/classes/_User", &[Method::POST]),
    ("/requestPasswordReset", &[Method::POST]),
    ("/verificationEmailRequest", &[Method::POST]),
];

/// Parses `N/60s` (requests per seconds window), or `off`.
pub fn parse_auth_limit(text: &str) -> Result<Option<(u32, Duration)>, String> {
    if text.trim() == "off" || text.trim() == "0" {
        return Ok(None);
    }
    let (n, w) = text
        .split_once('/')
        .ok_or_else(|| format!("auth rate limit {text:?} must look like 300/60s or off"))?;
    let n: u32 = n
        .trim()
        .parse()
        .map_err(|_| format!("auth rate limit {text:?}: {n:?} is not a count"))?;
    let secs: u64 = w
        .trim()
        .trim_end_matches('s')
        .parse()
        .map_err(|_| format!("auth rate limit {text:?}: {w:?} is not a number of seconds"))?;
    Ok(Some((n, Duration::from_secs(secs.max(1)))))
}

fn zone(v: Option<&Value>) -> Result<Zone, String> {
    match v.and_then(Value::as_str).unwrap_or("ip") {
        "ip" => Ok(Zone::Ip),
        "session" => Ok(Zone::Session),
        "user" => Ok(Zone::User),
        "global" => Ok(Zone::Global),
        other => Err(format!(
            "rateLimit zone {other:?} must be ip, session, user or global"
        )),
    }
}

fn methods(v: Option<&Value>) -> Result<Vec<Method>, String> {
    let names: Vec<&str> = match v {
        None => vec![],
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        Some(other) => {
            return Err(format!(
                "rateLimit requestMethods {other} must be a string or an array"
            ));
        }
    };
    names
        .into_iter()
        .map(|m| {
            Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                .map_err(|_| format!("unknown method {m:?}"))
        })
        .collect()
}

/// Parses Parse's `rateLimit` option (a JSON array of rules).
pub fn parse_rules(json: &str) -> Result<Vec<RateRule>, String> {
    let v: Value = serde_json::from_str(json).map_err(|e| format!("rateLimit is not JSON: {e}"))?;
    let items = match v {
        Value::Array(a) => a,
        obj @ Value::Object(_) => vec![obj],
        _ => return Err("rateLimit must be an array of rules".to_owned()),
    };
    items
        .iter()
        .map(|r| {
            let need = |what: &str| format!("rateLimit rule needs {what}");
            let path = r
                .get("requestPath")
                .and_then(Value::as_str)
                .ok_or_else(|| need("requestPath"))?;
            let window_ms = r
                .get("requestTimeWindow")
                .and_then(Value::as_u64)
                .ok_or_else(|| need("requestTimeWindow (ms)"))?;
            let max = r
                .get("requestCount")
                .and_then(Value::as_u64)
                .ok_or_else(|| need("requestCount"))?;
            Ok(RateRule {
                path: RateRule::path_pattern(path)
                    .map_err(|e| format!("rateLimit requestPath {path:?}: {e}"))?,
                methods: methods(r.get("requestMethods"))?,
                window: Duration::from_millis(window_ms.max(1)),
                max: u32::try_from(max).unwrap_or(u32::MAX),
                zone: zone(r.get("zone"))?,
                message: r
                    .get("errorResponseMessage")
                    .and_then(Value::as_str)
                    .unwrap_or("Too many requests.")
                    .to_owned(),
                include_master: r
                    .get("includeMasterKey")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            })
        })
        .collect()
}

/// The limits to serve with.
pub fn build(
    rules: Vec<RateRule>,
    auth: Option<(u32, Duration)>,
    mount: &str,
    master_key: &str,
) -> RateLimits {
    let mut all = Vec::new();
    if let Some((max, window)) = auth {
        for (path, methods) in AUTH_ROUTES {
            if let Ok(pattern) = RateRule::path_pattern(path) {
                all.push(RateRule {
                    path: pattern,
                    methods: methods.to_vec(),
                    window,
                    max,
                    zone: Zone::Ip,
                    message: "Too many requests.".to_owned(),
                    include_master: false,
                });
            }
        }
    }
    all.extend(rules);
    RateLimits {
        rules: Arc::new(all),
        limiter: Arc::new(LocalRateLimiter::default()),
        mount: mount.into(),
        master_key: master_key.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_parse_rules_and_auth_limits() {
        let rules = parse_rules(r#"[{"requestPath":"/functions/*","requestTimeWindow":10000,"requestCount":5,"zone":"user","requestMethods":"POST"}]"#).unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].zone, Zone::User);
        assert_eq!(rules[0].methods, vec![Method::POST]);
        assert!(parse_rules(r#"[{"requestPath":"/x"}]"#).is_err());
        assert_eq!(
            parse_auth_limit("30/60s").unwrap(),
            Some((30, Duration::from_secs(60)))
        );
        assert_eq!(parse_auth_limit("off").unwrap(), None);
        assert!(parse_auth_limit("lots").is_err());
    }
}
