//! Outbound HTTP for identity providers: one client with timeouts, and JSON reads with a size
//! cap. Transport failures, 5xx answers and unparseable bodies become
//! `AuthError::ProviderUnavailable`; deciding what a 4xx means is left to the caller.

use std::time::Duration;

use reqwest::{Client, RequestBuilder, StatusCode};
use serde_json::Value;

use crate::error::AuthError;

/// Whole-request timeout for provider calls.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Connect timeout for provider calls.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest provider response read (JWKS, discovery, profile).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The client to hand to [`crate::oidc::OidcVerifier`] and
/// [`crate::access_token::AccessTokenProvider`]: rustls (aws-lc-rs) with the system's roots,
/// the timeouts above, and a `basalt` user agent (GitHub refuses requests without one).
pub fn http_client() -> Result<Client, AuthError> {
    Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("basalt/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| AuthError::Config(format!("cannot build HTTP client: {e}")))
}

/// Sends `request` and reads a JSON body of at most [`MAX_BODY_BYTES`]. Returns the status
/// with the body for 2xx and 4xx answers (a 4xx body that is not JSON reads as `null`).
pub(crate) async fn send_json(
    request: RequestBuilder,
    provider: &str,
) -> Result<(StatusCode, Value), AuthError> {
    let mut response = request
        .send()
        .await
        .map_err(|e| AuthError::unavailable(provider, e))?;
    let status = response.status();
    if status.is_server_error() || status.is_redirection() || status.is_informational() {
        return Err(AuthError::unavailable(
            provider,
            format!("answered {status}"),
        ));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| AuthError::unavailable(provider, e))?
    {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(AuthError::unavailable(provider, "response body too large"));
        }
        body.extend_from_slice(&chunk);
    }
    match serde_json::from_slice(&body) {
        Ok(value) => Ok((status, value)),
        Err(_) if status.is_client_error() => Ok((status, Value::Null)),
        Err(e) => Err(AuthError::unavailable(
            provider,
            format!("invalid JSON: {e}"),
        )),
    }
}

/// GETs `url` expecting a 2xx JSON document (discovery, JWKS).
pub(crate) async fn get_document(
    http: &Client,
    url: &str,
    provider: &str,
) -> Result<Value, AuthError> {
    let (status, body) = send_json(http.get(url), provider).await?;
    if !status.is_success() {
        return Err(AuthError::unavailable(
            provider,
            format!("{url} answered {status}"),
        ));
    }
    Ok(body)
}
