//! Starts the real binary and gives typed helpers returning `(status, json)`.
//!
//! `BASALT_TEST_STORE=postgres` runs every server on PostgreSQL instead of the embedded store:
//! each server gets a fresh database (see `basalt_store::testing::pg`), dropped with it.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

use basalt_store::testing::pg::FreshDatabase;

pub const APP_ID: &str = "it-app";
pub const MASTER_KEY: &str = "it-master";

/// Who a request is sent as.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    /// The app id only.
    Anyone,
    /// With the master key.
    Master,
    /// With a session token.
    Session(&'a str),
}

/// A running basalt.
pub struct TestServer {
    // Dropped first: the process ends before its database is dropped.
    pub child: Child,
    pub url: String,
    _tmp: Option<tempfile::TempDir>,
    client: reqwest::Client,
    database: Option<Arc<FreshDatabase>>,
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_basalt")
}

/// Whether servers run on PostgreSQL (`BASALT_TEST_STORE=postgres`).
pub fn on_postgres() -> bool {
    std::env::var("BASALT_TEST_STORE").is_ok_and(|v| v == "postgres")
}

/// A fresh database for one server when running on PostgreSQL.
pub async fn fresh_database() -> anyhow::Result<Option<Arc<FreshDatabase>>> {
    if !on_postgres() {
        return Ok(None);
    }
    let db = FreshDatabase::create("a black-box server")
        .await?
        .context("BASALT_TEST_STORE=postgres, but PostgreSQL is unreachable")?;
    Ok(Some(Arc::new(db)))
}

impl TestServer {
    /// A server with the test keys and a fresh data dir.
    pub async fn start() -> anyhow::Result<TestServer> {
        Self::start_with(&["--app-id", APP_ID, "--master-key", MASTER_KEY]).await
    }

    /// A server with extra arguments and a fresh data dir.
    pub async fn start_with(args: &[&str]) -> anyhow::Result<TestServer> {
        let tmp = tempfile::tempdir()?;
        let dir = tmp.path().to_path_buf();
        let mut s = Self::start_in(&dir, args).await?;
        s._tmp = Some(tmp);
        Ok(s)
    }

    /// A server on an existing data dir (which the caller keeps), with a fresh database when
    /// running on PostgreSQL.
    pub async fn start_in(dir: &Path, args: &[&str]) -> anyhow::Result<TestServer> {
        Self::start_on(dir, fresh_database().await?, args).await
    }

    /// A server on an existing data dir and, on PostgreSQL, the database another server used
    /// (see [`TestServer::database`]): a restart that keeps the data.
    pub async fn start_on(
        dir: &Path,
        database: Option<Arc<FreshDatabase>>,
        args: &[&str],
    ) -> anyhow::Result<TestServer> {
        let mut cmd = Command::new(binary());
        cmd.arg("serve")
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir);
        if let Some(db) = &database {
            cmd.args(["--database-uri", &db.uri]);
        }
        cmd.args(args)
            .env("PARSE_SERVER_LOG_LEVEL", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = cmd.spawn().context("spawning basalt")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let mut seen = Vec::new();
        let url = tokio::time::timeout(Duration::from_secs(20), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(url) = line.strip_prefix("listening on ") {
                    return Ok::<_, anyhow::Error>(url.trim().to_owned());
                }
                seen.push(line);
            }
            bail!("basalt exited before listening; stdout: {seen:?}")
        })
        .await
        .context("basalt did not start within 20 s")??;
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(TestServer {
            child,
            url,
            _tmp: None,
            client: reqwest::Client::new(),
            database,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> anyhow::Result<std::net::SocketAddr> {
        let rest = self
            .url
            .strip_prefix("http://")
            .context("the URL is not http://")?;
        let host = rest.split('/').next().unwrap_or(rest);
        Ok(host.parse()?)
    }

    /// The PostgreSQL database this server runs on (None on the embedded store).
    pub fn database(&self) -> Option<Arc<FreshDatabase>> {
        self.database.clone()
    }

    /// Everything the server stored, as text: the SQLite files in `dir`, or every row of the
    /// PostgreSQL database. For checks that a secret is never at rest in the clear.
    pub async fn stored_text(
        dir: &Path,
        database: Option<&FreshDatabase>,
    ) -> anyhow::Result<String> {
        let Some(db) = database else {
            let mut raw = std::fs::read(dir.join("basalt.db"))?;
            raw.extend(std::fs::read(dir.join("basalt.db-wal")).unwrap_or_default());
            return Ok(String::from_utf8_lossy(&raw).into_owned());
        };
        let (client, conn) = tokio_postgres::connect(&db.uri, tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        let tables = client
            .query(
                "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public'",
                &[],
            )
            .await?;
        let mut out = String::new();
        for t in tables {
            let table: String = t.get(0);
            for row in client
                .query(&format!("SELECT t::text FROM {table} AS t"), &[])
                .await?
            {
                out.push_str(&row.get::<_, String>(0));
                out.push('\n');
            }
        }
        Ok(out)
    }

    /// Sends a request with the app id (and the master key when `master`).
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        master: bool,
    ) -> anyhow::Result<(u16, Value)> {
        let who = if master {
            Caller::Master
        } else {
            Caller::Anyone
        };
        self.request_as(method, path, body, who).await
    }

    /// Sends a request as `who`.
    pub async fn request_as(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        who: Caller<'_>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.url))
            .header("X-Parse-Application-Id", APP_ID);
        match who {
            Caller::Anyone => {}
            Caller::Master => req = req.header("X-Parse-Master-Key", MASTER_KEY),
            Caller::Session(token) => req = req.header("X-Parse-Session-Token", token),
        }
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        let res = req.send().await?;
        let status = res.status().as_u16();
        let text = res.text().await?;
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).with_context(|| format!("not JSON: {text}"))?
        };
        Ok((status, json))
    }

    /// Sends raw bytes (for malformed bodies).
    pub async fn raw(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> anyhow::Result<(u16, Value)> {
        let res = self
            .client
            .request(method, format!("{}{path}", self.url))
            .header("X-Parse-Application-Id", APP_ID)
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await?;
        let status = res.status().as_u16();
        let text = res.text().await?;
        Ok((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ))
    }

    pub async fn create(&self, class: &str, body: Value) -> anyhow::Result<(u16, Value)> {
        self.request(
            reqwest::Method::POST,
            &format!("/classes/{class}"),
            Some(body),
            false,
        )
        .await
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        self.request(reqwest::Method::GET, path, None, false).await
    }

    /// GET /classes/:class with a where clause and extra params.
    pub async fn query(
        &self,
        class: &str,
        where_: Value,
        extra: &[(&str, &str)],
    ) -> anyhow::Result<(u16, Value)> {
        let mut ser = form_urlencoded_pairs(&[("where", &where_.to_string())]);
        for (k, v) in extra {
            ser.push('&');
            ser.push_str(&form_urlencoded_pairs(&[(k, v)]));
        }
        self.get(&format!("/classes/{class}?{ser}")).await
    }

    /// Sends SIGTERM and waits for the exit status.
    pub async fn terminate(mut self) -> anyhow::Result<std::process::ExitStatus> {
        let pid = self.child.id().context("already exited")?;
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()?;
        anyhow::ensure!(status.success(), "kill failed");
        Ok(tokio::time::timeout(Duration::from_secs(15), self.child.wait()).await??)
    }
}

fn form_urlencoded_pairs(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
