//! The class schemas every request consults, held in memory as an immutable snapshot that is
//! swapped whole on change. Changes are serialised so two writes adding the same field agree.

use std::sync::{Arc, RwLock};

use basalt_core::schema::{ClassSchema, FieldDef, FieldType, SchemaMap};
use basalt_core::{ErrorCode, ParseError, Result};
use basalt_store::Store;

use crate::validate::check_new_field;

pub(crate) struct SchemaCache {
    snapshot: RwLock<Arc<SchemaMap>>,
    changes: tokio::sync::Mutex<()>,
}

impl SchemaCache {
    pub(crate) async fn load(store: &dyn Store) -> anyhow::Result<SchemaCache> {
        let all = store
            .load_schemas()
            .await
            .map_err(|e| anyhow::anyhow!("loading schemas: {e}"))?;
        // Import checkpoints are the importer's own bookkeeping, never a class clients see.
        let map: SchemaMap = all
            .into_iter()
            .filter(|s| s.class_name != crate::import::STATE_CLASS)
            .map(|s| (s.class_name.clone(), Arc::new(s)))
            .collect();
        Ok(SchemaCache {
            snapshot: RwLock::new(Arc::new(map)),
            changes: tokio::sync::Mutex::new(()),
        })
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

    fn publish(&self, schema: Option<ClassSchema>, class: &str) {
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
        let mut schema = self
            .get(class)
            .map(|s| ClassSchema::clone(&s))
            .unwrap_or_else(|| ClassSchema::new(class));
        let mut changed = !self.snapshot().contains_key(class);
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
        if changed {
            store.save_schema(&schema).await?;
            self.publish(Some(schema.clone()), class);
        }
        Ok(Arc::new(schema))
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
