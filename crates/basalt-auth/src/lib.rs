//! basalt-auth: the authentication building blocks the engine assembles into Parse's signup,
//! login, session and authData flows.
//!
//! - [`password`]: argon2id hashing, verification of Parse's bcrypt hashes, the password policy.
//! - [`token`]: session tokens (`r:…`), their stored SHA-256 form, e-mail/reset secrets.
//! - [`totp`]: TOTP and recovery codes behind `authData.mfa`.
//! - [`oidc`]: id_token verification with cached JWKS (apple, google, any OIDC issuer).
//! - [`access_token`]: access-token providers checked against a "me" endpoint (github, facebook).
//! - [`providers`]: the configured providers by name (Parse's `auth` option), built once.
//! - [`error`]: [`AuthError`] and its one mapping to Parse codes.
//!
//! This crate holds no data access and no HTTP server: it never reads or writes users or
//! sessions, and it depends on no basalt crate but `basalt-core`. Outbound HTTP to identity
//! providers goes through [`http::http_client`].

pub mod access_token;
pub mod error;
pub mod http;
pub mod oidc;
pub mod password;
pub mod providers;
pub mod sealed;
pub mod token;
pub mod totp;

pub use access_token::{AccessTokenProvider, AppCheck, TokenPlacement};
pub use error::AuthError;
pub use http::http_client;
pub use oidc::{IdTokenClaims, OidcOptions, OidcProvider, OidcVerifier};
pub use password::{PasswordPolicy, Verified};
pub use providers::{AuthProviders, ProviderRole, ProviderSpec};
pub use token::{constant_time_eq, hash_token, new_secret, new_session_token};
pub use totp::Enrolment;
