use super::*;

const PUBLIC: &str = "https://example.com/parse";

#[test]
fn verify_email_link_has_parse_path_and_query_order() {
    assert_eq!(
        verify_email_link(PUBLIC, "myAppId", "alice", "tok123"),
        "https://example.com/parse/apps/myAppId/verify_email?token=tok123&username=alice"
    );
}

#[test]
fn password_reset_link_has_parse_path_and_query_order() {
    assert_eq!(
        password_reset_link(PUBLIC, "myAppId", "alice", "tok123"),
        "https://example.com/parse/apps/myAppId/request_password_reset?token=tok123&username=alice"
    );
}

#[test]
fn link_values_are_encoded_like_encode_uri_component() {
    let link = verify_email_link("https://example.com/parse/", "app id", "a+b c&d=é", "t/k?#");

    assert_eq!(
        link,
        "https://example.com/parse/apps/app%20id/verify_email?token=t%2Fk%3F%23&username=a%2Bb%20c%26d%3D%C3%A9"
    );
}

#[test]
fn choose_password_link_matches_parse_redirects() {
    assert_eq!(
        choose_password_link(PUBLIC, "myAppId", "My App", "alice", "tok", None),
        "https://example.com/parse/apps/choose_password?token=tok&id=myAppId&username=alice&app=My%20App"
    );
    assert_eq!(
        choose_password_link(PUBLIC, "id", "A", "u", "t", Some("Password too short")),
        "https://example.com/parse/apps/choose_password?token=t&id=id&username=u&app=A&error=Password%20too%20short"
    );
}

#[test]
fn form_actions_and_pages_live_under_apps() {
    assert_eq!(
        password_reset_action(PUBLIC, "x"),
        "https://example.com/parse/apps/x/request_password_reset"
    );
    assert_eq!(
        resend_verification_action(PUBLIC, "x"),
        "https://example.com/parse/apps/x/resend_verification_email"
    );
    assert_eq!(
        page_link(
            PUBLIC,
            Page::InvalidVerificationLink,
            &[("username", "bob"), ("appId", "x")]
        ),
        "https://example.com/parse/apps/invalid_verification_link.html?username=bob&appId=x"
    );
    assert_eq!(
        page_link(PUBLIC, Page::InvalidLink, &[]),
        "https://example.com/parse/apps/invalid_link.html"
    );
}

#[test]
fn every_page_round_trips_through_its_file_name() {
    for page in Page::ALL {
        assert_eq!(Page::from_file_name(page.file_name()), Some(page));
    }
    assert_eq!(Page::from_file_name("../etc/passwd"), None);
}
