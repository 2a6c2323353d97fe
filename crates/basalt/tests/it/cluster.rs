//! Two nodes on one PostgreSQL database behave as one server: sessions, log-outs, password
//! changes, schemas, class-level permissions and roles changed on one node hold on the other
//! within `BOUND`, far below the ten seconds a cached session lives. Each test makes its own
//! database, whatever `BASALT_TEST_STORE` says; without a reachable PostgreSQL the tests say
//! they were skipped (and fail with `BASALT_REQUIRE_POSTGRES=1`).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use basalt_auth::totp;
use basalt_store::testing::pg::FreshDatabase;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::TestServer;
use crate::support::server::{APP_ID, Caller, MASTER_KEY};

/// How long a change on one node may take to hold on the other.
const BOUND: Duration = Duration::from_secs(2);

/// Two nodes sharing one fresh database (kept by the nodes), each with its own data dir.
struct Pair {
    a: TestServer,
    b: TestServer,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

async fn two_nodes(test: &str) -> anyhow::Result<Option<Pair>> {
    two_nodes_with(test, &[]).await
}

/// `two_nodes`, both started with `extra` arguments too.
async fn two_nodes_with(test: &str, extra: &[&str]) -> anyhow::Result<Option<Pair>> {
    let Some(db) = FreshDatabase::create(test).await? else {
        return Ok(None);
    };
    let db = Arc::new(db);
    let keys = [&["--app-id", APP_ID, "--master-key", MASTER_KEY], extra].concat();
    let (dir_a, dir_b) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let a = TestServer::start_on(dir_a.path(), Some(Arc::clone(&db)), &keys).await?;
    let b = TestServer::start_on(dir_b.path(), Some(db), &keys).await?;
    Ok(Some(Pair {
        a,
        b,
        _dirs: (dir_a, dir_b),
    }))
}

/// A deadline for a change on one node to show on the other.
struct Bound(Instant);

impl Bound {
    fn start() -> Self {
        Self(Instant::now())
    }

    /// Pauses before the next look; fails once `BOUND` has passed.
    async fn wait(&self, what: &str) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.0.elapsed() < BOUND,
            "{what}: not seen within {BOUND:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok(())
    }
}

async fn sign_up(node: &TestServer, name: &str) -> anyhow::Result<(String, String)> {
    let (status, body) = node
        .request(
            Method::POST,
            "/users",
            Some(json!({"username": name, "password": "first password"})),
            false,
        )
        .await?;
    assert_eq!(status, 201, "{body}");
    Ok((
        body["objectId"].as_str().unwrap_or_default().to_owned(),
        body["sessionToken"].as_str().unwrap_or_default().to_owned(),
    ))
}

async fn me(node: &TestServer, token: &str) -> anyhow::Result<(u16, Value)> {
    node.request_as(Method::GET, "/users/me", None, Caller::Session(token))
        .await
}

#[tokio::test]
async fn a_session_made_on_one_node_opens_the_other_until_logged_out() -> anyhow::Result<()> {
    let Some(n) = two_nodes("a_session_made_on_one_node_opens_the_other").await? else {
        return Ok(());
    };
    let (id, token) = sign_up(&n.a, "ann").await?;

    let (status, body) = me(&n.b, &token).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["objectId"], json!(id));

    let (status, _) =
        n.a.request_as(Method::POST, "/logout", None, Caller::Session(&token))
            .await?;
    assert_eq!(status, 200);
    let bound = Bound::start();
    loop {
        let (status, body) = me(&n.b, &token).await?;
        if status == 400 && body["code"] == json!(209) {
            break;
        }
        bound.wait("log-out on A refused on B").await?;
    }
    Ok(())
}

#[tokio::test]
async fn a_password_changed_on_one_node_ends_the_sessions_used_on_the_other() -> anyhow::Result<()>
{
    let Some(n) = two_nodes("a_password_changed_on_one_node").await? else {
        return Ok(());
    };
    let (id, token_a) = sign_up(&n.a, "bob").await?;
    let (status, body) =
        n.b.request(
            Method::POST,
            "/login",
            Some(json!({"username": "bob", "password": "first password"})),
            false,
        )
        .await?;
    assert_eq!(status, 200, "{body}");
    let token_b = body["sessionToken"].as_str().unwrap_or_default().to_owned();
    assert_eq!(me(&n.b, &token_b).await?.0, 200);

    let (status, body) =
        n.a.request_as(
            Method::PUT,
            &format!("/users/{id}"),
            Some(json!({"password": "second password"})),
            Caller::Session(&token_a),
        )
        .await?;
    assert_eq!(status, 200, "{body}");

    let bound = Bound::start();
    loop {
        let (status, body) = me(&n.b, &token_b).await?;
        if status == 400 && body["code"] == json!(209) {
            break;
        }
        bound.wait("password change on A ends B's session").await?;
    }
    Ok(())
}

#[tokio::test]
async fn schema_and_permission_changes_on_one_node_hold_on_the_other() -> anyhow::Result<()> {
    let Some(n) = two_nodes("schema_and_permission_changes_on_one_node").await? else {
        return Ok(());
    };
    let (status, body) = n.a.create("Note", json!({"text": "hello"})).await?;
    assert_eq!(status, 201, "{body}");
    // B learns of the new class from A's notice (its own schemas were read before).
    let bound = Bound::start();
    loop {
        let (status, body) = n.b.query("Note", json!({}), &[]).await?;
        if status == 200 && body["results"].as_array().is_some_and(|r| r.len() == 1) {
            break;
        }
        bound.wait("a class created on A is queried on B").await?;
    }

    let (status, body) =
        n.a.request(
            Method::PUT,
            "/schemas/Note",
            Some(json!({
                "classLevelPermissions": {"find": {}, "get": {"*": true}, "create": {"*": true}},
                "fields": {"score": {"type": "Number"}},
            })),
            true,
        )
        .await?;
    assert_eq!(status, 200, "{body}");

    let bound = Bound::start();
    loop {
        let (status, body) = n.b.query("Note", json!({}), &[]).await?;
        if status == 400 && body["code"] == json!(119) {
            break;
        }
        bound.wait("find closed on A is refused on B").await?;
    }
    let (status, body) =
        n.b.create("Note", json!({"text": "typed", "score": "high"}))
            .await?;
    assert_eq!(
        (status, &body["code"]),
        (400, &json!(111)),
        "a field typed on A is typed on B: {body}"
    );
    let (status, body) = n.b.create("Note", json!({"score": 3})).await?;
    assert_eq!(status, 201, "{body}");
    Ok(())
}

#[tokio::test]
async fn fields_added_on_one_node_then_the_other_are_both_kept() -> anyhow::Result<()> {
    let Some(n) = two_nodes("fields_added_on_one_node_then_the_other").await? else {
        return Ok(());
    };
    let (status, body) = n.a.create("Item", json!({"name": "x"})).await?;
    assert_eq!(status, 201, "{body}");
    let bound = Bound::start();
    loop {
        let (status, body) =
            n.b.request(Method::GET, "/schemas/Item", None, true)
                .await?;
        if status == 200 && body["fields"]["name"]["type"] == json!("String") {
            break;
        }
        bound.wait("the class reaches B").await?;
    }

    let (status, _) = n.a.create("Item", json!({"colour": "red"})).await?;
    assert_eq!(status, 201);
    let (status, _) = n.b.create("Item", json!({"weight": 3})).await?;
    assert_eq!(status, 201);

    for node in [&n.a, &n.b] {
        let bound = Bound::start();
        loop {
            let (status, body) = node
                .request(Method::GET, "/schemas/Item", None, true)
                .await?;
            let fields = &body["fields"];
            if status == 200
                && fields["colour"]["type"] == json!("String")
                && fields["weight"]["type"] == json!("Number")
            {
                break;
            }
            bound.wait("both new fields in the schema").await?;
        }
    }
    Ok(())
}

#[tokio::test]
async fn fields_added_on_both_nodes_at_once_are_both_kept() -> anyhow::Result<()> {
    let Some(n) = two_nodes("fields_added_on_both_nodes_at_once").await? else {
        return Ok(());
    };
    let (status, body) = n.a.create("Pair", json!({"name": "x"})).await?;
    assert_eq!(status, 201, "{body}");

    for round in 0..5 {
        let (left, right) = (format!("left{round}"), format!("right{round}"));
        let (ra, rb) = tokio::join!(
            n.a.create("Pair", json!({ left.as_str(): "text" })),
            n.b.create("Pair", json!({ right.as_str(): 1 }))
        );
        assert_eq!((ra?.0, rb?.0), (201, 201));
        for node in [&n.a, &n.b] {
            let bound = Bound::start();
            loop {
                let (_, body) = node
                    .request(Method::GET, "/schemas/Pair", None, true)
                    .await?;
                if body["fields"][&left]["type"] == json!("String")
                    && body["fields"][&right]["type"] == json!("Number")
                {
                    break;
                }
                bound.wait("both fields in the schema").await?;
            }
        }
    }
    Ok(())
}

#[tokio::test]
async fn a_role_granted_on_one_node_opens_objects_on_the_other() -> anyhow::Result<()> {
    let Some(n) = two_nodes("a_role_granted_on_one_node").await? else {
        return Ok(());
    };
    let (user_id, token) = sign_up(&n.a, "cy").await?;
    let (status, body) =
        n.a.request(
            Method::POST,
            "/roles",
            Some(json!({"name": "Readers", "ACL": {"*": {"read": true}}})),
            true,
        )
        .await?;
    assert_eq!(status, 201, "{body}");
    let role_id = body["objectId"].as_str().unwrap_or_default().to_owned();
    let (status, body) =
        n.a.create(
            "Secret",
            json!({"text": "for readers", "ACL": {"role:Readers": {"read": true}}}),
        )
        .await?;
    assert_eq!(status, 201, "{body}");
    let secret = format!(
        "/classes/Secret/{}",
        body["objectId"].as_str().unwrap_or_default()
    );
    // B resolves (and caches) cy's session without the role.
    let (status, _) =
        n.b.request_as(Method::GET, &secret, None, Caller::Session(&token))
            .await?;
    assert_eq!(status, 404);

    let (status, body) =
        n.a.request(
            Method::PUT,
            &format!("/roles/{role_id}"),
            Some(json!({"users": {"__op": "AddRelation", "objects": [
                {"__type": "Pointer", "className": "_User", "objectId": user_id}
            ]}})),
            true,
        )
        .await?;
    assert_eq!(status, 200, "{body}");

    let bound = Bound::start();
    loop {
        let (status, _) =
            n.b.request_as(Method::GET, &secret, None, Caller::Session(&token))
                .await?;
        if status == 200 {
            break;
        }
        bound
            .wait("role granted on A opens the object on B")
            .await?;
    }
    Ok(())
}

/// The process ids of the nodes' listening connections.
async fn listeners(client: &tokio_postgres::Client) -> anyhow::Result<Vec<i32>> {
    Ok(client
        .query(
            "SELECT pid FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = 'basalt-listen'",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

#[tokio::test]
async fn nodes_catch_up_after_their_listening_connections_drop() -> anyhow::Result<()> {
    let Some(n) = two_nodes("nodes_catch_up_after_their_listening").await? else {
        return Ok(());
    };
    let (_, token) = sign_up(&n.a, "dee").await?;
    assert_eq!(me(&n.b, &token).await?.0, 200);
    let uri = n.a.database().map(|d| d.uri.clone()).unwrap_or_default();
    let (client, conn) = tokio_postgres::connect(&uri, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let before = listeners(&client).await?;
    assert_eq!(before.len(), 2, "one listening connection per node");

    // The log-out's notice goes out while no node listens, so B learns of it only by catching
    // up once it listens again.
    for pid in &before {
        client
            .execute("SELECT pg_terminate_backend($1)", &[pid])
            .await?;
    }
    let (status, _) =
        n.a.request_as(Method::POST, "/logout", None, Caller::Session(&token))
            .await?;
    assert_eq!(status, 200);

    let bound = Bound::start();
    loop {
        if me(&n.b, &token).await?.0 == 400 {
            break;
        }
        bound
            .wait("log-out while disconnected refused on B")
            .await?;
    }
    let bound = Bound::start();
    loop {
        let now = listeners(&client).await?;
        if now.len() == 2 && now.iter().all(|p| !before.contains(p)) {
            break;
        }
        bound.wait("both nodes listen again").await?;
    }
    Ok(())
}

#[tokio::test]
async fn a_totp_code_sent_to_both_nodes_at_once_logs_in_once() -> anyhow::Result<()> {
    let providers = json!({"mfa": {"options": ["TOTP"]}}).to_string();
    let Some(pair) =
        two_nodes_with("totp_code_both_nodes", &["--auth-providers", &providers]).await?
    else {
        return Ok(());
    };
    let (id, token) = sign_up(&pair.a, "mia").await?;
    let secret = totp::enrol("mia", "basalt")?.secret_base32;
    let code_at = |ahead: u64| {
        totp::code_at(&secret, SystemTime::now() + Duration::from_secs(30 * ahead))
            .context("no TOTP code for the secret")
    };
    let (status, body) = pair
        .a
        .request_as(
            Method::PUT,
            &format!("/users/{id}"),
            Some(json!({"authData": {"mfa": {"secret": secret, "token": code_at(0)?}}})),
            Caller::Session(&token),
        )
        .await?;
    assert_eq!(status, 200, "enrolling: {body}");

    // The next period's code (not yet spent), sent four times to each node at once.
    let body = json!({
        "username": "mia",
        "password": "first password",
        "authData": {"mfa": {"token": code_at(1)?}},
    })
    .to_string();
    let http = reqwest::Client::new();
    let attempts = (0..8).map(|i| {
        let node = if i % 2 == 0 { &pair.a } else { &pair.b };
        http.post(format!("{}/login", node.url))
            .header("X-Parse-Application-Id", APP_ID)
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
    });
    let mut answers = Vec::new();
    for reply in futures::future::join_all(attempts).await {
        let reply = reply?;
        let status = reply.status().as_u16();
        answers.push((status, reply.text().await?));
    }

    let logged_in = answers.iter().filter(|(status, _)| *status == 200).count();
    assert_eq!(logged_in, 1, "one code, one log-in: {answers:?}");
    for (status, text) in answers.iter().filter(|(status, _)| *status != 200) {
        assert!(
            *status == 400 && text.contains("Invalid MFA token"),
            "{status} {text}"
        );
    }
    Ok(())
}
