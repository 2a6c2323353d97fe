//! A Redis server of the test's own (the system's redis-server on a free loopback port, no
//! persistence), for tests that stop and restart it.

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
}

impl RedisServer {
    /// Starts one; `None` (said) when redis-server is not installed.
    pub async fn start(test: &str) -> anyhow::Result<Option<RedisServer>> {
        let Some(program) = services::program("redis-server") else {
            return services::unavailable(
                test,
                "redis-server is not installed (apt-get install redis-server)".to_owned(),
            );
        };
        let port = services::free_port()?;
        let child = spawn(&program, port).await?;
        Ok(Some(RedisServer {
            child,
            program,
            port,
        }))
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills it (all its data is gone).
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        self.child.kill().await?;
        Ok(())
    }

    /// Starts it again, empty, on the same port.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.child = spawn(&self.program, self.port).await?;
        Ok(())
    }
}

async fn spawn(program: &PathBuf, port: u16) -> anyhow::Result<Child> {
    let child = Command::new(program)
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", program.display()))?;
    services::wait_for_port(port, Duration::from_secs(10)).await?;
    Ok(child)
}
