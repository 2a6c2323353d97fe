//! A few connections that many requests use at once, for reads of one object by its primary
//! key (every get, and the user behind every authenticated request) and for small pages whose
//! statement has proved quick (`route`). tokio-postgres pipelines the statements of concurrent
//! callers on one connection, so under load one write to the socket carries many statements and
//! one PostgreSQL backend answers them back to back. With a connection per request instead,
//! every statement costs its own wake-up of its own backend process, and on a small machine
//! those context switches cost more than the statements.
//!
//! Only quick statements come here: a slow one would hold up every statement queued behind it
//! on the same connection, which is why these connections also carry a statement timeout.
//! Scans, counts and writes take a connection of their own from the pool; writes also because
//! each commit waits for its WAL flush, and commits queued on one backend would flush one after
//! another instead of together. Measurements:
//! docs/decisions/0011-postgres-shared-reads-and-grouped-updates.md.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use deadpool_postgres::{Object, Pool};

use crate::{StoreError, StoreResult};

/// Connections shared by point statements.
pub(super) struct SharedClients {
    /// Where the shared connections come from; twice as large as `slots`, so a slot can be
    /// refilled while callers still hold its broken predecessor.
    pool: Pool,
    slots: Vec<Mutex<Option<Arc<Object>>>>,
    next: AtomicUsize,
}

impl SharedClients {
    /// `pool` must hold at least two connections per slot.
    pub(super) fn new(pool: Pool, slots: usize) -> Self {
        Self {
            pool,
            slots: (0..slots.max(1)).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// A live shared connection, chosen round-robin; a slot whose connection has closed (the
    /// server restarted, the network dropped) gets a fresh one.
    pub(super) async fn get(&self) -> StoreResult<Arc<Object>> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let slot = &self.slots[i];
        if let Some(live) = Self::live(slot) {
            return Ok(live);
        }
        let fresh =
            Arc::new(self.pool.get().await.map_err(|e| {
                StoreError::Backend(anyhow::anyhow!("no database connection: {e}"))
            })?);
        let mut held = slot.lock().unwrap_or_else(PoisonError::into_inner);
        match held.as_ref() {
            // Another caller refilled the slot meanwhile; ours goes back to the pool.
            Some(other) if !other.is_closed() => Ok(Arc::clone(other)),
            _ => {
                *held = Some(Arc::clone(&fresh));
                Ok(fresh)
            }
        }
    }

    fn live(slot: &Mutex<Option<Arc<Object>>>) -> Option<Arc<Object>> {
        slot.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .filter(|c| !c.is_closed())
            .map(Arc::clone)
    }

    /// Lets go of every shared connection and closes their pool.
    pub(super) fn close(&self) {
        for slot in &self.slots {
            slot.lock().unwrap_or_else(PoisonError::into_inner).take();
        }
        self.pool.close();
    }
}
