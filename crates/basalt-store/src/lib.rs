//! The Store port: what the engine needs from a database, in domain terms (classes, documents,
//! filters, patches), with two implementations: the embedded SQLite store and PostgreSQL. No HTTP and no Parse rules here:
//! the engine has decided what to write and who may see what before it calls a store.

mod compile_common;
pub mod postgres;
pub mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;

use async_trait::async_trait;
use basalt_core::ops::Patch;
use basalt_core::query::{FieldPath, Filter};
use basalt_core::schema::{ClassSchema, SchemaMap};
use basalt_core::value::Document;
use basalt_core::{ErrorCode, ParseError};

/// One stored object: its identity and timestamps, and its fields (ACL included) in Parse JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredObject {
    /// The object id.
    pub object_id: String,
    /// Creation time, Parse ISO format.
    pub created_at: String,
    /// Last update time, Parse ISO format.
    pub updated_at: String,
    /// Every other field, in Parse's JSON encoding.
    pub fields: Document,
}

/// Whether a unique field compares letter case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// `Bob` and `bob` are the same value.
    Insensitive,
    /// `Bob` and `bob` are different values.
    Sensitive,
}

/// Sort direction of one order key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Smallest first.
    Ascending,
    /// Largest first.
    Descending,
}

/// What a find asks for besides its filter.
#[derive(Debug, Clone, PartialEq)]
pub struct FindSpec {
    /// Which objects.
    pub filter: Filter,
    /// Sort keys, most significant first.
    pub order: Vec<(FieldPath, Direction)>,
    /// At most this many (None: all).
    pub limit: Option<usize>,
    /// Skip this many first.
    pub skip: usize,
    /// The ACL ids the caller reads as (`*`, its user id, `role:Name`…); `None` reads everything.
    pub readers: Option<Vec<String>>,
}

impl FindSpec {
    /// The id, when the filter is exactly `objectId` equal to one id: a get by id, at most one
    /// row through the primary key.
    pub fn by_id(&self) -> Option<&str> {
        match &self.filter {
            Filter::Field(
                path,
                basalt_core::query::Condition::Eq(serde_json::Value::String(id)),
            ) if path.field == "objectId" && path.sub.is_empty() => Some(id),
            _ => None,
        }
    }

    /// Every object matching `filter`, unordered.
    pub fn filter(filter: Filter) -> Self {
        Self {
            filter,
            order: vec![],
            limit: None,
            skip: 0,
            readers: None,
        }
    }
}

/// Changes to one Relation field of one object.
#[derive(Debug, Clone, PartialEq)]
pub struct RelationChange {
    /// The Relation field.
    pub field: String,
    /// Related object ids to link.
    pub add: Vec<String>,
    /// Related object ids to unlink.
    pub remove: Vec<String>,
}

/// One write. Several go into one transaction with `Store::write`.
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Insert a new object.
    Create {
        /// Its class.
        class: String,
        /// The object, complete.
        object: StoredObject,
        /// Relation links to create with it.
        relations: Vec<RelationChange>,
    },
    /// Apply a patch to an existing object.
    Update {
        /// Its class.
        class: String,
        /// Which object.
        object_id: String,
        /// Field changes (Relation changes in it are ignored; see `relations`).
        patch: Patch,
        /// The new `updatedAt`.
        updated_at: String,
        /// Relation links to change.
        relations: Vec<RelationChange>,
        /// The ACL ids the caller writes as; `None` may write anything.
        writers: Option<Vec<String>>,
    },
    /// Remove an object and its relation links.
    Delete {
        /// Its class.
        class: String,
        /// Which object.
        object_id: String,
        /// The ACL ids the caller writes as; `None` may write anything.
        writers: Option<Vec<String>>,
    },
}

impl Write {
    /// The (class, objectId) it writes.
    pub fn key(&self) -> (String, String) {
        match self {
            Write::Create { class, object, .. } => (class.clone(), object.object_id.clone()),
            Write::Update {
                class, object_id, ..
            }
            | Write::Delete {
                class, object_id, ..
            } => (class.clone(), object_id.clone()),
        }
    }
}

/// What one write did.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteOutcome {
    /// The object was inserted.
    Created,
    /// The object was updated; `echoed` holds the fields the response repeats.
    Updated {
        /// Fields Parse echoes in an update response (operator results).
        echoed: Document,
        /// The object after the update.
        object: StoredObject,
    },
    /// The object was removed.
    Deleted,
}

/// What a store can fail with. The engine turns these into Parse errors with context.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No object with that id (or no such class).
    #[error("object not found")]
    NotFound,
    /// A unique field already has this value.
    #[error("duplicate value for {field}")]
    Duplicate {
        /// The field whose uniqueness was violated.
        field: String,
    },
    /// The request cannot be carried out as asked (bad regex, operator on the wrong type…).
    #[error(transparent)]
    Invalid(#[from] ParseError),
    /// The database failed.
    #[error(transparent)]
    Backend(#[from] anyhow::Error),
}

impl From<StoreError> for basalt_core::Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => {
                ParseError::new(ErrorCode::ObjectNotFound, "Object not found.").into()
            }
            StoreError::Duplicate { .. } => ParseError::new(
                ErrorCode::DuplicateValue,
                "A duplicate value for a field with unique values was provided",
            )
            .into(),
            StoreError::Invalid(p) => p.into(),
            StoreError::Backend(e) => basalt_core::Error::Internal(e),
        }
    }
}

/// Shorthand for store results.
pub type StoreResult<T> = Result<T, StoreError>;

/// A database holding classes of Parse objects.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Every saved class schema.
    async fn load_schemas(&self) -> StoreResult<Vec<ClassSchema>>;
    /// Saves a class schema, creating the class's storage and its indexes as needed and dropping
    /// indexes the schema no longer names.
    async fn save_schema(&self, schema: &ClassSchema) -> StoreResult<()>;
    /// Saves a class schema as `save_schema` does, but only if the class's stored schema is
    /// still `previous` (None: the class has none yet), checked and written atomically for
    /// every process sharing the database. Returns false, saving nothing, when another writer
    /// changed it first.
    async fn replace_schema(
        &self,
        schema: &ClassSchema,
        previous: Option<&ClassSchema>,
    ) -> StoreResult<bool>;
    /// Removes a field's values from every object of the class (and its relation links).
    async fn delete_field(&self, class: &str, field: &str) -> StoreResult<()>;
    /// Makes a field of an existing class unique (objects without it are not constrained);
    /// later writes that repeat a value fail with `StoreError::Duplicate { field }`.
    async fn ensure_unique(&self, class: &str, field: &str, case: Case) -> StoreResult<()>;
    /// Deletes every object of a class (and their relation links), keeping the class.
    async fn purge(&self, class: &str) -> StoreResult<()>;
    /// Drops a class: its schema, objects and relation links.
    async fn delete_class(&self, class: &str) -> StoreResult<()>;
    /// Carries out the writes in one transaction: all of them, or (on the first error, returned
    /// with its index) none.
    async fn write(&self, writes: Vec<Write>) -> Result<Vec<WriteOutcome>, (usize, StoreError)>;
    /// Objects of `class` matching the spec.
    async fn find(
        &self,
        schemas: &SchemaMap,
        class: &str,
        spec: &FindSpec,
    ) -> StoreResult<Vec<StoredObject>>;
    /// How many objects of `class` match the filter (and are readable by `readers`, when given).
    async fn count(
        &self,
        schemas: &SchemaMap,
        class: &str,
        filter: &Filter,
        readers: Option<&[String]>,
    ) -> StoreResult<u64>;
    /// Flushes and closes the database; later calls fail.
    async fn close(&self);
}

/// The URI with its password masked, fit for logs.
pub fn redacted_uri(uri: &str) -> String {
    match url::Url::parse(uri) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => uri.to_owned(),
    }
}

/// Opens the store a database URI names: `sqlite://PATH` (or a bare path) for the embedded
/// database, `postgres://…` or `postgresql://…` for PostgreSQL.
pub async fn connect(uri: &str) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(path) = uri.strip_prefix("sqlite://") {
        return Ok(Arc::new(sqlite::SqliteStore::open(path.as_ref()).await?));
    }
    if uri.starts_with("postgres://") || uri.starts_with("postgresql://") {
        return Ok(Arc::new(postgres::PgStore::connect(uri).await?));
    }
    if uri.contains("://") {
        anyhow::bail!(
            "unsupported database URI scheme in {uri:?}; expected sqlite:// or postgres://"
        );
    }
    Ok(Arc::new(sqlite::SqliteStore::open(uri.as_ref()).await?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn logged_uris_hide_the_password() {
        assert_eq!(
            super::redacted_uri("postgres://app:s3cret@db:5432/basalt?sslmode=require"),
            "postgres://app:***@db:5432/basalt?sslmode=require"
        );
        assert_eq!(
            super::redacted_uri("sqlite:///data/basalt.db"),
            "sqlite:///data/basalt.db"
        );
    }
}
