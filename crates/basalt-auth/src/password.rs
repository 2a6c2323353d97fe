//! Password hashing and verification, and the password policy.
//!
//! New hashes are argon2id PHC strings at OWASP's recommended parameters (m = 19 MiB, t = 2,
//! p = 1). Verification also accepts the bcrypt hashes Parse Server stores in
//! `_User._hashed_password` (bcryptjs/@node-rs/bcrypt, cost 10, `$2a$`/`$2b$`/`$2y$`), so an
//! imported database logs in unchanged; such a hash reports `needs_rehash`, and the engine
//! should then store [`hash`] of the password it just verified.
//!
//! Hashing costs tens of milliseconds of CPU. Inside async code call [`hash_async`],
//! [`verify_async`] and [`PasswordPolicy::check_async`], which run on tokio's blocking pool.
//!
//! This module knows nothing of users or storage: the engine reads and writes the hashes.

mod policy;
#[cfg(test)]
mod tests;

pub use policy::PasswordPolicy;

use argon2::password_hash::PasswordHasher;
use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordVerifier, Version};

use crate::error::AuthError;

/// Argon2 memory cost in KiB (19 MiB, OWASP).
pub const ARGON2_M_COST: u32 = 19 * 1024;
/// Argon2 iterations (OWASP).
pub const ARGON2_T_COST: u32 = 2;
/// Argon2 lanes (OWASP).
pub const ARGON2_P_COST: u32 = 1;

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The password matches the stored hash.
    pub ok: bool,
    /// The password matched, but the stored hash is bcrypt or weaker argon2 than
    /// [`hash`] produces: store a fresh [`hash`] of the password. Always false when `ok` is.
    pub needs_rehash: bool,
}

impl Verified {
    const NO: Verified = Verified {
        ok: false,
        needs_rehash: false,
    };
}

/// Hashes `password` as an argon2id PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`).
pub fn hash(password: &str) -> Result<String, AuthError> {
    let hashed = hasher()?
        .hash_password(password.as_bytes())
        .map_err(|e| AuthError::Hashing(e.to_string()))?;
    Ok(hashed.to_string())
}

/// Checks `password` against a stored argon2 PHC string or bcrypt hash. An empty password,
/// an empty hash or a hash in no known format never matches (as in Parse's `compare`).
pub fn verify(password: &str, stored: &str) -> Verified {
    if password.is_empty() || stored.is_empty() {
        return Verified::NO;
    }
    if is_bcrypt(stored) {
        return verify_bcrypt(password, stored);
    }
    if stored.starts_with("$argon2") {
        return verify_argon2(password, stored);
    }
    tracing::warn!("stored password hash is in no known format");
    Verified::NO
}

/// [`hash`] on tokio's blocking pool.
pub async fn hash_async(password: String) -> Result<String, AuthError> {
    run_blocking(move || hash(&password)).await?
}

/// [`verify`] on tokio's blocking pool.
pub async fn verify_async(password: String, stored: String) -> Result<Verified, AuthError> {
    run_blocking(move || verify(&password, &stored)).await
}

/// Runs CPU-heavy work on tokio's blocking pool; a panic there becomes `AuthError::Hashing`.
pub(crate) async fn run_blocking<T, F>(work: F) -> Result<T, AuthError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AuthError::Hashing(e.to_string()))
}

fn target_params() -> Result<Params, AuthError> {
    Params::new(ARGON2_M_COST, ARGON2_T_COST, ARGON2_P_COST, None)
        .map_err(|e| AuthError::Hashing(e.to_string()))
}

fn hasher() -> Result<Argon2<'static>, AuthError> {
    Ok(Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        target_params()?,
    ))
}

fn is_bcrypt(stored: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|prefix| stored.starts_with(prefix))
}

fn verify_bcrypt(password: &str, stored: &str) -> Verified {
    // `verify` truncates at 72 bytes, exactly as bcryptjs did when it made the hash.
    match bcrypt::verify(password, stored) {
        Ok(ok) => Verified {
            ok,
            needs_rehash: ok,
        },
        Err(e) => {
            tracing::warn!(error = %e, "stored bcrypt hash is malformed");
            Verified::NO
        }
    }
}

fn verify_argon2(password: &str, stored: &str) -> Verified {
    let parsed = match PasswordHash::new(stored) {
        Ok(parsed) => parsed,
        Err(e) => {
            tracing::warn!(error = %e, "stored argon2 hash is malformed");
            return Verified::NO;
        }
    };
    // The hash carries its own algorithm, version and parameters; `Argon2::default()` only
    // supplies the implementation.
    let ok = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    Verified {
        ok,
        needs_rehash: ok && is_weaker_than_target(&parsed),
    }
}

fn is_weaker_than_target(parsed: &PasswordHash) -> bool {
    let Ok(params) = Params::try_from(parsed) else {
        return true;
    };
    parsed.algorithm.as_str() != "argon2id"
        || parsed.version != Some(Version::V0x13.into())
        || params.m_cost() < ARGON2_M_COST
        || params.t_cost() < ARGON2_T_COST
}
