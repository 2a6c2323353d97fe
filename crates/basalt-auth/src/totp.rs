//! TOTP (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps, ±1 step) and recovery codes, the
//! pieces behind Parse Server's `mfa` auth adapter (`src/Adapters/Auth/mfa.js`, TOTP mode).
//!
//! What the engine must do to match Parse's wire shapes (`authData.mfa`):
//! - **Enrol** (`PUT /users/:id` with `authData: {mfa: {secret, token}}`, by the user):
//!   [`check_enrolment`] (141 `Invalid MFA data` / `Invalid MFA token`), then
//!   [`recovery_codes`]`(2)`, store `authData.mfa = {secret, recovery: [hash_recovery_code…]}`
//!   and answer with `authDataResponse: {mfa: {recovery: "code1, code2"}}` (Parse joins the
//!   codes with `", "`). Parse stores the codes in plain text; basalt stores hashes.
//!   Servers may offer [`enrol`] to produce the secret and `otpauth://` URL for clients that
//!   do not make their own.
//! - **Re-enrol** (`{mfa: {old, secret, token}}`): `old` must pass as a login code first;
//!   the master key skips that check.
//! - **Login** (`POST /login` with username, password and `authData: {mfa: {token}}`):
//!   without `authData.mfa` answer -1 `Missing additional authData mfa`; a non-string token
//!   is 141 `Invalid MFA token`. Accept the token if [`find_recovery_code`] finds it (then
//!   remove that entry: basalt's codes are single-use, Parse's are not) or [`verify`] passes,
//!   else 141 `Invalid MFA token`. Login never rewrites `authData.mfa` (Parse's `doNotSave`).
//!   To refuse a replayed code within its window, keep the last step from [`matching_step`].
//! - **Reads**: without the master key `authData.mfa` reads back as `{status: "enabled"}` when
//!   a secret is stored, else `{status: "disabled"}`; the secret and recovery hashes never leave
//!   the server.
//!
//! Legacy Parse data (plain recovery codes) verifies through [`find_recovery_code`] too.

#[cfg(test)]
mod tests;

use std::time::SystemTime;

use rand::Rng;
use totp_rs::{Algorithm, Builder, Secret, Totp};

use crate::error::AuthError;
use crate::token::{constant_time_eq, hash_token};

/// Digits in a code.
pub const DIGITS: u8 = 6;
/// Seconds per step.
pub const STEP_SECONDS: u64 = 30;
/// Steps accepted either side of the current one.
pub const SKEW_STEPS: u16 = 1;
/// Random bytes in a secret made by [`enrol`] (160 bits, RFC 4226's recommendation).
pub const SECRET_BYTES: usize = 20;
/// Shortest base32 secret accepted at enrolment (Parse's `secret.length < 20` check).
pub const MIN_SECRET_BASE32_LEN: usize = 20;

const INVALID_DATA: &str = "Invalid MFA data";
const INVALID_TOKEN: &str = "Invalid MFA token";
/// Symbols in recovery codes: lowercase letters and digits without `i`, `l`, `o`, `u`.
const RECOVERY_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";
const RECOVERY_GROUPS: usize = 4;
const RECOVERY_GROUP_LEN: usize = 5;

/// A fresh TOTP secret to show the user (as text and as a QR code of the URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    /// The secret, RFC 4648 base32 without padding: what `authData.mfa.secret` holds.
    pub secret_base32: String,
    /// `otpauth://totp/{issuer}:{account}?secret=…&issuer=…` for authenticator apps.
    pub otpauth_url: String,
}

/// Makes a new random secret for `account` (e.g. the username) at `issuer` (the app name).
/// Colons, which the Key URI format forbids in both, become `_`.
pub fn enrol(account: &str, issuer: &str) -> Result<Enrolment, AuthError> {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rng().fill(&mut bytes);
    let totp = Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_skew(SKEW_STEPS)
        .with_step_duration(STEP_SECONDS)
        .with_secret(bytes.to_vec())
        .with_account_name(account.replace(':', "_"))
        .with_issuer(Some(issuer.replace(':', "_")))
        .build()
        .map_err(|e| AuthError::Config(format!("cannot build TOTP enrolment: {e}")))?;
    let otpauth_url = totp
        .to_url()
        .map_err(|e| AuthError::Config(format!("cannot build otpauth URL: {e}")))?;
    Ok(Enrolment {
        secret_base32: totp.secret().to_base32(),
        otpauth_url,
    })
}

/// True if `code` is valid for `secret_base32` at `now`, allowing one step either side.
pub fn verify(secret_base32: &str, code: &str, now: SystemTime) -> bool {
    matching_step(secret_base32, code, now).is_some()
}

/// The step (`unix_seconds / 30`) `code` belongs to, if it is valid at `now`. Storing the last
/// accepted step and refusing steps not after it stops a code being used twice.
pub fn matching_step(secret_base32: &str, code: &str, now: SystemTime) -> Option<u64> {
    let totp = totp_for(secret_base32)?;
    let unix = unix_seconds(now)?;
    totp.check(code.trim(), unix)
}

/// The code for `secret_base32` at `now` (what an authenticator app would show).
pub fn code_at(secret_base32: &str, now: SystemTime) -> Option<String> {
    let totp = totp_for(secret_base32)?;
    Some(totp.generate(unix_seconds(now)?).to_string())
}

/// Parse's enrolment checks: the secret must be at least 20 base32 characters and decode,
/// and `code` must be valid for it at `now`. Fails with Parse's messages (code 141).
pub fn check_enrolment(secret_base32: &str, code: &str, now: SystemTime) -> Result<(), AuthError> {
    if secret_base32.len() < MIN_SECRET_BASE32_LEN || code.is_empty() {
        return Err(AuthError::Mfa(INVALID_DATA.into()));
    }
    if totp_for(secret_base32).is_none() {
        return Err(AuthError::Mfa(INVALID_DATA.into()));
    }
    if !verify(secret_base32, code, now) {
        return Err(AuthError::Mfa(INVALID_TOKEN.into()));
    }
    Ok(())
}

/// `n` new recovery codes like `7k2mq-x0c9d-…` (four groups of five, 100 random bits).
/// Show them once; store only [`hash_recovery_code`] of each.
pub fn recovery_codes(n: usize) -> Vec<String> {
    (0..n).map(|_| recovery_code()).collect()
}

/// The storage form of a recovery code: SHA-256 hex of the code with dashes and spaces
/// removed and letters lowercased, so users may retype it loosely.
pub fn hash_recovery_code(code: &str) -> String {
    hash_token(&normalize_recovery_code(code))
}

/// The index in `stored` of the entry `code` matches, so the engine can remove it.
/// Entries are [`hash_recovery_code`] hashes, or plain codes imported from Parse Server
/// (compared exactly, as Parse does).
pub fn find_recovery_code(code: &str, stored: &[String]) -> Option<usize> {
    if code.is_empty() {
        return None;
    }
    let hashed = hash_recovery_code(code);
    stored.iter().position(|entry| {
        if is_sha256_hex(entry) {
            constant_time_eq(entry, &hashed)
        } else {
            constant_time_eq(entry, code)
        }
    })
}

fn recovery_code() -> String {
    let mut rng = rand::rng();
    let groups: Vec<String> = (0..RECOVERY_GROUPS)
        .map(|_| {
            (0..RECOVERY_GROUP_LEN)
                .map(|_| {
                    char::from(RECOVERY_ALPHABET[rng.random_range(0..RECOVERY_ALPHABET.len())])
                })
                .collect()
        })
        .collect();
    groups.join("-")
}

fn normalize_recovery_code(code: &str) -> String {
    code.chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

fn is_sha256_hex(entry: &str) -> bool {
    entry.len() == 64
        && entry
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A checker for the secret; `None` if it is not base32 or shorter than 80 bits.
fn totp_for(secret_base32: &str) -> Option<Totp> {
    let bytes = decode_secret(secret_base32)?;
    // Parse accepts secrets from 20 base32 characters (100 bits), below totp-rs's RFC minimum
    // of 128, so the length is checked here and the builder's own check is skipped.
    if bytes.len() < 10 {
        return None;
    }
    Some(
        Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(DIGITS)
            .with_skew(SKEW_STEPS)
            .with_step_duration(STEP_SECONDS)
            .with_secret(bytes)
            .build_noncompliant(),
    )
}

fn decode_secret(secret_base32: &str) -> Option<Vec<u8>> {
    let cleaned: String = secret_base32
        .chars()
        .filter(|c| *c != '=' && !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let secret = Secret::try_from_base32(cleaned).ok()?;
    Some(secret.as_bytes().to_vec())
}

fn unix_seconds(now: SystemTime) -> Option<u64> {
    now.duration_since(SystemTime::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}
