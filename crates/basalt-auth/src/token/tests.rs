//! Unit tests: token shapes, SHA-256 storage form, constant-time comparison, secrets.

use super::*;

#[test]
fn session_tokens_have_parse_shape_and_differ() {
    let a = new_session_token();
    let b = new_session_token();

    assert_eq!(a.len(), 34);
    assert!(a.starts_with("r:"));
    assert!(
        a[2..]
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert_ne!(a, b);
}

#[test]
fn hash_token_is_sha256_hex() {
    // SHA-256("abc") from FIPS 180-2.
    assert_eq!(
        hash_token("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let token = new_session_token();
    assert_eq!(hash_token(&token), hash_token(&token));
    assert_ne!(hash_token(&token), token);
}

#[test]
fn constant_time_eq_compares_contents() {
    assert!(constant_time_eq("r:abc", "r:abc"));
    assert!(!constant_time_eq("r:abc", "r:abd"));
    assert!(!constant_time_eq("r:abc", "r:ab"));
    assert!(constant_time_eq("", ""));
}

#[test]
fn secrets_are_alphanumeric_of_requested_length() {
    let secret = new_secret(25);

    assert_eq!(secret.len(), 25);
    assert!(secret.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_ne!(new_secret(25), secret);
    assert_eq!(new_secret(0), "");
}

#[test]
fn hex_encodes_all_nibbles() {
    assert_eq!(to_hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
}
