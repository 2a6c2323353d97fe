use axum::http::{HeaderMap, HeaderValue};

use super::*;

fn forwarded(values: &[&str]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for v in values {
        h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
    }
    h
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn the_peer_is_the_client_unless_it_is_trusted() {
    let h = forwarded(&["203.0.113.9"]);

    assert_eq!(
        TrustProxy::Nobody.client(ip("10.0.0.2"), &h),
        ip("10.0.0.2")
    );
    let trust = TrustProxy::parse("10.0.0.0/8").unwrap();
    assert_eq!(trust.client(ip("192.0.2.1"), &h), ip("192.0.2.1"));
    assert_eq!(trust.client(ip("10.0.0.2"), &h), ip("203.0.113.9"));
}

#[test]
fn the_rightmost_untrusted_hop_is_the_client_so_a_forged_left_part_is_ignored() {
    let trust = TrustProxy::parse("10.0.0.0/8, 127.0.0.1").unwrap();
    // The client claimed 1.1.1.1; the edge proxy appended the address it saw, then an inner
    // proxy appended the edge's.
    let h = forwarded(&["1.1.1.1, 198.51.100.7", "10.0.0.5"]);

    assert_eq!(trust.client(ip("127.0.0.1"), &h), ip("198.51.100.7"));
}

#[test]
fn trusting_everyone_or_n_hops_counts_from_the_server() {
    let h = forwarded(&["1.1.1.1, 2.2.2.2, 3.3.3.3"]);

    assert_eq!(
        TrustProxy::Everyone.client(ip("9.9.9.9"), &h),
        ip("1.1.1.1")
    );
    assert_eq!(TrustProxy::Hops(1).client(ip("9.9.9.9"), &h), ip("3.3.3.3"));
    assert_eq!(TrustProxy::Hops(2).client(ip("9.9.9.9"), &h), ip("2.2.2.2"));
    assert_eq!(TrustProxy::Hops(9).client(ip("9.9.9.9"), &h), ip("1.1.1.1"));
    assert_eq!(
        TrustProxy::Everyone.client(ip("9.9.9.9"), &HeaderMap::new()),
        ip("9.9.9.9"),
        "no header: the peer"
    );
}

#[test]
fn ports_mapped_addresses_and_garbage() {
    let trust = TrustProxy::parse("loopback").unwrap();

    assert_eq!(
        trust.client(ip("::ffff:127.0.0.1"), &forwarded(&["203.0.113.9:4711"])),
        ip("203.0.113.9")
    );
    assert_eq!(
        trust.client(ip("::1"), &forwarded(&["[2001:db8::1]:443"])),
        ip("2001:db8::1")
    );
    assert_eq!(
        trust.client(ip("127.0.0.1"), &forwarded(&["203.0.113.9, unknown"])),
        ip("127.0.0.1"),
        "an unreadable hop from a trusted proxy leaves that proxy as the client"
    );
    assert_eq!(
        TrustProxy::Nobody.client(ip("::ffff:192.0.2.1"), &HeaderMap::new()),
        ip("192.0.2.1"),
        "mapped IPv4 peers read as IPv4, so counters and ranges see one address"
    );
}

#[test]
fn parses_express_and_parse_forms() {
    assert_eq!(TrustProxy::parse("").unwrap(), TrustProxy::Nobody);
    assert_eq!(TrustProxy::parse("false").unwrap(), TrustProxy::Nobody);
    assert_eq!(TrustProxy::parse("true").unwrap(), TrustProxy::Everyone);
    assert_eq!(TrustProxy::parse("2").unwrap(), TrustProxy::Hops(2));
    assert_eq!(
        TrustProxy::parse(r#"["10.0.0.1", "::1"]"#).unwrap(),
        TrustProxy::parse("10.0.0.1,::1").unwrap()
    );
    assert_eq!(
        TrustProxy::parse(r#""loopback""#).unwrap(),
        TrustProxy::parse("127.0.0.0/8, ::1").unwrap()
    );
    match TrustProxy::parse("uniquelocal").unwrap() {
        TrustProxy::Ranges(r) => assert_eq!(r.len(), 4),
        other => panic!("{other:?}"),
    }
    assert!(TrustProxy::parse("10.0.0.0/33").is_err());
    assert!(TrustProxy::parse("my-balancer").is_err());
    assert!(TrustProxy::from_json(&serde_json::json!({"a": 1})).is_err());
    assert_eq!(
        TrustProxy::from_json(&serde_json::json!(true)).unwrap(),
        TrustProxy::Everyone
    );
    assert_eq!(
        TrustProxy::parse("loopback, 10.1.2.3").unwrap().to_string(),
        "127.0.0.0/8, ::1/128, 10.1.2.3/32"
    );
}
