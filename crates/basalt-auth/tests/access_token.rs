//! Access-token providers against a local stand-in for GitHub's and Facebook's APIs
//! (an axum server on 127.0.0.1:0 that answers like the real endpoints).

use std::collections::HashMap;

use anyhow::{Context, Result};
use axum::Json;
use axum::Router;
use axum::extract::Query;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use basalt_auth::{AccessTokenProvider, AuthError, http_client};
use basalt_core::error::ParseError;
use serde_json::{Value, json};

const GOOD_TOKEN: &str = "gho_good";
const BROKEN_TOKEN: &str = "gho_broken";

async fn start() -> Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let app = Router::new()
        .route("/user", get(github_user))
        .route("/me", get(facebook_me))
        .route("/app", get(facebook_app));
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(base)
}

/// GitHub: numeric id for a good bearer token, 401 otherwise, 500 for the broken one.
async fn github_user(headers: HeaderMap) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let has_agent = headers.contains_key("user-agent");
    match auth.strip_prefix("Bearer ") {
        Some(GOOD_TOKEN) if has_agent => {
            Json(json!({"id": 12345, "login": "octocat"})).into_response()
        }
        Some(BROKEN_TOKEN) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        _ => (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Bad credentials"})),
        )
            .into_response(),
    }
}

/// Facebook: requires `fields=id`, the token, and (when sent) a correct `appsecret_proof`.
async fn facebook_me(Query(query): Query<HashMap<String, String>>) -> Response {
    if query.get("fields").map(String::as_str) != Some("id") {
        return StatusCode::BAD_REQUEST.into_response();
    }
    match query.get("access_token").map(String::as_str) {
        Some("fb-token") if proof_ok(&query) => Json(json!({"id": "10150"})).into_response(),
        _ => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": {"message": "Invalid OAuth access token.", "code": 190}})),
        )
            .into_response(),
    }
}

async fn facebook_app() -> Json<Value> {
    Json(json!({"id": "app-1", "name": "Example"}))
}

/// HMAC-SHA256("fb-secret", "fb-token"), computed independently with Node's crypto.
const EXPECTED_PROOF: &str = "3a33c91971a202a41d4b26290bbb649a7e47fdb714d280c9d0a87b16b8ffc812";

fn proof_ok(query: &HashMap<String, String>) -> bool {
    match query.get("appsecret_proof") {
        None => true,
        Some(proof) => proof == EXPECTED_PROOF,
    }
}

fn refusal(result: Result<Value, AuthError>) -> Result<(i32, String)> {
    let err = result.err().context("expected a refusal")?;
    let parse = ParseError::from(err);
    Ok((parse.code.code(), parse.message.into_owned()))
}

#[tokio::test]
async fn github_token_for_the_claimed_account_is_accepted() -> Result<()> {
    let base = start().await?;
    let github = AccessTokenProvider::github(&base);

    let profile = github.verify(&http_client()?, GOOD_TOKEN, "12345").await?;

    assert_eq!(profile["login"], "octocat");
    Ok(())
}

#[tokio::test]
async fn github_token_for_another_account_is_refused() -> Result<()> {
    let base = start().await?;
    let github = AccessTokenProvider::github(&base);
    let http = http_client()?;

    let other_id = refusal(github.verify(&http, GOOD_TOKEN, "99999").await)?;
    let bad_token = refusal(github.verify(&http, "gho_revoked", "12345").await)?;
    let no_token = refusal(github.verify(&http, "", "12345").await)?;

    let expected = (101, "Github auth is invalid for this user.".to_owned());
    assert_eq!(other_id, expected);
    assert_eq!(bad_token, expected);
    assert_eq!(no_token, expected);
    Ok(())
}

#[tokio::test]
async fn github_outage_is_not_a_refusal() -> Result<()> {
    let base = start().await?;
    let github = AccessTokenProvider::github(&base);

    let result = github.verify(&http_client()?, BROKEN_TOKEN, "12345").await;

    assert!(
        matches!(result, Err(AuthError::ProviderUnavailable { .. })),
        "{result:?}"
    );
    Ok(())
}

#[tokio::test]
async fn unreachable_provider_is_unavailable() -> Result<()> {
    // Bind then drop, so nothing listens on the port.
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let base = format!("http://{}", listener.local_addr()?);
    drop(listener);
    let github = AccessTokenProvider::github(&base);

    let result = github.verify(&http_client()?, GOOD_TOKEN, "12345").await;

    assert!(
        matches!(result, Err(AuthError::ProviderUnavailable { .. })),
        "{result:?}"
    );
    Ok(())
}

#[tokio::test]
async fn facebook_token_is_checked_with_query_token() -> Result<()> {
    let base = start().await?;
    let facebook = AccessTokenProvider::facebook(&base, None, Vec::new());
    let http = http_client()?;

    let profile = facebook.verify(&http, "fb-token", "10150").await?;
    let wrong = refusal(facebook.verify(&http, "fb-other", "10150").await)?;

    assert_eq!(profile["id"], "10150");
    assert_eq!(
        wrong,
        (101, "Facebook auth is invalid for this user.".to_owned())
    );
    Ok(())
}

#[tokio::test]
async fn facebook_app_ids_are_enforced_when_configured() -> Result<()> {
    let base = start().await?;
    let http = http_client()?;
    let ours = AccessTokenProvider::facebook(&base, None, vec!["app-1".to_owned()]);
    let theirs = AccessTokenProvider::facebook(&base, None, vec!["app-2".to_owned()]);

    ours.verify(&http, "fb-token", "10150").await?;
    let refused = refusal(theirs.verify(&http, "fb-token", "10150").await)?;

    assert_eq!(refused.0, 101);
    Ok(())
}

#[tokio::test]
async fn facebook_appsecret_proof_is_sent() -> Result<()> {
    let base = start().await?;
    let http = http_client()?;
    let right = AccessTokenProvider::facebook(&base, Some("fb-secret".to_owned()), Vec::new());
    let wrong = AccessTokenProvider::facebook(&base, Some("not-it".to_owned()), Vec::new());

    right.verify(&http, "fb-token", "10150").await?;
    let refused = refusal(wrong.verify(&http, "fb-token", "10150").await)?;

    assert_eq!(refused.0, 101);
    Ok(())
}
