//! Rate-limit counters in a Redis reached over TLS (`rediss://`): a real redis-server that
//! speaks only TLS, with a certificate a test CA signed. With `--redis-ca-file` naming that CA
//! the node counts in Redis; without it the certificate is not trusted, so nothing reaches
//! Redis and the node counts in its own memory, as it does whenever Redis cannot be used.

use anyhow::Context as _;
use reqwest::Method;
use serde_json::json;

use crate::support::TestServer;
use crate::support::redis_server::RedisServer;
use crate::support::server::{APP_ID, MASTER_KEY};

/// Requests the rule allows per client and window.
const LIMIT: usize = 2;

fn rule() -> String {
    json!([{
        "requestPath": "/classes/Ping",
        "requestMethods": ["GET"],
        "requestTimeWindow": 60_000,
        "requestCount": LIMIT,
        "zone": "ip",
    }])
    .to_string()
}

/// Statuses of `LIMIT + 1` counted requests.
async fn statuses(server: &TestServer) -> anyhow::Result<Vec<u16>> {
    let mut out = Vec::new();
    for _ in 0..=LIMIT {
        out.push(
            server
                .request(Method::GET, "/classes/Ping", None, false)
                .await?
                .0,
        );
    }
    Ok(out)
}

/// The counter keys in the TLS Redis, read over TLS with the test CA.
async fn counter_keys(redis: &RedisServer) -> anyhow::Result<Vec<(String, i64)>> {
    let ca = std::fs::read(redis.tls().context("not a TLS server")?.ca_file())?;
    let client = redis::Client::build_with_tls(
        redis.url(),
        redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(ca),
        },
    )?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("basalt:rl:{APP_ID}:*"))
        .query_async(&mut conn)
        .await?;
    let mut out = Vec::new();
    for key in keys {
        let count: i64 = redis::cmd("GET").arg(&key).query_async(&mut conn).await?;
        out.push((key, count));
    }
    Ok(out)
}

/// A node counting the rule's requests in `redis`, trusting the test CA when `trust_ca`.
async fn node(redis: &RedisServer, trust_ca: bool) -> anyhow::Result<TestServer> {
    let (url, rule) = (redis.url(), rule());
    let ca = redis.tls().context("not a TLS server")?.ca_file();
    let mut args = vec![
        "--app-id",
        APP_ID,
        "--master-key",
        MASTER_KEY,
        "--redis-url",
        &url,
        "--rate-limit",
        &rule,
    ];
    if trust_ca {
        args.extend([
            "--redis-ca-file",
            ca.to_str().context("the CA file's path is not UTF-8")?,
        ]);
    }
    TestServer::start_with(&args).await
}

#[tokio::test]
async fn limits_are_counted_in_a_redis_reached_over_tls() -> anyhow::Result<()> {
    let Some(redis) = RedisServer::start_tls("limits_counted_over_tls").await? else {
        return Ok(());
    };
    let server = node(&redis, true).await?;

    assert_eq!(statuses(&server).await?, [200, 200, 429]);

    let keys = counter_keys(&redis).await?;
    assert_eq!(keys.len(), 1, "one counter for the one client: {keys:?}");
    assert!(keys[0].0.ends_with(":ip:127.0.0.1"), "{keys:?}");
    assert_eq!(keys[0].1, 3, "every request counted in Redis: {keys:?}");
    Ok(())
}

#[tokio::test]
async fn a_redis_certificate_no_trusted_ca_signed_is_refused() -> anyhow::Result<()> {
    let Some(redis) = RedisServer::start_tls("untrusted_redis_certificate").await? else {
        return Ok(());
    };
    // No --redis-ca-file: the system's roots do not include the test CA.
    let server = node(&redis, false).await?;

    // The limit still holds, counted in the node's memory.
    assert_eq!(statuses(&server).await?, [200, 200, 429]);
    assert_eq!(
        counter_keys(&redis).await?,
        [],
        "nothing may reach a Redis whose certificate is not trusted"
    );
    Ok(())
}

#[tokio::test]
async fn a_missing_or_empty_redis_ca_file_stops_the_start() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n")?;
    for (file, says) in [
        (dir.path().join("missing.pem"), "No such file"),
        (empty, "no PEM certificate"),
    ] {
        let out = std::process::Command::new(crate::support::server::binary())
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .args(["--redis-url", "rediss://localhost:6380", "--redis-ca-file"])
            .arg(&file)
            .output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{}: started", file.display());
        assert!(
            stderr.contains("Redis CA file") && stderr.contains(says),
            "{}: {stderr}",
            file.display()
        );
    }
    Ok(())
}
