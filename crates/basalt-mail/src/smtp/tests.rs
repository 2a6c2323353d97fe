use super::*;

fn config(url: &str) -> SmtpConfig {
    SmtpConfig::from_url(url).unwrap()
}

fn config_err(url: &str) -> String {
    match SmtpConfig::from_url(url) {
        Err(MailError::Config(message)) => message,
        other => panic!("{url}: expected a configuration error, got {other:?}"),
    }
}

#[test]
fn smtp_url_defaults_to_required_starttls_on_587() {
    let c = config("smtp://mail.example.com?from=noreply%40example.com");

    assert_eq!(
        c,
        SmtpConfig {
            host: "mail.example.com".into(),
            port: 587,
            username: None,
            password: None,
            tls: SmtpTls::StartTls,
            from: "noreply@example.com".into(),
        }
    );
}

#[test]
fn smtps_url_is_implicit_tls_on_465_with_decoded_credentials() {
    let c = config("smtps://me%40example.com:p%40ss%3Aw%2Fd@mail.example.com?from=a@example.com");

    assert_eq!(c.tls, SmtpTls::Tls);
    assert_eq!(c.port, 465);
    assert_eq!(c.username.as_deref(), Some("me@example.com"));
    assert_eq!(c.password.as_deref(), Some("p@ss:w/d"));
}

#[test]
fn tls_none_uses_port_25_and_an_explicit_port_wins() {
    assert_eq!(config("smtp://localhost?tls=none&from=a@b.c").port, 25);

    let c = config("smtp://127.0.0.1:2525?tls=none&from=App%20%3Ca%40b.c%3E");

    assert_eq!((c.tls, c.port), (SmtpTls::None, 2525));
    assert_eq!(c.from, "App <a@b.c>");
}

#[test]
fn ipv6_hosts_lose_their_brackets() {
    assert_eq!(config("smtp://[::1]:25?tls=none&from=a@b.c").host, "::1");
}

#[test]
fn bad_urls_say_what_is_wrong() {
    assert!(config_err("smtp://mail.example.com").contains("from="));
    assert!(config_err("http://mail.example.com?from=a@b.c").contains("scheme"));
    assert!(config_err("smtp://mail.example.com?from=a@b.c&tls=yes").contains("tls"));
    assert!(config_err("smtps://mail.example.com?from=a@b.c&tls=none").contains("tls"));
    assert!(config_err("smtp://mail.example.com?form=a@b.c").contains("form"));
    assert!(config_err("smtp://mail.example.com/x?from=a@b.c").contains("path"));
    assert!(config_err("smtp://:pw@mail.example.com?from=a@b.c").contains("password"));
    assert!(config_err("not a url").contains("URL"));
}

#[test]
fn debug_never_prints_the_password() {
    let c = config("smtp://user:hunter2@mail.example.com?from=a@b.c");

    let shown = format!("{c:?}");

    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("<redacted>"), "{shown}");
}

#[test]
fn an_invalid_sender_is_refused_at_construction() {
    let c = config("smtp://mail.example.com?from=not-an-address");

    let err = SmtpMailer::new(c).err().unwrap();

    assert!(matches!(err, MailError::InvalidAddress { .. }), "{err}");
}

#[test]
fn messages_carry_sender_recipient_subject_and_both_bodies() {
    let mailer = SmtpMailer::new(config(
        "smtp://localhost?tls=none&from=App%20%3Cnoreply%40app.test%3E",
    ))
    .unwrap();
    let mail = Mail {
        to: "user@example.com".into(),
        subject: "Hello\r\nBcc: evil@example.com".into(),
        text: "plain body".into(),
        html: Some("<p>html body</p>".into()),
    };

    let raw = String::from_utf8(mailer.message(mail).unwrap().formatted()).unwrap();

    assert!(raw.contains("From: App <noreply@app.test>"), "{raw}");
    assert!(raw.contains("To: user@example.com"), "{raw}");
    assert!(raw.contains("multipart/alternative"), "{raw}");
    assert!(
        raw.contains("plain body") && raw.contains("<p>html body</p>"),
        "{raw}"
    );
    assert!(
        !raw.contains("\r\nBcc:"),
        "a subject must not inject headers: {raw}"
    );
}

#[test]
fn an_invalid_recipient_is_an_address_error() {
    let mailer = SmtpMailer::new(config("smtp://localhost?tls=none&from=a@b.c")).unwrap();
    let mail = Mail {
        to: "nobody".into(),
        subject: "s".into(),
        text: "t".into(),
        html: None,
    };

    let err = mailer.message(mail).err().unwrap();

    assert!(matches!(err, MailError::InvalidAddress { ref address, .. } if address == "nobody"));
}
