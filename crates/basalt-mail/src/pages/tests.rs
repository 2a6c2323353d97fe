use super::*;

const CTX: PageContext<'static> = PageContext {
    app_name: "My App",
    app_id: "myAppId",
    public_url: "https://example.com/parse",
};

const EVIL: &str = "\"><script>alert('x')</script><img src=x onerror=alert(1)>";

fn all_pages(ctx: &PageContext<'_>, value: &str) -> Vec<(Page, String)> {
    let query = PageQuery {
        username: Some(value),
        token: Some(value),
        error: Some(value),
    };
    Page::ALL
        .into_iter()
        .map(|page| (page, render(page, ctx, &query)))
        .collect()
}

fn assert_no_injection(page: Page, html: &str) {
    // The form's own confirm script is the only script a page may carry.
    let ours = format!("<script>{CONFIRM_SCRIPT}</script>");
    let rest = html.replace(&ours, "");
    assert!(!rest.contains("<script"), "{page:?}: {html}");
    assert!(!rest.contains("<img"), "{page:?}: {html}");
    assert!(
        !rest.contains("=\"\">"),
        "{page:?}: an attribute was closed early: {html}"
    );
}

#[test]
fn choose_password_posts_username_token_and_new_password_back() {
    let page = choose_password(&CTX, "alice", "tok123", None);

    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains(
        "<form method=\"POST\" action=\"https://example.com/parse/apps/myAppId/request_password_reset\">"
    ), "{page}");
    assert!(page.contains("name=\"username\" value=\"alice\""), "{page}");
    assert!(page.contains("name=\"token\" value=\"tok123\""), "{page}");
    assert!(page.contains("name=\"new_password\""), "{page}");
    assert!(!page.contains("class=\"error\""), "{page}");
}

#[test]
fn choose_password_shows_the_previous_error() {
    let page = choose_password(
        &CTX,
        "alice",
        "t",
        Some("Password should be at least 8 characters"),
    );

    assert!(
        page.contains("role=\"alert\">Password should be at least 8 characters</p>"),
        "{page}"
    );
}

#[test]
fn choose_password_without_token_or_username_is_the_invalid_link_page() {
    let no_token = PageQuery {
        username: Some("alice"),
        ..PageQuery::default()
    };
    let empty = PageQuery {
        username: Some(""),
        token: Some(""),
        error: None,
    };

    assert_eq!(
        render(Page::ChoosePassword, &CTX, &no_token),
        invalid_link(&CTX)
    );
    assert_eq!(
        render(Page::ChoosePassword, &CTX, &empty),
        invalid_link(&CTX)
    );
}

#[test]
fn invalid_verification_link_offers_a_resend_form_for_the_user() {
    let page = invalid_verification_link(&CTX, Some("alice"));

    assert!(
        page.contains(
            "action=\"https://example.com/parse/apps/myAppId/resend_verification_email\""
        ),
        "{page}"
    );
    assert!(page.contains("name=\"username\" value=\"alice\""), "{page}");
}

#[test]
fn invalid_verification_link_without_username_has_no_form() {
    let page = render(Page::InvalidVerificationLink, &CTX, &PageQuery::default());

    assert!(!page.contains("<form"), "{page}");
}

#[test]
fn success_pages_greet_the_user() {
    assert!(email_verified(&CTX, Some("alice")).contains("<strong>alice</strong>"));
    assert!(password_reset_success(&CTX, Some("alice")).contains("as <strong>alice</strong>"));
    assert!(!email_verified(&CTX, None).contains("<strong>"));
}

#[test]
fn every_page_names_the_app_and_needs_nothing_external() {
    for (page, html) in all_pages(&CTX, "alice") {
        assert!(
            html.contains("<title>") && html.contains("My App"),
            "{page:?}: {html}"
        );
        assert!(
            !html.contains("src=\"http") && !html.contains("<link"),
            "{page:?}: {html}"
        );
        assert!(html.contains("no-referrer"), "{page:?}");
    }
}

#[test]
fn every_page_escapes_query_values() {
    for (page, html) in all_pages(&CTX, EVIL) {
        assert_no_injection(page, &html);
    }
    let form = choose_password(&CTX, EVIL, EVIL, Some(EVIL));
    assert!(
        form.contains("&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"),
        "{form}"
    );
}

#[test]
fn every_page_escapes_configuration_values() {
    let ctx = PageContext {
        app_name: EVIL,
        app_id: "a\"b",
        public_url: "https://x.test/\"><script>",
    };

    for (page, html) in all_pages(&ctx, "alice") {
        assert_no_injection(page, &html);
    }
    let form = choose_password(&ctx, "alice", "t", None);
    assert!(
        form.contains(
            "action=\"https://x.test/&quot;&gt;&lt;script&gt;/apps/a%22b/request_password_reset\""
        ),
        "{form}"
    );
}
