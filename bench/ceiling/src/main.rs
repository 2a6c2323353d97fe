//! The benchmark ceiling: a bare axum + tokio server that answers
//! `GET /parse/classes/BenchItem/{id}` with a fixed JSON object of the same size and shape as a
//! seeded `BenchItem` fetched from basalt. No store, no engine, no middleware: it measures how fast
//! this machine serves an object of that size over HTTP, so a server's `get` figure can be read
//! as a fraction of it.
//!
//! Usage: `bench-ceiling ADDR` (for example `127.0.0.1:1350`; port 0 picks a free port). Prints
//! `listening on http://ADDR/parse` on stdout once bound, like `basalt serve`.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;

use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;

/// The object served: a seeded `BenchItem` as basalt returns it from a get (150 bytes, keys in
/// the same order).
fn fixed_object() -> Bytes {
    let object = serde_json::json!({
        "createdAt": "2026-01-15T10:20:30.123Z",
        "name": "seed-123",
        "objectId": "Xk3pQ9vTb2",
        "score": 512,
        "tags": ["a", "b"],
        "updatedAt": "2026-01-15T10:20:30.123Z",
    });
    Bytes::from(object.to_string())
}

async fn get_item(Path(_id): Path<String>, body: Bytes) -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], body)
}

async fn run(addr: SocketAddr) -> Result<(), String> {
    let body = fixed_object();
    let app = Router::new().route(
        "/parse/classes/BenchItem/{id}",
        get(move |id: Path<String>| get_item(id, body.clone())),
    );
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on http://{bound}/parse");
        let _ = out.flush();
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let arg = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:1350".to_owned());
    let addr: SocketAddr = match arg.parse() {
        Ok(a) => a,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "bench-ceiling: bad address {arg:?}: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "bench-ceiling: cannot start the runtime: {e}"
            );
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(addr)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "bench-ceiling: {e}");
            ExitCode::FAILURE
        }
    }
}
