//! nginx in front of basalt nodes, as a deployment runs it: the system's nginx started by the
//! test as its own single process (no master, no daemon), with a generated configuration, pid
//! file, logs and temp paths in a temp dir, on a free loopback port. It round-robins requests
//! over the nodes, appends the client's address to X-Forwarded-For, connects to the nodes
//! from `FROM`, and names the node that answered in an `X-Upstream` response header.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;
use tokio::process::{Child, Command};

use super::services;

/// The address nginx connects to the nodes from: the one address nodes trust as a proxy.
pub const FROM: &str = "127.0.0.3";

/// A running nginx.
pub struct Nginx {
    // Dropped first: the process ends before its directory goes.
    _child: Child,
    /// Its base URL, e.g. http://127.0.0.1:PORT
    pub url: String,
    _dir: tempfile::TempDir,
}

/// The nginx program, if installed.
pub fn program() -> Option<PathBuf> {
    services::program("nginx")
}

impl Nginx {
    /// Starts nginx in front of `upstreams`; `None` (said) when nginx is not installed.
    pub async fn start(test: &str, upstreams: &[SocketAddr]) -> anyhow::Result<Option<Nginx>> {
        let Some(program) = program() else {
            return services::unavailable(
                test,
                "nginx is not installed (apt-get install nginx)".to_owned(),
            );
        };
        let dir = tempfile::tempdir()?;
        let port = services::free_port()?;
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, config(dir.path(), port, upstreams))?;
        let child = Command::new(&program)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?;
        if let Err(e) = services::wait_for_port(port, Duration::from_secs(10)).await {
            let log = std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default();
            anyhow::bail!("nginx did not start: {e}; error.log:\n{log}");
        }
        Ok(Some(Nginx {
            _child: child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        }))
    }
}

fn config(dir: &std::path::Path, port: u16, upstreams: &[SocketAddr]) -> String {
    let d = dir.display();
    let servers: String = upstreams
        .iter()
        .map(|a| format!("        server {a};\n"))
        .collect();
    format!(
        r#"daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    upstream basalt {{
{servers}    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://basalt;
            proxy_bind {FROM};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_next_upstream off;
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
"#
    )
}
