//! OpenID Connect id_token verification for authData providers that send a signed JWT
//! (Sign in with Apple `{id, token}`, Google `{id, id_token}`, Facebook Limited Login
//! `{id, token}`, or any OIDC issuer configured by name).
//!
//! [`OidcVerifier::verify`] checks, in order: the token decodes; its `alg` is asymmetric
//! (RS*, PS*, ES256/384, EdDSA); a key with its `kid` is in the issuer's JWKS; the signature;
//! `exp`, `nbf` and `iat` within [`OidcOptions::leeway`]; `aud` is one of the `client_ids`;
//! `iss` is the issuer; `sub` is the `id` the client claims. Every refusal is
//! `AuthError::InvalidAuthData` (Parse code 101) with the messages Parse's apple/google adapters
//! give; an unreachable issuer is `AuthError::ProviderUnavailable`.
//!
//! What the engine must do: build one `OidcVerifier` per configured provider at start-up and
//! keep it (its JWKS cache lives inside), pick the token field by provider (`token` for
//! apple/facebook, `id_token` for google), call `verify(token, authData.id)`, and only then
//! look up or link the user by `authData.<provider>.id`.

mod jwks;

use std::time::{Duration, SystemTime};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use reqwest::Client;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::AuthError;
use jwks::JwksCache;

/// Algorithms accepted in an id_token header. Symmetric (HS*) and `none` never are.
pub const ALLOWED_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// One OpenID Connect issuer, as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcProvider {
    /// The authData key (`apple`, `google`, or any name).
    pub name: String,
    /// The issuer URL, compared exactly with the token's `iss` and used for discovery.
    pub issuer: String,
    /// Accepted `aud` values (the app's client ids / bundle ids). Must not be empty.
    pub client_ids: Vec<String>,
    /// The JWKS URL; when absent it is read from `{issuer}/.well-known/openid-configuration`.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// Further `iss` values to accept (Google also issues as `accounts.google.com`).
    #[serde(default)]
    pub extra_issuers: Vec<String>,
}

impl OidcProvider {
    /// Sign in with Apple (`authData.apple = {id, token}`).
    pub fn apple(client_ids: Vec<String>) -> Self {
        Self {
            name: "apple".to_owned(),
            issuer: "https://appleid.apple.com".to_owned(),
            client_ids,
            jwks_uri: Some("https://appleid.apple.com/auth/keys".to_owned()),
            extra_issuers: Vec::new(),
        }
    }

    /// Google Sign-In (`authData.google = {id, id_token}`).
    pub fn google(client_ids: Vec<String>) -> Self {
        Self {
            name: "google".to_owned(),
            issuer: "https://accounts.google.com".to_owned(),
            client_ids,
            jwks_uri: Some("https://www.googleapis.com/oauth2/v3/certs".to_owned()),
            extra_issuers: vec!["accounts.google.com".to_owned()],
        }
    }

    /// Facebook Limited Login (`authData.facebook = {id, token}`).
    pub fn facebook_limited_login(client_ids: Vec<String>) -> Self {
        Self {
            name: "facebook".to_owned(),
            issuer: "https://www.facebook.com".to_owned(),
            client_ids,
            jwks_uri: Some("https://www.facebook.com/.well-known/oauth/openid/jwks/".to_owned()),
            extra_issuers: Vec::new(),
        }
    }

    fn validate(&self) -> Result<(), AuthError> {
        let problem = if self.name.is_empty() {
            "an OIDC provider has no name"
        } else if self.issuer.is_empty() {
            "issuer must not be empty"
        } else if self.client_ids.iter().all(String::is_empty) {
            "client_ids must not be empty"
        } else {
            return Ok(());
        };
        Err(AuthError::Config(format!("auth.{}: {problem}", self.name)))
    }

    fn accepts_issuer(&self, iss: &str) -> bool {
        iss == self.issuer || self.extra_issuers.iter().any(|extra| extra == iss)
    }
}

/// Cache and clock settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OidcOptions {
    /// How long fetched keys are trusted before a scheduled refetch (default 1 hour, as
    /// Parse's apple adapter caches).
    pub jwks_ttl: Duration,
    /// Least time between fetches triggered by an unknown `kid` or after a failed fetch
    /// (default 1 minute).
    pub min_refetch_interval: Duration,
    /// Clock skew allowed on `exp`, `nbf` and `iat` (default 30 seconds).
    pub leeway: Duration,
}

impl Default for OidcOptions {
    fn default() -> Self {
        Self {
            jwks_ttl: Duration::from_secs(3600),
            min_refetch_interval: Duration::from_secs(60),
            leeway: Duration::from_secs(30),
        }
    }
}

/// The verified content of an id_token.
#[derive(Debug, Clone, PartialEq)]
pub struct IdTokenClaims {
    /// `sub`: the provider's id for the user, equal to the claimed authData `id`.
    pub subject: String,
    /// `iss`.
    pub issuer: String,
    /// `email`, if the token carries one (unverified unless `email_verified` says so).
    pub email: Option<String>,
    /// Every claim, for provider-specific use (`email_verified`, `nonce`, …).
    pub claims: Map<String, Value>,
}

/// Verifies id_tokens for one provider, caching its JWKS. Create once and share.
pub struct OidcVerifier {
    provider: OidcProvider,
    options: OidcOptions,
    keys: JwksCache,
}

impl OidcVerifier {
    /// A verifier for `provider`; fails if the configuration is unusable.
    pub fn new(
        provider: OidcProvider,
        http: Client,
        options: OidcOptions,
    ) -> Result<Self, AuthError> {
        provider.validate()?;
        let keys = JwksCache::new(provider.clone(), options, http);
        Ok(Self {
            provider,
            options,
            keys,
        })
    }

    /// The provider this verifier checks tokens for.
    pub fn provider(&self) -> &OidcProvider {
        &self.provider
    }

    /// Verifies `id_token` and that it was issued for `claimed_id` (the authData `id`).
    pub async fn verify(
        &self,
        id_token: &str,
        claimed_id: &str,
    ) -> Result<IdTokenClaims, AuthError> {
        if id_token.is_empty() {
            return Err(AuthError::invalid("id token is invalid for this user."));
        }
        let header = jsonwebtoken::decode_header(id_token)
            .map_err(|_| AuthError::invalid("provided token does not decode as JWT"))?;
        if !ALLOWED_ALGORITHMS.contains(&header.alg) {
            return Err(AuthError::invalid("invalid algorithm"));
        }
        let key = self.keys.key_for(header.kid.as_deref(), header.alg).await?;
        let claims = jsonwebtoken::decode::<Map<String, Value>>(
            id_token,
            &key.key,
            &self.validation(header.alg),
        )
        .map_err(|e| self.jwt_error(e.kind()))?
        .claims;
        self.check_claims(claims, claimed_id)
    }

    fn validation(&self, alg: Algorithm) -> Validation {
        let mut validation = Validation::new(alg);
        validation.leeway = self.options.leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.set_audience(&self.provider.client_ids);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // `iss` is compared in `check_claims`, to name the wrong issuer as Parse does.
        validation
    }

    fn check_claims(
        &self,
        claims: Map<String, Value>,
        claimed_id: &str,
    ) -> Result<IdTokenClaims, AuthError> {
        self.check_issued_at(&claims)?;
        let issuer = string_claim(&claims, "iss");
        if !self.provider.accepts_issuer(&issuer) {
            return Err(AuthError::invalid(format!(
                "id token not issued by correct OpenID provider - expected: {} | from: {issuer}",
                self.provider.issuer
            )));
        }
        let subject = string_claim(&claims, "sub");
        if claimed_id.is_empty() || subject != claimed_id {
            return Err(AuthError::invalid("auth data is invalid for this user."));
        }
        let email = claims
            .get("email")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(IdTokenClaims {
            subject,
            issuer,
            email,
            claims,
        })
    }

    /// Refuses tokens issued in the future (beyond the leeway); jsonwebtoken checks only
    /// `exp` and `nbf`.
    fn check_issued_at(&self, claims: &Map<String, Value>) -> Result<(), AuthError> {
        let Some(iat) = claims.get("iat") else {
            return Ok(());
        };
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        match iat.as_f64() {
            Some(iat) if iat <= (now + self.options.leeway.as_secs()) as f64 => Ok(()),
            Some(_) => Err(AuthError::invalid("jwt issued in the future")),
            None => Err(AuthError::invalid("jwt malformed")),
        }
    }

    /// jsonwebtoken's refusals in the words of Node's `jsonwebtoken`, which Parse passes on.
    fn jwt_error(&self, kind: &ErrorKind) -> AuthError {
        match kind {
            ErrorKind::InvalidSignature => AuthError::invalid("invalid signature"),
            ErrorKind::ExpiredSignature => AuthError::invalid("jwt expired"),
            ErrorKind::ImmatureSignature => AuthError::invalid("jwt not active"),
            ErrorKind::InvalidAudience => AuthError::invalid(format!(
                "jwt audience invalid. expected: {}",
                self.provider.client_ids.join(" or ")
            )),
            ErrorKind::MissingRequiredClaim(claim) => {
                AuthError::invalid(format!("jwt must have a {claim} claim"))
            }
            ErrorKind::InvalidAlgorithm
            | ErrorKind::MissingAlgorithm
            | ErrorKind::UnsupportedAlgorithm
            | ErrorKind::InvalidKeyFormat
            | ErrorKind::InvalidRsaKey(_)
            | ErrorKind::InvalidEcdsaKey
            | ErrorKind::InvalidEddsaKey => AuthError::invalid("invalid algorithm"),
            // Malformed base64/JSON/claims, and kinds added by future jsonwebtoken versions.
            _ => AuthError::invalid("jwt malformed"),
        }
    }
}

fn string_claim(claims: &Map<String, Value>, name: &str) -> String {
    claims
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}
