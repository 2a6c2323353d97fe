//! The client's address. It is the TCP peer, unless that peer is a trusted proxy: then it is the
//! nearest address in `X-Forwarded-For` that is not itself a trusted proxy (the rightmost
//! untrusted hop, as Express's `trust proxy` picks it). Worked out once per request, before
//! anything reads it, so rate limits and `masterKeyIps` always agree on who is calling.
//!
//! Trusting nobody is the default: a client can then put anything in `X-Forwarded-For` and
//! nothing believes it.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderMap;

use crate::IpRange;

/// Which peers may tell us who the client is (Parse's `trustProxy`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TrustProxy {
    /// No one: the TCP peer is the client.
    #[default]
    Nobody,
    /// Every hop (Express's `true`): the leftmost `X-Forwarded-For` address is the client.
    /// Only safe when every path to the server passes a proxy that overwrites the header.
    Everyone,
    /// The nearest N hops, whatever their addresses (Express's number).
    Hops(usize),
    /// Peers in these ranges.
    Ranges(Vec<IpRange>),
}

/// Express's names for address groups.
const NAMED: &[(&str, &[&str])] = &[
    ("loopback", &["127.0.0.0/8", "::1/128"]),
    ("linklocal", &["169.254.0.0/16", "fe80::/10"]),
    (
        "uniquelocal",
        &["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"],
    ),
];

impl TrustProxy {
    /// Parses `true`, `false`, a hop count, a comma-separated list of addresses, CIDR ranges
    /// and the names `loopback`, `linklocal`, `uniquelocal`, or any of these as JSON (Parse
    /// reads `PARSE_SERVER_TRUST_PROXY` as JSON: `["10.0.0.0/8", "loopback"]`).
    pub fn parse(text: &str) -> Result<TrustProxy, String> {
        let t = text.trim();
        if t.starts_with('[') || t.starts_with('"') {
            let v: serde_json::Value =
                serde_json::from_str(t).map_err(|e| format!("trust proxy {t:?}: {e}"))?;
            return Self::from_json(&v);
        }
        match t {
            "" | "false" => Ok(TrustProxy::Nobody),
            "true" => Ok(TrustProxy::Everyone),
            _ => match t.parse::<usize>() {
                Ok(0) => Ok(TrustProxy::Nobody),
                Ok(n) => Ok(TrustProxy::Hops(n)),
                Err(_) => Self::list(t.split(',')),
            },
        }
    }

    /// The same, from a JSON (or TOML-turned-JSON) value.
    pub fn from_json(v: &serde_json::Value) -> Result<TrustProxy, String> {
        use serde_json::Value;
        match v {
            Value::Bool(true) => Ok(TrustProxy::Everyone),
            Value::Bool(false) | Value::Null => Ok(TrustProxy::Nobody),
            Value::Number(n) => match n.as_u64().and_then(|n| usize::try_from(n).ok()) {
                Some(0) => Ok(TrustProxy::Nobody),
                Some(n) => Ok(TrustProxy::Hops(n)),
                None => Err(format!("trust proxy {n} must be a whole number of hops")),
            },
            Value::String(s) => Self::parse(s),
            Value::Array(items) => Self::list(items.iter().map(|i| i.as_str().unwrap_or("?"))),
            Value::Object(_) => Err("trust proxy must be true, a hop count or a list".to_owned()),
        }
    }

    fn list<'a>(entries: impl Iterator<Item = &'a str>) -> Result<TrustProxy, String> {
        let mut ranges = Vec::new();
        for entry in entries.map(str::trim).filter(|e| !e.is_empty()) {
            if let Some((_, group)) = NAMED.iter().find(|(name, _)| *name == entry) {
                ranges.extend(group.iter().filter_map(|r| IpRange::parse(r)));
            } else {
                ranges.push(IpRange::parse(entry).ok_or_else(|| {
                    format!(
                        "trust proxy entry {entry:?} is not an address, a CIDR range, \
                         loopback, linklocal or uniquelocal"
                    )
                })?);
            }
        }
        Ok(if ranges.is_empty() {
            TrustProxy::Nobody
        } else {
            TrustProxy::Ranges(ranges)
        })
    }

    /// Whether `ip`, `hop` steps from the server (0: the TCP peer), may name the next hop.
    fn trusts(&self, ip: IpAddr, hop: usize) -> bool {
        match self {
            TrustProxy::Nobody => false,
            TrustProxy::Everyone => true,
            TrustProxy::Hops(n) => hop < *n,
            TrustProxy::Ranges(ranges) => ranges.iter().any(|r| r.contains(ip)),
        }
    }

    /// The client's address given the TCP peer and the request's `X-Forwarded-For` headers.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client, 0) {
            return client;
        }
        // Several X-Forwarded-For headers read as one list, in order (RFC 9110 field lines).
        let mut hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        hops.reverse();
        for (i, hop) in hops.into_iter().enumerate() {
            // A hop a trusted proxy wrote but we cannot read: the proxy itself is the best
            // answer left, rather than a guess further along.
            let Some(addr) = parse_hop(hop) else {
                return client;
            };
            client = addr.to_canonical();
            if !self.trusts(client, i + 1) {
                return client;
            }
        }
        client
    }
}

impl std::fmt::Display for TrustProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TrustProxy::Nobody => f.write_str("nobody"),
            TrustProxy::Everyone => f.write_str("every hop"),
            TrustProxy::Hops(n) => write!(f, "the nearest {n} hop(s)"),
            TrustProxy::Ranges(ranges) => {
                for (i, r) in ranges.iter().enumerate() {
                    write!(f, "{}{r}", if i == 0 { "" } else { ", " })?;
                }
                Ok(())
            }
        }
    }
}

/// One `X-Forwarded-For` entry: an address, optionally with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
}

/// The client's address, as [`TrustProxy::client`] found it; absent when the server does not
/// know the peer (an app called without `serve`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// Adds [`ClientAddr`] to a request served by [`crate::serve`].
pub(crate) fn resolve(mut req: Request, trust: &TrustProxy) -> Request {
    if let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
        let client = trust.client(peer.ip(), req.headers());
        req.extensions_mut().insert(ClientAddr(client));
    }
    req
}

#[cfg(test)]
mod tests;
