//! Unit tests: argon2 and bcrypt(js) verification, rehash signals, the password policy.

use super::*;
use basalt_core::error::ParseError;

/// Made by bcryptjs 2.4 (what Parse Server 7 uses) at its cost 10.
const BCRYPTJS_HASH: &str = "$2a$10$uxEYlG8ZjtAqlBtyf/IvLeeAQ5eBySExhXlC8aw9FaSKxaXmytwPa";
const BCRYPTJS_PASSWORD: &str = "correct horse battery staple";
/// bcryptjs, cost 4, of a non-ASCII password.
const BCRYPTJS_UNICODE_HASH: &str = "$2a$04$NRrjqDfCo/T5R6YTTIyx/ehDpnKxmgGIuG6FzMOoUbnMarG7iBi2q";
/// bcryptjs, cost 4, of 80 × "x" (bcrypt only reads the first 72 bytes).
const BCRYPTJS_LONG_HASH: &str = "$2a$04$JJucvkpS0iDaRBfqBw.hCudYSeNUWqjYfP761c/J0AzN2mGdjBqg.";

#[test]
fn argon2_round_trip_uses_owasp_parameters() {
    let stored = hash("hunter2 but longer").unwrap();

    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
    assert_eq!(
        verify("hunter2 but longer", &stored),
        Verified {
            ok: true,
            needs_rehash: false
        }
    );
    assert!(!verify("hunter3 but longer", &stored).ok);
    assert_ne!(hash("hunter2 but longer").unwrap(), stored, "salted");
}

#[test]
fn bcryptjs_hashes_from_parse_verify_and_need_rehash() {
    let good = verify(BCRYPTJS_PASSWORD, BCRYPTJS_HASH);
    let bad = verify("correct horse battery stapler", BCRYPTJS_HASH);

    assert_eq!(
        good,
        Verified {
            ok: true,
            needs_rehash: true
        }
    );
    assert_eq!(bad, Verified::NO);
    assert!(verify("pässwörd-ünïcode-🔑", BCRYPTJS_UNICODE_HASH).ok);
    assert!(verify(&"x".repeat(80), BCRYPTJS_LONG_HASH).ok);
    assert!(
        verify(&"x".repeat(72), BCRYPTJS_LONG_HASH).ok,
        "truncated like bcryptjs"
    );
}

#[test]
fn all_bcrypt_prefixes_are_accepted() {
    // $2a$, $2b$ and $2y$ name the same computation for the passwords Parse stores.
    for prefix in ["$2b$", "$2y$"] {
        let stored = BCRYPTJS_HASH.replacen("$2a$", prefix, 1);
        assert!(verify(BCRYPTJS_PASSWORD, &stored).ok, "{prefix}");
    }
}

#[test]
fn bcrypt_crate_hashes_verify_and_need_rehash() {
    let stored = bcrypt::hash("s3cret-pass", 4).unwrap();

    let result = verify("s3cret-pass", &stored);

    assert!(result.ok && result.needs_rehash);
    assert!(!verify("s3cret-pasS", &stored).ok);
}

#[test]
fn weaker_argon2_needs_rehash() {
    let weak = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(8 * 1024, 1, 1, None).unwrap(),
    )
    .hash_password(b"pw-weak")
    .unwrap()
    .to_string();
    let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, target_params().unwrap())
        .hash_password(b"pw-2i")
        .unwrap()
        .to_string();

    assert_eq!(
        verify("pw-weak", &weak),
        Verified {
            ok: true,
            needs_rehash: true
        }
    );
    assert!(verify("pw-2i", &argon2i).needs_rehash);
    assert_eq!(verify("wrong", &weak), Verified::NO, "no rehash on failure");
}

#[test]
fn empty_and_unknown_inputs_never_match() {
    let stored = bcrypt::hash("", 4).unwrap();

    assert_eq!(verify("", &stored), Verified::NO);
    assert_eq!(verify("pw", ""), Verified::NO);
    assert_eq!(verify("pw", "pw"), Verified::NO);
    assert_eq!(verify("pw", "$2a$10$short"), Verified::NO);
    assert_eq!(verify("pw", "$argon2id$garbage"), Verified::NO);
}

#[tokio::test]
async fn async_wrappers_run_on_the_blocking_pool() {
    let stored = hash_async("async-pw".to_owned()).await.unwrap();

    let result = verify_async("async-pw".to_owned(), stored).await.unwrap();

    assert!(result.ok);
}

fn policy_error(result: Result<(), AuthError>) -> (i32, String) {
    let err: ParseError = result.unwrap_err().into();
    (err.code.code(), err.message.into_owned())
}

#[test]
fn pattern_failure_uses_parse_default_message() {
    // The JavaScript pattern from Parse's documentation, lookaheads included.
    let policy = PasswordPolicy::default()
        .with_pattern("^(?=.*[a-z])(?=.*[A-Z])(?=.*[0-9])(?=.{8,})")
        .unwrap();

    assert!(policy.check("Abcdefg1", None, &[]).is_ok());
    assert_eq!(
        policy_error(policy.check("abcdefg1", None, &[])),
        (
            142,
            "Password does not meet the Password Policy requirements.".to_owned()
        )
    );
}

#[test]
fn custom_validation_error_replaces_the_message() {
    let policy = PasswordPolicy {
        min_length: Some(10),
        validation_error: Some("Use ten characters or more.".to_owned()),
        ..PasswordPolicy::default()
    };

    assert_eq!(
        policy_error(policy.check("short", None, &[])),
        (142, "Use ten characters or more.".to_owned())
    );
    assert!(policy.check("long enough!", None, &[]).is_ok());
}

#[test]
fn username_inside_password_is_refused() {
    let policy = PasswordPolicy {
        forbid_username: true,
        ..PasswordPolicy::default()
    };

    assert_eq!(
        policy_error(policy.check("my-alice-pw", Some("alice"), &[])),
        (142, "Password cannot contain your username.".to_owned())
    );
    assert!(policy.check("my-bob-pw", Some("alice"), &[]).is_ok());
    assert!(policy.check("anything", Some(""), &[]).is_ok());
    assert!(policy.check("anything", None, &[]).is_ok());
}

#[test]
fn pattern_is_checked_before_username() {
    let policy = PasswordPolicy {
        min_length: Some(20),
        forbid_username: true,
        ..PasswordPolicy::default()
    };

    let (_, message) = policy_error(policy.check("alice", Some("alice"), &[]));

    assert_eq!(
        message,
        "Password does not meet the Password Policy requirements."
    );
}

#[test]
fn reused_passwords_are_refused_within_history() {
    let policy = PasswordPolicy {
        max_history: 2,
        ..PasswordPolicy::default()
    };
    let current = bcrypt::hash("current-pw", 4).unwrap();
    let older = hash("older-pw").unwrap();
    let oldest = bcrypt::hash("oldest-pw", 4).unwrap();
    let history = vec![current, older, oldest];

    assert_eq!(
        policy_error(policy.check("current-pw", None, &history)),
        (
            142,
            "New password should not be the same as last 2 passwords.".to_owned()
        )
    );
    assert!(policy.check("older-pw", None, &history).is_err());
    assert!(
        policy.check("oldest-pw", None, &history).is_ok(),
        "beyond max_history"
    );
    assert!(
        PasswordPolicy::default()
            .check("current-pw", None, &history)
            .is_ok()
    );
}

#[tokio::test]
async fn check_async_matches_check() {
    let policy = PasswordPolicy {
        max_history: 5,
        ..PasswordPolicy::default()
    };
    let history = vec![bcrypt::hash("again", 4).unwrap()];

    let result = policy.check_async("again".to_owned(), None, history).await;

    assert!(matches!(result, Err(AuthError::PasswordPolicy(_))));
}

#[test]
fn next_history_keeps_parse_shape() {
    let h = |n: usize| (0..n).map(|i| format!("h{i}")).collect::<Vec<_>>();
    let policy = |max| PasswordPolicy {
        max_history: max,
        ..PasswordPolicy::default()
    };

    assert_eq!(policy(5).next_history(&h(0), "cur"), vec!["cur"]);
    assert_eq!(
        policy(5).next_history(&h(2), "cur"),
        vec!["h0", "h1", "cur"]
    );
    assert_eq!(
        policy(5).next_history(&h(4), "cur"),
        vec!["h1", "h2", "h3", "cur"]
    );
    assert_eq!(policy(3).next_history(&h(2), "cur"), vec!["h1", "cur"]);
    assert_eq!(policy(1).next_history(&h(1), "cur"), vec!["cur"]);
}

#[test]
fn bad_policy_configuration_is_reported() {
    let bad_pattern = PasswordPolicy::default().with_pattern("(unclosed");
    let too_long = PasswordPolicy {
        max_history: 21,
        ..PasswordPolicy::default()
    };

    assert!(matches!(bad_pattern, Err(AuthError::Config(_))));
    assert!(matches!(too_long.validate(), Err(AuthError::Config(_))));
    assert!(PasswordPolicy::default().validate().is_ok());
}
