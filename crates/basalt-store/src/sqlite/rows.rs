//! Objects recently read by id, kept decoded in memory so that a repeated get skips SQLite.
//!
//! The embedded store belongs to one process and every write goes through its writer, so the
//! cache can be kept exact: after each commit the writer drops the entries of the objects it
//! wrote (a whole class for schema changes) before any caller hears of the commit. A read that
//! raced with a commit may have seen the data from before it; such a read does not fill the
//! cache (`generation` tells), so a stale entry can never outlive the commit that made it stale.
//!
//! Why: a get by id spent about 30% of basalt's CPU in SQLite (statement, B-tree, the WAL
//! read-lock `fcntl` calls and the JSON parse of the row), more than any other part of it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::StoredObject;

/// What the cache may hold in all, counted as the bytes of each row's JSON plus a fixed
/// overhead per entry.
pub(super) const DEFAULT_BUDGET_BYTES: usize = 32 * 1024 * 1024;

/// Bookkeeping per entry beyond the row's JSON: keys, maps, the decoded map's nodes.
const ENTRY_OVERHEAD_BYTES: usize = 256;

/// One object as stored, with who may read it.
#[derive(Debug)]
pub(super) struct CachedRow {
    pub(super) object: StoredObject,
    /// `_rperm`: the ids that may read it; `None` when the object has no ACL (public).
    pub(super) readers: Option<Vec<String>>,
    weight: usize,
}

impl CachedRow {
    pub(super) fn new(object: StoredObject, readers: Option<Vec<String>>, doc_len: usize) -> Self {
        CachedRow {
            object,
            readers,
            weight: doc_len + ENTRY_OVERHEAD_BYTES,
        }
    }

    /// Whether a caller reading as `readers` (`None`: master) sees this object: the same test
    /// as the SQL's `_rperm IS NULL OR EXISTS (... value IN (readers))`.
    pub(super) fn visible_to(&self, readers: Option<&[String]>) -> bool {
        match (readers, &self.readers) {
            (None, _) | (_, None) => true,
            (Some(caller), Some(allowed)) => allowed.iter().any(|a| caller.contains(a)),
        }
    }
}

/// What a commit may have changed.
#[derive(Debug)]
pub(super) enum Changed {
    /// Nothing cached (schema metadata only).
    Nothing,
    /// These objects, as (class, objectId).
    Objects(Vec<(String, String)>),
    /// Any object of this class.
    Class(String),
}

#[derive(Default)]
struct Entries {
    by_class: HashMap<Box<str>, HashMap<Box<str>, Arc<CachedRow>>>,
    bytes: usize,
}

impl Entries {
    fn remove(&mut self, class: &str, id: &str) {
        if let Some(rows) = self.by_class.get_mut(class)
            && let Some(old) = rows.remove(id)
        {
            self.bytes -= old.weight;
        }
    }

    fn remove_class(&mut self, class: &str) {
        if let Some(rows) = self.by_class.remove(class) {
            self.bytes -= rows.values().map(|r| r.weight).sum::<usize>();
        }
    }

    /// Drops arbitrary entries (in hash order, so effectively at random) until `room` more
    /// bytes fit. Random eviction keeps the hit path free of recency bookkeeping.
    fn make_room(&mut self, room: usize, budget: usize) {
        while self.bytes + room > budget {
            let Some(rows) = self.by_class.values_mut().find(|rows| !rows.is_empty()) else {
                return;
            };
            let victims: Vec<Box<str>> = rows.keys().take(16).cloned().collect();
            for id in victims {
                if let Some(old) = rows.remove(&id) {
                    self.bytes -= old.weight;
                }
                if self.bytes + room <= budget {
                    break;
                }
            }
        }
    }
}

/// The cache of rows read by id.
pub(super) struct RowCache {
    entries: Mutex<Entries>,
    /// Bumped after every commit, before its entries are dropped.
    generation: AtomicU64,
    budget: usize,
}

fn lock(m: &Mutex<Entries>) -> std::sync::MutexGuard<'_, Entries> {
    // The entries are consistent after every statement; a panic elsewhere cannot tear them.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl RowCache {
    pub(super) fn new(budget: usize) -> Self {
        RowCache {
            entries: Mutex::new(Entries::default()),
            generation: AtomicU64::new(0),
            budget,
        }
    }

    pub(super) fn get(&self, class: &str, id: &str) -> Option<Arc<CachedRow>> {
        lock(&self.entries).by_class.get(class)?.get(id).cloned()
    }

    /// Read before the SQL read whose result may then be `insert`ed.
    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Keeps `row`, unless a commit happened since `generation` was read (the row may predate
    /// it) or the row alone is over the budget.
    pub(super) fn insert(&self, generation: u64, class: &str, row: Arc<CachedRow>) {
        if row.weight > self.budget / 4 {
            return;
        }
        let mut entries = lock(&self.entries);
        // Checked under the lock that `forget` takes after bumping the generation: either this
        // insert comes first and `forget` removes it, or it sees the new generation.
        if self.generation.load(Ordering::SeqCst) != generation {
            return;
        }
        entries.remove(class, &row.object.object_id);
        entries.make_room(row.weight, self.budget);
        entries.bytes += row.weight;
        let id: Box<str> = row.object.object_id.as_str().into();
        entries
            .by_class
            .entry(class.into())
            .or_default()
            .insert(id, row);
    }

    /// Called by the writer after a commit, before the callers hear of it.
    pub(super) fn forget(&self, changed: &Changed) {
        if matches!(changed, Changed::Nothing) {
            return;
        }
        self.generation.fetch_add(1, Ordering::SeqCst);
        let mut entries = lock(&self.entries);
        match changed {
            Changed::Nothing => {}
            Changed::Objects(keys) => {
                for (class, id) in keys {
                    entries.remove(class, id);
                }
            }
            Changed::Class(class) => entries.remove_class(class),
        }
    }

    pub(super) fn clear(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        let mut entries = lock(&self.entries);
        entries.by_class.clear();
        entries.bytes = 0;
    }

    #[cfg(test)]
    pub(super) fn bytes(&self) -> usize {
        lock(&self.entries).bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, readers: Option<&[&str]>, doc_len: usize) -> Arc<CachedRow> {
        Arc::new(CachedRow::new(
            StoredObject {
                object_id: id.into(),
                created_at: String::new(),
                updated_at: String::new(),
                fields: serde_json::Map::new(),
            },
            readers.map(|r| r.iter().map(|s| (*s).to_owned()).collect()),
            doc_len,
        ))
    }

    #[test]
    fn a_read_that_raced_a_commit_is_not_kept() {
        let cache = RowCache::new(DEFAULT_BUDGET_BYTES);
        let before = cache.generation();
        cache.forget(&Changed::Objects(vec![("A".into(), "x".into())]));
        cache.insert(before, "A", row("x", None, 10));
        assert!(cache.get("A", "x").is_none());

        let now = cache.generation();
        cache.insert(now, "A", row("x", None, 10));
        assert!(cache.get("A", "x").is_some());
        cache.forget(&Changed::Class("A".into()));
        assert!(cache.get("A", "x").is_none());
        assert_eq!(cache.bytes(), 0);
    }

    #[test]
    fn visibility_follows_the_read_permissions() {
        let public = row("p", None, 1);
        let private = row("q", Some(&["u1", "role:Admin"]), 1);
        let me = ["*".to_owned(), "u1".to_owned()];
        let other = ["*".to_owned(), "u2".to_owned()];
        assert!(public.visible_to(Some(&other)));
        assert!(private.visible_to(Some(&me)));
        assert!(!private.visible_to(Some(&other)));
        assert!(private.visible_to(None));
        assert!(!row("n", Some(&[]), 1).visible_to(Some(&me)));
    }

    #[test]
    fn the_budget_holds() {
        let budget = 100 * (ENTRY_OVERHEAD_BYTES + 100);
        let cache = RowCache::new(budget);
        for i in 0..1_000 {
            cache.insert(cache.generation(), "A", row(&format!("o{i}"), None, 100));
        }
        assert!(cache.bytes() <= budget, "{} > {budget}", cache.bytes());
        assert!(
            cache.bytes() >= budget / 2,
            "kept too little: {}",
            cache.bytes()
        );
        assert!(cache.get("A", "o999").is_some(), "the newest entry is kept");
    }
}
