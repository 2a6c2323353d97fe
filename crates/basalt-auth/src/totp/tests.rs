//! Unit tests: RFC 6238 SHA-1 vectors, skew, enrolment checks, recovery codes.

use std::time::{Duration, SystemTime};

use super::*;

/// RFC 6238 appendix B's SHA-1 seed, ASCII "12345678901234567890", in base32.
const RFC_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

fn at(seconds: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
}

#[test]
fn rfc6238_sha1_vectors_verify_with_six_digits() {
    // The RFC lists 8-digit codes; a 6-digit code is the last six digits.
    let vectors = [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];

    for (time, code8) in vectors {
        let code = &code8[2..];
        assert_eq!(
            code_at(RFC_SECRET, at(time)).as_deref(),
            Some(code),
            "t={time}"
        );
        assert!(verify(RFC_SECRET, code, at(time)), "t={time}");
    }
}

#[test]
fn one_step_of_skew_is_accepted_two_are_not() {
    let code = code_at(RFC_SECRET, at(1_000_000_020)).unwrap();

    assert!(verify(RFC_SECRET, &code, at(1_000_000_020 - 30)));
    assert!(verify(RFC_SECRET, &code, at(1_000_000_020 + 30)));
    assert!(!verify(RFC_SECRET, &code, at(1_000_000_020 + 60)));
    assert!(!verify(RFC_SECRET, &code, at(1_000_000_020 - 60)));
}

#[test]
fn matching_step_reports_the_codes_step() {
    let code = code_at(RFC_SECRET, at(59)).unwrap();

    assert_eq!(matching_step(RFC_SECRET, &code, at(59)), Some(1));
    assert_eq!(matching_step(RFC_SECRET, &code, at(75)), Some(1));
}

#[test]
fn wrong_or_malformed_codes_and_secrets_fail() {
    assert!(!verify(RFC_SECRET, "005924", at(59)));
    assert!(!verify(RFC_SECRET, "28708", at(59)));
    assert!(!verify(RFC_SECRET, "abcdef", at(59)));
    assert!(!verify("not base32!", "287082", at(59)));
    assert!(!verify("GEZDGNBV", "287082", at(59)));
}

#[test]
fn secrets_are_read_leniently() {
    let lower_padded = "gezdgnbvgy3tqojqgezdgnbvgy3tqojq====";

    assert!(verify(lower_padded, "287082", at(59)));
}

#[test]
fn enrolment_gives_a_usable_secret_and_url() {
    let enrolment = enrol("alice:work", "My App").unwrap();

    assert_eq!(enrolment.secret_base32.len(), 32);
    assert!(
        enrolment
            .otpauth_url
            .starts_with("otpauth://totp/My%20App:alice_work?")
    );
    assert!(
        enrolment
            .otpauth_url
            .contains(&format!("secret={}", enrolment.secret_base32))
    );
    let now = SystemTime::now();
    let code = code_at(&enrolment.secret_base32, now).unwrap();
    assert!(check_enrolment(&enrolment.secret_base32, &code, now).is_ok());
}

#[test]
fn enrolment_checks_use_parse_messages() {
    let short = check_enrolment("GEZDGNBV", "287082", at(59)).unwrap_err();
    let bad_code = check_enrolment(RFC_SECRET, "123456", at(59)).unwrap_err();

    assert_eq!(short.to_string(), "Invalid MFA data");
    assert_eq!(bad_code.to_string(), "Invalid MFA token");
    let parse: basalt_core::error::ParseError = bad_code.into();
    assert_eq!(parse.code.code(), 141);
}

#[test]
fn recovery_codes_are_distinct_and_shaped() {
    let codes = recovery_codes(2);

    assert_eq!(codes.len(), 2);
    assert_ne!(codes[0], codes[1]);
    for code in &codes {
        assert_eq!(code.len(), 23);
        assert_eq!(code.split('-').count(), 4);
        assert!(
            code.bytes()
                .all(|b| b == b'-' || RECOVERY_ALPHABET.contains(&b))
        );
    }
}

#[test]
fn recovery_codes_verify_by_hash_loosely_typed() {
    let codes = recovery_codes(3);
    let stored: Vec<String> = codes.iter().map(|c| hash_recovery_code(c)).collect();

    assert_eq!(find_recovery_code(&codes[1], &stored), Some(1));
    let retyped = codes[2].replace('-', " ").to_uppercase();
    assert_eq!(find_recovery_code(&retyped, &stored), Some(2));
    assert_eq!(find_recovery_code("aaaaa-bbbbb-ccccc-ddddd", &stored), None);
    assert_eq!(find_recovery_code("", &stored), None);
    assert!(stored.iter().all(|h| !codes.contains(h)));
}

#[test]
fn plain_parse_recovery_codes_still_verify_exactly() {
    let stored = vec![
        "Ab3dEfGhIjKlMnOpQrStUvWxYz0123".to_owned(),
        "Zz9yXwVuTsRqPoNmLkJiHgFeDcBa98".to_owned(),
    ];

    assert_eq!(
        find_recovery_code("Zz9yXwVuTsRqPoNmLkJiHgFeDcBa98", &stored),
        Some(1)
    );
    assert_eq!(
        find_recovery_code("zz9yxwvutsrqponmlkjihgfedcba98", &stored),
        None
    );
}
