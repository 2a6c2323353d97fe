//! Two engines on one store stand for two nodes: what one announces, and what the other does
//! when told.

use std::sync::{Arc, Mutex};

use basalt_core::ErrorCode;
use basalt_store::Store;
use basalt_store::sqlite::SqliteStore;
use serde_json::{Value, json};

use super::{ClusterBus, Invalidation};
use crate::{AuthContext, Engine, EngineConfig};

/// Keeps what an engine announces.
#[derive(Debug, Default)]
struct Recorded(Mutex<Vec<Invalidation>>);

impl ClusterBus for Recorded {
    fn publish(&self, event: Invalidation) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(event);
    }
}

impl Recorded {
    fn take(&self) -> Vec<Invalidation> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

async fn node(store: &Arc<dyn Store>, bus: Arc<Recorded>) -> Engine {
    let config = EngineConfig {
        cluster: bus,
        ..EngineConfig::default()
    };
    Engine::new(Arc::clone(store), config).await.unwrap()
}

fn body(v: Value) -> basalt_core::value::Document {
    v.as_object().cloned().unwrap()
}

#[tokio::test]
async fn a_schema_change_is_announced_and_read_back_by_the_other_node() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("b.db")).await.unwrap());
    let (bus_a, bus_b) = (Arc::new(Recorded::default()), Arc::new(Recorded::default()));
    let a = node(&store, Arc::clone(&bus_a)).await;
    let b = node(&store, Arc::clone(&bus_b)).await;
    bus_a.take();
    let master = AuthContext::master();

    a.create_class(
        &master,
        "Note",
        &body(
            json!({"fields": {"score": {"type": "Number"}}, "classLevelPermissions": {"find": {}}}),
        ),
    )
    .await
    .unwrap();

    let events = bus_a.take();
    assert_eq!(
        events,
        vec![Invalidation::Schema {
            class: "Note".into()
        }]
    );
    assert!(
        b.schema(&master, "Note").is_err(),
        "B has not been told yet"
    );
    for event in &events {
        b.invalidate(event).await.unwrap();
    }
    let on_b = b.schema(&master, "Note").unwrap();
    assert_eq!(on_b["fields"]["score"]["type"], "Number");
    assert_eq!(on_b["classLevelPermissions"]["find"], json!({}));
    assert!(
        bus_b.take().is_empty(),
        "applying an event announces nothing"
    );
}

#[tokio::test]
async fn a_log_out_is_announced_and_ends_the_session_cached_on_the_other_node() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("b.db")).await.unwrap());
    let (bus_a, bus_b) = (Arc::new(Recorded::default()), Arc::new(Recorded::default()));
    let a = node(&store, Arc::clone(&bus_a)).await;
    let b = node(&store, Arc::clone(&bus_b)).await;
    let anyone = AuthContext::default();
    let created = a
        .create(
            &anyone,
            "_User",
            body(json!({"username": "ann", "password": "secret words"})),
        )
        .await
        .unwrap();
    let token = created.filled["sessionToken"].as_str().unwrap().to_owned();
    let on_a = a.authenticate(anyone.clone(), &token).await.unwrap();
    b.authenticate(anyone.clone(), &token).await.unwrap();
    bus_a.take();

    a.logout(&on_a).await.unwrap();

    let events = bus_a.take();
    assert_eq!(
        events,
        vec![Invalidation::UserSessions {
            user_id: created.object_id.clone()
        }]
    );
    // Until told, B trusts its cached session.
    assert!(b.authenticate(anyone.clone(), &token).await.is_ok());
    for event in &events {
        b.invalidate(event).await.unwrap();
    }
    let err = b.authenticate(anyone, &token).await.unwrap_err();
    assert!(
        matches!(&err, basalt_core::Error::Parse(p) if p.code == ErrorCode::InvalidSessionToken),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_role_write_is_announced_to_every_node_after_commit() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&dir.path().join("b.db")).await.unwrap());
    let bus = Arc::new(Recorded::default());
    let a = node(&store, Arc::clone(&bus)).await;
    bus.take();

    a.create(
        &AuthContext::master(),
        "_Role",
        body(json!({"name": "Readers", "ACL": {"*": {"read": true}}})),
    )
    .await
    .unwrap();

    assert!(bus.take().contains(&Invalidation::AllSessions));
}
