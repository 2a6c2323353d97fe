//! The basalt binary: reads the configuration, wires the store, engine and HTTP layer together,
//! serves until SIGINT or SIGTERM, then finishes in-flight requests and closes the database.

mod cli;
mod cluster;
mod config;
mod import;
mod keys;
mod limits;
mod policies;

use std::io::Write as _;
use std::sync::Arc;

use anyhow::Context as _;
use basalt_api::{ApiConfig, ApiKeys, AppState};
use basalt_engine::{Engine, EngineConfig};
use clap::Parser as _;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command};
use crate::config::{Config, LogFormat};

/// mimalloc rather than glibc's allocator: a request allocates and frees a few hundred small
/// buffers (headers, JSON, SQL), and glibc's per-call cost showed as a third of the
/// instructions of a `get` (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn init_logging(config: &Config) {
    let filter = EnvFilter::try_new(&config.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

/// The data directory holds the database and the keys: only its owner may enter it.
fn restrict_data_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restricting {}", dir.display()))?;
    }
    Ok(())
}

async fn serve(config: Config) -> anyhow::Result<()> {
    for name in &config.inactive {
        tracing::warn!(
            option = name,
            "option accepted but not active in this release"
        );
    }
    let keys = keys::resolve(
        &config.data_dir,
        config.app_id.clone(),
        config.master_key.as_ref().map(|s| s.0.clone()),
    )?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let bound = listener.local_addr()?;
    let base_url = format!("http://{bound}{}", config.mount_path);
    let server_url = config
        .server_url
        .clone()
        .unwrap_or_else(|| base_url.clone());
    restrict_data_dir(&config.data_dir)?;
    let store = basalt_store::connect(&config.database_uri).await?;
    let cluster = open_cluster(&config.database_uri).await?;
    let auth_providers = basalt_auth::AuthProviders::build(config.auth_providers.clone())
        .map_err(|e| anyhow::anyhow!("auth providers: {e}"))?;
    tracing::info!(providers = ?auth_providers, "authData providers");
    let engine = Arc::new(
        Engine::new(
            store,
            EngineConfig {
                allow_client_class_creation: config.allow_client_class_creation,
                default_limit: config.default_limit,
                max_limit: config.max_limit,
                batch_request_limit: config.batch_request_limit,
                file_url_base: Some(format!("{server_url}/files/{}", keys.app_id)),
                session_length: config.session_length,
                token_key: basalt_auth::sealed::SealingKey::derive(&keys.master_key).map(Arc::new),
                mfa_key: basalt_auth::sealed::SealingKey::derive_labelled(
                    "basalt mfa secret sealing v1:",
                    &keys.master_key,
                )
                .map(Arc::new),
                auth_providers: Arc::new(auth_providers),
                cluster: match &cluster {
                    Some(c) => c.bus(),
                    None => Arc::new(basalt_engine::cluster::SingleNode),
                },
                password_policy: config.password_policy.clone(),
                account_lockout: config.account_lockout,
                mail: match &config.mail {
                    None => None,
                    Some(m) => Some(basalt_engine::MailSettings {
                        mailer: basalt_mail::from_url(&m.url)
                            .map_err(|e| anyhow::anyhow!("mail URL: {e}"))?,
                        app_name: m.app_name.clone(),
                        public_url: m.public_url.clone().unwrap_or_else(|| server_url.clone()),
                        app_id: keys.app_id.clone(),
                        verify_user_emails: m.verify_user_emails,
                        prevent_login_with_unverified_email: m.prevent_login_with_unverified_email,
                    }),
                },
            },
        )
        .await?,
    );
    if let Some(c) = &cluster {
        c.follow(Arc::clone(&engine));
    }
    let state = AppState {
        engine: Arc::clone(&engine),
        keys: Arc::new(ApiKeys {
            app_id: keys.app_id.clone(),
            master_key: keys.master_key.clone(),
            read_only_master_key: config.read_only_master_key.as_ref().map(|s| s.0.clone()),
            client_keys: config.client_keys.iter().map(|s| s.0.clone()).collect(),
            master_key_ips: config.master_key_ips.clone(),
        }),
        limits: limits::build(
            config.rate_rules.clone(),
            config.auth_rate_limit,
            limits::Counting {
                redis_url: config.redis_url.as_ref().map(|s| s.0.as_str()),
                app_id: &keys.app_id,
                redis_ca: config.redis_ca.as_deref(),
            },
            &config.mount_path,
            &keys.master_key,
        )
        .await?,
        config: Arc::new(ApiConfig {
            mount_path: config.mount_path.clone(),
            server_url,
            max_body_bytes: config.max_body_bytes,
            request_timeout: config.request_timeout,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            trust_proxy: config.trust_proxy.clone(),
        }),
    };
    if keys.generated {
        keys::announce(&keys, &config.data_dir, &base_url);
    }
    {
        // The one stable line tests and scripts read the address from.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on {base_url}");
        let _ = out.flush();
    }
    if config.trust_proxy != basalt_api::TrustProxy::Nobody {
        tracing::info!(
            trusted = %config.trust_proxy,
            "client addresses are read from X-Forwarded-For when a trusted proxy sends it"
        );
    }
    tracing::info!(
        address = %bound,
        database = %basalt_store::redacted_uri(&config.database_uri),
        "basalt started"
    );
    let app = basalt_api::app(state);
    basalt_api::serve(listener, app, config.request_timeout, shutdown_signal()).await?;
    engine.shutdown().await;
    tracing::info!("stopped");
    Ok(())
}

/// The channel to the other nodes when the database is PostgreSQL (which several nodes may
/// share); the embedded database has one node only.
async fn open_cluster(database_uri: &str) -> anyhow::Result<Option<cluster::PgCluster>> {
    if database_uri.starts_with("postgres://") || database_uri.starts_with("postgresql://") {
        return Ok(Some(cluster::PgCluster::connect(database_uri).await?));
    }
    Ok(None)
}

/// Loads the configuration, or prints every problem with it.
fn load_config(args: cli::ServeArgs) -> Result<Config, std::process::ExitCode> {
    Config::load(args).map_err(|problems| {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "basalt: the configuration has {} problem(s):",
            problems.len()
        );
        for p in problems {
            let _ = writeln!(err, "  - {p}");
        }
        std::process::ExitCode::from(2)
    })
}

/// Runs `work` on a multi-threaded runtime; an error is logged and exits with status 1.
fn block_on(
    work: impl Future<Output = anyhow::Result<std::process::ExitCode>>,
) -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the runtime");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(work) {
        Ok(code) => code,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "basalt stopped with an error");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Exit status of `basalt import --strict` when something was refused.
const EXIT_REFUSED: u8 = 3;

async fn import(args: cli::ImportArgs, config: Config) -> anyhow::Result<std::process::ExitCode> {
    let keys = keys::resolve(
        &config.data_dir,
        config.app_id.clone(),
        config.master_key.as_ref().map(|s| s.0.clone()),
    )?;
    if keys.generated {
        tracing::warn!(
            data_dir = %config.data_dir.display(),
            "no master key given: generated keys were saved in the data dir; serve with them"
        );
    }
    if config.database_uri.starts_with("sqlite://") {
        restrict_data_dir(&config.data_dir)?;
    }
    let store = basalt_store::connect(&config.database_uri).await?;
    let engine = Engine::new(
        store,
        EngineConfig {
            token_key: basalt_auth::sealed::SealingKey::derive(&keys.master_key).map(Arc::new),
            ..EngineConfig::default()
        },
    )
    .await?;
    let opts = import::ImportOptions {
        from: args.from.clone(),
        classes: args.classes.clone(),
        batch_size: args.batch_size as usize,
        stop_after: args.stop_after,
        progress: args.progress,
    };
    let result = import::run(&engine, &opts, &config.database_uri).await;
    // Nodes serving this database reload what the import changed.
    if let Some(c) = open_cluster(&config.database_uri).await? {
        c.announce(&basalt_engine::cluster::Invalidation::Everything)
            .await;
    }
    engine.shutdown().await;
    let summary = result?;
    {
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "{summary}");
        let _ = out.flush();
    }
    if args.strict && summary.refusals() > 0 {
        return Ok(std::process::ExitCode::from(EXIT_REFUSED));
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            let config = match load_config(*args) {
                Ok(c) => c,
                Err(code) => return code,
            };
            init_logging(&config);
            block_on(async move {
                serve(config).await?;
                Ok(std::process::ExitCode::SUCCESS)
            })
        }
        Command::Import(args) => {
            let mut config = match load_config(args.target()) {
                Ok(c) => c,
                Err(code) => return code,
            };
            // The summary and progress are the output; only problems are logged.
            config.log_level =
                std::env::var("PARSE_SERVER_LOG_LEVEL").unwrap_or_else(|_| "warn".to_owned());
            init_logging(&config);
            block_on(import(*args, config))
        }
    }
}
