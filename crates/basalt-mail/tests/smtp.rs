//! `SmtpMailer` against a real SMTP server: aiosmtpd (Python), started per test on a free
//! port, which appends every message it accepts, parsed and decoded, to a JSON-lines file.
//!
//! Needs `python3` with `aiosmtpd` (`pip install aiosmtpd==1.4.6`); the test fails, and says
//! so, when either is missing.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use basalt_mail::{
    EmailContext, MailError, Mailer, SmtpConfig, SmtpMailer, password_reset_email,
    password_reset_link, verification_email, verify_email_link,
};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const SERVER_SCRIPT: &str = r#"
import asyncio, email, email.policy, json, logging, sys, warnings
warnings.simplefilter("ignore")
logging.getLogger("mail.log").setLevel(logging.ERROR)
try:
    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
except ImportError as e:
    print("MISSING", e, flush=True)
    sys.exit(3)

out = sys.argv[1]
credentials = (sys.argv[2].encode(), sys.argv[3].encode()) if len(sys.argv) > 3 else None

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == credentials
    return AuthResult(success=ok, handled=False, auth_data=auth_data)

class Sink:
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        plain, html = msg.get_body(("plain",)), msg.get_body(("html",))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "login": session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None,
            "from": str(msg["from"]),
            "to": str(msg["to"]),
            "subject": str(msg["subject"]),
            "content_type": msg.get_content_type(),
            "text": plain.get_content() if plain else None,
            "html": html.get_content() if html else None,
        }
        with open(out, "a") as f:
            f.write(json.dumps(record) + "\n")
        return "250 Message accepted for delivery"

def protocol():
    if credentials:
        return SMTP(Sink(), hostname="localhost", authenticator=authenticator,
                    auth_required=True, auth_require_tls=False)
    return SMTP(Sink(), hostname="localhost")

async def main():
    server = await asyncio.get_running_loop().create_server(protocol, "127.0.0.1", 0)
    print("LISTENING", server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()

asyncio.run(main())
"#;

const INSTALL_HINT: &str = "this test needs python3 with aiosmtpd: `pip install aiosmtpd==1.4.6`";

/// A running aiosmtpd; killed on drop.
struct SmtpServer {
    _child: Child,
    _dir: tempfile::TempDir,
    port: u16,
    inbox: PathBuf,
}

impl SmtpServer {
    /// Starts a server; with `credentials`, it requires AUTH with exactly those.
    async fn start(credentials: Option<(&str, &str)>) -> anyhow::Result<SmtpServer> {
        let dir = tempfile::tempdir()?;
        let script = dir.path().join("smtp_sink.py");
        std::fs::write(&script, SERVER_SCRIPT)?;
        let inbox = dir.path().join("inbox.jsonl");
        let mut command = Command::new("python3");
        command.arg(&script).arg(&inbox);
        if let Some((user, password)) = credentials {
            command.args([user, password]);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot run python3; {INSTALL_HINT}"))?;
        let stdout = child.stdout.take().context("no stdout pipe")?;
        let mut line = String::new();
        let mut stdout = BufReader::new(stdout);
        tokio::time::timeout(Duration::from_secs(30), stdout.read_line(&mut line))
            .await
            .with_context(|| format!("aiosmtpd did not start within 30 s; {INSTALL_HINT}"))??;
        let port = match line.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["LISTENING", port] => port.parse()?,
            _ => bail!("aiosmtpd could not start (said {line:?}); {INSTALL_HINT}"),
        };
        Ok(SmtpServer {
            _child: child,
            _dir: dir,
            port,
            inbox,
        })
    }

    /// A mailer for this server, logging in with `userinfo` (`user:password@`, or empty).
    fn mailer(&self, userinfo: &str) -> anyhow::Result<SmtpMailer> {
        let url = format!(
            "smtp://{userinfo}127.0.0.1:{}?tls=none&from=My%20App%20%3Cnoreply%40app.test%3E",
            self.port
        );
        Ok(SmtpMailer::new(SmtpConfig::from_url(&url)?)?)
    }

    /// Every message received so far, as the server script recorded it.
    fn received(&self) -> anyhow::Result<Vec<Value>> {
        let text = match std::fs::read_to_string(&self.inbox) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e.into()),
        };
        text.lines().map(|l| Ok(serde_json::from_str(l)?)).collect()
    }
}

fn context(link: &str) -> EmailContext<'_> {
    EmailContext {
        app_name: "My App",
        username: "alice",
        email: "alice@example.com",
        link,
    }
}

#[tokio::test]
async fn verification_mail_arrives_with_recipient_subject_and_link() -> anyhow::Result<()> {
    let server = SmtpServer::start(None).await?;
    let link = verify_email_link(
        "http://localhost:1337/parse",
        "myAppId",
        "alice",
        "aB3dE5gH7jK9mN1pQ3sT5vX7z",
    );
    let mail = verification_email(&context(&link));
    let subject = mail.subject.clone();

    server.mailer("")?.send(mail).await?;

    let received = server.received()?;
    assert_eq!(received.len(), 1, "{received:?}");
    let got = &received[0];
    assert_eq!(got["rcpt_tos"], json!(["alice@example.com"]));
    assert_eq!(got["mail_from"], "noreply@app.test");
    assert_eq!(got["from"], "My App <noreply@app.test>");
    assert_eq!(got["to"], "alice@example.com");
    assert_eq!(got["subject"], subject.as_str());
    assert_eq!(got["content_type"], "multipart/alternative");
    assert_eq!(got["login"], Value::Null);
    let text = got["text"].as_str().unwrap_or_default();
    assert!(
        text.contains(&link),
        "link missing from the text part: {text}"
    );
    let html = got["html"].as_str().unwrap_or_default();
    let escaped = link.replace('&', "&amp;");
    assert!(
        html.contains(&escaped),
        "link missing from the HTML part: {html}"
    );
    Ok(())
}

#[tokio::test]
async fn password_reset_mail_authenticates_with_url_credentials() -> anyhow::Result<()> {
    let server = SmtpServer::start(Some(("mailer", "p@ss:w/rd"))).await?;
    let link = password_reset_link("http://localhost:1337/parse", "myAppId", "bob+1", "tok");
    let mail = password_reset_email(&EmailContext {
        username: "bob+1",
        email: "bob@example.com",
        ..context(&link)
    });

    server.mailer("mailer:p%40ss%3Aw%2Frd@")?.send(mail).await?;

    let received = server.received()?;
    assert_eq!(received.len(), 1, "{received:?}");
    assert_eq!(received[0]["login"], "mailer");
    assert_eq!(received[0]["rcpt_tos"], json!(["bob@example.com"]));
    let text = received[0]["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("request_password_reset?token=tok&username=bob%2B1"),
        "{text}"
    );
    Ok(())
}

#[tokio::test]
async fn wrong_credentials_are_a_permanent_rejection() -> anyhow::Result<()> {
    let server = SmtpServer::start(Some(("mailer", "right"))).await?;
    let mail = verification_email(&context("http://localhost/x"));

    let result = server.mailer("mailer:wrong@")?.send(mail).await;

    let err = result.err().context("a wrong password must fail")?;
    assert!(matches!(err, MailError::Rejected(_)), "{err}");
    assert!(!err.is_transient());
    assert!(server.received()?.is_empty());
    Ok(())
}

#[tokio::test]
async fn an_unreachable_server_is_transient() -> anyhow::Result<()> {
    // Bind and drop to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let url = format!("smtp://127.0.0.1:{port}?tls=none&from=a%40b.c");
    let mailer = SmtpMailer::new(SmtpConfig::from_url(&url)?)?;

    let result = mailer.check_connection().await;

    let err = result.err().context("nobody listens there")?;
    assert!(matches!(err, MailError::Unavailable(_)), "{err}");
    assert!(err.is_transient());
    Ok(())
}

#[tokio::test]
async fn check_connection_succeeds_against_a_live_server() -> anyhow::Result<()> {
    let server = SmtpServer::start(None).await?;

    server.mailer("")?.check_connection().await?;
    Ok(())
}
