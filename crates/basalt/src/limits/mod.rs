//! Building the rate-limit rules from configuration: Parse's `rateLimit` array and basalt's
//! limit on the identity routes, each counted in this node's memory or, with a Redis URL
//! (`--redis-url`, or a rule's own `redisUrl`), in Redis where every node shares the counters.

mod redis_counters;

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use basalt_api::ratelimit::{Limit, LocalRateLimiter, RateLimiter, RateLimits, RateRule, Zone};
use serde_json::Value;

use crate::config::Secret;
use redis_counters::RedisRateLimiter;

/// A configured rule and the Redis its counters live in, if it names one (Parse's per-rule
/// `redisUrl`).
#[derive(Debug, Clone)]
pub struct RuleSpec {
    /// The rule.
    pub rule: RateRule,
    /// Its own Redis.
    pub redis_url: Option<Secret>,
}

/// Checks a Redis URL without connecting: `redis://[:PASSWORD@]HOST[:PORT][/DB]`,
/// `rediss://…` (TLS) or `redis+unix:///PATH`.
pub fn check_redis_url(url: &str) -> Result<(), String> {
    redis::Client::open(url)
        .map(drop)
        .map_err(|e| format!("Redis URL {}: {e}", redis_counters::shown_url(url)))
}

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
pub fn parse_rules(json: &str) -> Result<Vec<RuleSpec>, String> {
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
            let redis_url = match r.get("redisUrl") {
                None | Some(Value::Null) => None,
                Some(Value::String(url)) => {
                    check_redis_url(url)?;
                    Some(Secret(url.clone()))
                }
                Some(_) => return Err("rateLimit redisUrl must be a string".to_owned()),
            };
            let rule = RateRule {
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
            };
            Ok(RuleSpec { rule, redis_url })
        })
        .collect()
}

/// Where the limits are counted and who shares them.
pub struct Counting<'a> {
    /// Redis for every rule without its own `redisUrl`, the identity routes' limit included.
    pub redis_url: Option<&'a str>,
    /// The application id, which namespaces the keys in Redis.
    pub app_id: &'a str,
    /// PEM certificates that `rediss://` connections trust instead of the system's roots.
    pub redis_ca: Option<&'a [u8]>,
}

/// The limits to serve with. Connections to Redis are opened in the background; each distinct
/// URL gets one, shared by its rules. Says in the log where the counters live.
pub async fn build(
    rules: Vec<RuleSpec>,
    auth: Option<(u32, Duration)>,
    counting: Counting<'_>,
    mount: &str,
    master_key: &str,
) -> anyhow::Result<RateLimits> {
    let mut all = Vec::new();
    if let Some((max, window)) = auth {
        for (path, methods) in AUTH_ROUTES {
            if let Ok(pattern) = RateRule::path_pattern(path) {
                all.push(RuleSpec {
                    rule: RateRule {
                        path: pattern,
                        methods: methods.to_vec(),
                        window,
                        max,
                        zone: Zone::Ip,
                        message: "Too many requests.".to_owned(),
                        include_master: false,
                    },
                    redis_url: None,
                });
            }
        }
    }
    all.extend(rules);
    let local: Arc<dyn RateLimiter> = Arc::new(LocalRateLimiter::default());
    let mut shared: BTreeMap<String, (Arc<RedisRateLimiter>, usize)> = BTreeMap::new();
    let mut limits = Vec::with_capacity(all.len());
    for RuleSpec { rule, redis_url } in all {
        let url = redis_url
            .map(|s| s.0)
            .or(counting.redis_url.map(str::to_owned));
        let counter: Arc<dyn RateLimiter> = match url {
            None => Arc::clone(&local),
            Some(url) => {
                let (limiter, count) = match shared.entry(url) {
                    Entry::Occupied(e) => e.into_mut(),
                    Entry::Vacant(e) => {
                        let limiter =
                            RedisRateLimiter::new(e.key(), counting.app_id, counting.redis_ca)?;
                        e.insert((Arc::new(limiter), 0))
                    }
                };
                *count += 1;
                Arc::clone(limiter) as Arc<dyn RateLimiter>
            }
        };
        limits.push(Limit { rule, counter });
    }
    report(&shared, limits.len()).await;
    Ok(RateLimits {
        limits: Arc::new(limits),
        mount: mount.into(),
        master_key: master_key.into(),
    })
}

/// Logs which rules share their counters through which Redis, and whether it answers now.
async fn report(shared: &BTreeMap<String, (Arc<RedisRateLimiter>, usize)>, total: usize) {
    for (limiter, rules) in shared.values() {
        match limiter.ping().await {
            Ok(()) => tracing::info!(
                redis = limiter.shown_url(),
                rules,
                "rate limits are shared through Redis"
            ),
            Err(error) => tracing::warn!(
                redis = limiter.shown_url(),
                rules,
                %error,
                "rate limits are to be shared through Redis, which is not answering: counting \
                 in this node's memory until it answers"
            ),
        }
    }
    let local = total - shared.values().map(|(_, n)| n).sum::<usize>();
    if local > 0 {
        tracing::debug!(rules = local, "rate limits counted in this node's memory");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_parse_rules_and_auth_limits() {
        let rules = parse_rules(r#"[{"requestPath":"/functions/*","requestTimeWindow":10000,"requestCount":5,"zone":"user","requestMethods":"POST"}]"#).unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].rule.zone, Zone::User);
        assert_eq!(rules[0].rule.methods, vec![Method::POST]);
        assert_eq!(rules[0].redis_url, None);
        assert!(parse_rules(r#"[{"requestPath":"/x"}]"#).is_err());
        assert_eq!(
            parse_auth_limit("30/60s").unwrap(),
            Some((30, Duration::from_secs(60)))
        );
        assert_eq!(parse_auth_limit("off").unwrap(), None);
        assert!(parse_auth_limit("lots").is_err());
    }
}
