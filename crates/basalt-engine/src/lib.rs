//! The rules, in one place: schema validation and evolution, update operators, reads with
//! includes and projections, batches and the schema API. REST (and later GraphQL, LiveQuery and
//! cloud code) call these functions; none of them knows HTTP.

pub mod aggregate;
mod analytics;
mod auth;
mod batch;
mod classes;
mod clp;
pub mod cluster;
pub mod import;
mod output;
mod read;
mod schema_cache;
mod users;
mod validate;
mod write;

use std::time::Duration;

use std::sync::Arc;

use basalt_store::{Case, Store};

pub use auth::{AuthContext, UserSession};
pub use batch::{BatchOp, BatchOutcome};
pub use read::{FindRequest, FindResult, GetRequest};
pub use users::Credentials;
pub use users::email::MailSettings;
pub use users::sessions::ORPHANED as ORPHANED_SESSION;
pub use write::{Created, Updated};

use schema_cache::SchemaCache;

/// Engine settings, taken from the server configuration.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Whether a caller without the master key may create a class by writing to it.
    pub allow_client_class_creation: bool,
    /// Results a find returns when it sets no limit.
    pub default_limit: usize,
    /// The largest limit a find may ask for (larger ones are lowered to it).
    pub max_limit: usize,
    /// Most requests one `/batch` may carry.
    pub batch_request_limit: usize,
    /// Base of file URLs (`{serverURL}/files/{appId}`): File values are returned with
    /// `url = base/name`, as Parse's files controller rewrites them.
    pub file_url_base: Option<String>,
    /// How long a session lasts after log-in or sign-up.
    pub session_length: Duration,
    /// Key sealing session tokens at rest (derived from the master key), so a user can be shown
    /// its own sessions' tokens while the database holds nothing usable.
    pub token_key: Option<Arc<basalt_auth::sealed::SealingKey>>,
    /// Rules new passwords must meet (Parse's `passwordPolicy`).
    pub password_policy: Option<basalt_auth::password::PasswordPolicy>,
    /// Lock an account after repeated failed log-ins (Parse's `accountLockout`).
    pub account_lockout: Option<AccountLockout>,
    /// E-mail for verification and password reset; None sends none.
    pub mail: Option<MailSettings>,
    /// The authData providers this server verifies (Parse's `auth` option).
    pub auth_providers: Arc<basalt_auth::AuthProviders>,
    /// Key sealing users' TOTP secrets at rest (derived from the master key).
    pub mfa_key: Option<Arc<basalt_auth::sealed::SealingKey>>,
    /// Where cache invalidations go to reach the other nodes sharing the store.
    pub cluster: Arc<dyn cluster::ClusterBus>,
}

/// Parse's `accountLockout`: after `threshold` failed log-ins in a row, refuse log-ins for
/// `duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountLockout {
    /// Failed attempts allowed.
    pub threshold: u32,
    /// How long the account stays locked.
    pub duration: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            allow_client_class_creation: true,
            default_limit: 100,
            max_limit: 10_000,
            batch_request_limit: 1_000,
            file_url_base: None,
            session_length: Duration::from_secs(365 * 24 * 3600),
            token_key: None,
            password_policy: None,
            account_lockout: None,
            mail: None,
            auth_providers: Arc::new(basalt_auth::AuthProviders::anonymous_only()),
            mfa_key: None,
            cluster: Arc::new(cluster::SingleNode),
        }
    }
}

/// True when `v` is a Pointer to the user `user_id`.
pub(crate) fn value_points_to(v: &serde_json::Value, user_id: &str) -> bool {
    basalt_core::value::as_pointer(v).is_some_and(|(class, id)| class == "_User" && id == user_id)
}

/// The engine: a store, the schema cache and the rules.
pub struct Engine {
    store: Arc<dyn Store>,
    schemas: SchemaCache,
    sessions: users::sessions::SessionCache,
    mfa_locks: users::mfa::MfaLocks,
    config: EngineConfig,
}

impl Engine {
    /// Builds an engine over a store, loading every class schema.
    pub async fn new(store: Arc<dyn Store>, config: EngineConfig) -> anyhow::Result<Engine> {
        let schemas = SchemaCache::load(store.as_ref(), Arc::clone(&config.cluster)).await?;
        // Parse creates the user, role and session classes on start; clients expect them.
        for class in ["_User", "_Role", "_Session"] {
            schemas
                .ensure_fields(store.as_ref(), class, &[])
                .await
                .map_err(|e| anyhow::anyhow!("creating {class}: {e}"))?;
        }
        for (class, field, case) in [
            ("_User", "username", Case::Insensitive),
            ("_User", "email", Case::Insensitive),
            ("_Role", "name", Case::Sensitive),
            ("_Session", "sessionToken", Case::Sensitive),
        ] {
            store
                .ensure_unique(class, field, case)
                .await
                .map_err(|e| anyhow::anyhow!("indexing {class}.{field}: {e}"))?;
        }
        Ok(Engine {
            store,
            schemas,
            sessions: users::sessions::SessionCache::new(Arc::clone(&config.cluster)),
            mfa_locks: users::mfa::MfaLocks::default(),
            config,
        })
    }

    /// The engine's settings.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Closes the store cleanly.
    pub async fn shutdown(&self) {
        self.store.close().await;
    }
}
