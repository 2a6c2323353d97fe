//! The JWKS cache behind [`super::OidcVerifier`]: discovery of `jwks_uri`, fetching, and
//! the refetch rules (on expiry of the TTL; on an unknown `kid` at most once per
//! `min_refetch_interval`; one fetch at a time, shared by every waiting request). During an
//! outage the last good keys keep working.

use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use reqwest::Client;
use serde_json::Value;

use super::{OidcOptions, OidcProvider};
use crate::error::AuthError;
use crate::http::get_document;

/// One usable verification key from the JWKS.
#[derive(Clone)]
pub(super) struct CachedKey {
    kid: Option<String>,
    alg: Option<Algorithm>,
    pub(super) key: DecodingKey,
}

impl CachedKey {
    fn fits(&self, kid: Option<&str>, alg: Algorithm) -> bool {
        let kid_ok = match kid {
            Some(kid) => self.kid.as_deref() == Some(kid),
            None => true,
        };
        let alg_ok = self.alg.is_none_or(|own| own == alg) && self.key.family() == alg.family();
        kid_ok && alg_ok
    }
}

/// The keys from one fetch.
struct KeySet {
    keys: Vec<CachedKey>,
    fetched_at: Instant,
}

impl KeySet {
    fn find(&self, kid: Option<&str>, alg: Algorithm) -> Option<&CachedKey> {
        self.keys.iter().find(|k| k.fits(kid, alg))
    }
}

/// Bookkeeping of fetch attempts, guarded by the single-flight lock.
#[derive(Default)]
struct RefreshState {
    last_attempt: Option<Instant>,
    last_error: Option<String>,
}

/// Cached JWKS for one provider.
pub(super) struct JwksCache {
    provider: OidcProvider,
    options: OidcOptions,
    http: Client,
    current: RwLock<Option<Arc<KeySet>>>,
    refresh: tokio::sync::Mutex<RefreshState>,
}

impl JwksCache {
    pub(super) fn new(provider: OidcProvider, options: OidcOptions, http: Client) -> Self {
        Self {
            provider,
            options,
            http,
            current: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(RefreshState::default()),
        }
    }

    /// The key for a token's `kid` and `alg`, fetching the JWKS when the cache is empty,
    /// expired, or (rate-limited) does not know the `kid`.
    pub(super) async fn key_for(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<CachedKey, AuthError> {
        let started = Instant::now();
        if let Some(set) = self.snapshot()
            && self.is_fresh(&set, started)
            && let Some(key) = set.find(kid, alg)
        {
            return Ok(key.clone());
        }
        self.refresh_and_find(kid, alg, started).await
    }

    async fn refresh_and_find(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
        started: Instant,
    ) -> Result<CachedKey, AuthError> {
        let mut state = self.refresh.lock().await;
        let current = self.snapshot();
        // Another request fetched while this one waited: use its outcome.
        if state.last_attempt.is_some_and(|at| at >= started) {
            return match (&current, &state.last_error) {
                (Some(set), _) => find_or_unknown(set, kid, alg),
                (None, error) => Err(self.unavailable(error.as_deref())),
            };
        }
        if let Some(set) = &current
            && self.is_fresh(set, started)
            && self.refetched_recently(&state, started)
        {
            return find_or_unknown(set, kid, alg);
        }
        // The provider failed moments ago: do not hammer it, serve what we have.
        if state.last_error.is_some() && self.refetched_recently(&state, started) {
            let err = self.unavailable(state.last_error.as_deref());
            return self.stale_key_or(current.as_deref(), kid, alg, err);
        }
        state.last_attempt = Some(Instant::now());
        match self.fetch().await {
            Ok(set) => {
                state.last_error = None;
                let set = Arc::new(set);
                self.store(Arc::clone(&set));
                find_or_unknown(&set, kid, alg)
            }
            Err(err) => {
                state.last_error = Some(err.to_string());
                self.stale_key_or(current.as_deref(), kid, alg, err)
            }
        }
    }

    /// During an outage, a key we already had still verifies.
    fn stale_key_or(
        &self,
        current: Option<&KeySet>,
        kid: Option<&str>,
        alg: Algorithm,
        err: AuthError,
    ) -> Result<CachedKey, AuthError> {
        match current.and_then(|set| set.find(kid, alg)) {
            Some(key) => {
                tracing::warn!(provider = %self.provider.name, error = %err, "JWKS refresh failed; using cached keys");
                Ok(key.clone())
            }
            None => Err(err),
        }
    }

    async fn fetch(&self) -> Result<KeySet, AuthError> {
        let jwks_uri = match &self.provider.jwks_uri {
            Some(uri) => uri.clone(),
            None => self.discover_jwks_uri().await?,
        };
        let document = get_document(&self.http, &jwks_uri, &self.provider.name).await?;
        let keys = parse_jwks(&document, &self.provider.name)?;
        tracing::debug!(provider = %self.provider.name, keys = keys.len(), "fetched JWKS");
        Ok(KeySet {
            keys,
            fetched_at: Instant::now(),
        })
    }

    /// Reads `jwks_uri` from `{issuer}/.well-known/openid-configuration`, checking that the
    /// document names the configured issuer (OpenID Connect Discovery §4.3).
    async fn discover_jwks_uri(&self) -> Result<String, AuthError> {
        let base = self.provider.issuer.trim_end_matches('/');
        let url = format!("{base}/.well-known/openid-configuration");
        let document = get_document(&self.http, &url, &self.provider.name).await?;
        let issuer = document.get("issuer").and_then(Value::as_str).unwrap_or("");
        if issuer.trim_end_matches('/') != base {
            return Err(AuthError::unavailable(
                &self.provider.name,
                format!("discovery document names issuer {issuer:?}, expected {base:?}"),
            ));
        }
        document
            .get("jwks_uri")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                AuthError::unavailable(&self.provider.name, "discovery document has no jwks_uri")
            })
    }

    fn snapshot(&self) -> Option<Arc<KeySet>> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn store(&self, set: Arc<KeySet>) {
        match self.current.write() {
            Ok(mut guard) => *guard = Some(set),
            Err(poisoned) => *poisoned.into_inner() = Some(set),
        }
    }

    fn is_fresh(&self, set: &KeySet, now: Instant) -> bool {
        now.saturating_duration_since(set.fetched_at) < self.options.jwks_ttl
    }

    fn refetched_recently(&self, state: &RefreshState, now: Instant) -> bool {
        state
            .last_attempt
            .is_some_and(|at| now.saturating_duration_since(at) < self.options.min_refetch_interval)
    }

    fn unavailable(&self, reason: Option<&str>) -> AuthError {
        AuthError::unavailable(&self.provider.name, reason.unwrap_or("JWKS fetch failed"))
    }
}

fn find_or_unknown(
    set: &KeySet,
    kid: Option<&str>,
    alg: Algorithm,
) -> Result<CachedKey, AuthError> {
    set.find(kid, alg).cloned().ok_or_else(|| {
        AuthError::invalid(format!(
            "Unable to find matching key for Key ID: {}",
            kid.unwrap_or("undefined")
        ))
    })
}

/// The signing keys of a JWKS document. Keys this library cannot use (unknown types,
/// encryption keys, symmetric keys) are skipped rather than failing the whole set.
fn parse_jwks(document: &Value, provider: &str) -> Result<Vec<CachedKey>, AuthError> {
    let entries = document
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| AuthError::unavailable(provider, "JWKS has no keys array"))?;
    Ok(entries.iter().filter_map(cached_key).collect())
}

fn cached_key(entry: &Value) -> Option<CachedKey> {
    let jwk: Jwk = serde_json::from_value(entry.clone()).ok()?;
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return None;
    }
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    if key.family() == jsonwebtoken::AlgorithmFamily::Hmac {
        return None;
    }
    let alg = jwk
        .common
        .key_algorithm
        .and_then(|alg| Algorithm::from_str(&alg.to_string()).ok());
    Some(CachedKey {
        kid: jwk.common.key_id,
        alg,
        key,
    })
}
