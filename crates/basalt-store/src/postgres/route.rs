//! Which small reads may run on the shared, pipelined connections (see `shared`).
//!
//! A page of results costs PostgreSQL little when an index finds it, and then the shared
//! connection serves it for a third less CPU than a pooled one (fewer backend wake-ups and
//! socket writes). But a find's cost cannot be told from its SQL: the same statement is quick
//! for one value and a long scan for another, and a slow statement holds up everything queued
//! behind it on a shared connection. So each statement (a query shape; its values are
//! parameters) earns its way there: it runs on a pooled connection until it has been quick
//! several times in a row, and goes back to the pool as soon as one run on the shared
//! connection is slow. The shared connections also carry a statement timeout, so even a
//! statement that turns pathological for one value holds the others up for a bounded time
//! before it is run again on the pool.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// A run on a pooled connection this quick (round trip included, under load) counts towards
/// the shared connection.
const QUICK_ON_POOL: Duration = Duration::from_millis(5);
/// Quick pooled runs in a row a statement needs before it may use the shared connection.
const QUICK_RUNS_NEEDED: u8 = 3;
/// A run on the shared connection slower than this (queueing included) sends the statement back
/// to the pool.
const SLOW_ON_SHARED: Duration = Duration::from_millis(25);
/// Statements remembered; past this, new ones stay on the pool. Bounds the memory a client
/// sending endless distinct query shapes can make a node use.
const MAX_SHAPES: usize = 4096;

/// The statement timeout of the shared connections: the longest one statement can hold up the
/// others queued behind it before it is cancelled and run again on a pooled connection.
pub(super) const SHARED_STATEMENT_TIMEOUT: Duration = Duration::from_millis(200);

/// What is known of each statement's speed.
#[derive(Default)]
pub(super) struct ReadRoutes {
    quick_runs: Mutex<HashMap<String, u8>>,
}

impl ReadRoutes {
    /// Whether the statement has earned the shared connection.
    pub(super) fn shared(&self, sql: &str) -> bool {
        self.lock()
            .get(sql)
            .is_some_and(|&n| n >= QUICK_RUNS_NEEDED)
    }

    /// Records a run on a pooled connection.
    pub(super) fn ran_pooled(&self, sql: &str, took: Duration) {
        let mut shapes = self.lock();
        if took > QUICK_ON_POOL {
            // Once earned, only runs on the shared connection judge it: runs that were already
            // under way on the pool when it earned the right say nothing new.
            if let Some(n) = shapes.get_mut(sql).filter(|n| **n < QUICK_RUNS_NEEDED) {
                *n = 0;
            }
            return;
        }
        if let Some(n) = shapes.get_mut(sql) {
            if *n + 1 == QUICK_RUNS_NEEDED {
                tracing::debug!(
                    statement = sql,
                    "a quick find may now use the shared connections"
                );
            }
            *n = n.saturating_add(1).min(QUICK_RUNS_NEEDED);
        } else if shapes.len() < MAX_SHAPES {
            shapes.insert(sql.to_owned(), 1);
        }
    }

    /// Records a run on the shared connection: a slow one sends the statement back to the pool.
    pub(super) fn ran_shared(&self, sql: &str, took: Duration) {
        if took > SLOW_ON_SHARED {
            tracing::debug!(
                statement = sql,
                took_ms = took.as_millis(),
                "a slow shared run"
            );
            self.demote(sql);
        }
    }

    /// Sends the statement back to the pool (it was slow, or hit the statement timeout).
    pub(super) fn demote(&self, sql: &str) {
        tracing::debug!(statement = sql, "a find goes back to the pool");
        if let Some(n) = self.lock().get_mut(sql) {
            *n = 0;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u8>> {
        self.quick_runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SQL: &str = "SELECT 1";
    const QUICK: Duration = Duration::from_millis(1);
    const SLOW: Duration = Duration::from_millis(60);

    #[test]
    fn earns_the_shared_connection_after_quick_runs_in_a_row() {
        let routes = ReadRoutes::default();
        for _ in 1..QUICK_RUNS_NEEDED {
            routes.ran_pooled(SQL, QUICK);
            assert!(!routes.shared(SQL));
        }
        routes.ran_pooled(SQL, SLOW);
        routes.ran_pooled(SQL, QUICK);
        assert!(!routes.shared(SQL), "a slow run restarts the count");
        for _ in 1..QUICK_RUNS_NEEDED {
            routes.ran_pooled(SQL, QUICK);
        }
        assert!(routes.shared(SQL));
        routes.ran_pooled(SQL, SLOW);
        assert!(
            routes.shared(SQL),
            "a slow pooled run that was under way when it earned the right changes nothing"
        );
        assert!(
            !routes.shared("SELECT 2"),
            "other statements have not earned it"
        );
    }

    #[test]
    fn one_slow_shared_run_or_a_timeout_sends_it_back() {
        let routes = ReadRoutes::default();
        let earn = |r: &ReadRoutes| (0..QUICK_RUNS_NEEDED).for_each(|_| r.ran_pooled(SQL, QUICK));
        earn(&routes);
        routes.ran_shared(SQL, QUICK);
        assert!(routes.shared(SQL));
        routes.ran_shared(SQL, SLOW);
        assert!(!routes.shared(SQL));
        earn(&routes);
        routes.demote(SQL);
        assert!(!routes.shared(SQL));
    }

    #[test]
    fn remembers_a_bounded_number_of_statements() {
        let routes = ReadRoutes::default();
        for i in 0..MAX_SHAPES + 10 {
            routes.ran_pooled(&format!("SELECT {i}"), QUICK);
        }
        assert_eq!(routes.lock().len(), MAX_SHAPES);
    }
}
