//! Rate limits: Parse's `rateLimit` rules (a path pattern, methods, a window, a count and a
//! zone: per IP, per user, per session or global) plus basalt's limits on the identity routes
//! (log-in, sign-up, password reset). Counting sits behind `RateLimiter` so several nodes can
//! share counters (the binary's Redis limiter) while one node counts in memory.
//!
//! Counter keys name the rule and who is counted, never a secret: a session token is counted
//! under a digest of it, since shared counters are readable by whoever can read the Redis.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sha2::{Digest as _, Sha256};

use crate::ClientAddr;

/// Counts hits per key in fixed windows. Never fails: a limiter that cannot reach its counters
/// decides for itself what to answer (the Redis one counts locally meanwhile).
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Records a hit; `Some(wait)` when the key is over `max` hits in the current `window`,
    /// `wait` being what is left of that window.
    async fn hit(&self, key: &str, window: Duration, max: u32) -> Option<Duration>;
}

/// Counters in this process's memory.
#[derive(Default)]
pub struct LocalRateLimiter {
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

/// Keys tracked before expired windows are swept.
const SWEEP_AT: usize = 100_000;

#[async_trait]
impl RateLimiter for LocalRateLimiter {
    async fn hit(&self, key: &str, window: Duration, max: u32) -> Option<Duration> {
        let now = Instant::now();
        let mut map = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= SWEEP_AT {
            map.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = map.entry(key.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= window {
            *entry = (now, 0);
        }
        entry.1 += 1;
        (entry.1 > max).then(|| window.saturating_sub(now.duration_since(entry.0)))
    }
}

/// Who shares one counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// Each client address.
    Ip,
    /// Each session token (callers without one share their address's counter).
    Session,
    /// Each user (by session token here; a user's sessions are counted apart).
    User,
    /// Everyone together.
    Global,
}

/// One rule.
#[derive(Debug, Clone)]
pub struct RateRule {
    /// Path pattern below the mount path, `*` matching anything (`/functions/*`).
    pub path: regex::Regex,
    /// Methods it applies to (empty: all).
    pub methods: Vec<Method>,
    /// Window length.
    pub window: Duration,
    /// Requests allowed per window.
    pub max: u32,
    /// Counter sharing.
    pub zone: Zone,
    /// The error text.
    pub message: String,
    /// Whether master-key requests count too.
    pub include_master: bool,
}

impl RateRule {
    /// Compiles a Parse-style path pattern.
    pub fn path_pattern(pattern: &str) -> Result<regex::Regex, regex::Error> {
        let escaped: Vec<String> = pattern.split('*').map(regex::escape).collect();
        regex::Regex::new(&format!("^{}$", escaped.join(".*")))
    }

    /// The rule's part of its counters' keys: its place in the list and its numbers, so nodes
    /// sharing counters while their configurations differ (a rolling change) count a changed
    /// rule apart rather than under another rule's limit.
    fn counter_id(&self, index: usize) -> String {
        format!("r{index}-{}-{}", self.window.as_millis(), self.max)
    }
}

/// A rule and the counters it is counted in.
#[derive(Clone)]
pub struct Limit {
    /// The rule.
    pub rule: RateRule,
    /// Its counters: this node's memory, or shared ones.
    pub counter: Arc<dyn RateLimiter>,
}

/// The rules and the counters they use.
#[derive(Clone)]
pub struct RateLimits {
    /// Rules in order; every matching rule counts.
    pub limits: Arc<Vec<Limit>>,
    /// The mount path, stripped before matching.
    pub mount: Arc<str>,
    /// The master key, to tell master requests apart.
    pub master_key: Arc<str>,
}

fn too_many(message: &str, wait: Duration) -> Response {
    let mut res = (
        StatusCode::TOO_MANY_REQUESTS,
        axum::Json(json!({"code": 100, "error": message})),
    )
        .into_response();
    // Whole seconds, rounded up: a client that waits that long finds a new window.
    let secs = wait.as_millis().div_ceil(1000).max(1).to_string();
    if let Ok(v) = HeaderValue::from_str(&secs) {
        res.headers_mut().insert("retry-after", v);
    }
    res
}

impl RateLimits {
    /// Counts one request against every matching rule; the 429 to send when one is exceeded.
    pub(crate) async fn check(
        &self,
        method: &Method,
        path: &str,
        ip: Option<IpAddr>,
        token: Option<&str>,
        is_master: bool,
    ) -> Option<Response> {
        let path = path.strip_prefix(&*self.mount).unwrap_or(path);
        for (i, Limit { rule, counter }) in self.limits.iter().enumerate() {
            if !rule.path.is_match(path)
                || (!rule.methods.is_empty() && !rule.methods.contains(method))
            {
                continue;
            }
            if is_master && !rule.include_master {
                continue;
            }
            let who = match (rule.zone, token) {
                (Zone::Global, _) => "global".to_owned(),
                (Zone::Session | Zone::User, Some(t)) => format!("s:{}", token_digest(t)),
                (Zone::Ip | Zone::Session | Zone::User, _) => {
                    format!("ip:{}", ip.map(|a| a.to_string()).unwrap_or_default())
                }
            };
            let key = format!("{}:{who}", rule.counter_id(i));
            if let Some(wait) = counter.hit(&key, rule.window, rule.max).await {
                return Some(too_many(&rule.message, wait));
            }
        }
        None
    }
}

/// Half a SHA-256 of a session token, in hex: tells tokens apart without revealing them.
fn token_digest(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest[..16]
        .iter()
        .fold(String::with_capacity(32), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The middleware.
pub(crate) async fn rate_limit(
    State(limits): State<RateLimits>,
    req: Request,
    next: Next,
) -> Response {
    if limits.limits.is_empty() {
        return next.run(req).await;
    }
    let ip: Option<IpAddr> = req.extensions().get::<ClientAddr>().map(|c| c.0);
    let (is_master, token) = {
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        (
            header("x-parse-master-key").is_some_and(|k| *k == *limits.master_key),
            header("x-parse-session-token"),
        )
    };
    let (method, path) = (req.method().clone(), req.uri().path().to_owned());
    if let Some(refused) = limits
        .check(&method, &path, ip, token.as_deref(), is_master)
        .await
    {
        return refused;
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_per_window() {
        let l = LocalRateLimiter::default();
        let w = Duration::from_secs(60);
        assert!(l.hit("k", w, 2).await.is_none());
        assert!(l.hit("k", w, 2).await.is_none());
        assert!(l.hit("k", w, 2).await.is_some());
        assert!(l.hit("other", w, 2).await.is_none());
        let short = Duration::from_millis(20);
        assert!(l.hit("s", short, 1).await.is_none());
        assert!(l.hit("s", short, 1).await.is_some());
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(
            l.hit("s", short, 1).await.is_none(),
            "a new window starts afresh"
        );
    }

    /// Remembers the keys it is asked about; never refuses.
    #[derive(Default)]
    struct Keys(Mutex<Vec<String>>);

    #[async_trait]
    impl RateLimiter for Keys {
        async fn hit(&self, key: &str, _window: Duration, _max: u32) -> Option<Duration> {
            self.0.lock().unwrap().push(key.to_owned());
            None
        }
    }

    #[tokio::test]
    async fn counter_keys_name_rule_and_caller_but_never_a_token() {
        let keys = Arc::new(Keys::default());
        let rule = |zone| Limit {
            rule: RateRule {
                path: RateRule::path_pattern("/x").unwrap(),
                methods: vec![],
                window: Duration::from_secs(60),
                max: 5,
                zone,
                message: String::new(),
                include_master: false,
            },
            counter: keys.clone(),
        };
        let limits = RateLimits {
            limits: Arc::new(vec![rule(Zone::Ip), rule(Zone::Session)]),
            mount: "/parse".into(),
            master_key: "mk".into(),
        };
        let ip = "203.0.113.9".parse().ok();

        limits
            .check(&Method::GET, "/parse/x", ip, Some("r:secret-token"), false)
            .await;

        let seen = keys.0.lock().unwrap().clone();
        assert_eq!(seen[0], "r0-60000-5:ip:203.0.113.9");
        assert!(seen[1].starts_with("r1-60000-5:s:"), "{seen:?}");
        assert_eq!(seen[1].len(), "r1-60000-5:s:".len() + 32);
        assert!(!seen[1].contains("secret"), "{seen:?}");
    }

    #[test]
    fn path_patterns() {
        let p = RateRule::path_pattern("/functions/*").unwrap();
        assert!(p.is_match("/functions/hello"));
        assert!(!p.is_match("/classes/x"));
        assert!(RateRule::path_pattern("/login").unwrap().is_match("/login"));
    }
}
