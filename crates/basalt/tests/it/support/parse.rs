//! Runs the reference Parse Server (`tests/support/parse-server`: Parse Server 9.10 pinned by
//! its lockfile) on a fresh PostgreSQL database, so tests can have it write real data.
//!
//! Its files are copied to a private temporary directory and started from there (Parse writes
//! files and logs next to itself); its `node_modules` is installed once with `npm ci` into a
//! cache under the target directory (about 40 s) and linked into each copy.
//! Needs Node.js 20+, npm and PostgreSQL at `BASALT_TEST_PG` (default
//! postgres://postgres@127.0.0.1:5432); fails loudly without them.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use serde_json::Value;
use tokio::process::{Child, Command};

/// PostgreSQL server the tests create databases on.
pub fn pg_base() -> String {
    std::env::var("BASALT_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

fn anchor_dir() -> anyhow::Result<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/support/parse-server");
    ensure!(
        dir.join("server.js").exists() && dir.join("package-lock.json").exists(),
        "the reference Parse Server is not at {}",
        dir.display()
    );
    Ok(dir)
}

/// `npm ci` of the anchor's pinned packages, once per lock file, under the target directory.
async fn installed_modules(anchor: &Path) -> anyhow::Result<PathBuf> {
    let lock = std::fs::read(anchor.join("package-lock.json"))?;
    let cache =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("parse-anchor-{:016x}", fnv(&lock)));
    if cache
        .join("node_modules/parse-server/package.json")
        .exists()
    {
        return Ok(cache.join("node_modules"));
    }
    let node = Command::new("node").arg("--version").output().await;
    ensure!(
        node.is_ok_and(|o| o.status.success()),
        "Node.js is required to run the reference Parse Server (install Node.js 20+)"
    );
    std::fs::create_dir_all(&cache)?;
    for f in ["package.json", "package-lock.json"] {
        std::fs::copy(anchor.join(f), cache.join(f))?;
    }
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&cache)
        .output()
        .await
        .context("running npm ci for the reference Parse Server (is npm installed?)")?;
    ensure!(
        out.status.success(),
        "npm ci for the reference Parse Server failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(cache.join("node_modules"))
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A free port from 1351 up (1337 and 1341 belong to other Parse instances on this machine).
fn free_port() -> anyhow::Result<u16> {
    (1351..1500)
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .context("no free port in 1351..1500")
}

/// Runs SQL on the PostgreSQL server's `postgres` database.
pub async fn admin_sql(sql: &str) -> anyhow::Result<()> {
    sql_on(&format!("{}/postgres", pg_base()), sql).await
}

/// Runs SQL on a database.
pub async fn sql_on(url: &str, sql: &str) -> anyhow::Result<()> {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .with_context(|| format!("PostgreSQL is required at {url}"))?;
    let task = tokio::spawn(conn);
    client.batch_execute(sql).await?;
    drop(client);
    let _ = task.await;
    Ok(())
}

/// A running Parse Server on its own database, stopped and dropped with this value.
pub struct ParseServer {
    child: Child,
    /// `http://127.0.0.1:PORT/parse`.
    pub url: String,
    /// The database it writes.
    pub db_url: String,
    db_name: String,
    dir: tempfile::TempDir,
    client: reqwest::Client,
    app_id: String,
    master_key: String,
}

impl ParseServer {
    /// Starts Parse Server with these keys on a new database `basalt_imp_<random>`.
    pub async fn start(app_id: &str, master_key: &str) -> anyhow::Result<ParseServer> {
        let anchor = anchor_dir()?;
        let modules = installed_modules(&anchor).await?;
        let dir = tempfile::Builder::new().prefix("parse-anchor").tempdir()?;
        for f in ["server.js", "package.json"] {
            std::fs::copy(anchor.join(f), dir.path().join(f))?;
        }
        std::os::unix::fs::symlink(&modules, dir.path().join("node_modules"))?;
        let db_name = format!("basalt_imp_{:016x}", rand::random::<u64>());
        admin_sql(&format!("CREATE DATABASE {db_name}")).await?;
        let db_url = format!("{}/{db_name}", pg_base());
        let port = free_port()?;
        let log = std::fs::File::create(dir.path().join("parse.log"))?;
        let child = Command::new("node")
            .arg("server.js")
            .current_dir(dir.path())
            .env("PORT", port.to_string())
            .env("DATABASE_URI", &db_url)
            .env("APP_ID", app_id)
            .env("MASTER_KEY", master_key)
            .env("FILES_DIR", "files")
            .env("LOG_LEVEL", "error")
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .context("starting node (is Node.js installed?)")?;
        let mut server = ParseServer {
            child,
            url: format!("http://127.0.0.1:{port}/parse"),
            db_url,
            db_name,
            dir,
            client: reqwest::Client::new(),
            app_id: app_id.to_owned(),
            master_key: master_key.to_owned(),
        };
        server.wait_healthy().await?;
        Ok(server)
    }

    async fn wait_healthy(&mut self) -> anyhow::Result<()> {
        for _ in 0..240 {
            if let Ok(r) = self.client.get(format!("{}/health", self.url)).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait()? {
                bail!("Parse Server exited ({status}): {}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        bail!(
            "Parse Server did not answer /health within 60 s: {}",
            self.log()
        )
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("parse.log")).unwrap_or_default()
    }

    /// A request with the app id, and the master key or a session token.
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        master: bool,
        session: Option<&str>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.url))
            .header("X-Parse-Application-Id", &self.app_id);
        if master {
            req = req.header("X-Parse-Master-Key", &self.master_key);
        }
        if let Some(token) = session {
            req = req.header("X-Parse-Session-Token", token);
        }
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        let res = req.send().await?;
        let status = res.status().as_u16();
        let text = res.text().await?;
        let json = serde_json::from_str(&text).with_context(|| format!("not JSON: {text}"))?;
        Ok((status, json))
    }

    /// Uploads a file; returns its `{__type: File, name, url}` value.
    pub async fn upload(
        &self,
        name: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> anyhow::Result<Value> {
        let res = self
            .client
            .post(format!("{}/files/{name}", self.url))
            .header("X-Parse-Application-Id", &self.app_id)
            // Parse 9 refuses uploads by the public by default.
            .header("X-Parse-Master-Key", &self.master_key)
            .header("Content-Type", content_type)
            .body(bytes.to_vec())
            .send()
            .await?;
        ensure!(
            res.status().as_u16() == 201,
            "file upload: {}",
            res.text().await?
        );
        let v: Value = res.json().await?;
        Ok(serde_json::json!({"__type": "File", "name": v["name"], "url": v["url"]}))
    }
}

impl Drop for ParseServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        // Drop runs inside the test's runtime; the database is dropped from a thread of its own.
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.db_name);
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                let _ = rt.block_on(admin_sql(&sql));
            }
        })
        .join();
    }
}
