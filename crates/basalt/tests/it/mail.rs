//! E-mail verification and password reset end to end: basalt sends through a real SMTP server
//! (aiosmtpd, started here), and the test follows the links in the mail it received.
//! Needs python3 with aiosmtpd (`pip install aiosmtpd==1.4.6`, which .ci/run installs).

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, BufReader};

use crate::support::TestServer;

const SINK: &str = r#"
import asyncio, email, email.policy, json, sys
from aiosmtpd.smtp import SMTP
out = sys.argv[1]
class Sink:
    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = msg.get_body(("plain",))
        with open(out, "a") as f:
            f.write(json.dumps({"to": envelope.rcpt_tos, "subject": str(msg["subject"]), "text": body.get_content() if body else ""}) + "\n")
        return "250 OK"
async def main():
    server = await asyncio.get_running_loop().create_server(lambda: SMTP(Sink(), hostname="localhost"), "127.0.0.1", 0)
    print("LISTENING", server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()
asyncio.run(main())
"#;

struct Sink {
    _child: tokio::process::Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Sink {
    async fn start() -> anyhow::Result<Sink> {
        let dir = tempfile::tempdir()?;
        let script = dir.path().join("sink.py");
        std::fs::write(&script, SINK)?;
        let mut child = tokio::process::Command::new("python3")
            .arg(&script)
            .arg(dir.path().join("mail.jsonl"))
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("python3 is needed for the SMTP server")?;
        let mut lines = BufReader::new(child.stdout.take().context("no stdout")?).lines();
        let line = tokio::time::timeout(Duration::from_secs(15), lines.next_line())
            .await
            .context("the SMTP server did not start (pip install aiosmtpd==1.4.6)")??
            .context("the SMTP server exited (pip install aiosmtpd==1.4.6)")?;
        let port = line
            .strip_prefix("LISTENING ")
            .context("unexpected SMTP server output")?
            .trim()
            .parse()?;
        Ok(Sink {
            _child: child,
            dir,
            port,
        })
    }

    /// Waits for the n-th mail (1-based).
    async fn mail(&self, n: usize) -> anyhow::Result<Value> {
        for _ in 0..100 {
            let text =
                std::fs::read_to_string(self.dir.path().join("mail.jsonl")).unwrap_or_default();
            if let Some(line) = text.lines().nth(n - 1) {
                return Ok(serde_json::from_str(line)?);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("mail {n} never arrived")
    }
}

fn link_in(mail: &Value) -> anyhow::Result<String> {
    let text = mail["text"].as_str().unwrap_or_default();
    text.split_whitespace()
        .find(|w| w.starts_with("http"))
        .map(str::to_owned)
        .context("no link in the mail")
}

fn no_redirects() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}

#[tokio::test]
async fn sign_up_mail_verifies_the_address_and_reset_mail_changes_the_password()
-> anyhow::Result<()> {
    let sink = Sink::start().await?;
    let mail_url = format!(
        "smtp://127.0.0.1:{}?tls=none&from=app@example.test",
        sink.port
    );
    let s = TestServer::start_with(&[
        "--app-id",
        "it-app",
        "--master-key",
        "it-master",
        "--mail-url",
        &mail_url,
        "--app-name",
        "Basalt Test",
        "--verify-user-emails",
        "true",
    ])
    .await?;
    let http = no_redirects()?;

    let (status, created) = s
        .request(
            Method::POST,
            "/users",
            Some(json!({"username": "fay", "password": "first-pass", "email": "fay@example.test"})),
            false,
        )
        .await?;
    assert_eq!(status, 201);
    let id = created["objectId"].as_str().unwrap_or_default().to_owned();
    let verification = sink.mail(1).await?;
    assert_eq!(verification["to"], json!(["fay@example.test"]));
    let link = link_in(&verification)?;
    assert!(link.contains("/apps/it-app/verify_email?"), "{link}");

    let res = http.get(&link).send().await?;
    assert_eq!(res.status(), 303, "the link redirects to a page");
    let location = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(location.contains("verify_email_success"), "{location}");
    let page = http.get(&location).send().await?.text().await?;
    assert!(
        page.contains("Basalt Test"),
        "the success page names the app"
    );
    let (_, user) = s
        .request(Method::GET, &format!("/users/{id}"), None, true)
        .await?;
    assert_eq!(user["emailVerified"], true);
    let forged = http
        .get(link.replace("username=fay", "username=nobody"))
        .send()
        .await?;
    let forged_at = forged
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(forged_at.contains("invalid"), "{forged_at}");

    let (status, _) = s
        .request(
            Method::POST,
            "/requestPasswordReset",
            Some(json!({"email": "fay@example.test"})),
            false,
        )
        .await?;
    assert_eq!(status, 200);
    let reset = link_in(&sink.mail(2).await?)?;
    let res = http.get(&reset).send().await?;
    let form_url = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(form_url.contains("choose_password"), "{form_url}");
    let query: std::collections::HashMap<String, String> =
        url_query(&form_url).into_iter().collect();
    let action = format!("{}/apps/it-app/request_password_reset", s.url);
    let token = query.get("token").map(String::as_str).unwrap_or_default();
    let done = http
        .post(&action)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!(
            "username=fay&token={token}&new_password=second-pass"
        ))
        .send()
        .await?;
    let done_at = done
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(done_at.contains("password_reset_success"), "{done_at}");

    let (old, _) = s
        .request(
            Method::POST,
            "/login",
            Some(json!({"username": "fay", "password": "first-pass"})),
            false,
        )
        .await?;
    let (new, _) = s
        .request(
            Method::POST,
            "/login",
            Some(json!({"username": "fay", "password": "second-pass"})),
            false,
        )
        .await?;
    assert_eq!((old, new), (404, 200));
    Ok(())
}

fn url_query(url: &str) -> Vec<(String, String)> {
    let q = url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), percent_decode(v)))
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn without_mail_settings_the_requests_say_what_is_missing() -> anyhow::Result<()> {
    let s = TestServer::start().await?;

    let (status, body) = s
        .request(
            Method::POST,
            "/requestPasswordReset",
            Some(json!({"email": "x@y.z"})),
            false,
        )
        .await?;

    assert_eq!(status, 500);
    assert_eq!(body["code"], 1);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("emailAdapter"))
    );
    Ok(())
}
