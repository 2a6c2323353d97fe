//! The class schemas every request consults, held in memory as an immutable snapshot that is
//! swapped whole on change. Changes are serialised so two writes adding the same field agree.
//! Each change is published to the other nodes, and their changes are read back from the store
//! when they say so (see `cluster`).

use std::sync::{Arc, RwLock};

use basalt_core::schema::{ClassSchema, FieldDef, FieldType, SchemaMap};
use basalt_core::{ErrorCode, ParseError, Result};
use basalt_store::Store;

use crate::cluster::{ClusterBus, Invalidation};
use crate::validate::check_new_field;

/// Reads and saves of one schema change before giving up, when other nodes keep changing the
/// same class at the same moment.
const SAVE_ATTEMPTS: usize = 8;

pub(crate) struct SchemaCache {
    snapshot: RwLock<Arc<SchemaMap>>,
    changes: tokio::sync::Mutex<()>,
    bus: Arc<dyn ClusterBus>,
}

/// Every class schema the store holds, as the cache keeps them.
async fn read_all(store: &dyn Store) -> basalt_store::StoreResult<SchemaMap> {
    let all = store.load_schemas().await?;
    // Import checkpoints are the importer's own bookkeeping, never a class clients see.
    Ok(all
        .into_iter()
        .filter(|s| s.class_name != crate::import::STATE_CLASS)
        .map(|s| (s.class_name.clone(), Arc::new(s)))
        .collect())
}

impl SchemaCache {
    pub(crate) async fn load(
        store: &dyn Store,
        bus: Arc<dyn ClusterBus>,
    ) -> anyhow::Result<SchemaCache> {
        let map = read_all(store)
            .await
            .map_err(|e| anyhow::anyhow!("loading schemas: {e}"))?;
        Ok(SchemaCache {
            snapshot: RwLock::new(Arc::new(map)),
            changes: tokio::sync::Mutex::new(()),
            bus,
        })
    }

    /// Reads one class's schema (or every schema, for `None`) from the store again, after
    /// another node changed it. Waits for this node's own schema changes to finish first.
    pub(crate) async fn reload(&self, store: &dyn Store, class: Option<&str>) -> Result<()> {
        let _guard = self.changes.lock().await;
        let mut stored = read_all(store).await?;
        match class {
            None => {
                *self
                    .snapshot
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(stored);
            }
            Some(class) => {
                let schema = stored.remove(class).map(Arc::unwrap_or_clone);
                self.install(schema, class);
            }
        }
        Ok(())
    }

    /// Every schema as of now.
    pub(crate) fn snapshot(&self) -> Arc<SchemaMap> {
        Arc::clone(
            &self
                .snapshot
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// One class's schema.
    pub(crate) fn get(&self, class: &str) -> Option<Arc<ClassSchema>> {
        self.snapshot().get(class).cloned()
    }

    /// Installs a changed schema (None: the class is gone) and tells the other nodes. Called
    /// after the change is saved in the store.
    fn publish(&self, schema: Option<ClassSchema>, class: &str) {
        self.install(schema, class);
        self.bus.publish(Invalidation::Schema {
            class: class.to_owned(),
        });
    }

    /// One class's schema as the store holds it, installed here too. Another node may have
    /// changed the class a moment ago, its notice not yet arrived: a change built on this keeps
    /// theirs rather than overwriting it. The caller holds the lock from `lock_changes`.
    pub(crate) async fn stored_locked(
        &self,
        store: &dyn Store,
        class: &str,
    ) -> Result<Option<Arc<ClassSchema>>> {
        let stored = read_all(store).await?.remove(class);
        if stored.as_deref() != self.get(class).as_deref() {
            self.install(stored.as_deref().cloned(), class);
        }
        Ok(stored)
    }

    /// Installs one class's schema here only.
    fn install(&self, schema: Option<ClassSchema>, class: &str) {
        let mut guard = self
            .snapshot
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut map = SchemaMap::clone(&guard);
        match schema {
            Some(s) => map.insert(class.to_owned(), Arc::new(s)),
            None => map.remove(class),
        };
        *guard = Arc::new(map);
    }

    /// Makes sure `class` exists with `fields`, adding what is missing (and creating the class
    /// when `create` allows it). Types are checked again under the lock, so a concurrent write
    /// that added the same field with another type is caught here.
    pub(crate) async fn ensure_fields(
        &self,
        store: &dyn Store,
        class: &str,
        fields: &[(String, FieldType)],
    ) -> Result<Arc<ClassSchema>> {
        if let Some(existing) = self.get(class)
            && fields
                .iter()
                .all(|(name, ty)| existing.field_type(name) == Some(ty))
        {
            return Ok(existing);
        }
        let _guard = self.changes.lock().await;
        for _ in 0..SAVE_ATTEMPTS {
            let stored = self.stored_locked(store, class).await?;
            let mut schema = stored
                .as_deref()
                .cloned()
                .unwrap_or_else(|| ClassSchema::new(class));
            let mut changed = stored.is_none();
            for (name, ty) in fields {
                match schema.field_type(name) {
                    Some(existing) if existing == ty => {}
                    Some(existing) => return Err(mismatch(class, name, existing, ty).into()),
                    None => {
                        check_new_field(&schema, name, ty)?;
                        schema.fields.insert(name.clone(), FieldDef::of(ty.clone()));
                        changed = true;
                    }
                }
            }
            if !changed {
                return Ok(Arc::new(schema));
            }
            // Saved only over what was read, so a field another node adds at the same moment
            // is never overwritten; when that happens, read again and redo.
            if store.replace_schema(&schema, stored.as_deref()).await? {
                self.publish(Some(schema.clone()), class);
                return Ok(Arc::new(schema));
            }
        }
        Err(basalt_core::Error::Internal(anyhow::anyhow!(
            "the schema of {class} kept changing while fields were added"
        )))
    }

    /// Holds schema changes off while the caller changes a schema in several steps.
    pub(crate) async fn lock_changes(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.changes.lock().await
    }

    /// Publishes without taking the lock (the caller holds it from `lock_changes`).
    pub(crate) fn publish_locked(&self, schema: Option<ClassSchema>, class: &str) {
        self.publish(schema, class);
    }
}

/// Parse's message for a value whose type differs from the field's.
pub(crate) fn mismatch(
    class: &str,
    field: &str,
    expected: &FieldType,
    got: &FieldType,
) -> ParseError {
    ParseError::new(
        ErrorCode::IncorrectType,
        format!("schema mismatch for {class}.{field}; expected {expected} but got {got}"),
    )
}
