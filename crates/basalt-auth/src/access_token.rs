//! authData providers that prove identity with an OAuth access token: the server calls the
//! provider's "me" endpoint with the token and checks the returned id equals the authData
//! `id` (Parse's github and facebook adapters, `{id, access_token}`).
//!
//! Base URLs are parameters so tests can point at a local server. A 4xx answer or another
//! account's id is `AuthError::InvalidAuthData` (101, `"Github auth is invalid for this user."`
//! and the like); an unreachable provider or 5xx is `AuthError::ProviderUnavailable`.
//!
//! What the engine must do: build the providers once at start-up with one shared
//! [`crate::http::http_client`], call `verify(http, access_token, authData.id)` before finding
//! or linking the user by `authData.<name>.id`, and never store the provider's answer.

use hmac::{Hmac, KeyInit, Mac};
use reqwest::{Client, Url};
use serde_json::Value;
use sha2::Sha256;

use crate::error::AuthError;
use crate::http::send_json;
use crate::token::to_hex;

/// GitHub's REST API.
pub const GITHUB_API: &str = "https://api.github.com";
/// Facebook's Graph API.
pub const FACEBOOK_GRAPH: &str = "https://graph.facebook.com";

/// How the access token travels to the "me" endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenPlacement {
    /// `Authorization: Bearer <token>` (GitHub).
    BearerHeader,
    /// `?<name>=<token>` (Facebook's `access_token`).
    QueryParameter(String),
}

/// Facebook's check that the token was issued to one of our apps (`GET /app`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppCheck {
    /// The endpoint answering `{id}` of the app the token belongs to.
    pub url: String,
    /// Accepted app ids (Parse's `appIds`).
    pub app_ids: Vec<String>,
}

/// One access-token provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenProvider {
    /// The authData key (`github`, `facebook`, …).
    pub name: String,
    /// The name in refusal messages (`"{label} auth is invalid for this user."`).
    pub label: String,
    /// The "me" endpoint; may carry its own query (`?fields=id`).
    pub me_url: String,
    /// Where the token goes.
    pub placement: TokenPlacement,
    /// The field of the answer holding the account id (a string or a number).
    pub id_field: String,
    /// Facebook's app secret: adds `appsecret_proof` = HMAC-SHA256(secret, token) to calls.
    pub app_secret: Option<String>,
    /// Facebook's app check, when app ids are configured.
    pub app_check: Option<AppCheck>,
}

impl AccessTokenProvider {
    /// GitHub: `GET {base_url}/user` with a bearer token; `base_url` is [`GITHUB_API`] in
    /// production.
    pub fn github(base_url: &str) -> Self {
        Self {
            name: "github".to_owned(),
            label: "Github".to_owned(),
            me_url: format!("{}/user", base_url.trim_end_matches('/')),
            placement: TokenPlacement::BearerHeader,
            id_field: "id".to_owned(),
            app_secret: None,
            app_check: None,
        }
    }

    /// Facebook: `GET {base_url}/me?fields=id&access_token=…`, with `appsecret_proof` when
    /// `app_secret` is set and the `/app` check when `app_ids` is not empty.
    pub fn facebook(base_url: &str, app_secret: Option<String>, app_ids: Vec<String>) -> Self {
        let base = base_url.trim_end_matches('/');
        let app_check = (!app_ids.is_empty()).then(|| AppCheck {
            url: format!("{base}/app"),
            app_ids,
        });
        Self {
            name: "facebook".to_owned(),
            label: "Facebook".to_owned(),
            me_url: format!("{base}/me?fields=id"),
            placement: TokenPlacement::QueryParameter("access_token".to_owned()),
            id_field: "id".to_owned(),
            app_secret,
            app_check,
        }
    }

    /// Checks that `access_token` belongs to the account `claimed_id`; returns the provider's
    /// answer to the "me" call.
    pub async fn verify(
        &self,
        http: &Client,
        access_token: &str,
        claimed_id: &str,
    ) -> Result<Value, AuthError> {
        if access_token.is_empty() || claimed_id.is_empty() {
            return Err(self.refusal());
        }
        let profile = self.call(http, &self.me_url, access_token).await?;
        if !id_matches(profile.get(&self.id_field), claimed_id) {
            return Err(self.refusal());
        }
        if let Some(check) = &self.app_check {
            self.check_app(http, check, access_token).await?;
        }
        Ok(profile)
    }

    async fn check_app(
        &self,
        http: &Client,
        check: &AppCheck,
        access_token: &str,
    ) -> Result<(), AuthError> {
        let app = self.call(http, &check.url, access_token).await?;
        let app_id = app.get("id").and_then(id_text);
        match app_id {
            Some(id) if check.app_ids.contains(&id) => Ok(()),
            _ => Err(self.refusal()),
        }
    }

    /// GETs `url` with the token; a 4xx is a refusal.
    async fn call(&self, http: &Client, url: &str, access_token: &str) -> Result<Value, AuthError> {
        let url = self.url_with_token(url, access_token)?;
        let mut request = http.get(url).header("Accept", "application/json");
        if self.placement == TokenPlacement::BearerHeader {
            request = request.bearer_auth(access_token);
        }
        let (status, body) = send_json(request, &self.name).await?;
        if status.is_client_error() {
            return Err(self.refusal());
        }
        Ok(body)
    }

    fn url_with_token(&self, url: &str, access_token: &str) -> Result<Url, AuthError> {
        let mut url = Url::parse(url)
            .map_err(|e| AuthError::Config(format!("auth.{}: bad URL {url}: {e}", self.name)))?;
        if let TokenPlacement::QueryParameter(name) = &self.placement {
            url.query_pairs_mut().append_pair(name, access_token);
        }
        if let Some(secret) = &self.app_secret {
            let proof = appsecret_proof(secret, access_token)?;
            url.query_pairs_mut().append_pair("appsecret_proof", &proof);
        }
        Ok(url)
    }

    fn refusal(&self) -> AuthError {
        AuthError::invalid(format!("{} auth is invalid for this user.", self.label))
    }
}

/// Facebook's `appsecret_proof`: hex HMAC-SHA256 of the token keyed by the app secret.
fn appsecret_proof(secret: &str, access_token: &str) -> Result<String, AuthError> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|e| AuthError::Config(format!("facebook app secret unusable: {e}")))?;
    mac.update(access_token.as_bytes());
    Ok(to_hex(&mac.finalize().into_bytes()))
}

/// Parse compares with JavaScript's `==`, so GitHub's numeric id equals the string id.
fn id_matches(returned: Option<&Value>, claimed_id: &str) -> bool {
    returned
        .and_then(id_text)
        .is_some_and(|id| id == claimed_id)
}

fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Null | Value::Bool(_) | Value::Array(_) | Value::Object(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_compare_like_javascript_loose_equality_for_numbers() {
        assert!(id_matches(Some(&json!(12345)), "12345"));
        assert!(id_matches(Some(&json!("12345")), "12345"));
        assert!(!id_matches(Some(&json!(12346)), "12345"));
        assert!(!id_matches(Some(&json!(null)), "12345"));
        assert!(!id_matches(None, "12345"));
    }

    #[test]
    fn appsecret_proof_is_hmac_sha256_hex() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            appsecret_proof("Jefe", "what do ya want for nothing?").unwrap(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn facebook_urls_carry_token_and_proof() {
        let provider = AccessTokenProvider::facebook(
            "http://127.0.0.1:9/",
            Some("secret".to_owned()),
            Vec::new(),
        );

        let url = provider.url_with_token(&provider.me_url, "tok en").unwrap();

        assert_eq!(url.path(), "/me");
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert_eq!(pairs[0], ("fields".to_owned(), "id".to_owned()));
        assert_eq!(pairs[1], ("access_token".to_owned(), "tok en".to_owned()));
        assert_eq!(pairs[2].0, "appsecret_proof");
        assert!(provider.app_check.is_none());
    }
}
