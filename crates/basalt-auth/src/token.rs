//! Random tokens and their storage form.
//!
//! - [`new_session_token`] has Parse's shape, `r:` + 32 hex characters (16 random bytes,
//!   exactly what Parse Server's `'r:' + cryptoUtils.newToken()` produces), so SDKs that
//!   inspect the prefix keep working.
//! - [`hash_token`] is what the engine stores in `_Session` instead of the token, so a leaked
//!   database holds no usable sessions. Look sessions up by `hash_token(presented)`. Sessions
//!   imported from Parse Server hold the plain token; hash them during import.
//! - [`new_secret`] makes e-mail verification and password reset tokens (Parse uses 25
//!   alphanumeric characters; pass 25 to keep the shape).
//! - [`constant_time_eq`] compares secrets without leaking where they differ.

#[cfg(test)]
mod tests;

use rand::Rng;
use rand::distr::Alphanumeric;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Prefix Parse Server gives revocable session tokens.
pub const SESSION_TOKEN_PREFIX: &str = "r:";
/// Random bytes in a session token (hex-encoded to 32 characters).
pub const SESSION_TOKEN_BYTES: usize = 16;

/// A new revocable session token: `r:` followed by 32 lowercase hex characters.
pub fn new_session_token() -> String {
    let mut bytes = [0u8; SESSION_TOKEN_BYTES];
    rand::rng().fill(&mut bytes);
    format!("{SESSION_TOKEN_PREFIX}{}", to_hex(&bytes))
}

/// SHA-256 of `token`, as 64 lowercase hex characters. Deterministic, so it can be indexed
/// and looked up; tokens carry enough entropy that no salt or slow hash is needed.
pub fn hash_token(token: &str) -> String {
    to_hex(&Sha256::digest(token.as_bytes()))
}

/// Compares two secrets in time independent of where they differ (their lengths may leak).
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// `len` random alphanumeric characters (`A–Z a–z 0–9`), without modulo bias.
pub fn new_secret(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// Lowercase hex encoding.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}
