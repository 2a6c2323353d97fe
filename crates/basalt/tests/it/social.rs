//! authData over REST: access-token providers (GitHub and Facebook, whose APIs cannot be reached
//! from here, so a loopback stand-in answers in their real HTTP shapes), linking, unlinking,
//! 208 and 252, what is stored, and TOTP MFA's wire format. OpenID Connect against a real
//! provider is covered by tests/sdk/test/social.test.js.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use axum::extract::Query;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use basalt_auth::totp;
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::TestServer;
use crate::support::server::{APP_ID, Caller, MASTER_KEY};

/// GitHub's `GET /user`: bearer (or `token`) authorization; 401 "Bad credentials" otherwise.
async fn github_user(headers: HeaderMap) -> impl IntoResponse {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let token = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("token "));
    match token {
        Some("gh-good") => (
            StatusCode::OK,
            Json(json!({"login": "octocat", "id": 12345, "type": "User"})),
        ),
        Some("gh-other") => (
            StatusCode::OK,
            Json(json!({"login": "hubot", "id": 99999, "type": "User"})),
        ),
        _ => (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Bad credentials", "status": "401"})),
        ),
    }
}

fn facebook_refusal() -> (StatusCode, Json<Value>) {
    (
        StatusCode::BAD_REQUEST,
        Json(
            json!({"error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}}),
        ),
    )
}

/// Facebook's `GET /me?fields=id&access_token=…`.
async fn facebook_me(Query(q): Query<HashMap<String, String>>) -> impl IntoResponse {
    match q.get("access_token").map(String::as_str) {
        Some("fb-good") => (StatusCode::OK, Json(json!({"id": "fb-1"}))),
        Some("fb-other-app") => (StatusCode::OK, Json(json!({"id": "fb-2"}))),
        _ => facebook_refusal(),
    }
}

/// Facebook's `GET /app?access_token=…`: the app the token was issued to.
async fn facebook_app(Query(q): Query<HashMap<String, String>>) -> impl IntoResponse {
    match q.get("access_token").map(String::as_str) {
        Some("fb-good") => (StatusCode::OK, Json(json!({"id": "app-1"}))),
        Some("fb-other-app") => (StatusCode::OK, Json(json!({"id": "app-2"}))),
        _ => facebook_refusal(),
    }
}

/// The stand-in for api.github.com and graph.facebook.com; returns its base URL.
async fn stand_in() -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let app = Router::new()
        .route("/github/user", get(github_user))
        .route("/facebook/me", get(facebook_me))
        .route("/facebook/app", get(facebook_app));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(base)
}

async fn server_with_providers() -> anyhow::Result<TestServer> {
    let base = stand_in().await?;
    let providers = json!({
        "github": {"apiUrl": format!("{base}/github")},
        "facebook": {"appIds": ["app-1"], "graphUrl": format!("{base}/facebook")},
        "mfa": {"options": ["TOTP"]},
    })
    .to_string();
    TestServer::start_with(&[
        "--app-id",
        APP_ID,
        "--master-key",
        MASTER_KEY,
        "--auth-providers",
        &providers,
    ])
    .await
}

async fn post_users(s: &TestServer, body: Value) -> anyhow::Result<(u16, Value)> {
    s.request(Method::POST, "/users", Some(body), false).await
}

async fn user_count(s: &TestServer) -> anyhow::Result<u64> {
    let (_, body) = s
        .request(Method::GET, "/classes/_User?count=1&limit=0", None, true)
        .await?;
    Ok(body["count"].as_u64().unwrap_or(u64::MAX))
}

fn github(token: &str) -> Value {
    json!({"github": {"id": "12345", "access_token": token}})
}

#[tokio::test]
async fn github_signs_up_then_logs_in_and_keeps_only_the_id() -> anyhow::Result<()> {
    let s = server_with_providers().await?;

    let (created, signup) = post_users(&s, json!({"authData": github("gh-good")})).await?;
    let (again, login) = post_users(&s, json!({"authData": github("gh-good")})).await?;

    assert_eq!(created, 201, "{signup}");
    assert_eq!(signup["authDataResponse"], json!({}));
    assert!(signup["username"].as_str().is_some_and(|u| u.len() == 25));
    assert_eq!(again, 200, "{login}");
    assert_eq!(login["objectId"], signup["objectId"]);
    assert_eq!(login["authData"], json!({"github": {"id": "12345"}}));
    assert_ne!(login["sessionToken"], signup["sessionToken"]);
    let id = signup["objectId"].as_str().unwrap_or_default();
    let (_, stored) = s
        .request(Method::GET, &format!("/users/{id}"), None, true)
        .await?;
    assert_eq!(
        stored["authData"],
        json!({"github": {"id": "12345"}}),
        "the access token is not kept"
    );
    let token = login["sessionToken"].as_str().unwrap_or_default();
    let (_, session) = s
        .request_as(Method::GET, "/sessions/me", None, Caller::Session(token))
        .await?;
    assert_eq!(
        session["createdWith"],
        json!({"action": "login", "authProvider": "github"})
    );
    Ok(())
}

#[tokio::test]
async fn refused_access_tokens_are_101_and_create_nobody() -> anyhow::Result<()> {
    let s = server_with_providers().await?;
    let before = user_count(&s).await?;

    let bad = post_users(&s, json!({"authData": github("gh-stolen")})).await?;
    let other_account = post_users(&s, json!({"authData": github("gh-other")})).await?;
    let other_app = post_users(
        &s,
        json!({"authData": {"facebook": {"id": "fb-2", "access_token": "fb-other-app"}}}),
    )
    .await?;
    let facebook_ok = post_users(
        &s,
        json!({"authData": {"facebook": {"id": "fb-1", "access_token": "fb-good"}}}),
    )
    .await?;

    let refusal = json!({"code": 101, "error": "Github auth is invalid for this user."});
    assert_eq!(bad, (404, refusal.clone()));
    assert_eq!(other_account, (404, refusal));
    assert_eq!(
        other_app,
        (
            404,
            json!({"code": 101, "error": "Facebook auth is invalid for this user."})
        )
    );
    assert_eq!(facebook_ok.0, 201, "{}", facebook_ok.1);
    assert_eq!(user_count(&s).await?, before + 1);
    Ok(())
}

#[tokio::test]
async fn unconfigured_providers_and_malformed_auth_data_are_252() -> anyhow::Result<()> {
    let s = server_with_providers().await?;
    let unsupported = json!({"code": 252, "error": "This authentication method is unsupported."});

    let twitter = post_users(
        &s,
        json!({"authData": {"twitter": {"id": "1", "auth_token": "x"}}}),
    )
    .await?;
    let not_object = post_users(&s, json!({"authData": {"github": "12345"}})).await?;
    let null = post_users(
        &s,
        json!({"authData": null, "username": "n", "password": "p"}),
    )
    .await?;

    assert_eq!(twitter, (400, unsupported.clone()));
    assert_eq!(not_object, (400, unsupported));
    assert_eq!(null.0, 400, "{}", null.1);
    Ok(())
}

async fn password_user(s: &TestServer, name: &str) -> anyhow::Result<(String, String)> {
    let (status, body) = post_users(s, json!({"username": name, "password": "pw-1234"})).await?;
    anyhow::ensure!(status == 201, "sign-up: {body}");
    Ok((
        body["objectId"].as_str().unwrap_or_default().to_owned(),
        body["sessionToken"].as_str().unwrap_or_default().to_owned(),
    ))
}

async fn put_user(
    s: &TestServer,
    id: &str,
    token: &str,
    body: Value,
) -> anyhow::Result<(u16, Value)> {
    s.request_as(
        Method::PUT,
        &format!("/users/{id}"),
        Some(body),
        Caller::Session(token),
    )
    .await
}

#[tokio::test]
async fn linking_unlinking_and_208_for_an_identity_held_elsewhere() -> anyhow::Result<()> {
    let s = server_with_providers().await?;
    let (ann, ann_token) = password_user(&s, "ann").await?;
    let (bob, bob_token) = password_user(&s, "bob").await?;

    let link = put_user(&s, &ann, &ann_token, json!({"authData": github("gh-good")})).await?;
    let steal = put_user(&s, &bob, &bob_token, json!({"authData": github("gh-good")})).await?;
    let login = post_users(&s, json!({"authData": github("gh-good")})).await?;
    let other = put_user(
        &s,
        &ann,
        &ann_token,
        json!({"authData": {"github": {"id": "99999", "access_token": "gh-good"}}}),
    )
    .await?;
    let unlink = put_user(&s, &ann, &ann_token, json!({"authData": {"github": null}})).await?;
    let (_, after_unlink) = s
        .request(Method::GET, &format!("/users/{ann}"), None, true)
        .await?;
    let fresh = post_users(&s, json!({"authData": github("gh-good")})).await?;

    assert_eq!(link.0, 200, "{}", link.1);
    assert_eq!(link.1["authDataResponse"], json!({}));
    assert!(link.1["updatedAt"].is_string());
    assert_eq!(
        steal,
        (
            400,
            json!({"code": 208, "error": "this auth is already used"})
        )
    );
    assert_eq!(
        (login.0, login.1["objectId"].as_str()),
        (200, Some(ann.as_str()))
    );
    assert_eq!(
        other.0, 404,
        "a token for another account cannot relink: {}",
        other.1
    );
    assert_eq!(unlink.0, 200, "{}", unlink.1);
    assert!(after_unlink.get("authData").is_none(), "{after_unlink}");
    assert_eq!(
        fresh.0, 201,
        "once unlinked the identity signs up anew: {}",
        fresh.1
    );
    assert_ne!(fresh.1["objectId"].as_str(), Some(ann.as_str()));
    Ok(())
}

#[tokio::test]
async fn an_anonymous_id_held_by_another_user_cannot_be_linked() -> anyhow::Result<()> {
    let s = server_with_providers().await?;
    let (owner_status, _) =
        post_users(&s, json!({"authData": {"anonymous": {"id": "anon-1"}}})).await?;
    let (ann, token) = password_user(&s, "ann").await?;

    let steal = put_user(
        &s,
        &ann,
        &token,
        json!({"authData": {"anonymous": {"id": "anon-1"}}}),
    )
    .await?;
    let dotted = put_user(
        &s,
        &ann,
        &token,
        json!({"authData.github": {"id": "12345"}}),
    )
    .await?;
    let others = put_user(
        &s,
        "someoneelse",
        &token,
        json!({"authData": github("gh-good")}),
    )
    .await?;

    assert_eq!(owner_status, 201);
    assert_eq!(
        steal,
        (
            400,
            json!({"code": 208, "error": "this auth is already used"})
        )
    );
    assert_eq!(dotted.1["code"], 252);
    assert_eq!(
        others.0, 400,
        "only the user itself links providers: {}",
        others.1
    );
    Ok(())
}

fn now_code(secret: &str, steps_ahead: u64) -> String {
    let at = SystemTime::now() + Duration::from_secs(30 * steps_ahead);
    totp::code_at(secret, at).unwrap_or_default()
}

async fn log_in(s: &TestServer, name: &str, mfa: Option<Value>) -> anyhow::Result<(u16, Value)> {
    let mut body = json!({"username": name, "password": "pw-1234"});
    if let Some(m) = mfa {
        body["authData"] = json!({"mfa": m});
    }
    s.request(Method::POST, "/login", Some(body), false).await
}

#[tokio::test]
async fn mfa_wire_format_enrol_login_recovery_and_turning_off() -> anyhow::Result<()> {
    let s = server_with_providers().await?;
    let (ann, token) = password_user(&s, "ann").await?;
    let secret = totp::enrol("ann", "basalt")?.secret_base32;

    let short = put_user(
        &s,
        &ann,
        &token,
        json!({"authData": {"mfa": {"secret": "ABCDEFGH", "token": "123456"}}}),
    )
    .await?;
    let enrol = put_user(
        &s,
        &ann,
        &token,
        json!({"authData": {"mfa": {"secret": secret, "token": now_code(&secret, 0)}}}),
    )
    .await?;
    let recovery: Vec<String> = enrol.1["authDataResponse"]["mfa"]["recovery"]
        .as_str()
        .unwrap_or_default()
        .split(", ")
        .map(str::to_owned)
        .collect();
    let (_, stored) = s
        .request(Method::GET, &format!("/users/{ann}"), None, true)
        .await?;
    let missing = log_in(&s, "ann", None).await?;
    let not_text = log_in(&s, "ann", Some(json!({"token": 123456}))).await?;
    // The replay sends the very same code: computing it again after a slow log-in could
    // cross into the next 30 s step and give a fresh code.
    let next_code = now_code(&secret, 1);
    let good = log_in(&s, "ann", Some(json!({"token": next_code}))).await?;
    let replay = log_in(&s, "ann", Some(json!({"token": next_code}))).await?;
    let by_recovery = log_in(
        &s,
        "ann",
        Some(json!({"token": recovery[0].to_uppercase()})),
    )
    .await?;
    let recovery_again = log_in(&s, "ann", Some(json!({"token": recovery[0]}))).await?;
    let off = put_user(
        &s,
        &ann,
        &token,
        json!({"authData": {"mfa": {"old": now_code(&secret, 0)}}}),
    )
    .await?;
    let plain = log_in(&s, "ann", None).await?;

    assert_eq!(
        short,
        (400, json!({"code": 141, "error": "Invalid MFA data"}))
    );
    assert_eq!(enrol.0, 200, "{}", enrol.1);
    assert_eq!(recovery.len(), 2, "{}", enrol.1);
    assert_eq!(stored["authData"], json!({"mfa": {"status": "enabled"}}));
    assert!(!stored.to_string().contains(&secret));
    assert_eq!(
        missing,
        (
            400,
            json!({"code": -1, "error": "Missing additional authData mfa"})
        )
    );
    let invalid = (400, json!({"code": 141, "error": "Invalid MFA token"}));
    assert_eq!(not_text, invalid);
    assert_eq!(good.0, 200, "{}", good.1);
    assert_eq!(good.1["objectId"], json!(ann));
    assert_eq!(replay, invalid);
    assert_eq!(
        by_recovery.0, 200,
        "recovery codes are case-insensitive: {}",
        by_recovery.1
    );
    assert_eq!(recovery_again, invalid);
    assert_eq!(off.0, 200, "{}", off.1);
    assert_eq!(plain.0, 200, "{}", plain.1);
    Ok(())
}

#[tokio::test]
async fn mfa_needs_configuring_and_the_master_key_can_reset_it() -> anyhow::Result<()> {
    let plain = TestServer::start().await?;
    let (id, token) = password_user(&plain, "ann").await?;
    let secret = totp::enrol("ann", "basalt")?.secret_base32;
    let refused = put_user(
        &plain,
        &id,
        &token,
        json!({"authData": {"mfa": {"secret": secret, "token": now_code(&secret, 0)}}}),
    )
    .await?;

    let s = server_with_providers().await?;
    let (id, token) = password_user(&s, "ann").await?;
    put_user(
        &s,
        &id,
        &token,
        json!({"authData": {"mfa": {"secret": secret, "token": now_code(&secret, 0)}}}),
    )
    .await?;
    let reset = s
        .request(
            Method::PUT,
            &format!("/users/{id}"),
            Some(json!({"authData": {"mfa": null}})),
            true,
        )
        .await?;
    let after = log_in(&s, "ann", None).await?;

    assert_eq!(refused.1["code"], 252, "{}", refused.1);
    assert_eq!(reset.0, 200, "{}", reset.1);
    assert_eq!(after.0, 200, "{}", after.1);
    Ok(())
}

#[tokio::test]
async fn bad_provider_configuration_stops_start_up_with_every_problem() -> anyhow::Result<()> {
    let out = tokio::process::Command::new(crate::support::server::binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--auth-providers"])
        .arg(r#"{"google": {}, "twitter": {"consumerKey": "x"}}"#)
        .output()
        .await?;

    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("2 problem(s)"), "{stderr}");
    assert!(
        stderr.contains("auth.google: clientId is required"),
        "{stderr}"
    );
    assert!(stderr.contains("auth.twitter"), "{stderr}");
    Ok(())
}
