//! The embedded store: one SQLite database file in WAL mode, a table per class holding each
//! object's fields as a JSON document, expression indexes for the fields a class indexes, and a
//! join table for Relations. Layout and reasons: docs/decisions/0003-sqlite-layout.md.
//!
//! SQLite calls block, so every call runs on tokio's blocking pool with a pooled connection:
//! readers run in parallel (WAL), writes go through the one writer connection.

mod compile;
mod functions;
mod read;
mod rows;
mod schema;
mod write;
mod writer;

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

/// SQLite VM steps a read may take inline on an async worker thread before it is interrupted
/// and run again on the blocking pool. Point reads and indexed pages take a few thousand; this
/// is well under a millisecond of work.
const INLINE_READ_STEPS: i32 = 200_000;

/// The table holding a class's objects.
pub(crate) fn table_name(class: &str) -> String {
    format!("\"cls_{class}\"")
}

struct Pool {
    path: PathBuf,
    readers: Mutex<Vec<Connection>>,
    reader_count: Mutex<usize>,
    reader_ready: std::sync::Condvar,
    closed: AtomicBool,
}

/// The SQLite implementation of `Store`.
pub struct SqliteStore {
    pool: Arc<Pool>,
    writer: writer::Writer,
    rows: Arc<rows::RowCache>,
    /// The exclusive lock on `<database>.lock`, held until `close`.
    owner: Mutex<Option<std::fs::File>>,
}

/// Takes the exclusive lock that makes this process the database's only user, on a file beside
/// it. The row cache is exact only because every write passes through this process's writer;
/// a second `basalt serve` (or an import) on the same file would change rows behind its back.
fn own_database(path: &Path) -> anyhow::Result<std::fs::File> {
    let lock_path = beside(path, ".lock");
    let file = open_owner_only(&lock_path)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "{} is in use by another basalt process; the embedded store belongs to one process. \
             Stop that process first, or run several nodes on PostgreSQL (--database-uri)",
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", lock_path.display()))
        }
    }
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
    // The bundled SQLite has STAT4, which re-prepares a statement on every step when a bound
    // value could change its plan; our plans come from expression indexes, not statistics, so
    // keep each plan stable and skip the re-parse (it was a quarter of a point read's CPU).
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    conn.set_prepared_statement_cache_capacity(64);
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

    /// A reader without waiting: an idle one, a new one while under the limit, or None.
    fn try_take_reader(&self) -> StoreResult<Option<Connection>> {
        if self.closed.load(Ordering::Acquire) {
            return Err(Self::closed_error());
        }
        if let Some(c) = lock(&self.readers).pop() {
            return Ok(Some(c));
        }
        let mut count = lock(&self.reader_count);
        if *count >= MAX_READERS {
            return Ok(None);
        }
        *count += 1;
        drop(count);
        open_connection(&self.path).map(Some).map_err(|e| {
            *lock(&self.reader_count) -= 1;
            StoreError::Backend(e)
        })
    }

    /// A reader, waiting for one when all are busy (blocking threads only).
    fn take_reader(&self) -> StoreResult<Connection> {
        if let Some(c) = self.try_take_reader()? {
            return Ok(c);
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

fn interrupted(e: &StoreError) -> bool {
    match e {
        StoreError::Backend(inner) => inner.downcast_ref::<rusqlite::Error>().is_some_and(|r| {
            r.sqlite_error_code() == Some(rusqlite::ErrorCode::OperationInterrupted)
        }),
        _ => false,
    }
}

/// `path` with `suffix` added to its file name (`basalt.db` and `-wal`: `basalt.db-wal`).
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut file = path.as_os_str().to_owned();
    file.push(suffix);
    PathBuf::from(file)
}

/// Opens `path` for appending, creating it, if missing, readable by the owner alone.
fn open_owner_only(path: &Path) -> anyhow::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))
}

/// Makes the database file (created empty if missing) and its WAL and shared-memory files
/// readable by the owner alone: they hold password hashes and every user's data. SQLite gives
/// the WAL and shm files it creates the database file's mode.
#[cfg(unix)]
fn restrict_to_owner(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    open_owner_only(path)?;
    for suffix in ["", "-wal", "-shm"] {
        let file = beside(path, suffix);
        if let Ok(meta) = std::fs::metadata(&file)
            && meta.permissions().mode() & 0o077 != 0
        {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("restricting {}", file.display()))?;
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict_to_owner(_path: &Path) -> anyhow::Result<()> {
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`.
    pub async fn open(path: &Path) -> anyhow::Result<SqliteStore> {
        Self::open_with(path, writer::WalPolicy::default()).await
    }

    /// `open`, with its own checkpoint schedule.
    async fn open_with(path: &Path, wal: writer::WalPolicy) -> anyhow::Result<SqliteStore> {
        let path = path.to_path_buf();
        let (conn, checkpoint_conn, owner) = tokio::task::spawn_blocking({
            let path = path.clone();
            move || -> anyhow::Result<(Connection, Connection, std::fs::File)> {
                if let Some(dir) = path.parent()
                    && !dir.as_os_str().is_empty()
                {
                    std::fs::create_dir_all(dir)?;
                }
                restrict_to_owner(&path)?;
                let owner = own_database(&path)?;
                let conn = open_connection(&path)?;
                schema::init(&conn)?;
                let checkpoint_conn = open_connection(&path)?;
                Ok((conn, checkpoint_conn, owner))
            }
        })
        .await??;
        Ok(SqliteStore {
            pool: Arc::new(Pool {
                path,
                readers: Mutex::new(Vec::new()),
                reader_count: Mutex::new(0),
                reader_ready: std::sync::Condvar::new(),
                closed: AtomicBool::new(false),
            }),
            writer: writer::Writer::start(conn, checkpoint_conn, wal)?,
            rows: Arc::new(rows::RowCache::new(rows::DEFAULT_BUDGET_BYTES)),
            owner: Mutex::new(Some(owner)),
        })
    }

    /// Runs a read. It first runs inline with a step budget, which spares cheap reads the trip
    /// to the blocking pool; a read over budget (or finding no idle connection) runs there.
    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> StoreResult<T> + Send + 'static,
    {
        if let Some(mut conn) = self.pool.try_take_reader()? {
            let _ = conn.progress_handler(INLINE_READ_STEPS, Some(|| true));
            let out = f(&conn);
            let _ = conn.progress_handler(0, None::<fn() -> bool>);
            self.pool.give_reader(conn);
            match out {
                Err(e) if interrupted(&e) => {}
                done => return done,
            }
        }
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

    /// A get by id: from the row cache, or read and kept there.
    async fn find_by_id(
        &self,
        class: &str,
        id: &str,
        readers: Option<&[String]>,
    ) -> StoreResult<Vec<StoredObject>> {
        let visible = |row: &rows::CachedRow| {
            if row.visible_to(readers) {
                vec![row.object.clone()]
            } else {
                Vec::new()
            }
        };
        if let Some(row) = self.rows.get(class, id) {
            return Ok(visible(&row));
        }
        let generation = self.rows.generation();
        let (class_owned, id_owned) = (class.to_owned(), id.to_owned());
        let found = self
            .read(move |c| read::row_by_id(c, &class_owned, &id_owned))
            .await?;
        let Some(row) = found else {
            return Ok(Vec::new());
        };
        let row = Arc::new(row);
        let out = visible(&row);
        self.rows.insert(generation, class, row);
        Ok(out)
    }

    /// Runs `f` on the writer inside a savepoint of a group commit; an error rolls back `f`'s
    /// changes only. The cached rows `changed` names are dropped after the commit, before the
    /// caller hears of it.
    async fn with_writer<T, E, F>(&self, changed: rows::Changed, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: Send + 'static + From<StoreError>,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel::<Result<T, E>>();
        let cache = Arc::clone(&self.rows);
        let job: writer::Job = Box::new(move |conn| {
            let result = f(conn);
            let keep = result.is_ok();
            let finish: Box<dyn FnOnce(bool) + Send> = Box::new(move |durable| {
                cache.forget(&changed);
                let delivered = if durable {
                    result
                } else {
                    Err(E::from(StoreError::Backend(anyhow::anyhow!(
                        "the write could not be committed"
                    ))))
                };
                let _ = tx.send(delivered);
            });
            (keep, finish)
        });
        if self.pool.closed.load(Ordering::Acquire) || !self.writer.submit(job) {
            return Err(E::from(Pool::closed_error()));
        }
        rx.await
            .unwrap_or_else(|_| Err(E::from(Pool::closed_error())))
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
        self.with_writer(rows::Changed::Class(s.class_name.clone()), move |c| {
            schema::save(c, &s)
        })
        .await
    }

    async fn replace_schema(
        &self,
        s: &ClassSchema,
        previous: Option<&ClassSchema>,
    ) -> StoreResult<bool> {
        let (s, previous) = (s.clone(), previous.cloned());
        self.with_writer(rows::Changed::Class(s.class_name.clone()), move |c| {
            if schema::load_one(c, &s.class_name)? != previous {
                return Ok(false);
            }
            schema::save(c, &s)?;
            Ok(true)
        })
        .await
    }

    async fn delete_field(&self, class: &str, field: &str) -> StoreResult<()> {
        let (class, field) = (class.to_owned(), field.to_owned());
        self.with_writer(rows::Changed::Class(class.clone()), move |c| {
            schema::delete_field(c, &class, &field)
        })
        .await
    }

    async fn ensure_unique(&self, class: &str, field: &str, case: crate::Case) -> StoreResult<()> {
        let (class, field) = (class.to_owned(), field.to_owned());
        self.with_writer(rows::Changed::Nothing, move |c| {
            schema::ensure_unique(c, &class, &field, case)
        })
        .await
    }

    async fn purge(&self, class: &str) -> StoreResult<()> {
        let class = class.to_owned();
        self.with_writer(rows::Changed::Class(class.clone()), move |c| {
            schema::purge(c, &class)
        })
        .await
    }

    async fn delete_class(&self, class: &str) -> StoreResult<()> {
        let class = class.to_owned();
        self.with_writer(rows::Changed::Class(class.clone()), move |c| {
            schema::delete_class(c, &class)
        })
        .await
    }

    async fn write(&self, writes: Vec<Write>) -> Result<Vec<WriteOutcome>, (usize, StoreError)> {
        let changed = rows::Changed::Objects(writes.iter().map(Write::key).collect());
        self.with_writer(changed, move |c| {
            write::apply(c, &writes).map_err(|(i, e)| write::Failed(i, e))
        })
        .await
        .map_err(|write::Failed(i, e)| (i, e))
    }

    async fn find(
        &self,
        schemas: &SchemaMap,
        class: &str,
        spec: &FindSpec,
    ) -> StoreResult<Vec<StoredObject>> {
        if let Some(id) = spec.by_id()
            && spec.order.is_empty()
            && spec.skip == 0
            && spec.limit != Some(0)
            && schemas.contains_key(class)
        {
            return self.find_by_id(class, id, spec.readers.as_deref()).await;
        }
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
        self.writer.close().await;
        self.rows.clear();
        lock(&self.pool.readers).clear();
        // Closing the file releases the lock: another process may open the database now.
        lock(&self.owner).take();
    }
}
