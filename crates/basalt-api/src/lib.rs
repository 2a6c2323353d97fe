//! HTTP for basalt: Parse's REST wire format over axum. Decodes requests into engine calls and
//! engine answers (and errors) into Parse's JSON; holds no business rule.

mod client_addr;
mod error;
mod keys;
mod params;
pub mod ratelimit;
mod rest;
mod routes;
mod serve;
mod tunnel;

use std::sync::Arc;

use basalt_engine::Engine;

pub use client_addr::{ClientAddr, TrustProxy};
pub use error::ApiError;
pub use keys::{ApiKeys, IpRange};
pub use routes::app;
pub use serve::serve;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Where the API is mounted, e.g. `/parse`.
    pub mount_path: String,
    /// The public URL of the API, used in `Location` headers and file URLs.
    pub server_url: String,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// How long one request may take before it is answered with a timeout.
    pub request_timeout: std::time::Duration,
    /// The version string `/serverInfo` reports.
    pub version: String,
    /// Which peers may name the client in `X-Forwarded-For`.
    pub trust_proxy: TrustProxy,
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The rules.
    pub engine: Arc<Engine>,
    /// The keys clients must present.
    pub keys: Arc<ApiKeys>,
    /// HTTP settings.
    pub config: Arc<ApiConfig>,
    /// Rate limits.
    pub limits: ratelimit::RateLimits,
}
