//! Identity defences: rate limits on log-in, account lock-out, password policy, tokens at rest.

use reqwest::Method;
use serde_json::json;

use crate::support::TestServer;

async fn sign_up(
    s: &TestServer,
    name: &str,
    password: &str,
) -> anyhow::Result<(u16, serde_json::Value)> {
    s.request(
        Method::POST,
        "/users",
        Some(json!({"username": name, "password": password})),
        false,
    )
    .await
}

async fn log_in(
    s: &TestServer,
    name: &str,
    password: &str,
) -> anyhow::Result<(u16, serde_json::Value)> {
    s.request(
        Method::POST,
        "/login",
        Some(json!({"username": name, "password": password})),
        false,
    )
    .await
}

#[tokio::test]
async fn login_brute_force_is_rate_limited_with_retry_after() -> anyhow::Result<()> {
    let s = TestServer::start_with(&[
        "--app-id",
        "it-app",
        "--master-key",
        "it-master",
        "--auth-rate-limit",
        "5/60s",
    ])
    .await?;
    sign_up(&s, "victim", "right-horse").await?;

    let mut statuses = Vec::new();
    for i in 0..8 {
        statuses.push(log_in(&s, "victim", &format!("guess-{i}")).await?.0);
    }

    assert_eq!(
        &statuses[..4],
        &[404, 404, 404, 404],
        "the first guesses are answered 101: {statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
    let res = reqwest::Client::new()
        .post(format!("{}/login", s.url))
        .header("X-Parse-Application-Id", "it-app")
        .json(&json!({"username": "victim", "password": "right-horse"}))
        .send()
        .await?;
    assert_eq!(
        res.status(),
        429,
        "even the right password waits out the window"
    );
    assert!(res.headers().get("retry-after").is_some());
    assert_eq!(
        res.json::<serde_json::Value>().await?,
        json!({"code": 100, "error": "Too many requests."})
    );
    let (status, _) = s.get("/classes/Anything").await?;
    assert_eq!(status, 200, "other routes are not limited");
    Ok(())
}

#[tokio::test]
async fn parse_rate_limit_rules_apply_to_configured_routes() -> anyhow::Result<()> {
    let rule = r#"[{"requestPath":"/classes/*","requestTimeWindow":60000,"requestCount":2,"requestMethods":["POST"],"errorResponseMessage":"Slow down."}]"#;
    let s = TestServer::start_with(&[
        "--app-id",
        "it-app",
        "--master-key",
        "it-master",
        "--rate-limit",
        rule,
    ])
    .await?;

    let a = s.create("Thing", json!({"n": 1})).await?.0;
    let b = s.create("Thing", json!({"n": 2})).await?.0;
    let (c, body) = s.create("Thing", json!({"n": 3})).await?;

    assert_eq!((a, b, c), (201, 201, 429));
    assert_eq!(body, json!({"code": 100, "error": "Slow down."}));
    let (_, all) = s
        .request(Method::GET, "/classes/Thing?count=1&limit=0", None, true)
        .await?;
    assert_eq!(all["count"], 2, "the refused create wrote nothing");
    Ok(())
}

#[tokio::test]
async fn account_locks_after_failed_logins() -> anyhow::Result<()> {
    let s = TestServer::start_with(&[
        "--app-id",
        "it-app",
        "--master-key",
        "it-master",
        "--account-lockout",
        r#"{"threshold":3,"duration":1}"#,
    ])
    .await?;
    sign_up(&s, "carol", "correct-horse").await?;

    for _ in 0..3 {
        assert_eq!(log_in(&s, "carol", "wrong").await?.0, 404);
    }
    let (status, body) = log_in(&s, "carol", "correct-horse").await?;

    assert_eq!(status, 404);
    assert_eq!(body["code"], 101);
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("locked")),
        "{body}"
    );
    Ok(())
}

#[tokio::test]
async fn password_policy_is_enforced_on_sign_up_and_change() -> anyhow::Result<()> {
    let s = TestServer::start_with(&[
        "--app-id", "it-app", "--master-key", "it-master",
        "--password-policy", r#"{"validatorPattern":"^(?=.*[0-9]).{8,}$","doNotAllowUsername":true,"maxPasswordHistory":2}"#,
    ])
    .await?;

    let (status, body) = sign_up(&s, "dave", "short").await?;
    assert_eq!((status, body["code"].clone()), (400, json!(142)));
    let (status, body) = sign_up(&s, "dave", "dave12345").await?;
    assert_eq!(
        (status, body["error"].clone()),
        (400, json!("Password cannot contain your username."))
    );
    let (status, created) = sign_up(&s, "dave", "longer-pass-1").await?;
    assert_eq!(status, 201);

    let token = created["sessionToken"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let id = created["objectId"].as_str().unwrap_or_default().to_owned();
    let res = reqwest::Client::new()
        .put(format!("{}/users/{id}", s.url))
        .header("X-Parse-Application-Id", "it-app")
        .header("X-Parse-Session-Token", &token)
        .json(&json!({"password": "longer-pass-1"}))
        .send()
        .await?;
    assert_eq!(
        res.status(),
        400,
        "reusing the current password is refused by the history rule"
    );
    Ok(())
}

#[tokio::test]
async fn the_database_holds_no_usable_session_token() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let s = TestServer::start_in(
        dir.path(),
        &["--app-id", "it-app", "--master-key", "it-master"],
    )
    .await?;
    let (_, created) = sign_up(&s, "erin", "erins-password").await?;
    let token = created["sessionToken"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(token.starts_with("r:"));
    let database = s.database();
    drop(s);

    let stored = TestServer::stored_text(dir.path(), database.as_deref()).await?;

    assert!(
        stored.contains("erin"),
        "the user was stored: {stored:.200}"
    );
    assert!(
        !stored.contains(&token),
        "the token appears in the database"
    );
    assert!(
        !stored.contains("erins-password"),
        "the password appears in the database"
    );
    Ok(())
}
