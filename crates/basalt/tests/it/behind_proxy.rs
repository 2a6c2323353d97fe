//! Several nodes behind a load balancer, as docs/deploy.md describes: two nodes on one
//! PostgreSQL database behind a real nginx, counting rate limits in one Redis and trusting
//! nginx (only) to name the client in X-Forwarded-For. A limit holds for the nodes together;
//! clients behind nginx are counted apart and cannot choose their address; a session made
//! through one node works through the other; and when Redis stops, nodes keep answering and
//! count in their memory until it is back.
//!
//! Clients are told apart by their own loopback source address (127.0.0.10, .11, …), nginx
//! connects to the nodes from `nginx::FROM`. Each test uses its own application id, which
//! namespaces its counters in the shared Redis. Without PostgreSQL, Redis or nginx the tests
//! say they were skipped; with `BASALT_REQUIRE_POSTGRES=1` (CI) that is a failure.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use basalt_store::testing::pg::FreshDatabase;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::TestServer;
use crate::support::nginx::{self, Nginx};
use crate::support::redis_server::RedisServer;
use crate::support::server::MASTER_KEY;
use crate::support::services;

/// Requests the test rule allows per client and window.
const LIMIT: usize = 4;
/// The test rule's window, in seconds.
const WINDOW_SECS: u64 = 60;
/// The one client the nodes accept the master key from.
const ADMIN: &str = "127.0.0.10";

fn ping_rule(limit: usize) -> String {
    json!([{
        "requestPath": "/classes/Ping",
        "requestMethods": ["GET"],
        "requestTimeWindow": WINDOW_SECS * 1000,
        "requestCount": limit,
        "zone": "ip",
    }])
    .to_string()
}

/// An application id no other test or run uses.
fn unique_app(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{test}-{}-{nanos}", std::process::id())
}

/// One HTTP client per loopback source address: one "machine" on the internet.
struct Client {
    http: reqwest::Client,
    app_id: String,
}

#[derive(Debug)]
struct Reply {
    status: u16,
    body: Value,
    retry_after: Option<u64>,
    /// The node nginx passed the request to.
    upstream: Option<String>,
}

impl Client {
    fn at(source: &str, app_id: &str) -> anyhow::Result<Client> {
        Ok(Client {
            http: reqwest::Client::builder()
                .local_address(source.parse::<std::net::IpAddr>()?)
                .no_proxy()
                .build()?,
            app_id: app_id.to_owned(),
        })
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> anyhow::Result<Reply> {
        let mut req = self
            .http
            .request(method, url)
            .header("X-Parse-Application-Id", &self.app_id);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await?;
        let header = |name: &str| {
            res.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (retry_after, upstream) = (
            header("retry-after").and_then(|v| v.parse().ok()),
            header("x-upstream"),
        );
        let status = res.status().as_u16();
        let text = res.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Reply {
            status,
            body,
            retry_after,
            upstream,
        })
    }

    /// A request the test rule counts.
    async fn ping(&self, base: &str, headers: &[(&str, &str)]) -> anyhow::Result<Reply> {
        self.send(Method::GET, &format!("{base}/classes/Ping"), headers, None)
            .await
    }
}

/// Two nodes on one fresh database and the shared Redis, behind nginx.
struct Stack {
    a: TestServer,
    nginx: Nginx,
    app_id: String,
    redis_url: String,
    _b: TestServer,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

impl Stack {
    /// The API's URL through nginx.
    fn via_nginx(&self) -> String {
        format!("{}/parse", self.nginx.url)
    }

    /// Counter keys in Redis for a client address.
    async fn counters_of(&self, client: &str) -> anyhow::Result<Vec<(String, i64, i64)>> {
        counters(&self.redis_url, &self.app_id, client).await
    }
}

async fn stack(test: &str) -> anyhow::Result<Option<Stack>> {
    let Some(redis_url) = services::redis_url(test).await? else {
        return Ok(None);
    };
    if nginx::program().is_none() {
        return services::unavailable(
            test,
            "nginx is not installed (apt-get install nginx)".into(),
        );
    }
    let Some(db) = FreshDatabase::create(test).await? else {
        return Ok(None);
    };
    let db = Arc::new(db);
    let app_id = unique_app(test);
    let rule = ping_rule(LIMIT);
    let args = [
        "--app-id",
        &app_id,
        "--master-key",
        MASTER_KEY,
        "--master-key-ips",
        ADMIN,
        "--redis-url",
        &redis_url,
        "--trust-proxy",
        nginx::FROM,
        "--rate-limit",
        &rule,
    ];
    let (dir_a, dir_b) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let a = TestServer::start_on(dir_a.path(), Some(Arc::clone(&db)), &args).await?;
    let b = TestServer::start_on(dir_b.path(), Some(db), &args).await?;
    let Some(nginx) = Nginx::start(test, &[a.addr()?, b.addr()?]).await? else {
        return Ok(None);
    };
    Ok(Some(Stack {
        a,
        nginx,
        app_id,
        redis_url,
        _b: b,
        _dirs: (dir_a, dir_b),
    }))
}

/// `(key, count, milliseconds left)` of each counter in Redis for `client` of `app_id`.
async fn counters(
    redis_url: &str,
    app_id: &str,
    client: &str,
) -> anyhow::Result<Vec<(String, i64, i64)>> {
    let mut conn = redis::Client::open(redis_url)?
        .get_multiplexed_async_connection()
        .await?;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("basalt:rl:{app_id}:*:ip:{client}"))
        .query_async(&mut conn)
        .await?;
    let mut out = Vec::new();
    for key in keys {
        let count: i64 = redis::cmd("GET").arg(&key).query_async(&mut conn).await?;
        let left: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut conn).await?;
        out.push((key, count, left));
    }
    Ok(out)
}

#[tokio::test]
async fn a_limit_holds_for_both_nodes_together_behind_nginx() -> anyhow::Result<()> {
    let Some(s) = stack("a_limit_holds_for_both_nodes_together").await? else {
        return Ok(());
    };
    let client = Client::at("127.0.0.10", &s.app_id)?;

    let mut nodes = BTreeSet::new();
    for i in 0..LIMIT {
        let r = client.ping(&s.via_nginx(), &[]).await?;
        assert_eq!(r.status, 200, "request {i}: {r:?}");
        nodes.insert(r.upstream.context("nginx names the node")?);
    }
    let refused = client.ping(&s.via_nginx(), &[]).await?;

    assert_eq!(nodes.len(), 2, "nginx spread the requests: {nodes:?}");
    assert_eq!(refused.status, 429, "{refused:?}");
    assert_eq!(
        refused.body,
        json!({"code": 100, "error": "Too many requests."})
    );
    let wait = refused.retry_after.context("Retry-After")?;
    assert!((1..=WINDOW_SECS).contains(&wait), "Retry-After: {wait}");
    let counters = s.counters_of("127.0.0.10").await?;
    assert_eq!(counters.len(), 1, "{counters:?}");
    let (key, count, left) = &counters[0];
    assert_eq!(
        *count,
        LIMIT as i64 + 1,
        "{key}: every request counted once"
    );
    assert!(
        *left > 0 && *left <= (WINDOW_SECS * 1000) as i64,
        "{key} expires with its window: {left} ms"
    );
    Ok(())
}

#[tokio::test]
async fn clients_behind_a_trusted_nginx_are_counted_apart_and_cannot_pick_their_address()
-> anyhow::Result<()> {
    let Some(s) = stack("clients_behind_a_trusted_nginx").await? else {
        return Ok(());
    };
    let (x, y) = (
        Client::at("127.0.0.10", &s.app_id)?,
        Client::at("127.0.0.11", &s.app_id)?,
    );
    for i in 0..LIMIT {
        let r = x.ping(&s.via_nginx(), &[]).await?;
        assert_eq!(r.status, 200, "request {i}: {r:?}");
    }

    let again = x.ping(&s.via_nginx(), &[]).await?;
    let forged = x
        .ping(&s.via_nginx(), &[("X-Forwarded-For", "198.51.100.7")])
        .await?;
    let other = y.ping(&s.via_nginx(), &[]).await?;

    assert_eq!(again.status, 429, "{again:?}");
    assert_eq!(
        forged.status, 429,
        "an address the client wrote before nginx's is not believed: {forged:?}"
    );
    assert_eq!(
        other.status, 200,
        "another client behind the same nginx has its own counter: {other:?}"
    );
    assert_eq!(s.counters_of("198.51.100.7").await?, vec![]);
    Ok(())
}

#[tokio::test]
async fn a_forged_forwarded_for_sent_straight_to_a_node_is_ignored() -> anyhow::Result<()> {
    let Some(s) = stack("a_forged_forwarded_for_sent_straight_to_a_node").await? else {
        return Ok(());
    };
    let z = Client::at("127.0.0.12", &s.app_id)?;

    let mut statuses = Vec::new();
    for i in 0..=LIMIT {
        let claimed = format!("198.51.100.{i}");
        let r = z.ping(&s.a.url, &[("X-Forwarded-For", &claimed)]).await?;
        statuses.push(r.status);
    }
    let through_nginx = z.ping(&s.via_nginx(), &[]).await?;

    let mut expected = vec![200; LIMIT];
    expected.push(429);
    assert_eq!(
        statuses, expected,
        "a node that does not trust its caller counts the caller, whatever it claims"
    );
    assert_eq!(
        through_nginx.status, 429,
        "the same client through nginx is the same address, over the same limit"
    );
    Ok(())
}

#[tokio::test]
async fn master_key_ips_see_the_client_behind_nginx() -> anyhow::Result<()> {
    let Some(s) = stack("master_key_ips_see_the_client_behind_nginx").await? else {
        return Ok(());
    };
    let (admin, other) = (
        Client::at(ADMIN, &s.app_id)?,
        Client::at("127.0.0.11", &s.app_id)?,
    );
    let master = ("X-Parse-Master-Key", MASTER_KEY);
    let schemas = format!("{}/schemas", s.via_nginx());

    let allowed = admin.send(Method::GET, &schemas, &[master], None).await?;
    let refused = other.send(Method::GET, &schemas, &[master], None).await?;
    let forged = other
        .send(
            Method::GET,
            &schemas,
            &[master, ("X-Forwarded-For", ADMIN)],
            None,
        )
        .await?;

    assert_eq!(allowed.status, 200, "{allowed:?}");
    assert_eq!(
        (refused.status, &refused.body),
        (403, &json!({"error": "unauthorized"}))
    );
    assert_eq!(forged.status, 403, "{forged:?}");
    Ok(())
}

#[tokio::test]
async fn a_session_made_through_one_node_works_through_the_other() -> anyhow::Result<()> {
    let Some(s) = stack("a_session_made_through_one_node_works_through_the_other").await? else {
        return Ok(());
    };
    let c = Client::at("127.0.0.10", &s.app_id)?;
    let signed_up = c
        .send(
            Method::POST,
            &format!("{}/users", s.via_nginx()),
            &[],
            Some(json!({"username": "ann", "password": "a long password"})),
        )
        .await?;
    assert_eq!(signed_up.status, 201, "{signed_up:?}");
    let token = signed_up.body["sessionToken"]
        .as_str()
        .context("a session token")?;
    let made_on = signed_up.upstream.context("nginx names the node")?;

    let mut served_by = BTreeSet::new();
    for _ in 0..4 {
        let me = c
            .send(
                Method::GET,
                &format!("{}/users/me", s.via_nginx()),
                &[("X-Parse-Session-Token", token)],
                None,
            )
            .await?;
        assert_eq!(me.status, 200, "{me:?}");
        assert_eq!(me.body["objectId"], signed_up.body["objectId"]);
        served_by.insert(me.upstream.context("nginx names the node")?);
    }

    assert!(
        served_by.iter().any(|n| *n != made_on),
        "the other node answered too: made on {made_on}, used on {served_by:?}"
    );
    Ok(())
}

/// Waits until `node` counts in Redis again: a fresh client's hit shows up there.
async fn counts_in_redis_again(
    node: &TestServer,
    redis_url: &str,
    app_id: &str,
    mut next_client: impl FnMut() -> String,
) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let client = next_client();
        let r = Client::at(&client, app_id)?.ping(&node.url, &[]).await?;
        assert_eq!(r.status, 200, "{r:?}");
        if !counters(redis_url, app_id, &client).await?.is_empty() {
            return Ok(());
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(10),
            "{} does not count in Redis 10 s after it came back",
            node.url
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn when_redis_stops_nodes_count_alone_and_share_again_once_it_is_back() -> anyhow::Result<()>
{
    let test = "when_redis_stops_nodes_count_alone";
    let Some(mut redis) = RedisServer::start(test).await? else {
        return Ok(());
    };
    let app_id = unique_app(test);
    let (rule, redis_url) = (ping_rule(3), redis.url());
    let args = [
        "--app-id",
        &app_id,
        "--master-key",
        MASTER_KEY,
        "--redis-url",
        &redis_url,
        "--rate-limit",
        &rule,
    ];
    let a = TestServer::start_with(&args).await?;
    let b = TestServer::start_with(&args).await?;
    let statuses = |replies: &[Reply]| replies.iter().map(|r| r.status).collect::<Vec<_>>();
    let first = Client::at("127.0.0.20", &app_id)?;
    let shared = [
        first.ping(&a.url, &[]).await?,
        first.ping(&b.url, &[]).await?,
        first.ping(&a.url, &[]).await?,
        first.ping(&b.url, &[]).await?,
    ];
    assert_eq!(statuses(&shared), [200, 200, 200, 429]);

    redis.stop().await?;
    let second = Client::at("127.0.0.21", &app_id)?;
    let alone = [
        second.ping(&a.url, &[]).await?,
        second.ping(&a.url, &[]).await?,
        second.ping(&a.url, &[]).await?,
        second.ping(&a.url, &[]).await?,
        second.ping(&b.url, &[]).await?,
        first.ping(&a.url, &[]).await?,
    ];

    assert_eq!(
        statuses(&alone),
        [200, 200, 200, 429, 200, 200],
        "each node counts alone (no error, the limit holds per node), and what only Redis \
         counted is forgotten: {alone:?}"
    );

    redis.restart().await?;
    let mut n = 30;
    let mut next_client = || {
        n += 1;
        format!("127.0.0.{n}")
    };
    counts_in_redis_again(&a, &redis_url, &app_id, &mut next_client).await?;
    counts_in_redis_again(&b, &redis_url, &app_id, &mut next_client).await?;
    let third = Client::at("127.0.1.3", &app_id)?;
    let shared_again = [
        third.ping(&a.url, &[]).await?,
        third.ping(&b.url, &[]).await?,
        third.ping(&a.url, &[]).await?,
        third.ping(&b.url, &[]).await?,
    ];

    assert_eq!(statuses(&shared_again), [200, 200, 200, 429]);
    Ok(())
}
