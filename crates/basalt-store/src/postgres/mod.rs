//! The PostgreSQL store: a table per class holding each object's fields as a JSONB document,
//! its ACL as `text[]` columns with a GIN index, typed expression indexes for the fields a
//! class indexes, and a join table for Relations. Layout and reasons:
//! docs/decisions/0006-postgres-layout.md.
//!
//! The store keeps no state of its own besides the connection pool and each connection's
//! prepared statements, so several nodes can share one database.

mod combine;
mod compile;
mod geo_cap;
pub mod notify;
mod read;
mod regex;
mod route;
mod schema;
mod shared;
mod sql;
mod tls;
mod write;

#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_trait::async_trait;
use basalt_core::query::Filter;
use basalt_core::schema::{ClassSchema, SchemaMap};
use basalt_core::{ErrorCode, ParseError};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};

use compile::SqlPlan;
use tokio_postgres::Row;

use crate::{Case, FindSpec, Store, StoreError, StoreResult, StoredObject, Write, WriteOutcome};

/// Most pooled connections one node holds open: four per core, at least 8 and at most 32.
/// Every connection is a PostgreSQL backend process; past a few per core they only add context
/// switches. On 2 cores at 32 concurrent queries, 16 connections served 3,700 queries/s where 8
/// served 4,500-4,900 and 4 served 4,100-4,500.
fn pooled_connections() -> usize {
    std::thread::available_parallelism().map_or(8, |n| (4 * n.get()).clamp(8, 32))
}

/// Connections shared by reads of one object (see `shared`): one per two cores. On a 2-core
/// machine one pipelined connection served 12,000 gets/s where two served 10,000, four 9,000
/// and a connection per request 8,000: every further backend process adds context switches.
fn shared_connections() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

/// How long a request waits for a free connection before failing.
const CONNECTION_WAIT: Duration = Duration::from_secs(30);

/// The PostgreSQL implementation of `Store`.
pub struct PgStore {
    pool: Pool,
    shared: shared::SharedClients,
    /// Which finds have earned the shared connections.
    routes: route::ReadRoutes,
    /// Whether the database has PostGIS: GeoPoint fields then get GiST indexes.
    postgis: bool,
    updates: combine::UpdateCombiner,
    closed: AtomicBool,
}

/// Wraps a driver error as a backend failure.
pub(crate) fn backend(e: tokio_postgres::Error) -> StoreError {
    // The driver's own message is just "db error"; the server's says what went wrong.
    let detail = e
        .as_db_error()
        .map(|d| format!("{}: {} ({})", d.severity(), d.message(), d.code().code()));
    let err = anyhow::Error::from(e);
    StoreError::Backend(match detail {
        Some(d) => err.context(d),
        None => err,
    })
}

/// Whether the error carries this SQLSTATE.
pub(crate) fn is_code(e: &tokio_postgres::Error, code: &str) -> bool {
    e.as_db_error().is_some_and(|d| d.code().code() == code)
}

/// Read errors the client caused (a regular expression PostgreSQL rejects) become Parse's
/// invalid-query error; the rest are backend failures.
pub(crate) fn map_read_error(e: tokio_postgres::Error) -> StoreError {
    if is_code(&e, "2201B") {
        let msg = e
            .as_db_error()
            .map(|d| d.message().to_owned())
            .unwrap_or_default();
        return ParseError::new(
            ErrorCode::InvalidQuery,
            format!("Invalid regular expression: {msg}"),
        )
        .into();
    }
    backend(e)
}

/// A unique violation names its index: `uq_<Class>_<field>`, or the table's primary key.
pub(crate) fn map_write_error(e: tokio_postgres::Error, class: &str) -> StoreError {
    if let Some(db) = e.as_db_error()
        && db.code().code() == "23505"
    {
        let prefix = format!("uq_{class}_");
        let field = db
            .constraint()
            .and_then(|c| c.strip_prefix(&prefix))
            .unwrap_or("objectId")
            .to_owned();
        return StoreError::Duplicate { field };
    }
    if is_code(&e, "22P05") || is_code(&e, "22021") {
        // JSONB cannot hold the NUL character.
        return ParseError::new(
            ErrorCode::InvalidJson,
            "strings cannot contain the NUL character",
        )
        .into();
    }
    backend(e)
}

impl PgStore {
    /// Connects to the database a `postgres://` URI names and sets up the store's own tables
    /// and functions. Fails when the server cannot be reached.
    pub async fn connect(uri: &str) -> anyhow::Result<PgStore> {
        Self::connect_with(uri, route::SHARED_STATEMENT_TIMEOUT).await
    }

    /// `connect`, with the shared connections' statement timeout given.
    async fn connect_with(uri: &str, shared_timeout: Duration) -> anyhow::Result<PgStore> {
        let (config, check) = tls::parse(uri)?;
        let config = with_session_defaults(&config);
        let pool = build_pool(&config, check, pooled_connections())?;
        let slots = shared_connections();
        let shared_pool = build_pool(
            &with_statement_timeout(&config, shared_timeout),
            check,
            2 * slots,
        )?;
        let mut client = pool
            .get()
            .await
            .map_err(|e| anyhow::anyhow!("connecting to PostgreSQL: {e}"))?;
        let postgis = schema::init(&mut client)
            .await
            .context("setting up the store's tables and functions")?;
        Ok(PgStore {
            postgis,
            updates: combine::UpdateCombiner::start(pool.clone()),
            pool,
            shared: shared::SharedClients::new(shared_pool, slots),
            routes: route::ReadRoutes::default(),
            closed: AtomicBool::new(false),
        })
    }

    fn check_open(&self) -> StoreResult<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Backend(anyhow::anyhow!(
                "the database is closed"
            )));
        }
        Ok(())
    }

    /// A connection of the caller's own, for transactions and statements of unbounded cost.
    async fn client(&self) -> StoreResult<Object> {
        self.check_open()?;
        pooled(&self.pool).await
    }

    /// Runs a find's query: on a shared connection when it reads one row by primary key or is
    /// a small page whose statement has proved quick (`route`), else on a pooled connection.
    /// A statement the shared connection's timeout cancels runs again on a pooled one.
    async fn find_rows(&self, plan: &SqlPlan, spec: &FindSpec) -> StoreResult<Vec<Row>> {
        self.check_open()?;
        let point = spec.by_id().is_some();
        let small_page = !point && spec.limit.is_some_and(|l| l <= SHARED_PAGE_MAX);
        if point || (small_page && self.routes.shared(&plan.sql)) {
            let conn = self.shared.get().await?;
            let started = Instant::now();
            match read::rows(&conn, plan).await {
                Ok(rows) => {
                    if small_page {
                        self.routes.ran_shared(&plan.sql, started.elapsed());
                    }
                    return Ok(rows);
                }
                // Cancelled by the statement timeout: run again below on a pooled connection.
                Err(e) if is_code(&e, "57014") => {
                    if small_page {
                        self.routes.demote(&plan.sql);
                    }
                }
                Err(e) => return Err(map_read_error(e)),
            }
        }
        let conn = pooled(&self.pool).await?;
        let started = Instant::now();
        let rows = read::rows(&conn, plan).await.map_err(map_read_error)?;
        if small_page {
            self.routes.ran_pooled(&plan.sql, started.elapsed());
        }
        Ok(rows)
    }
}

/// Largest page a find may read on a shared connection: a bigger one holds the connection
/// while PostgreSQL sends it.
const SHARED_PAGE_MAX: usize = 100;

/// Planner settings basalt's connections start with. They go before any options the URI gives
/// (`?options=-c%20name%3Dvalue`), and a later `-c` wins, so a deployment can still set its own.
///
/// `random_page_cost = 1.1`, the usual value for SSDs (PostgreSQL's default of 4 models spinning
/// disks). With 4, a count on a table that updates had grown (10,000 rows in 773 pages) was
/// planned as a sequential scan that evaluates `basalt_num` on every row. That ran at 668–748
/// counts/s; with 1.1, the index is used and 4,456 counts/s. get, query and update stayed within
/// the machine's noise (decision 0011, addendum 2).
const SESSION_DEFAULTS: &str = "-c random_page_cost=1.1";

/// `config` with `SESSION_DEFAULTS` before the options it already has, so theirs win.
fn with_session_defaults(config: &tokio_postgres::Config) -> tokio_postgres::Config {
    with_options(config, SESSION_DEFAULTS, false)
}

/// `config` with a statement timeout after the options it already has, so the timeout wins.
fn with_statement_timeout(
    config: &tokio_postgres::Config,
    timeout: Duration,
) -> tokio_postgres::Config {
    let timeout = format!("-c statement_timeout={}", timeout.as_millis().max(1));
    with_options(config, &timeout, true)
}

/// `config` with `ours` added to the options the connection sends; of two `-c` for the same
/// setting the later wins, so `ours_win` puts ours last.
fn with_options(
    config: &tokio_postgres::Config,
    ours: &str,
    ours_win: bool,
) -> tokio_postgres::Config {
    let mut config = config.clone();
    let options = match config.get_options() {
        None => ours.to_owned(),
        Some(given) if ours_win => format!("{given} {ours}"),
        Some(given) => format!("{ours} {given}"),
    };
    config.options(options);
    config
}

/// One connection of the caller's own to the database a `postgres://` URI names, encrypted as
/// its `sslmode` asks (see `tls`), for tools that read another database (`basalt import`).
/// The connection's task is spawned; it logs a failure and ends when the client is dropped.
pub async fn connect_single(uri: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (config, check) = tls::parse(uri)?;
    let connector = tls::connector(&config, check)?;
    let (client, connection) = config.connect(connector).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::error!(error = %e, "database connection ended");
        }
    });
    Ok(client)
}

/// A connection from `pool`.
pub(crate) async fn pooled(pool: &Pool) -> StoreResult<Object> {
    pool.get()
        .await
        .map_err(|e| StoreError::Backend(anyhow::anyhow!("no database connection: {e}")))
}

/// A connection pool over `config`.
fn build_pool(
    config: &tokio_postgres::Config,
    check: tls::CertCheck,
    size: usize,
) -> anyhow::Result<Pool> {
    let connector = tls::connector(config, check)?;
    let manager = Manager::from_config(
        config.clone(),
        connector,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size)
        .wait_timeout(Some(CONNECTION_WAIT))
        .create_timeout(Some(CONNECTION_WAIT))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()
        .context("building the PostgreSQL connection pool")
}

#[async_trait]
impl Store for PgStore {
    async fn load_schemas(&self) -> StoreResult<Vec<ClassSchema>> {
        schema::load_all(&self.client().await?).await
    }

    async fn save_schema(&self, s: &ClassSchema) -> StoreResult<()> {
        schema::save(
            &mut self.client().await?,
            s,
            schema::Base::Any,
            self.postgis,
        )
        .await
        .map(|_| ())
    }

    async fn replace_schema(
        &self,
        s: &ClassSchema,
        previous: Option<&ClassSchema>,
    ) -> StoreResult<bool> {
        schema::save(
            &mut self.client().await?,
            s,
            schema::Base::Exactly(previous),
            self.postgis,
        )
        .await
    }

    async fn delete_field(&self, class: &str, field: &str) -> StoreResult<()> {
        schema::delete_field(&mut self.client().await?, class, field).await
    }

    async fn ensure_unique(&self, class: &str, field: &str, case: Case) -> StoreResult<()> {
        schema::ensure_unique(&self.client().await?, class, field, case).await
    }

    async fn purge(&self, class: &str) -> StoreResult<()> {
        schema::purge(&mut self.client().await?, class).await
    }

    async fn delete_class(&self, class: &str) -> StoreResult<()> {
        schema::delete_class(&mut self.client().await?, class).await
    }

    async fn write(&self, writes: Vec<Write>) -> Result<Vec<WriteOutcome>, (usize, StoreError)> {
        if let [only] = writes.as_slice()
            && combine::combinable(only)
        {
            self.check_open().map_err(|e| (0, e))?;
            let only = writes.into_iter().next().ok_or((0, StoreError::NotFound))?;
            return self
                .updates
                .update(only)
                .await
                .map(|o| vec![o])
                .map_err(|e| (0, e));
        }
        let mut client = self.client().await.map_err(|e| (0, e))?;
        write::in_transaction(&mut client, &writes).await
    }

    async fn find(
        &self,
        schemas: &SchemaMap,
        class: &str,
        spec: &FindSpec,
    ) -> StoreResult<Vec<StoredObject>> {
        let Some(plan) = compile::find_sql(schemas, class, spec, self.postgis)? else {
            return Ok(Vec::new());
        };
        read::objects(&self.find_rows(&plan, spec).await?)
    }

    async fn count(
        &self,
        schemas: &SchemaMap,
        class: &str,
        filter: &Filter,
        readers: Option<&[String]>,
    ) -> StoreResult<u64> {
        let Some(plan) = compile::count_sql(schemas, class, filter, readers, self.postgis)? else {
            return Ok(0);
        };
        read::query_count(&self.client().await?, &plan).await
    }

    async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.shared.close();
        self.pool.close();
    }
}
