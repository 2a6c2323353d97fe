//! The outside services some tests need besides PostgreSQL: Redis, and the nginx and
//! redis-server programs. When one is missing a test says it was skipped, unless
//! `BASALT_REQUIRE_POSTGRES=1` (what CI sets: the multi-node stack is required with its
//! database) or `BASALT_REQUIRE_REDIS=1` makes that a failure.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;

/// Whether a missing service fails the test.
pub fn required() -> bool {
    ["BASALT_REQUIRE_POSTGRES", "BASALT_REQUIRE_REDIS"]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|v| v == "1"))
}

/// Ends a test that cannot run: `Ok(None)` after saying so, or the error when required.
pub fn unavailable<T>(test: &str, why: String) -> anyhow::Result<Option<T>> {
    if required() {
        anyhow::bail!("{test}: {why}, and BASALT_REQUIRE_POSTGRES=1 or BASALT_REQUIRE_REDIS=1");
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: {why}; set BASALT_REQUIRE_REDIS=1 to make this a failure"
    );
    Ok(None)
}

/// The Redis tests share (`BASALT_TEST_REDIS_URL`, default redis://127.0.0.1:6379), if it
/// answers. Tests keep apart by using their own application id, which namespaces the keys.
pub async fn redis_url(test: &str) -> anyhow::Result<Option<String>> {
    let url = std::env::var("BASALT_TEST_REDIS_URL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned());
    match ping(&url).await {
        Ok(()) => Ok(Some(url)),
        Err(e) => unavailable(test, format!("Redis at {url} is unreachable ({e:#})")),
    }
}

/// Whether the Redis at `url` answers PING.
pub async fn ping(url: &str) -> anyhow::Result<()> {
    let client = redis::Client::open(url)?;
    tokio::time::timeout(Duration::from_secs(2), async {
        let mut conn = client.get_multiplexed_async_connection().await?;
        let cmd = redis::cmd("PING");
        cmd.query_async::<String>(&mut conn).await?;
        anyhow::Ok(())
    })
    .await
    .context("no answer within 2 s")?
}

/// A program from PATH or the system directories, if installed.
pub fn program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// A loopback port nothing listens on at the moment of asking.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Waits until something accepts connections on `port`, or `deadline` passes.
pub async fn wait_for_port(port: u16, deadline: Duration) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        anyhow::ensure!(
            started.elapsed() < deadline,
            "nothing listens on port {port} after {deadline:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
