//! Who is calling, from the Parse key headers: the application id every request needs, the
//! client keys when configured, the master keys (only from allowed addresses).

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use basalt_engine::AuthContext;

use crate::AppState;
use crate::error::ApiError;

/// An address range in CIDR form (`10.0.0.0/8`, `::1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpRange {
    network: IpAddr,
    prefix: u8,
}

impl IpRange {
    /// Parses `ADDR` or `ADDR/PREFIX`.
    pub fn parse(s: &str) -> Option<IpRange> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().ok()?)),
            None => (s, None),
        };
        let network: IpAddr = addr.trim().parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(IpRange { network, prefix })
    }

    /// True when `ip` is in the range (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.network, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(self.prefix))
                };
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(self.prefix))
                };
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for IpRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// The keys of the app.
#[derive(Debug, Clone)]
pub struct ApiKeys {
    /// The application id.
    pub app_id: String,
    /// The master key.
    pub master_key: String,
    /// The read-only master key, if configured.
    pub read_only_master_key: Option<String>,
    /// Client keys (javascript, REST, client, windows); when any is set, one must be sent.
    pub client_keys: Vec<String>,
    /// Addresses the master keys are accepted from.
    pub master_key_ips: Vec<IpRange>,
}

/// Compares secrets in time independent of where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

const CLIENT_KEY_HEADERS: &[&str] = &[
    "x-parse-javascript-key",
    "x-parse-rest-api-key",
    "x-parse-client-key",
    "x-parse-windows-key",
];

/// Works out the caller from headers and the peer address.
pub(crate) fn authenticate(
    keys: &ApiKeys,
    headers: &HeaderMap,
    peer: Option<IpAddr>,
) -> Result<AuthContext, ApiError> {
    match header(headers, "x-parse-application-id") {
        Some(id) if id == keys.app_id => {}
        _ => return Err(ApiError::Unauthorized),
    }
    let ip_ok = || peer.is_none_or(|ip| keys.master_key_ips.iter().any(|r| r.contains(ip)));
    let mut auth = AuthContext {
        installation_id: header(headers, "x-parse-installation-id").map(str::to_owned),
        ..AuthContext::default()
    };
    if let Some(given) = header(headers, "x-parse-master-key") {
        if same_secret(given, &keys.master_key) {
            if !ip_ok() {
                return Err(ApiError::Unauthorized);
            }
            auth.master = true;
        } else if keys
            .read_only_master_key
            .as_deref()
            .is_some_and(|k| same_secret(given, k))
        {
            if !ip_ok() {
                return Err(ApiError::Unauthorized);
            }
            auth.read_only_master = true;
        }
    }
    if !auth.reads_all() && !keys.client_keys.is_empty() {
        let presented = CLIENT_KEY_HEADERS
            .iter()
            .filter_map(|h| header(headers, h))
            .any(|given| keys.client_keys.iter().any(|k| same_secret(given, k)));
        if !presented {
            return Err(ApiError::Unauthorized);
        }
    }
    Ok(auth)
}

/// The caller of a request, its session token resolved into a user and roles.
pub(crate) struct Caller(pub AuthContext);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Keys(auth, token) = Keys::from_request_parts(parts, state).await?;
        // The master key acts as itself whatever session token comes with it, as in Parse.
        match token {
            Some(token) if !auth.master => match state.engine.authenticate(auth, &token).await {
                Ok(a) => Ok(Caller(a)),
                // A deleted user's session is just an invalid token everywhere but /users/me.
                Err(basalt_core::Error::Parse(p))
                    if p.message == basalt_engine::ORPHANED_SESSION =>
                {
                    Err(basalt_core::ParseError::new(
                        basalt_core::ErrorCode::InvalidSessionToken,
                        "Invalid session token",
                    )
                    .into())
                }
                Err(e) => Err(e.into()),
            },
            _ => Ok(Caller(auth)),
        }
    }
}

/// The client's address, when the server knows it (behind a trusted proxy, the address the
/// proxy reported: see `client_addr`).
pub(crate) struct Peer(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Peer(
            parts.extensions.get::<crate::ClientAddr>().map(|c| c.0),
        ))
    }
}

/// The caller as its keys alone make it, session token not resolved (log-in ignores one).
pub(crate) struct Keys(pub AuthContext, pub Option<String>);

impl FromRequestParts<AppState> for Keys {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Peer(peer) = Peer::from_request_parts(parts, state)
            .await
            .unwrap_or(Peer(None));
        let auth = authenticate(&state.keys, &parts.headers, peer)?;
        let token = header(&parts.headers, "x-parse-session-token")
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        Ok(Keys(auth, token))
    }
}

/// A caller that must hold the master key (or, for reads, the read-only master key).
pub(crate) struct MasterCaller(pub AuthContext);

impl FromRequestParts<AppState> for MasterCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Caller(auth) = Caller::from_request_parts(parts, state).await?;
        let read_only_ok = parts.method == axum::http::Method::GET;
        if auth.master || (auth.read_only_master && read_only_ok) {
            Ok(MasterCaller(auth))
        } else {
            Err(ApiError::MasterKeyRequired)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_ranges() {
        let r = IpRange::parse("10.0.0.0/8").unwrap();
        assert!(r.contains("10.1.2.3".parse().unwrap()));
        assert!(!r.contains("11.0.0.1".parse().unwrap()));
        assert!(
            IpRange::parse("127.0.0.1")
                .unwrap()
                .contains("::ffff:127.0.0.1".parse().unwrap())
        );
        assert!(
            IpRange::parse("::/0")
                .unwrap()
                .contains("::1".parse().unwrap())
        );
        assert!(IpRange::parse("1.2.3.4/33").is_none());
    }
}
