//! Against the Redis at `BASALT_TEST_REDIS_URL` (default redis://127.0.0.1:6379). Without one
//! the tests that need it say they were skipped, and fail with `BASALT_REQUIRE_POSTGRES=1` or
//! `BASALT_REQUIRE_REDIS=1` (the switches CI sets).

use std::io::Write as _;
use std::time::{Duration, Instant};

use super::*;

fn redis_url() -> String {
    std::env::var("BASALT_TEST_REDIS_URL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned())
}

fn required() -> bool {
    ["BASALT_REQUIRE_POSTGRES", "BASALT_REQUIRE_REDIS"]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|v| v == "1"))
}

/// An app id no other test run uses, so counters never meet.
fn unique_app(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("unit-{test}-{}-{nanos}", std::process::id())
}

/// Two limiters (two nodes) on the test Redis, or None after saying why the test is skipped.
async fn two_nodes(test: &str) -> Option<(RedisRateLimiter, RedisRateLimiter)> {
    let app = unique_app(test);
    let a = RedisRateLimiter::new(&redis_url(), &app, None).unwrap();
    if let Err(e) = a.ping().await {
        assert!(!required(), "Redis at {} is unreachable: {e}", redis_url());
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: Redis at {} is unreachable ({e}); set BASALT_REQUIRE_REDIS=1 to make this a failure",
            redis_url()
        );
        return None;
    }
    Some((a, RedisRateLimiter::new(&redis_url(), &app, None).unwrap()))
}

#[tokio::test]
async fn nodes_share_one_counter_per_key_and_window() {
    let Some((a, b)) = two_nodes("nodes_share_one_counter").await else {
        return;
    };
    let w = Duration::from_secs(60);

    assert!(a.hit("k", w, 3).await.is_none());
    assert!(b.hit("k", w, 3).await.is_none());
    assert!(a.hit("k", w, 3).await.is_none());
    let wait = b
        .hit("k", w, 3)
        .await
        .expect("the fourth hit across both is refused");
    assert!(b.hit("other", w, 3).await.is_none(), "keys count apart");

    assert!(
        wait <= w && wait > w - Duration::from_secs(5),
        "the wait is what is left of the window: {wait:?}"
    );
}

#[tokio::test]
async fn a_window_ends_and_counting_starts_afresh() {
    let Some((a, b)) = two_nodes("a_window_ends").await else {
        return;
    };
    let w = Duration::from_millis(300);

    assert!(a.hit("k", w, 1).await.is_none());
    assert!(b.hit("k", w, 1).await.is_some());
    tokio::time::sleep(Duration::from_millis(400)).await;

    assert!(b.hit("k", w, 1).await.is_none());
}

#[tokio::test]
async fn without_redis_it_counts_locally_and_never_waits_long() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let l = RedisRateLimiter::new(&format!("redis://127.0.0.1:{port}"), "unit-down", None).unwrap();
    let w = Duration::from_secs(60);
    let started = Instant::now();

    let answers = [
        l.hit("k", w, 2).await,
        l.hit("k", w, 2).await,
        l.hit("k", w, 2).await,
    ];

    assert_eq!(
        answers.map(|a| a.is_some()),
        [false, false, true],
        "the limit still holds, in this process"
    );
    assert!(
        started.elapsed() < HIT_TIMEOUT * 2,
        "only the first hit waited on Redis: {:?}",
        started.elapsed()
    );
    assert!(l.ping().await.is_err());
}

#[test]
fn shown_urls_hide_the_password() {
    assert_eq!(
        shown_url("redis://:hunter2@cache.internal:6379/0"),
        "redis://:***@cache.internal:6379/0"
    );
    assert_eq!(shown_url("redis://127.0.0.1"), "redis://127.0.0.1");
}
