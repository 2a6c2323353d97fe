use basalt_engine::cluster::Invalidation;

use super::{decode, encode};

#[test]
fn every_event_survives_the_wire() {
    let events = [
        Invalidation::Schema {
            class: "Game\"Score".into(),
        },
        Invalidation::UserSessions {
            user_id: "abc123".into(),
        },
        Invalidation::AllSessions,
        Invalidation::Everything,
    ];
    for event in events {
        let payload = encode("node-a", &event);

        assert_eq!(decode("node-b", &payload), Some(event));
    }
}

#[test]
fn a_node_skips_its_own_notifications() {
    let payload = encode("node-a", &Invalidation::AllSessions);

    assert_eq!(decode("node-a", &payload), None);
}

#[test]
fn an_unreadable_notification_reloads_everything() {
    for payload in [
        "not json",
        r#"{"node":"x","kind":"teleport"}"#,
        r#"{"node":"x","kind":"schema"}"#,
    ] {
        assert_eq!(
            decode("node-b", payload),
            Some(Invalidation::Everything),
            "{payload}"
        );
    }
}
