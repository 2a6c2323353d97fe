//! One configuration, built once from the TOML file, the environment and the flags (in rising
//! precedence), validated with every problem reported at once, then passed down explicitly.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use basalt_api::{IpRange, TrustProxy};
use serde::Deserialize;

use crate::cli::ServeArgs;

/// How a certificate starts in a PEM file.
const PEM_CERT: &[u8] = b"-----BEGIN CERTIFICATE-----";

/// The TOML file: the same options as the flags, in snake_case (Parse's camelCase names for the
/// common ones are accepted too).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    port: Option<u16>,
    #[serde(alias = "mountPath")]
    mount_path: Option<String>,
    data_dir: Option<PathBuf>,
    #[serde(alias = "databaseURI")]
    database_uri: Option<String>,
    #[serde(alias = "appId")]
    app_id: Option<String>,
    #[serde(alias = "masterKey")]
    master_key: Option<String>,
    #[serde(alias = "readOnlyMasterKey")]
    read_only_master_key: Option<String>,
    #[serde(alias = "masterKeyIps")]
    master_key_ips: Option<Vec<String>>,
    #[serde(alias = "javascriptKey")]
    javascript_key: Option<String>,
    #[serde(alias = "restAPIKey")]
    rest_api_key: Option<String>,
    #[serde(alias = "clientKey")]
    client_key: Option<String>,
    #[serde(alias = "dotNetKey")]
    dotnet_key: Option<String>,
    #[serde(alias = "serverURL")]
    server_url: Option<String>,
    #[serde(alias = "allowClientClassCreation")]
    allow_client_class_creation: Option<bool>,
    #[serde(alias = "defaultLimit")]
    default_limit: Option<usize>,
    #[serde(alias = "maxLimit")]
    max_limit: Option<usize>,
    #[serde(alias = "batchRequestLimit")]
    batch_request_limit: Option<usize>,
    #[serde(alias = "maxUploadSize")]
    max_upload_size: Option<String>,
    request_timeout: Option<u64>,
    #[serde(alias = "rateLimit")]
    rate_limit: Option<toml::Value>,
    auth_rate_limit: Option<String>,
    #[serde(alias = "redisUrl", alias = "redisURL")]
    redis_url: Option<String>,
    redis_ca_file: Option<PathBuf>,
    /// `true`, a hop count, a list of addresses, or one string of them.
    #[serde(alias = "trustProxy")]
    trust_proxy: Option<toml::Value>,
    #[serde(alias = "passwordPolicy")]
    password_policy: Option<toml::Value>,
    #[serde(alias = "accountLockout")]
    account_lockout: Option<toml::Value>,
    mail_url: Option<String>,
    #[serde(alias = "appName")]
    app_name: Option<String>,
    #[serde(alias = "publicServerURL")]
    public_server_url: Option<String>,
    #[serde(alias = "verifyUserEmails")]
    verify_user_emails: Option<bool>,
    #[serde(alias = "preventLoginWithUnverifiedEmail")]
    prevent_login_with_unverified_email: Option<bool>,
    #[serde(alias = "sessionLength")]
    session_length: Option<u64>,
    #[serde(alias = "logLevel")]
    log_level: Option<String>,
    log_format: Option<String>,
    cloud: Option<String>,
    #[serde(alias = "liveQuery")]
    live_query: Option<toml::Value>,
    #[serde(alias = "filesAdapter")]
    files_adapter: Option<toml::Value>,
    push: Option<toml::Value>,
    #[serde(alias = "emailAdapter")]
    email_adapter: Option<toml::Value>,
    /// Parse's `auth`: one table per provider (`[auth.google] client_id = "…"`).
    auth: Option<toml::Value>,
}

/// A secret that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Mail settings as configured.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// The mailer URL.
    pub url: String,
    /// The app name.
    pub app_name: String,
    /// The public URL (None: the server URL).
    pub public_url: Option<String>,
    /// Verify e-mails on sign-up.
    pub verify_user_emails: bool,
    /// Refuse unverified log-ins.
    pub prevent_login_with_unverified_email: bool,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to bind.
    pub listen: SocketAddr,
    /// Mount path, e.g. `/parse` (empty for the root).
    pub mount_path: String,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Database URI (derived from the data dir when not given).
    pub database_uri: String,
    /// Application id (None: generate or load from the data dir).
    pub app_id: Option<String>,
    /// Master key (None: generate or load from the data dir).
    pub master_key: Option<Secret>,
    /// Read-only master key.
    pub read_only_master_key: Option<Secret>,
    /// Where master keys are accepted from.
    pub master_key_ips: Vec<IpRange>,
    /// Client keys, any of which a client must send when the list is not empty.
    pub client_keys: Vec<Secret>,
    /// Public URL (None: derived from the bound address).
    pub server_url: Option<String>,
    /// Client class creation.
    pub allow_client_class_creation: bool,
    /// Default find limit.
    pub default_limit: usize,
    /// Maximum find limit.
    pub max_limit: usize,
    /// Batch size limit.
    pub batch_request_limit: usize,
    /// Body size limit in bytes.
    pub max_body_bytes: usize,
    /// Request timeout.
    pub request_timeout: Duration,
    /// Session lifetime.
    pub session_length: Duration,
    /// Mail settings (URL, app name, public URL, verification switches).
    pub mail: Option<MailConfig>,
    /// Rules for new passwords.
    pub password_policy: Option<basalt_auth::password::PasswordPolicy>,
    /// Account lock-out after failed log-ins.
    pub account_lockout: Option<basalt_engine::AccountLockout>,
    /// Parse `rateLimit` rules.
    pub rate_rules: Vec<crate::limits::RuleSpec>,
    /// The identity routes' limit per client address.
    pub auth_rate_limit: Option<(u32, Duration)>,
    /// Redis for rate-limit counters shared by every node.
    pub redis_url: Option<Secret>,
    /// PEM certificates `rediss://` connections trust instead of the system's roots.
    pub redis_ca: Option<Vec<u8>>,
    /// Which peers may name the client in `X-Forwarded-For`.
    pub trust_proxy: TrustProxy,
    /// Tracing filter.
    pub log_level: String,
    /// Log format.
    pub log_format: LogFormat,
    /// The authData providers to verify (Parse's `auth` option).
    pub auth_providers: Vec<basalt_auth::ProviderSpec>,
    /// Options accepted for capabilities not active yet, by name.
    pub inactive: Vec<&'static str>,
}

/// Parses sizes like `20mb`, `512kb`, `1gb`, `1048576`.
pub fn parse_size(s: &str) -> Option<usize> {
    let t = s.trim().to_ascii_lowercase();
    let (num, mult) = if let Some(n) = t.strip_suffix("gb") {
        (n, 1 << 30)
    } else if let Some(n) = t.strip_suffix("mb") {
        (n, 1 << 20)
    } else if let Some(n) = t.strip_suffix("kb") {
        (n, 1 << 10)
    } else if let Some(n) = t.strip_suffix('b') {
        (n, 1)
    } else {
        (t.as_str(), 1)
    };
    num.trim()
        .parse::<f64>()
        .ok()
        .filter(|n| *n > 0.0)
        .map(|n| (n * f64::from(mult)) as usize)
}

impl Config {
    /// Builds the configuration; returns every problem found.
    pub fn load(args: ServeArgs) -> Result<Config, Vec<String>> {
        let mut problems = Vec::new();
        let file = match &args.config {
            Some(path) => match std::fs::read_to_string(path) {
                Ok(text) => toml::from_str::<FileConfig>(&text).unwrap_or_else(|e| {
                    problems.push(format!("{}: {e}", path.display()));
                    FileConfig::default()
                }),
                Err(e) => {
                    problems.push(format!("cannot read config file {}: {e}", path.display()));
                    FileConfig::default()
                }
            },
            None => FileConfig::default(),
        };
        let mut listen = args
            .listen
            .or(file.listen)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 1337)));
        if let Some(port) = args.port.or(file.port) {
            listen.set_port(port);
        }
        let mut mount_path = args
            .mount_path
            .or(file.mount_path)
            .unwrap_or_else(|| "/parse".to_owned());
        if !mount_path.is_empty() && !mount_path.starts_with('/') {
            problems.push(format!("mount path {mount_path:?} must start with /"));
        }
        while mount_path.len() > 1 && mount_path.ends_with('/') {
            mount_path.pop();
        }
        if mount_path == "/" {
            mount_path.clear();
        }
        let data_dir = args
            .data_dir
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("basalt-data"));
        let database_uri = args
            .database_uri
            .or(file.database_uri)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("basalt.db").display()));
        let ip_list: Vec<String> = match args.master_key_ips {
            Some(s) => s
                .split(',')
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect(),
            None => file
                .master_key_ips
                .unwrap_or_else(|| vec!["127.0.0.1".to_owned(), "::1".to_owned()]),
        };
        let master_key_ips = ip_list
            .iter()
            .filter_map(|s| {
                let r = IpRange::parse(s);
                if r.is_none() {
                    problems.push(format!(
                        "master key IP {s:?} is not an address or CIDR range"
                    ));
                }
                r
            })
            .collect();
        let client_keys = [
            args.javascript_key.or(file.javascript_key),
            args.rest_api_key.or(file.rest_api_key),
            args.client_key.or(file.client_key),
            args.dotnet_key.or(file.dotnet_key),
        ]
        .into_iter()
        .flatten()
        .filter(|k| !k.is_empty())
        .map(Secret)
        .collect();
        let max_body_text = args
            .max_upload_size
            .or(file.max_upload_size)
            .unwrap_or_else(|| "20mb".to_owned());
        let max_body_bytes = parse_size(&max_body_text).unwrap_or_else(|| {
            problems.push(format!(
                "max upload size {max_body_text:?} is not a size like 20mb"
            ));
            20 << 20
        });
        let log_format = match args.log_format.or(file.log_format).as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                problems.push(format!("log format {other:?} must be text or json"));
                LogFormat::Text
            }
        };
        let default_limit = args.default_limit.or(file.default_limit).unwrap_or(100);
        let max_limit = args.max_limit.or(file.max_limit).unwrap_or(10_000);
        if default_limit == 0 || max_limit == 0 {
            problems.push("default and max limits must be at least 1".to_owned());
        }
        let mut inactive = Vec::new();
        if args.cloud.is_some() || file.cloud.is_some() {
            inactive.push("cloud (Cloud Code)");
        }
        if args.live_query.is_some() || file.live_query.is_some() {
            inactive.push("liveQuery (LiveQuery)");
        }
        if args.files_adapter.is_some() || file.files_adapter.is_some() {
            inactive.push("filesAdapter (files)");
        }
        if args.push.is_some() || file.push.is_some() {
            inactive.push("push (push notifications)");
        }
        if args.email_adapter.is_some() || file.email_adapter.is_some() {
            inactive.push("emailAdapter (e-mail)");
        }
        let rate_json = args.rate_limit.or_else(|| {
            file.rate_limit
                .as_ref()
                .and_then(|v| serde_json::to_string(v).ok())
        });
        let rate_rules = match rate_json {
            Some(j) => crate::limits::parse_rules(&j).unwrap_or_else(|e| {
                problems.push(e);
                vec![]
            }),
            None => vec![],
        };
        let auth_text = args
            .auth_rate_limit
            .or(file.auth_rate_limit)
            .unwrap_or_else(|| "300/60s".to_owned());
        let auth_rate_limit = crate::limits::parse_auth_limit(&auth_text).unwrap_or_else(|e| {
            problems.push(e);
            None
        });
        let redis_url = args.redis_url.or(file.redis_url).filter(|u| !u.is_empty());
        if let Some(url) = &redis_url
            && let Err(e) = crate::limits::check_redis_url(url)
        {
            problems.push(e);
        }
        let redis_ca = match args.redis_ca_file.or(file.redis_ca_file) {
            None => None,
            Some(path) => match std::fs::read(&path) {
                Ok(pem) if pem.windows(PEM_CERT.len()).any(|w| w == PEM_CERT) => Some(pem),
                Ok(_) => {
                    problems.push(format!(
                        "Redis CA file {}: no PEM certificate in it",
                        path.display()
                    ));
                    None
                }
                Err(e) => {
                    problems.push(format!("Redis CA file {}: {e}", path.display()));
                    None
                }
            },
        };
        // Parse's PARSE_SERVER_TRUST_PROXY (the flag's env) first, then basalt's name.
        let trust_proxy = match args.trust_proxy.or_else(|| {
            std::env::var("BASALT_TRUST_PROXY")
                .ok()
                .filter(|s| !s.is_empty())
        }) {
            Some(text) => TrustProxy::parse(&text),
            None => file.trust_proxy.map_or(Ok(TrustProxy::Nobody), |v| {
                serde_json::to_value(v)
                    .map_err(|e| format!("trust_proxy: {e}"))
                    .and_then(|v| TrustProxy::from_json(&v))
            }),
        }
        .unwrap_or_else(|e| {
            problems.push(e);
            TrustProxy::Nobody
        });
        let as_json =
            |flag: Option<String>, file: Option<toml::Value>| -> Option<serde_json::Value> {
                match flag {
                    Some(text) => serde_json::from_str(&text)
                        .ok()
                        .or(Some(serde_json::Value::Null)),
                    None => file.and_then(|v| serde_json::to_value(v).ok()),
                }
            };
        let password_policy = as_json(args.password_policy, file.password_policy).and_then(|v| {
            crate::policies::password_policy(&v).unwrap_or_else(|e| {
                problems.push(e);
                None
            })
        });
        let account_lockout = as_json(args.account_lockout, file.account_lockout).and_then(|v| {
            crate::policies::account_lockout(&v).unwrap_or_else(|e| {
                problems.push(e);
                None
            })
        });
        let auth_providers = match as_json(args.auth_providers, file.auth) {
            None => Vec::new(),
            Some(options) => {
                basalt_auth::providers::parse_auth_options(&options).unwrap_or_else(|found| {
                    problems.extend(found);
                    Vec::new()
                })
            }
        };
        let mail = args.mail_url.or(file.mail_url).map(|url| MailConfig {
            url,
            app_name: args
                .app_name
                .or(file.app_name)
                .unwrap_or_else(|| "basalt".to_owned()),
            public_url: args.public_server_url.or(file.public_server_url),
            verify_user_emails: args
                .verify_user_emails
                .or(file.verify_user_emails)
                .unwrap_or(false),
            prevent_login_with_unverified_email: args
                .prevent_login_with_unverified_email
                .or(file.prevent_login_with_unverified_email)
                .unwrap_or(false),
        });
        let config = Config {
            auth_providers,
            mail,
            password_policy,
            account_lockout,
            rate_rules,
            auth_rate_limit,
            redis_url: redis_url.map(Secret),
            redis_ca,
            trust_proxy,
            listen,
            mount_path,
            data_dir,
            database_uri,
            app_id: args.app_id.or(file.app_id).filter(|s| !s.is_empty()),
            master_key: args
                .master_key
                .or(file.master_key)
                .filter(|s| !s.is_empty())
                .map(Secret),
            read_only_master_key: args
                .read_only_master_key
                .or(file.read_only_master_key)
                .map(Secret),
            master_key_ips,
            client_keys,
            // Parse's CLI reads PARSE_SERVER_URL; some deployments spell it PARSE_SERVER_SERVER_URL.
            server_url: args
                .server_url
                .or_else(|| {
                    std::env::var("PARSE_SERVER_SERVER_URL")
                        .ok()
                        .filter(|s| !s.is_empty())
                })
                .or(file.server_url),
            allow_client_class_creation: args
                .allow_client_class_creation
                .or(file.allow_client_class_creation)
                .unwrap_or(true),
            default_limit,
            max_limit,
            batch_request_limit: args
                .batch_request_limit
                .or(file.batch_request_limit)
                .unwrap_or(1_000),
            max_body_bytes,
            request_timeout: Duration::from_secs(
                args.request_timeout.or(file.request_timeout).unwrap_or(30),
            ),
            session_length: Duration::from_secs(
                args.session_length
                    .or(file.session_length)
                    .unwrap_or(31_536_000),
            ),
            log_level: args
                .log_level
                .or(file.log_level)
                .unwrap_or_else(|| "info".to_owned()),
            log_format,
            inactive,
        };
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("20mb"), Some(20 << 20));
        assert_eq!(parse_size("512KB"), Some(512 << 10));
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size("lots"), None);
    }

    #[test]
    fn flags_win_over_file_and_problems_are_collected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("basalt.toml");
        std::fs::write(
            &path,
            "app_id = \"from-file\"\nmountPath = \"/api\"\nport = 4000\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(path.clone()),
            app_id: Some("from-flag".into()),
            ..ServeArgs::default()
        };
        let c = Config::load(args).unwrap();
        assert_eq!(c.app_id.as_deref(), Some("from-flag"));
        assert_eq!(c.mount_path, "/api");
        assert_eq!(c.listen.port(), 4000);

        std::fs::write(&path, "bogus = 1\n").unwrap();
        let args = ServeArgs {
            config: Some(path),
            max_upload_size: Some("huge".into()),
            ..ServeArgs::default()
        };
        let problems = Config::load(args).unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
    }

    #[test]
    fn redis_and_trusted_proxies_from_toml_and_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("basalt.toml");
        std::fs::write(
            &path,
            "redis_url = \"redis://cache:6379\"\ntrustProxy = [\"10.0.0.0/8\", \"loopback\"]\n",
        )
        .unwrap();
        let from_file = Config::load(ServeArgs {
            config: Some(path.clone()),
            ..ServeArgs::default()
        })
        .unwrap();
        assert_eq!(
            from_file.redis_url,
            Some(Secret("redis://cache:6379".into()))
        );
        assert_eq!(
            from_file.trust_proxy,
            TrustProxy::parse("10.0.0.0/8,127.0.0.0/8,::1").unwrap()
        );

        let from_flag = Config::load(ServeArgs {
            config: Some(path.clone()),
            trust_proxy: Some("1".into()),
            redis_url: Some("redis://other:6380/2".into()),
            ..ServeArgs::default()
        })
        .unwrap();
        assert_eq!(from_flag.trust_proxy, TrustProxy::Hops(1));
        assert_eq!(
            from_flag.redis_url,
            Some(Secret("redis://other:6380/2".into()))
        );

        std::fs::write(&path, "trust_proxy = true\n").unwrap();
        let everyone = Config::load(ServeArgs {
            config: Some(path),
            ..ServeArgs::default()
        })
        .unwrap();
        assert_eq!(everyone.trust_proxy, TrustProxy::Everyone);
        assert_eq!(everyone.redis_url, None);

        let problems = Config::load(ServeArgs {
            trust_proxy: Some("the balancer".into()),
            redis_url: Some("http://cache".into()),
            rate_limit: Some(
                r#"[{"requestPath":"/x","requestTimeWindow":1000,"requestCount":1,"redisUrl":"nope"}]"#
                    .into(),
            ),
            ..ServeArgs::default()
        })
        .unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn auth_providers_come_from_toml_tables_or_parse_json() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("basalt.toml");
        std::fs::write(
            &path,
            "[auth.google]\nclient_id = \"g\"\n[auth.mycorp]\nissuer = \"https://id.example.com\"\nclient_id = \"c\"\n",
        )
        .unwrap();
        let from_file = Config::load(ServeArgs {
            config: Some(path.clone()),
            ..ServeArgs::default()
        })
        .unwrap();
        assert_eq!(from_file.auth_providers.len(), 2);

        let from_flag = Config::load(ServeArgs {
            config: Some(path),
            auth_providers: Some(r#"{"github": {}, "mfa": {"options": ["TOTP"]}}"#.into()),
            ..ServeArgs::default()
        })
        .unwrap();
        assert_eq!(from_flag.auth_providers.len(), 2);
        assert!(
            from_flag
                .auth_providers
                .contains(&basalt_auth::ProviderSpec::Mfa)
        );

        let problems = Config::load(ServeArgs {
            auth_providers: Some(r#"{"google": {}}"#.into()),
            ..ServeArgs::default()
        })
        .unwrap_err();
        assert!(problems[0].starts_with("auth.google"), "{problems:?}");
    }
}
