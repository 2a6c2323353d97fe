//! The command line. Each `///` line is what `basalt serve --help` prints.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// basalt: a Parse-compatible backend in one binary.
#[derive(Debug, Parser)]
#[command(name = "basalt", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(Box<ServeArgs>),
    /// Copy a Parse Server PostgreSQL database (classes, schemas and permissions, objects,
    /// users with their passwords, roles, sessions, installations) into basalt's store.
    /// Resumable: run it again after an interruption and it continues where it stopped.
    Import(Box<ImportArgs>),
}

/// Options of `basalt import`. The target is chosen as `basalt serve` chooses its store
/// (--data-dir, --database-uri, or the TOML file); pass the master key `basalt serve` will
/// use, so imported sessions show their tokens to their owners.
#[derive(Debug, Args, Clone)]
pub struct ImportArgs {
    /// Parse Server's PostgreSQL database, e.g. postgres://user:pass@host:5432/parse; add
    /// ?sslmode=require (or verify-ca, verify-full) for TLS, with the meanings of
    /// --database-uri [default sslmode: prefer].
    #[arg(long, env = "BASALT_IMPORT_FROM")]
    pub from: String,

    /// Import only these classes (comma-separated), e.g. _User,_Role,GameScore [default: all].
    #[arg(long, value_delimiter = ',')]
    pub classes: Vec<String>,

    /// Rows read and written per transaction.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch_size: u32,

    /// Stop after this many rows; running the command again continues from there.
    #[arg(long)]
    pub stop_after: Option<u64>,

    /// Exit with status 3 when anything was refused (objects, fields, permissions, classes).
    #[arg(long)]
    pub strict: bool,

    /// Progress on stderr: auto (a bar on a terminal, lines otherwise), bar, plain, none.
    #[arg(long, value_enum, default_value = "auto")]
    pub progress: crate::import::ProgressMode,

    /// TOML configuration file, the one `basalt serve` reads.
    #[arg(long, env = "BASALT_CONFIG")]
    pub config: Option<PathBuf>,

    /// Directory of the embedded database to import into [default: ./basalt-data].
    #[arg(long, env = "BASALT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// Database to import into instead of the embedded one in --data-dir.
    #[arg(long, env = "PARSE_SERVER_DATABASE_URI")]
    pub database_uri: Option<String>,

    /// Application id (kept with generated keys in the data dir when unset).
    #[arg(long, env = "PARSE_SERVER_APPLICATION_ID", alias = "appId")]
    pub app_id: Option<String>,

    /// Master key `basalt serve` will use: imported session tokens are sealed with a key
    /// derived from it. Generated and saved in the data dir when unset.
    #[arg(long, env = "PARSE_SERVER_MASTER_KEY", alias = "masterKey")]
    pub master_key: Option<String>,
}

impl ImportArgs {
    /// The serve options that choose the target store and keys, for `Config::load`.
    pub fn target(&self) -> ServeArgs {
        ServeArgs {
            config: self.config.clone(),
            data_dir: self.data_dir.clone(),
            database_uri: self.database_uri.clone(),
            app_id: self.app_id.clone(),
            master_key: self.master_key.clone(),
            ..ServeArgs::default()
        }
    }
}

/// Options of `basalt serve`. Precedence: the TOML file < environment < flags. Names under
/// PARSE_SERVER_* are Parse Server's own, so an existing deployment's settings carry over.
#[derive(Debug, Args, Default, Clone)]
pub struct ServeArgs {
    /// TOML configuration file; keys are the long option names in snake_case
    /// (for example `app_id = "myapp"`).
    #[arg(long, env = "BASALT_CONFIG")]
    pub config: Option<PathBuf>,

    /// Address to listen on [default: 127.0.0.1:1337]. Port 0 picks a free port.
    #[arg(long, env = "BASALT_LISTEN")]
    pub listen: Option<SocketAddr>,

    /// Port to listen on; replaces the port of --listen.
    #[arg(long, env = "PARSE_SERVER_PORT")]
    pub port: Option<u16>,

    /// Path the API is mounted at [default: /parse].
    #[arg(long, env = "PARSE_SERVER_MOUNT_PATH")]
    pub mount_path: Option<String>,

    /// Directory for the embedded database and generated keys [default: ./basalt-data].
    #[arg(long, env = "BASALT_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    /// Database to use instead of the embedded one in --data-dir: `sqlite://PATH`, or
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=prefer` for PostgreSQL
    /// (sslmode: disable, prefer, require, verify-ca, verify-full).
    #[arg(long, env = "PARSE_SERVER_DATABASE_URI")]
    pub database_uri: Option<String>,

    /// Application id clients must send. Generated and saved in the data dir when unset.
    #[arg(long, env = "PARSE_SERVER_APPLICATION_ID", alias = "appId")]
    pub app_id: Option<String>,

    /// Master key: bypasses every permission. Generated and saved in the data dir when unset.
    #[arg(long, env = "PARSE_SERVER_MASTER_KEY", alias = "masterKey")]
    pub master_key: Option<String>,

    /// Read-only master key: reads everything, writes nothing.
    #[arg(long, env = "PARSE_SERVER_READ_ONLY_MASTER_KEY")]
    pub read_only_master_key: Option<String>,

    /// Comma-separated addresses or CIDR ranges the master keys are accepted from
    /// [default: 127.0.0.1,::1].
    #[arg(long, env = "PARSE_SERVER_MASTER_KEY_IPS")]
    pub master_key_ips: Option<String>,

    /// JavaScript key; when any client key is set, clients must send one of them.
    #[arg(long, env = "PARSE_SERVER_JAVASCRIPT_KEY", alias = "javascriptKey")]
    pub javascript_key: Option<String>,

    /// REST API key.
    #[arg(long, env = "PARSE_SERVER_REST_API_KEY", alias = "restAPIKey")]
    pub rest_api_key: Option<String>,

    /// Client key (iOS/Android SDKs).
    #[arg(long, env = "PARSE_SERVER_CLIENT_KEY")]
    pub client_key: Option<String>,

    /// .NET key.
    #[arg(long, env = "PARSE_SERVER_DOT_NET_KEY")]
    pub dotnet_key: Option<String>,

    /// Public URL of the API, used in Location headers and file URLs
    /// [default: http://LISTEN/MOUNT]. PARSE_SERVER_SERVER_URL is read too.
    #[arg(long, env = "PARSE_SERVER_URL")]
    pub server_url: Option<String>,

    /// Let callers without the master key create classes by writing to them [default: true].
    #[arg(long, env = "PARSE_SERVER_ALLOW_CLIENT_CLASS_CREATION")]
    pub allow_client_class_creation: Option<bool>,

    /// Results a query returns when it sets no limit [default: 100].
    #[arg(long, env = "PARSE_SERVER_DEFAULT_LIMIT")]
    pub default_limit: Option<usize>,

    /// Largest limit a query may ask for [default: 10000].
    #[arg(long, env = "PARSE_SERVER_MAX_LIMIT")]
    pub max_limit: Option<usize>,

    /// Most sub-requests one /batch may carry [default: 1000].
    #[arg(long, env = "PARSE_SERVER_BATCH_REQUEST_LIMIT")]
    pub batch_request_limit: Option<usize>,

    /// Largest request body, e.g. `20mb`, `512kb` [default: 20mb].
    #[arg(long, env = "PARSE_SERVER_MAX_UPLOAD_SIZE")]
    pub max_upload_size: Option<String>,

    /// Parse's rateLimit rules as JSON: [{"requestPath":"/functions/*","requestTimeWindow":60000,
    /// "requestCount":10,"zone":"ip"}]. Over the limit: 429 {"code":100} with Retry-After.
    #[arg(long, env = "PARSE_SERVER_RATE_LIMIT")]
    pub rate_limit: Option<String>,

    /// Limit per client address on log-in, sign-up, password checks and e-mail requests, as
    /// COUNT/SECONDSs, or off [default: 300/60s].
    #[arg(long, env = "BASALT_AUTH_RATE_LIMIT")]
    pub auth_rate_limit: Option<String>,

    /// Redis where every node counts rate limits (the --rate-limit rules without their own
    /// redisUrl, and --auth-rate-limit), so a limit holds across all nodes together:
    /// redis://[:PASSWORD@]HOST[:PORT][/DB], or rediss://… for TLS (checked against the
    /// system's roots, or --redis-ca-file). Without it each node counts in its own memory.
    /// While Redis is not answering, each node counts in its memory and logs a warning.
    #[arg(long, env = "BASALT_REDIS_URL")]
    pub redis_url: Option<String>,

    /// PEM file of the certificate authorities that rediss:// (TLS) connections to Redis trust,
    /// instead of the system's roots; for a Redis whose certificate a private CA signed.
    #[arg(long, env = "BASALT_REDIS_CA_FILE")]
    pub redis_ca_file: Option<PathBuf>,

    /// Proxies trusted to report the client's address in X-Forwarded-For (Parse's
    /// trustProxy): comma-separated addresses or CIDR ranges and the names loopback,
    /// linklocal, uniquelocal; a number of hops; or true (every hop). When the TCP peer is
    /// trusted, the client is the rightmost X-Forwarded-For address that is not trusted; rate
    /// limits and --master-key-ips use it. BASALT_TRUST_PROXY is read too
    /// [default: none: the TCP peer is the client and X-Forwarded-For is ignored].
    #[arg(long, env = "PARSE_SERVER_TRUST_PROXY")]
    pub trust_proxy: Option<String>,

    /// Parse's passwordPolicy as JSON: {"validatorPattern":"^(?=.*[0-9]).{8,}$",
    /// "validationError":"…","doNotAllowUsername":true,"maxPasswordHistory":5}.
    #[arg(long, env = "PARSE_SERVER_PASSWORD_POLICY")]
    pub password_policy: Option<String>,

    /// Parse's accountLockout as JSON: {"threshold":5,"duration":10} (duration in minutes).
    #[arg(long, env = "PARSE_SERVER_ACCOUNT_LOCKOUT")]
    pub account_lockout: Option<String>,

    /// Where mail goes: smtp://user:pass@host:587?from=app@example.com (STARTTLS),
    /// smtps://… (TLS), smtp://…?tls=none, or log: (mail written to the log, for development).
    #[arg(long, env = "BASALT_MAIL_URL")]
    pub mail_url: Option<String>,

    /// The app's name in mails and pages.
    #[arg(long, env = "PARSE_SERVER_APP_NAME")]
    pub app_name: Option<String>,

    /// The URL clients and mail links reach the API at [default: the server URL].
    #[arg(long, env = "PARSE_PUBLIC_SERVER_URL")]
    pub public_server_url: Option<String>,

    /// Send a verification mail on sign-up [default: false].
    #[arg(long, env = "PARSE_SERVER_VERIFY_USER_EMAILS")]
    pub verify_user_emails: Option<bool>,

    /// Refuse log-in until the e-mail address is verified [default: false].
    #[arg(long, env = "PARSE_SERVER_PREVENT_LOGIN_WITH_UNVERIFIED_EMAIL")]
    pub prevent_login_with_unverified_email: Option<bool>,

    /// Seconds a session lasts after sign-up or log-in [default: 31536000, one year].
    #[arg(long, env = "PARSE_SERVER_SESSION_LENGTH")]
    pub session_length: Option<u64>,

    /// Seconds a request may take before it is answered 504 [default: 30].
    #[arg(long, env = "BASALT_REQUEST_TIMEOUT")]
    pub request_timeout: Option<u64>,

    /// Log level or tracing filter (error, warn, info, debug, trace) [default: info].
    #[arg(long, env = "PARSE_SERVER_LOG_LEVEL")]
    pub log_level: Option<String>,

    /// Log format: text or json [default: text].
    #[arg(long, env = "BASALT_LOG_FORMAT")]
    pub log_format: Option<String>,

    /// Cloud Code entry file (main.js). Accepted; cloud code is not active in this release.
    #[arg(long, env = "PARSE_SERVER_CLOUD")]
    pub cloud: Option<String>,

    /// LiveQuery options (Parse's JSON). Accepted; LiveQuery is not active in this release.
    #[arg(long, env = "PARSE_SERVER_LIVE_QUERY")]
    pub live_query: Option<String>,

    /// Files adapter. Accepted; file storage is not active in this release.
    #[arg(long, env = "PARSE_SERVER_FILES_ADAPTER")]
    pub files_adapter: Option<String>,

    /// authData providers to verify, as Parse's `auth` option (JSON keyed by provider:
    /// `{"google": {"clientId": "…"}, "mycorp": {"issuer": "https://…", "clientId": "…"},
    /// "github": {}, "mfa": {"options": ["TOTP"]}}`) [default: anonymous only].
    #[arg(long, env = "PARSE_SERVER_AUTH_PROVIDERS")]
    pub auth_providers: Option<String>,

    /// Push options. Accepted; push is not active in this release.
    #[arg(long, env = "PARSE_SERVER_PUSH")]
    pub push: Option<String>,

    /// E-mail adapter. Accepted; e-mail is not active in this release.
    #[arg(long, env = "PARSE_SERVER_EMAIL_ADAPTER")]
    pub email_adapter: Option<String>,
}
