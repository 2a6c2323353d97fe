//! Rate-limit counters every node shares through Redis: one fixed-window counter per key,
//! counted and given its expiry by one script, so that nodes counting the same key at the same
//! instant neither lose a hit nor leave a counter that never expires.
//!
//! When Redis does not answer (down, unreachable, or slower than `HIT_TIMEOUT`) the limiter
//! fails open to this node's memory: it counts there, warns at most once every `WARN_EVERY`,
//! and lets one request try Redis again every `RETRY_AFTER`. Refusing requests instead would
//! turn a Redis outage into an outage of every limited route (log-in included), and not
//! counting at all would leave log-in open to guessing for as long as Redis is away; counting
//! locally keeps the limit each node would enforce on its own. Nothing here panics or fails a
//! request.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use basalt_api::ratelimit::{LocalRateLimiter, RateLimiter};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// Counts a hit and returns `{count, milliseconds left in the window}`. The expiry is set when
/// the key has none, which is right after the INCR that created it (and heals a key whose
/// expiry was removed by hand).
const HIT_SCRIPT: &str = r"
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
";

/// Longest a request waits on Redis before it is counted locally. Redis answers a script in
/// well under a millisecond on a working network.
const HIT_TIMEOUT: Duration = Duration::from_millis(500);
/// While Redis is failing, how often one request tries it again.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// While Redis is failing, how often the warning is repeated.
const WARN_EVERY: Duration = Duration::from_secs(60);
/// Longest a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Counters in Redis under `basalt:rl:<app id>:`, with this node's memory as the fallback.
pub struct RedisRateLimiter {
    connection: ConnectionManager,
    script: redis::Script,
    prefix: String,
    fallback: LocalRateLimiter,
    health: Health,
    /// The URL without its password, for logs.
    shown_url: String,
}

impl RedisRateLimiter {
    /// A limiter for the Redis at `url`; connects on first use, and again whenever the
    /// connection is lost. A `rediss://` URL is checked against `ca` (PEM) when given, else
    /// against the system's roots.
    pub fn new(url: &str, app_id: &str, ca: Option<&[u8]>) -> anyhow::Result<RedisRateLimiter> {
        let client = match ca {
            Some(pem) if url.starts_with("rediss://") => redis::Client::build_with_tls(
                url,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem.to_vec()),
                },
            )?,
            _ => redis::Client::open(url)?,
        };
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(HIT_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(RETRY_AFTER);
        Ok(RedisRateLimiter {
            connection: ConnectionManager::new_lazy_with_config(client, config)?,
            script: redis::Script::new(HIT_SCRIPT),
            prefix: format!("basalt:rl:{app_id}:"),
            fallback: LocalRateLimiter::default(),
            health: Health::new(),
            shown_url: shown_url(url),
        })
    }

    /// The URL as logs show it.
    pub fn shown_url(&self) -> &str {
        &self.shown_url
    }

    /// Whether Redis answers now (for the start-up report).
    pub async fn ping(&self) -> Result<(), String> {
        let mut conn = self.connection.clone();
        let cmd = redis::cmd("PING");
        let ping = cmd.query_async::<String>(&mut conn);
        match tokio::time::timeout(CONNECT_TIMEOUT * 2, ping).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {:?}", CONNECT_TIMEOUT * 2)),
        }
    }

    async fn shared_hit(&self, key: &str, window: Duration) -> redis::RedisResult<(u64, i64)> {
        let mut conn = self.connection.clone();
        let window_ms = u64::try_from(window.as_millis())
            .unwrap_or(u64::MAX)
            .clamp(1, i64::MAX as u64);
        self.script
            .key(format!("{}{key}", self.prefix))
            .arg(window_ms)
            .invoke_async(&mut conn)
            .await
    }
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn hit(&self, key: &str, window: Duration, max: u32) -> Option<Duration> {
        if self.health.may_try() {
            match tokio::time::timeout(HIT_TIMEOUT, self.shared_hit(key, window)).await {
                Ok(Ok((count, left_ms))) => {
                    self.health.answered(&self.shown_url);
                    let left = Duration::from_millis(u64::try_from(left_ms).unwrap_or(0));
                    return (count > u64::from(max)).then_some(left);
                }
                Ok(Err(e)) => self.health.failed(&self.shown_url, &e),
                Err(_) => self.health.failed(
                    &self.shown_url,
                    &format!("no answer within {HIT_TIMEOUT:?}"),
                ),
            }
        }
        self.fallback.hit(key, window, max).await
    }
}

/// Whether Redis is answering, when to try it again, and when the last warning was logged;
/// times in milliseconds since `start`.
struct Health {
    start: Instant,
    /// 0 while Redis answers; otherwise no request tries Redis before this time.
    retry_at: AtomicU64,
    down: AtomicBool,
    warned_at: AtomicU64,
}

impl Health {
    fn new() -> Health {
        Health {
            start: Instant::now(),
            retry_at: AtomicU64::new(0),
            down: AtomicBool::new(false),
            warned_at: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        // At least 1, so that a time is never mistaken for "Redis answers".
        u64::try_from(self.start.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// Whether this request should go to Redis: always while it answers; while it fails, one
    /// request each `RETRY_AFTER` (the one that moves the next retry time on).
    fn may_try(&self) -> bool {
        let retry_at = self.retry_at.load(Ordering::Acquire);
        if retry_at == 0 {
            return true;
        }
        let now = self.now_ms();
        now >= retry_at
            && self
                .retry_at
                .compare_exchange(
                    retry_at,
                    now + RETRY_AFTER.as_millis() as u64,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
    }

    fn failed(&self, url: &str, error: &dyn std::fmt::Display) {
        let now = self.now_ms();
        self.retry_at
            .store(now + RETRY_AFTER.as_millis() as u64, Ordering::Release);
        let newly = !self.down.swap(true, Ordering::AcqRel);
        let last = self.warned_at.load(Ordering::Acquire);
        let due = newly || now.saturating_sub(last) >= WARN_EVERY.as_millis() as u64;
        if due
            && self
                .warned_at
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            tracing::warn!(
                redis = url,
                error = %error,
                "Redis for shared rate limits is not answering: counting in this node's memory \
                 (limits hold per node) until it answers"
            );
        }
    }

    fn answered(&self, url: &str) {
        if self.retry_at.load(Ordering::Acquire) != 0 {
            self.retry_at.store(0, Ordering::Release);
        }
        if self.down.swap(false, Ordering::AcqRel) {
            tracing::info!(
                redis = url,
                "Redis answers again: rate limits are shared again"
            );
        }
    }
}

/// `url` without its password.
pub fn shown_url(url: &str) -> String {
    basalt_store::redacted_uri(url)
}

#[cfg(test)]
mod tests;
