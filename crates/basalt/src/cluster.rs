//! Several nodes on one PostgreSQL database: each change a node makes to what others cache is
//! sent as a small JSON notification on the `basalt_invalidate` channel, and every node applies
//! what the others sent. Why this channel and what happens when it drops:
//! docs/decisions/0009-cross-node-invalidation.md.

use std::sync::Arc;
use std::time::Duration;

use basalt_engine::Engine;
use basalt_engine::cluster::{ClusterBus, Invalidation};
use basalt_store::postgres::notify::{Heard, PgChannel};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// The PostgreSQL notification channel the nodes share.
const CHANNEL: &str = "basalt_invalidate";
/// Attempts at sending one notification before it is given up (and logged).
const SEND_ATTEMPTS: u32 = 3;
/// Pause between attempts.
const SEND_RETRY: Duration = Duration::from_millis(200);

/// The nodes sharing one PostgreSQL database.
pub struct PgCluster {
    channel: Arc<PgChannel>,
    node: String,
}

/// The sending half, handed to the engine: events are queued and sent in order by one task, so
/// a request never waits on the notification.
#[derive(Debug)]
struct PgBus {
    queue: mpsc::UnboundedSender<Invalidation>,
}

impl ClusterBus for PgBus {
    fn publish(&self, event: Invalidation) {
        // Fails only once the sending task has ended, at shutdown.
        let _ = self.queue.send(event);
    }
}

impl PgCluster {
    /// Opens the notification channel on the database `uri` names.
    pub async fn connect(uri: &str) -> anyhow::Result<PgCluster> {
        Ok(PgCluster {
            channel: Arc::new(PgChannel::connect(uri, CHANNEL).await?),
            node: node_id(),
        })
    }

    /// The bus the engine publishes on; starts the task that sends.
    pub fn bus(&self) -> Arc<dyn ClusterBus> {
        let (queue, mut events) = mpsc::unbounded_channel::<Invalidation>();
        let channel = Arc::clone(&self.channel);
        let node = self.node.clone();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                send(&channel, &encode(&node, &event)).await;
            }
        });
        Arc::new(PgBus { queue })
    }

    /// Sends one event now and waits until it is sent (or given up).
    pub async fn announce(&self, event: &Invalidation) {
        send(&self.channel, &encode(&self.node, event)).await;
    }

    /// Applies the other nodes' events to `engine` from a task of its own, for as long as the
    /// process runs. Each time the channel is (re)joined everything is reloaded, since events
    /// sent meanwhile are lost.
    pub fn follow(&self, engine: Arc<Engine>) {
        let mut heard = self.channel.listen();
        let node = self.node.clone();
        tokio::spawn(async move {
            while let Some(h) = heard.recv().await {
                let event = match h {
                    Heard::Listening => Some(Invalidation::Everything),
                    Heard::Payload(p) => decode(&node, &p),
                };
                let Some(event) = event else { continue };
                if let Err(e) = engine.invalidate(&event).await {
                    tracing::warn!(error = %e, ?event, "applying another node's change failed");
                }
            }
        });
    }
}

async fn send(channel: &PgChannel, payload: &str) {
    for attempt in 1..=SEND_ATTEMPTS {
        match channel.notify(payload).await {
            Ok(()) => return,
            Err(e) if attempt == SEND_ATTEMPTS => {
                tracing::warn!(error = %format!("{e:#}"), payload, "could not tell the other nodes of a change");
            }
            Err(_) => tokio::time::sleep(SEND_RETRY).await,
        }
    }
}

/// A random id telling this process's notifications from the others'.
fn node_id() -> String {
    use rand::Rng as _;
    let n: u64 = rand::rng().random();
    format!("{n:016x}")
}

/// The notification for an event: `{"node", "kind", …}`.
fn encode(node: &str, event: &Invalidation) -> String {
    let body = match event {
        Invalidation::Schema { class } => json!({"node": node, "kind": "schema", "class": class}),
        Invalidation::UserSessions { user_id } => {
            json!({"node": node, "kind": "user", "user": user_id})
        }
        Invalidation::AllSessions => json!({"node": node, "kind": "sessions"}),
        Invalidation::Everything => json!({"node": node, "kind": "everything"}),
    };
    body.to_string()
}

/// The event a notification carries; None for this node's own. One it cannot read (from a
/// newer node during a rolling upgrade, say) reloads everything, which is always safe.
fn decode(own_node: &str, payload: &str) -> Option<Invalidation> {
    let v: Value = serde_json::from_str(payload).unwrap_or(Value::Null);
    if v.get("node").and_then(Value::as_str) == Some(own_node) {
        return None;
    }
    let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let event = match v.get("kind").and_then(Value::as_str) {
        Some("schema") => text("class").map(|class| Invalidation::Schema { class }),
        Some("user") => text("user").map(|user_id| Invalidation::UserSessions { user_id }),
        Some("sessions") => Some(Invalidation::AllSessions),
        Some("everything") => Some(Invalidation::Everything),
        _ => None,
    };
    Some(event.unwrap_or_else(|| {
        tracing::warn!(payload, "unreadable notification; reloading everything");
        Invalidation::Everything
    }))
}

#[cfg(test)]
mod tests;
