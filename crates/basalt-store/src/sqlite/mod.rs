//! The embedded store: one SQLite database file in WAL mode, a table per class holding each
//! object's fields as a JSON document, expression indexes for the fields a class indexes, and a
//! join table for Relations. Layout and reasons: docs/decisions/0003-sqlite-layout.md.
//!
//! SQLite calls block, so every call runs on tokio's blocking pool with a pooled connection:
//! readers run in parallel (WAL), writes go through the one writer connection.

mod compile;
mod functions;
mod read;
mod schema;
mod write;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use async_trait::async_trait;
use basalt_core::query::Filter;
use basalt_core::schema::{ClassSchema, SchemaMap};
use rusqlite::Connection;

use crate::{FindSpec, Store, StoreError, StoreResult, StoredObject, Write, WriteOutcome};

/// Most reader connections kept open; more concurrent reads wait for one.
const MAX_READERS: usize = 8;

/// The table holding a class's objects.
pub(crate) fn table_name(class: &str) -> String {
    format!("\"cls_{class}\"")
}

struct Pool {
    path: PathBuf,
    readers: Mutex<Vec<Connection>>,
    reader_count: Mutex<usize>,
    reader_ready: std::sync::Condvar,
    writer: Mutex<Option<Connection>>,
    closed: AtomicBool,
}

/// The SQLite implementation of `Store`.
pub struct SqliteStore {
    pool: Arc<Pool>,
}

fn open_connection(path: &Path) -> anyhow::Result<Connection> {
    let conn = Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA busy_timeout = 5000;
         PRAGMA cache_size = -16000;
         PRAGMA temp_store = MEMORY;",
    )?;
    functions::register(&conn)?;
    Ok(conn)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding a connection leaves nothing half-done in SQLite itself (the
    // transaction rolls back on drop), so a poisoned lock is safe to keep using.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Pool {
    fn closed_error() -> StoreError {
        StoreError::Backend(anyhow::anyhow!("the database is closed"))
    }

    fn take_reader(&self) -> StoreResult<Connection> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Self::closed_error());
        }
        if let Some(c) = lock(&self.readers).pop() {
            return Ok(c);
        }
        {
            let mut count = lock(&self.reader_count);
            if *count < MAX_READERS {
                *count += 1;
                drop(count);
                return open_connection(&self.path).map_err(|e| {
                    *lock(&self.reader_count) -= 1;
                    StoreError::Backend(e)
                });
            }
        }
        let mut readers = lock(&self.readers);
        loop {
            if let Some(c) = readers.pop() {
                return Ok(c);
            }
            readers = self
                .reader_ready
                .wait(readers)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    fn give_reader(&self, c: Connection) {
        lock(&self.readers).push(c);
        self.reader_ready.notify_one();
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`.
    pub async fn open(path: &Path) -> anyhow::Result<SqliteStore> {
        let path = path.to_path_buf();
        let writer = tokio::task::spawn_blocking({
            let path = path.clone();
            move || -> anyhow::Result<Connection> {
                if let Some(dir) = path.parent()
                    && !dir.as_os_str().is_empty()
                {
                    std::fs::create_dir_all(dir)?;
                }
                let conn = open_connection(&path)?;
                schema::init(&conn)?;
                Ok(conn)
            }
        })
        .await??;
        Ok(SqliteStore {
            pool: Arc::new(Pool {
                path,
                readers: Mutex::new(Vec::new()),
                reader_count: Mutex::new(0),
                reader_ready: std::sync::Condvar::new(),
                writer: Mutex::new(Some(writer)),
                closed: AtomicBool::new(false),
            }),
        })
    }

    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let pool = Arc::clone(&self.pool);
        tokio::task::spawn_blocking(move || {
            let conn = pool.take_reader()?;
            let out = f(&conn);
            pool.give_reader(conn);
            out
        })
        .await
        .map_err(|e| StoreError::Backend(e.into()))?
    }

    async fn with_writer<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let pool = Arc::clone(&self.pool);
        tokio::task::spawn_blocking(move || {
            let mut guard = lock(&pool.writer);
            let conn = guard.as_mut().ok_or_else(Pool::closed_error)?;
            f(conn)
        })
        .await
        .map_err(|e| StoreError::Backend(e.into()))?
    }
}

/// Wraps a rusqlite error as a backend failure.
pub(crate) fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.into())
}

#[async_trait]
impl Store for SqliteStore {
    async fn load_schemas(&self) -> StoreResult<Vec<ClassSchema>> {
        self.read(schema::load_all).await
    }

    async fn save_schema(&self, s: &ClassSchema) -> StoreResult<()> {
        let s = s.clone();
        self.with_writer(move |c| schema::save(c, &s)).await
    }

    async fn delete_field(&self, class: &str, field: &str) -> StoreResult<()> {
        let (class, field) = (class.to_owned(), field.to_owned());
        self.with_writer(move |c| schema::delete_field(c, &class, &field))
            .await
    }

    async fn purge(&self, class: &str) -> StoreResult<()> {
        let class = class.to_owned();
        self.with_writer(move |c| schema::purge(c, &class)).await
    }

    async fn delete_class(&self, class: &str) -> StoreResult<()> {
        let class = class.to_owned();
        self.with_writer(move |c| schema::delete_class(c, &class))
            .await
    }

    async fn write(&self, writes: Vec<Write>) -> Result<Vec<WriteOutcome>, (usize, StoreError)> {
        let pool = Arc::clone(&self.pool);
        tokio::task::spawn_blocking(move || {
            let mut guard = lock(&pool.writer);
            let conn = guard.as_mut().ok_or((0, Pool::closed_error()))?;
            write::apply(conn, writes)
        })
        .await
        .map_err(|e| (0, StoreError::Backend(e.into())))?
    }

    async fn find(
        &self,
        schemas: &SchemaMap,
        class: &str,
        spec: &FindSpec,
    ) -> StoreResult<Vec<StoredObject>> {
        let plan = compile::find_sql(schemas, class, spec)?;
        self.read(move |c| read::query_objects(c, &plan)).await
    }

    async fn count(
        &self,
        schemas: &SchemaMap,
        class: &str,
        filter: &Filter,
        readers: Option<&[String]>,
    ) -> StoreResult<u64> {
        let plan = compile::count_sql(schemas, class, filter, readers)?;
        self.read(move |c| read::query_count(c, &plan)).await
    }

    async fn close(&self) {
        self.pool.closed.store(true, Ordering::Release);
        let pool = Arc::clone(&self.pool);
        let _ = tokio::task::spawn_blocking(move || {
            lock(&pool.readers).clear();
            if let Some(conn) = lock(&pool.writer).take() {
                // Fold the WAL back into the main file so the data dir is one tidy file.
                let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
                let _ = conn.close();
            }
        })
        .await;
    }
}
