//! One PostgreSQL notification channel (`LISTEN` / `NOTIFY`) between the nodes sharing a
//! database: payloads are opaque text here; what they mean is the caller's business. Listening
//! holds one dedicated connection that is reopened when it fails or stops answering; every
//! (re)opening is reported, because notifications sent while no connection listened are lost.

use std::time::Duration;

use anyhow::Context as _;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio::sync::mpsc;
use tokio_postgres::AsyncMessage;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::sql::quote;
use super::tls;

/// Connections kept for sending notifications.
const SENDERS: usize = 2;
/// How often the listening connection is checked (a dead peer may never close the socket).
const LISTEN_PING: Duration = Duration::from_secs(5);
/// How long a check may take before the connection counts as dead.
const PING_TIMEOUT: Duration = Duration::from_secs(5);
/// First pause before reopening a failed listening connection; doubled up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// Longest pause between attempts to reopen the listening connection.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// `application_name` of the listening connection.
pub const LISTENER_NAME: &str = "basalt-listen";
/// Notifications received but not yet taken by the listener before the connection waits.
const BACKLOG: usize = 1024;

/// What the listening side hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// The channel is (again) being listened to. Notifications sent before this may have been
    /// missed.
    Listening,
    /// A notification's payload.
    Payload(String),
}

/// A notification channel on one database.
pub struct PgChannel {
    senders: Pool,
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    channel: String,
}

impl PgChannel {
    /// Opens the channel `channel` on the database a `postgres://` URI names. Fails when the
    /// server cannot be reached.
    pub async fn connect(uri: &str, channel: &str) -> anyhow::Result<PgChannel> {
        let (config, check) = tls::parse(uri)?;
        let tls = tls::connector(&config, check)?;
        let manager = Manager::from_config(
            config.clone(),
            tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let senders = Pool::builder(manager)
            .max_size(SENDERS)
            .wait_timeout(Some(PING_TIMEOUT))
            .create_timeout(Some(PING_TIMEOUT))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .context("building the notification connection pool")?;
        drop(
            senders
                .get()
                .await
                .map_err(|e| anyhow::anyhow!("connecting to PostgreSQL: {e}"))?,
        );
        Ok(PgChannel {
            senders,
            config,
            tls,
            channel: channel.to_owned(),
        })
    }

    /// Sends `payload` (at most 8000 bytes) to every connection listening on the channel,
    /// this node's own included.
    pub async fn notify(&self, payload: &str) -> anyhow::Result<()> {
        let client = self
            .senders
            .get()
            .await
            .map_err(|e| anyhow::anyhow!("no database connection: {e}"))?;
        client
            .execute("SELECT pg_notify($1, $2)", &[&self.channel, &payload])
            .await
            .context("sending a notification")?;
        Ok(())
    }

    /// Listens on the channel from a task of its own until the receiver is dropped, reopening
    /// the connection whenever it fails.
    pub fn listen(&self) -> mpsc::Receiver<Heard> {
        let (tx, rx) = mpsc::channel(BACKLOG);
        let (config, tls, channel) = (self.config.clone(), self.tls.clone(), self.channel.clone());
        tokio::spawn(async move {
            let mut backoff = FIRST_BACKOFF;
            loop {
                match listen_once(&config, &tls, &channel, &tx, &mut backoff).await {
                    Ok(()) => return,
                    Err(e) => {
                        tracing::warn!(error = %format!("{e:#}"), %channel, "notification listener lost its connection; reopening");
                    }
                }
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = tx.closed() => return,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        });
        rx
    }
}

/// Listens on one connection until it fails (an error) or the receiver is gone (`Ok`).
async fn listen_once(
    config: &tokio_postgres::Config,
    tls: &MakeRustlsConnect,
    channel: &str,
    tx: &mpsc::Sender<Heard>,
    backoff: &mut Duration,
) -> anyhow::Result<()> {
    let mut config = config.clone();
    // Named, so an operator (or a test) can find it in pg_stat_activity.
    config
        .application_name(LISTENER_NAME)
        .connect_timeout(PING_TIMEOUT);
    let (client, mut connection) = config
        .connect(tls.clone())
        .await
        .context("opening the listening connection")?;
    let (heard_tx, mut heard) = mpsc::unbounded_channel::<String>();
    // Polling for messages is what drives the connection, so it has a task of its own.
    let driver = tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    if heard_tx.send(n.payload().to_owned()).is_err() {
                        return;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    tracing::debug!(error = %e, "notification connection failed");
                    return;
                }
                None => return,
            }
        }
    });
    let _stop_driver = AbortOnDrop(driver);
    client
        .batch_execute(&format!("LISTEN {}", quote(channel)))
        .await
        .context("LISTEN")?;
    *backoff = FIRST_BACKOFF;
    if tx.send(Heard::Listening).await.is_err() {
        return Ok(());
    }
    let mut ping = tokio::time::interval(LISTEN_PING);
    ping.tick().await;
    loop {
        tokio::select! {
            payload = heard.recv() => {
                let Some(payload) = payload else {
                    anyhow::bail!("the listening connection closed");
                };
                if tx.send(Heard::Payload(payload)).await.is_err() {
                    return Ok(());
                }
            }
            _ = ping.tick() => {
                tokio::time::timeout(PING_TIMEOUT, client.simple_query("SELECT 1"))
                    .await
                    .context("the listening connection stopped answering")?
                    .context("checking the listening connection")?;
            }
            () = tx.closed() => return Ok(()),
        }
    }
}

/// Ends a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
