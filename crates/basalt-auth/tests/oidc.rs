//! OIDC id_token verification against a real local issuer: an axum server on 127.0.0.1:0
//! serving discovery and a JWKS whose keys (RSA and P-256, generated per test) can rotate or
//! fail on demand, counting how often it is asked.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, anyhow};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use basalt_auth::{AuthError, OidcOptions, OidcProvider, OidcVerifier, http_client};
use basalt_core::error::ParseError;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

const CLIENT_ID: &str = "com.example.app";
const USER_ID: &str = "001234.abcdef";

/// What the local issuer serves, and how often it was asked.
struct IssuerState {
    base: String,
    discovery_issuer: Mutex<String>,
    jwks: Mutex<Vec<Value>>,
    fail_jwks: AtomicBool,
    jwks_hits: AtomicUsize,
    discovery_hits: AtomicUsize,
}

/// A running local issuer.
struct Issuer {
    state: Arc<IssuerState>,
}

impl Issuer {
    async fn start() -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let state = Arc::new(IssuerState {
            discovery_issuer: Mutex::new(base.clone()),
            base,
            jwks: Mutex::new(Vec::new()),
            fail_jwks: AtomicBool::new(false),
            jwks_hits: AtomicUsize::new(0),
            discovery_hits: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .with_state(Arc::clone(&state));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { state })
    }

    fn url(&self) -> &str {
        &self.state.base
    }

    fn publish(&self, keys: &[&TestKey]) {
        *lock(&self.state.jwks) = keys.iter().map(|k| k.jwk.clone()).collect();
    }

    fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    fn provider(&self) -> OidcProvider {
        OidcProvider {
            name: "local".to_owned(),
            issuer: self.url().to_owned(),
            client_ids: vec!["other.client".to_owned(), CLIENT_ID.to_owned()],
            jwks_uri: None,
            extra_issuers: Vec::new(),
        }
    }

    fn verifier(&self, options: OidcOptions) -> Result<OidcVerifier> {
        Ok(OidcVerifier::new(self.provider(), http_client()?, options)?)
    }

    /// Claims for a valid token from this issuer.
    fn claims(&self) -> Value {
        let now = now();
        json!({
            "iss": self.url(),
            "aud": CLIENT_ID,
            "sub": USER_ID,
            "iat": now,
            "exp": now + 600,
            "email": "user@example.com",
            "email_verified": "true",
        })
    }
}

async fn discovery(State(state): State<Arc<IssuerState>>) -> Json<Value> {
    state.discovery_hits.fetch_add(1, Ordering::SeqCst);
    let issuer = lock(&state.discovery_issuer).clone();
    Json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{}/jwks", state.base),
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
    }))
}

async fn jwks(State(state): State<Arc<IssuerState>>) -> Response {
    state.jwks_hits.fetch_add(1, Ordering::SeqCst);
    if state.fail_jwks.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let keys = lock(&state.jwks).clone();
    Json(json!({ "keys": keys })).into_response()
}

/// A signing key and its public JWK.
struct TestKey {
    kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
    jwk: Value,
}

impl TestKey {
    fn rsa(kid: &str) -> Result<Self> {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|e| anyhow!("{e}"))?;
        let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der<'static>>::as_der(&pair)
            .map_err(|e| anyhow!("{e}"))?;
        let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", der.as_ref().to_vec()));
        let encoding = EncodingKey::from_rsa_pem(pem.as_bytes())?;
        Self::with_jwk(kid, Algorithm::RS256, encoding)
    }

    fn ec(kid: &str) -> Result<Self> {
        let pair =
            EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(|e| anyhow!("{e}"))?;
        let der = pair.to_pkcs8v1().map_err(|e| anyhow!("{e}"))?;
        let encoding = EncodingKey::from_ec_der(der.as_ref());
        Self::with_jwk(kid, Algorithm::ES256, encoding)
    }

    fn with_jwk(kid: &str, alg: Algorithm, encoding: EncodingKey) -> Result<Self> {
        let mut jwk = Jwk::from_encoding_key(&encoding, alg)?;
        jwk.common.key_id = Some(kid.to_owned());
        Ok(Self {
            kid: kid.to_owned(),
            alg,
            encoding,
            jwk: serde_json::to_value(jwk)?,
        })
    }

    fn sign(&self, claims: &Value) -> Result<String> {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }
}

/// Locks, ignoring poisoning (a panicking test thread fails its own test anyway).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The Parse error a client would see.
fn parse_error(result: Result<basalt_auth::IdTokenClaims, AuthError>) -> Result<(i32, String)> {
    let err = result.err().context("expected the token to be refused")?;
    let parse = ParseError::from(err);
    Ok((parse.code.code(), parse.message.into_owned()))
}

/// An issuer already serving one RSA key, and that key.
async fn issuer_with_rsa_key() -> Result<(Issuer, TestKey)> {
    let issuer = Issuer::start().await?;
    let key = TestKey::rsa("rsa-1")?;
    issuer.publish(&[&key]);
    Ok((issuer, key))
}

#[tokio::test]
async fn valid_rs256_token_is_accepted_via_discovery() -> Result<()> {
    let (issuer, key) = issuer_with_rsa_key().await?;
    let verifier = issuer.verifier(OidcOptions::default())?;
    let token = key.sign(&issuer.claims())?;

    let claims = verifier.verify(&token, USER_ID).await?;

    assert_eq!(claims.subject, USER_ID);
    assert_eq!(claims.issuer, issuer.url());
    assert_eq!(claims.email.as_deref(), Some("user@example.com"));
    assert_eq!(claims.claims["email_verified"], json!("true"));
    assert_eq!(issuer.state.discovery_hits.load(Ordering::SeqCst), 1);
    assert_eq!(issuer.jwks_hits(), 1);
    Ok(())
}

#[tokio::test]
async fn valid_es256_token_is_accepted_with_configured_jwks_uri() -> Result<()> {
    let issuer = Issuer::start().await?;
    let rsa = TestKey::rsa("rsa-1")?;
    let ec = TestKey::ec("ec-1")?;
    issuer.publish(&[&rsa, &ec]);
    let provider = OidcProvider {
        jwks_uri: Some(format!("{}/jwks", issuer.url())),
        ..issuer.provider()
    };
    let verifier = OidcVerifier::new(provider, http_client()?, OidcOptions::default())?;

    let claims = verifier
        .verify(&ec.sign(&issuer.claims())?, USER_ID)
        .await?;

    assert_eq!(claims.subject, USER_ID);
    assert_eq!(issuer.state.discovery_hits.load(Ordering::SeqCst), 0);
    Ok(())
}

#[tokio::test]
async fn keys_are_cached_between_verifications() -> Result<()> {
    let (issuer, key) = issuer_with_rsa_key().await?;
    let verifier = issuer.verifier(OidcOptions::default())?;

    for _ in 0..5 {
        verifier
            .verify(&key.sign(&issuer.claims())?, USER_ID)
            .await?;
    }

    assert_eq!(issuer.jwks_hits(), 1);
    Ok(())
}

#[tokio::test]
async fn wrong_audience_is_rejected() -> Result<()> {
    let (issuer, key) = issuer_with_rsa_key().await?;
    let verifier = issuer.verifier(OidcOptions::default())?;
    let mut claims = issuer.claims();
    claims["aud"] = json!("com.attacker.app");

    let refused = parse_error(verifier.verify(&key.sign(&claims)?, USER_ID).await)?;

    assert_eq!(
        refused,
        (
            101,
            "jwt audience invalid. expected: other.client or com.example.app".to_owned()
        )
    );
    Ok(())
}

#[tokio::test]
async fn audience_lists_are_accepted_when_one_matches() -> Result<()> {
    let (issuer, key) = issuer_with_rsa_key().await?;
    let verifier = issuer.verifier(OidcOptions::default())?;
    let mut claims = issuer.claims();
    claims["aud"] = json!(["someone.else", CLIENT_ID]);

    let verified = verifier.verify(&key.sign(&claims)?, USER_ID).await?;

    assert_eq!(verified.subject, USER_ID);
    Ok(())
}

#[tokio::test]
async fn expired_token_is_rejected() -> Result<()> {
    let (issuer, key) = issuer_with_rsa_key().await?;
    let verifier = issuer.verifier(OidcOptions::default())?;
    let mut claims = issuer.claims();
    claims["iat"] = json!(now() - 7200);
    claims["exp"] = json!(now() - 3600);

    let refused = parse_error(verifier.verify(&key.sign(&claims)?, USER_ID).await)?;

    assert_eq!(refused, (101, "jwt expired".to_owned()));
    Ok(())
}

#[tokio::test]
async fn expiry_within_leeway_is_tolerated() -> Result<()> {
    let (issuer, key) = issuer_with_rsa_key().await?;
    let verifier = issuer.verifier(OidcOptions::default())?;
    let mut claims = issuer.claims();
    claims["exp"] = json!(now() - 5);

    let verified = verifier.verify(&key.sign(&claims)?, USER_ID).await;

    assert!(verified.is_ok(), "{verified:?}");
    Ok(())
}

#[tokio::test]
async fn not_yet_valid_and_future_issued_tokens_are_rejected() -> Result<()> {
    let (issuer, key) = issuer_with_rsa_key().await?;
    let verifier = issuer.verifier(OidcOptions::default())?;
    let mut early = issuer.claims();
    early["nbf"] = json!(now() + 600);
    let mut future = issuer.claims();
    future["iat"] = json!(now() + 600);

    let not_active = parse_error(verifier.verify(&key.sign(&early)?, USER_ID).await)?;
    let issued_later = parse_error(verifier.verify(&key.sign(&future)?, USER_ID).await)?;

    assert_eq!(not_active, (101, "jwt not active".to_owned()));
    assert_eq!(issued_later, (101, "jwt issued in the future".to_owned()));
    Ok(())
}

#[tokio::test]
async fn wrong_issuer_is_rejected() -> Result<()> {
    let (issuer, key) = issuer_with_rsa_key().await?;
    let verifier = issuer.verifier(OidcOptions::default())?;
    let mut claims = issuer.claims();
    claims["iss"] = json!("https://evil.example");

    let refused = parse_error(verifier.verify(&key.sign(&claims)?, USER_ID).await)?;

    assert_eq!(
        refused,
        (
            101,
            format!(
                "id token not issued by correct OpenID provider - expected: {} | from: https://evil.example",
                issuer.url()
            )
        )
    );
    Ok(())
}

#[tokio::test]
async fn tampered_tokens_are_rejected() -> Result<()> {
    let (issuer, key) = issuer_with_rsa_key().await?;
    let verifier = issuer.verifier(OidcOptions::default())?;
    let token = key.sign(&issuer.claims())?;
    let parts: Vec<&str> = token.split('.').collect();
    let mut forged_claims = issuer.claims();
    forged_claims["sub"] = json!("someone-else");
    let forged_payload = key.sign(&forged_claims)?;
    let forged_payload = forged_payload.split('.').nth(1).context("payload")?;
    let swapped = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    let mut signature = parts[2].to_owned();
    let flipped = if signature[10..].starts_with('A') {
        "B"
    } else {
        "A"
    };
    signature.replace_range(10..11, flipped);
    let bad_signature = format!("{}.{}.{}", parts[0], parts[1], signature);

    let swapped = parse_error(verifier.verify(&swapped, "someone-else").await)?;
    let bad_signature = parse_error(verifier.verify(&bad_signature, USER_ID).await)?;

    assert_eq!(swapped, (101, "invalid signature".to_owned()));
    assert_eq!(bad_signature, (101, "invalid signature".to_owned()));
    Ok(())
}

#[tokio::test]
async fn token_signed_by_an_unpublished_key_is_rejected() -> Result<()> {
    let (issuer, _published) = issuer_with_rsa_key().await?;
    let verifier = issuer.verifier(OidcOptions::default())?;
    // Same kid as the published key, different private key.
    let impostor = TestKey::rsa("rsa-1")?;

    let refused = parse_error(
        verifier
            .verify(&impostor.sign(&issuer.claims())?, USER_ID)
            .await,
    )?;

    assert_eq!(refused, (101, "invalid signature".to_owned()));
    Ok(())
}

#[tokio::test]
async fn subject_must_equal_the_claimed_id() -> Result<()> {
    let (issuer, key) = issuer_with_rsa_key().await?;
    let verifier = issuer.verifier(OidcOptions::default())?;
    let token = key.sign(&issuer.claims())?;

    let other = parse_error(verifier.verify(&token, "another-user").await)?;
    let empty = parse_error(verifier.verify(&token, "").await)?;

    assert_eq!(
        other,
        (101, "auth data is invalid for this user.".to_owned())
    );
    assert_eq!(
        empty,
        (101, "auth data is invalid for this user.".to_owned())
    );
    Ok(())
}

#[tokio::test]
async fn malformed_and_symmetric_tokens_are_rejected() -> Result<()> {
    let (issuer, _key) = issuer_with_rsa_key().await?;
    let verifier = issuer.verifier(OidcOptions::default())?;
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("rsa-1".to_owned());
    let hs256 = jsonwebtoken::encode(
        &header,
        &issuer.claims(),
        &EncodingKey::from_secret(b"guessable"),
    )?;

    let empty = parse_error(verifier.verify("", USER_ID).await)?;
    let garbage = parse_error(verifier.verify("not.a.jwt", USER_ID).await)?;
    let symmetric = parse_error(verifier.verify(&hs256, USER_ID).await)?;

    assert_eq!(
        empty,
        (101, "id token is invalid for this user.".to_owned())
    );
    assert_eq!(
        garbage,
        (101, "provided token does not decode as JWT".to_owned())
    );
    assert_eq!(symmetric, (101, "invalid algorithm".to_owned()));
    assert_eq!(issuer.jwks_hits(), 0, "refused before any fetch");
    Ok(())
}

#[tokio::test]
async fn rotated_key_is_found_by_refetching_the_jwks() -> Result<()> {
    let (issuer, old_key) = issuer_with_rsa_key().await?;
    let options = OidcOptions {
        min_refetch_interval: Duration::from_millis(200),
        ..OidcOptions::default()
    };
    let verifier = issuer.verifier(options)?;
    verifier
        .verify(&old_key.sign(&issuer.claims())?, USER_ID)
        .await?;
    let new_key = TestKey::rsa("rsa-2")?;
    issuer.publish(&[&new_key]);
    tokio::time::sleep(Duration::from_millis(250)).await;

    let claims = verifier
        .verify(&new_key.sign(&issuer.claims())?, USER_ID)
        .await?;

    assert_eq!(claims.subject, USER_ID);
    assert_eq!(issuer.jwks_hits(), 2);
    Ok(())
}

#[tokio::test]
async fn unknown_kid_refetches_at_most_once_per_interval() -> Result<()> {
    let (issuer, key) = issuer_with_rsa_key().await?;
    let verifier = issuer.verifier(OidcOptions::default())?;
    verifier
        .verify(&key.sign(&issuer.claims())?, USER_ID)
        .await?;
    let unpublished = TestKey::rsa("rsa-unknown")?;
    let token = unpublished.sign(&issuer.claims())?;

    let first = parse_error(verifier.verify(&token, USER_ID).await)?;
    let second = parse_error(verifier.verify(&token, USER_ID).await)?;

    let expected = (
        101,
        "Unable to find matching key for Key ID: rsa-unknown".to_owned(),
    );
    assert_eq!(first, expected);
    assert_eq!(second, expected);
    assert_eq!(
        issuer.jwks_hits(),
        1,
        "the first fetch was under a minute ago"
    );
    Ok(())
}

#[tokio::test]
async fn unknown_kid_on_an_empty_cache_fetches_once_and_then_waits() -> Result<()> {
    let (issuer, _key) = issuer_with_rsa_key().await?;
    let verifier = issuer.verifier(OidcOptions::default())?;
    let token = TestKey::rsa("rsa-unknown")?.sign(&issuer.claims())?;

    for _ in 0..3 {
        let refused = parse_error(verifier.verify(&token, USER_ID).await)?;
        assert_eq!(refused.0, 101);
    }

    assert_eq!(issuer.jwks_hits(), 1);
    Ok(())
}

#[tokio::test]
async fn expired_cache_is_refetched() -> Result<()> {
    let (issuer, key) = issuer_with_rsa_key().await?;
    let options = OidcOptions {
        jwks_ttl: Duration::from_millis(100),
        ..OidcOptions::default()
    };
    let verifier = issuer.verifier(options)?;
    verifier
        .verify(&key.sign(&issuer.claims())?, USER_ID)
        .await?;
    tokio::time::sleep(Duration::from_millis(150)).await;

    verifier
        .verify(&key.sign(&issuer.claims())?, USER_ID)
        .await?;

    assert_eq!(issuer.jwks_hits(), 2);
    Ok(())
}

#[tokio::test]
async fn cached_keys_survive_an_issuer_outage() -> Result<()> {
    let (issuer, key) = issuer_with_rsa_key().await?;
    let options = OidcOptions {
        jwks_ttl: Duration::from_millis(100),
        ..OidcOptions::default()
    };
    let verifier = issuer.verifier(options)?;
    verifier
        .verify(&key.sign(&issuer.claims())?, USER_ID)
        .await?;
    issuer.state.fail_jwks.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(150)).await;

    let during_outage = verifier.verify(&key.sign(&issuer.claims())?, USER_ID).await;

    assert!(during_outage.is_ok(), "{during_outage:?}");
    assert_eq!(issuer.jwks_hits(), 2, "the refresh was attempted");
    Ok(())
}

#[tokio::test]
async fn unreachable_issuer_is_an_internal_error_not_a_refusal() -> Result<()> {
    let (issuer, key) = issuer_with_rsa_key().await?;
    issuer.state.fail_jwks.store(true, Ordering::SeqCst);
    let verifier = issuer.verifier(OidcOptions::default())?;

    let result = verifier.verify(&key.sign(&issuer.claims())?, USER_ID).await;

    let err = result.err().context("expected an error")?;
    assert!(
        matches!(err, AuthError::ProviderUnavailable { .. }),
        "{err:?}"
    );
    assert!(matches!(
        basalt_core::error::Error::from(err),
        basalt_core::error::Error::Internal(_)
    ));
    Ok(())
}

#[tokio::test]
async fn discovery_naming_another_issuer_is_refused() -> Result<()> {
    let (issuer, key) = issuer_with_rsa_key().await?;
    *lock(&issuer.state.discovery_issuer) = "https://elsewhere.example".to_owned();
    let verifier = issuer.verifier(OidcOptions::default())?;

    let result = verifier.verify(&key.sign(&issuer.claims())?, USER_ID).await;

    assert!(matches!(result, Err(AuthError::ProviderUnavailable { .. })));
    assert_eq!(issuer.jwks_hits(), 0);
    Ok(())
}

#[tokio::test]
async fn concurrent_verifications_share_one_fetch() -> Result<()> {
    let (issuer, key) = issuer_with_rsa_key().await?;
    let verifier = Arc::new(issuer.verifier(OidcOptions::default())?);
    let token = key.sign(&issuer.claims())?;

    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let verifier = Arc::clone(&verifier);
            let token = token.clone();
            tokio::spawn(async move { verifier.verify(&token, USER_ID).await })
        })
        .collect();
    for task in tasks {
        task.await??;
    }

    assert_eq!(issuer.jwks_hits(), 1);
    Ok(())
}

#[tokio::test]
async fn provider_without_client_ids_is_a_configuration_error() -> Result<()> {
    let issuer = Issuer::start().await?;
    let provider = OidcProvider {
        client_ids: Vec::new(),
        ..issuer.provider()
    };

    let result = OidcVerifier::new(provider, http_client()?, OidcOptions::default());

    assert!(matches!(result, Err(AuthError::Config(_))));
    Ok(())
}
