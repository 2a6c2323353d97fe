//! A Redis server of the test's own (the system's redis-server on a free loopback port, no
//! persistence), for tests that stop and restart it or that reach it over TLS.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;
use tokio::process::{Child, Command};

use super::services;

/// A running redis-server.
pub struct RedisServer {
    child: Child,
    program: PathBuf,
    /// Its port.
    pub port: u16,
    /// With TLS: the certificates, in a directory that lives as long as the server.
    tls: Option<Tls>,
}

/// A test certificate authority and the server certificate it signed, made with openssl.
pub struct Tls {
    dir: tempfile::TempDir,
}

impl Tls {
    /// The CA certificate (PEM) that verifies the server's.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    async fn make(test: &str) -> anyhow::Result<Option<Tls>> {
        let Some(openssl) = services::program("openssl") else {
            return services::unavailable(
                test,
                "openssl is not installed (apt-get install openssl)".to_owned(),
            );
        };
        let dir = tempfile::tempdir()?;
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        std::fs::write(
            dir.path().join("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
        )?;
        let steps: [&[&str]; 3] = [
            &[
                &["req", "-x509"],
                &ec[..],
                &["-keyout", "ca.key", "-out", "ca.pem"],
                &["-days", "2", "-subj", "/CN=basalt test CA"],
            ]
            .concat(),
            &[
                &["req"],
                &ec[..],
                &["-keyout", "server.key", "-out", "server.csr"],
                &["-subj", "/CN=localhost"],
            ]
            .concat(),
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "2",
                "-extfile",
                "server.ext",
            ],
        ];
        for args in steps {
            let out = Command::new(&openssl)
                .args(args)
                .current_dir(dir.path())
                .output()
                .await?;
            anyhow::ensure!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(Some(Tls { dir }))
    }
}

impl RedisServer {
    /// Starts one; `None` (said) when redis-server is not installed.
    pub async fn start(test: &str) -> anyhow::Result<Option<RedisServer>> {
        let Some(program) = redis_server(test)? else {
            return Ok(None);
        };
        let port = services::free_port()?;
        let child = spawn(&program, port, None).await?;
        Ok(Some(RedisServer {
            child,
            program,
            port,
            tls: None,
        }))
    }

    /// Starts one that speaks only TLS, with a certificate for `localhost` and 127.0.0.1 that a
    /// CA of its own signed; `None` (said) when redis-server or openssl is not installed.
    pub async fn start_tls(test: &str) -> anyhow::Result<Option<RedisServer>> {
        let Some(program) = redis_server(test)? else {
            return Ok(None);
        };
        let Some(tls) = Tls::make(test).await? else {
            return Ok(None);
        };
        let port = services::free_port()?;
        let child = spawn(&program, port, Some(&tls)).await?;
        Ok(Some(RedisServer {
            child,
            program,
            port,
            tls: Some(tls),
        }))
    }

    /// Its URL: `redis://127.0.0.1:PORT`, or `rediss://localhost:PORT` with TLS.
    pub fn url(&self) -> String {
        match self.tls {
            None => format!("redis://127.0.0.1:{}", self.port),
            Some(_) => format!("rediss://localhost:{}", self.port),
        }
    }

    /// Its certificates, when it speaks TLS.
    pub fn tls(&self) -> Option<&Tls> {
        self.tls.as_ref()
    }

    /// Kills it (all its data is gone).
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        self.child.kill().await?;
        Ok(())
    }

    /// Starts it again, empty, on the same port.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.child = spawn(&self.program, self.port, self.tls.as_ref()).await?;
        Ok(())
    }
}

/// The redis-server program; `None` (said) when it is not installed.
fn redis_server(test: &str) -> anyhow::Result<Option<PathBuf>> {
    match services::program("redis-server") {
        Some(program) => Ok(Some(program)),
        None => services::unavailable(
            test,
            "redis-server is not installed (apt-get install redis-server)".to_owned(),
        ),
    }
}

async fn spawn(program: &PathBuf, port: u16, tls: Option<&Tls>) -> anyhow::Result<Child> {
    let mut cmd = Command::new(program);
    cmd.args(["--bind", "127.0.0.1"]);
    match tls {
        None => cmd.args(["--port", &port.to_string()]),
        Some(tls) => {
            let file = |name: &str| tls.dir.path().join(name);
            cmd.args(["--port", "0", "--tls-port", &port.to_string()])
                .arg("--tls-cert-file")
                .arg(file("server.pem"))
                .arg("--tls-key-file")
                .arg(file("server.key"))
                .arg("--tls-ca-cert-file")
                .arg(file("ca.pem"))
                .args(["--tls-auth-clients", "no"])
        }
    };
    let child = cmd
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", program.display()))?;
    services::wait_for_port(port, Duration::from_secs(10)).await?;
    Ok(child)
}
