//! The whole route table, and the layers around it.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::routing::{get, post};
use tower_http::cors::{Any, CorsLayer};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::rest::{aggregate, batch, classes, schemas, server};
use crate::tunnel::{BodyLimit, tunnel};
use crate::{ApiError, AppState};

/// Numbers requests in arrival order: cheap, unique per process, readable in logs.
#[derive(Clone, Default)]
struct Sequential(std::sync::Arc<AtomicU64>);

impl MakeRequestId for Sequential {
    fn make_request_id<B>(&mut self, _req: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.0.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{n:x}"))
            .ok()
            .map(RequestId::new)
    }
}

fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(server::health))
        .route("/serverInfo", get(server::server_info))
        .route("/classes/{class}", get(classes::find).post(classes::create))
        .route(
            "/classes/{class}/{id}",
            get(classes::get)
                .put(classes::update)
                .delete(classes::delete),
        )
        .route("/batch", post(batch::batch))
        .route(
            "/schemas",
            get(schemas::all).post(schemas::create_from_body),
        )
        .route(
            "/schemas/",
            get(schemas::all).post(schemas::create_from_body),
        )
        .route("/purge/{class}", axum::routing::delete(schemas::purge))
        .route(
            "/schemas/{class}",
            get(schemas::one)
                .post(schemas::create)
                .put(schemas::update)
                .delete(schemas::delete),
        )
        .route("/aggregate/{class}", get(aggregate::aggregate))
}

async fn not_found() -> ApiError {
    ApiError::Parse(basalt_core::ParseError::new(
        basalt_core::ErrorCode::InvalidJson,
        "unknown route",
    ))
}

/// The service to serve: routes under the mount path, wrapped in the tunnelling rewrite, request
/// ids, tracing, timeout and CORS. The rewrite wraps the routed service (an outer router whose
/// only route is the fallback), so it runs before routing.
pub fn app(state: AppState) -> Router {
    let x_request_id = HeaderName::from_static("x-request-id");
    let mount = state.config.mount_path.clone();
    let limit = BodyLimit(state.config.max_body_bytes);
    let timeout = state.config.request_timeout;
    let api = api_routes().fallback(not_found).with_state(state);
    let routed = if mount.is_empty() || mount == "/" {
        api
    } else {
        Router::new().nest(&mount, api)
    };
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers(Any)
        .expose_headers(Any);
    Router::new()
        .fallback_service(routed)
        .layer(axum::middleware::from_fn_with_state(limit, tunnel))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            timeout,
        ))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!("request", id, method = %req.method(), path = %req.uri().path())
        }))
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(SetRequestIdLayer::new(x_request_id, Sequential::default()))
        .layer(cors)
}
