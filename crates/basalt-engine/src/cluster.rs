//! Keeping several nodes' caches in step: what a node tells the others after it changed
//! something they may hold in memory, and what a node does when told. The transport is a port
//! (`ClusterBus`), wired by the binary; the engine never knows which one carries the events.
//! Why LISTEN/NOTIFY carries them on PostgreSQL: docs/decisions/0009-cross-node-invalidation.md.

use std::fmt::Debug;

use basalt_core::Result;

use crate::Engine;

/// Something another node may hold a stale copy of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidation {
    /// A class's schema (fields, class-level permissions, indexes) changed or the class was
    /// dropped: read it from the store again.
    Schema {
        /// The class.
        class: String,
    },
    /// One user's sessions changed (log-in, log-out, password change, deletion): forget the
    /// sessions resolved for that user.
    UserSessions {
        /// The user's object id.
        user_id: String,
    },
    /// Roles or sessions changed in a way that may touch any user: forget every resolved
    /// session (and with it the roles resolved for it).
    AllSessions,
    /// Events may have been missed (the listener reconnected): reload every schema and forget
    /// every session.
    Everything,
}

/// Carries invalidations to the other nodes sharing the store.
pub trait ClusterBus: Send + Sync + Debug + 'static {
    /// Tells the other nodes, after the change is committed. Never blocks and never fails a
    /// request: delivery is the bus's job, and a lost event is bounded by the session cache's
    /// time to live and by the resynchronisation after a reconnect.
    fn publish(&self, event: Invalidation);
}

/// A single node: nobody else to tell (the embedded store, or one PostgreSQL node).
#[derive(Debug, Default)]
pub struct SingleNode;

impl ClusterBus for SingleNode {
    fn publish(&self, _event: Invalidation) {}
}

impl Engine {
    /// Applies an invalidation another node published (or `Everything` after a gap). Nothing
    /// is published in turn.
    pub async fn invalidate(&self, event: &Invalidation) -> Result<()> {
        match event {
            Invalidation::Schema { class } => {
                self.schemas
                    .reload(self.store.as_ref(), Some(class.as_str()))
                    .await
            }
            Invalidation::UserSessions { user_id } => {
                self.sessions.forget_user_here(user_id);
                Ok(())
            }
            Invalidation::AllSessions => {
                self.sessions.clear_here();
                Ok(())
            }
            Invalidation::Everything => {
                self.sessions.clear_here();
                self.schemas.reload(self.store.as_ref(), None).await
            }
        }
    }
}

#[cfg(test)]
mod tests;
