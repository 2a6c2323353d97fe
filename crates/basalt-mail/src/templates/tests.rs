use super::*;

const CTX: EmailContext<'static> = EmailContext {
    app_name: "My App",
    username: "alice",
    email: "alice@example.com",
    link: "https://example.com/parse/apps/app/verify_email?token=abc&username=alice",
};

#[test]
fn verification_email_goes_to_the_address_and_carries_the_link() {
    let mail = verification_email(&CTX);

    assert_eq!(mail.to, "alice@example.com");
    assert_eq!(mail.subject, "Confirm your e-mail address for My App");
    assert!(mail.text.contains(CTX.link), "{}", mail.text);
    assert!(
        mail.text
            .contains("alice@example.com is your e-mail address for My App")
    );
    let html = mail.html.unwrap();
    assert!(
        html.contains(
            "href=\"https://example.com/parse/apps/app/verify_email?token=abc&amp;username=alice\""
        ),
        "{html}"
    );
}

#[test]
fn password_reset_email_names_the_username_when_there_is_one() {
    let link = "https://example.com/parse/apps/app/request_password_reset?token=t&username=alice";
    let ctx = EmailContext { link, ..CTX };

    let mail = password_reset_email(&ctx);

    assert_eq!(mail.to, "alice@example.com");
    assert_eq!(mail.subject, "Reset your password for My App");
    assert!(
        mail.text.contains("your My App account (username: alice)."),
        "{}",
        mail.text
    );
    assert!(mail.text.contains(link));
}

#[test]
fn password_reset_email_without_username_leaves_it_out() {
    let ctx = EmailContext {
        username: "",
        ..CTX
    };

    let mail = password_reset_email(&ctx);

    assert!(mail.text.contains("your My App account."), "{}", mail.text);
    assert!(!mail.text.contains("(username"), "{}", mail.text);
}

#[test]
fn html_bodies_escape_every_value() {
    let ctx = EmailContext {
        app_name: "<b>App</b>",
        username: "<script>alert(1)</script>",
        email: "\"><img src=x>@example.com",
        link: "https://x.test/?a=1&b=\"><script>",
    };

    for mail in [verification_email(&ctx), password_reset_email(&ctx)] {
        let html = mail.html.unwrap();
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<b>App"), "{html}");
        assert!(html.contains("&lt;b&gt;App&lt;/b&gt;"), "{html}");
    }
}

#[test]
fn subjects_stay_on_one_line() {
    let ctx = EmailContext {
        app_name: "App\r\nBcc: evil@example.com",
        ..CTX
    };

    for mail in [verification_email(&ctx), password_reset_email(&ctx)] {
        assert!(
            !mail.subject.contains('\n') && !mail.subject.contains('\r'),
            "{:?}",
            mail.subject
        );
    }
}
