//! The whole route table, and the layers around it.

use std::sync::atomic::{AtomicU64, Ordering};

use std::convert::Infallible;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::{get, post};
use tower::{Layer as _, Service, ServiceBuilder, ServiceExt};
use tower_http::cors::{Any, CorsLayer};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::keys::Keys;
use crate::rest::{aggregate, batch, classes, pages, schemas, server, users};
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

fn api_routes(mount: &str) -> Router<AppState> {
    // Full paths rather than `nest`: one router, no prefix-stripping layer per request.
    let at = |path: &str| format!("{mount}{path}");
    Router::new()
        .route(&at("/health"), get(server::health))
        .route(&at("/serverInfo"), get(server::server_info))
        .route(
            &at("/classes/{class}"),
            get(classes::find).post(classes::create),
        )
        .route(
            &at("/classes/{class}/{id}"),
            get(classes::get)
                .put(classes::update)
                .delete(classes::delete),
        )
        .route(&at("/batch"), post(batch::batch))
        .route(
            &at("/schemas"),
            get(schemas::all).post(schemas::create_from_body),
        )
        .route(
            &at("/schemas/"),
            get(schemas::all).post(schemas::create_from_body),
        )
        .route(&at("/purge/{class}"), axum::routing::delete(schemas::purge))
        .route(
            &at("/schemas/{class}"),
            get(schemas::one)
                .post(schemas::create)
                .put(schemas::update)
                .delete(schemas::delete),
        )
        .route(&at("/aggregate/{class}"), get(aggregate::aggregate))
        .route(&at("/users/me"), get(users::me))
        .route(&at("/sessions/me"), get(users::session_me))
        .route(&at("/login"), get(users::login).post(users::login))
        .route(&at("/logout"), post(users::logout))
        .route(&at("/loginAs"), post(users::login_as))
        .route(
            &at("/verifyPassword"),
            get(users::verify_password).post(users::verify_password),
        )
        .route(
            &at("/upgradeToRevocableSession"),
            post(users::upgrade_session),
        )
        .route(
            &at("/requestPasswordReset"),
            post(users::request_password_reset),
        )
        .route(
            &at("/verificationEmailRequest"),
            post(users::verification_email_request),
        )
        .route(&at("/apps/{app_id}/verify_email"), get(pages::verify_email))
        .route(
            &at("/apps/{app_id}/request_password_reset"),
            get(pages::reset_link).post(pages::reset_password),
        )
        .route(&at("/apps/{page}"), get(pages::page))
        .route(&at("/{resource}"), get(users::find).post(users::create))
        .route(
            &at("/{resource}/{id}"),
            get(users::get).put(users::update).delete(users::delete),
        )
}

/// Paths the table does not know. The keys are checked first, as Parse checks the application
/// id before routing, so a caller without it cannot tell routes that exist from those that don't.
async fn not_found(_keys: Keys) -> ApiError {
    ApiError::Parse(basalt_core::ParseError::new(
        basalt_core::ErrorCode::InvalidJson,
        "unknown route",
    ))
}

/// A known path asked with a method it does not take: a Parse error body rather than the
/// router's empty 405, after the same key check.
async fn method_not_allowed(_keys: Keys, method: Method) -> ApiError {
    ApiError::Parse(basalt_core::ParseError::new(
        basalt_core::ErrorCode::InvalidJson,
        format!("unknown route: this path does not take {method}"),
    ))
}

/// The service to serve: the routes with request ids, tracing, timeout and CORS, wrapped in the
/// tunnelling rewrite and, outside it, the client address (`client_addr`). The rewrite wraps
/// the router itself (not a route layer), so a tunnelled method is in place before routing.
pub fn app(
    state: AppState,
) -> impl Service<Request, Response = Response, Error = Infallible, Future: Send>
+ Clone
+ Send
+ Sync
+ 'static {
    let x_request_id = HeaderName::from_static("x-request-id");
    let mount = state.config.mount_path.clone();
    let limit = BodyLimit(state.config.max_body_bytes, state.config.request_timeout);
    let timeout = state.config.request_timeout;
    let trust = std::sync::Arc::new(state.config.trust_proxy.clone());
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
    let limits = state.limits.clone();
    let routes: Router = api_routes(&mount)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state);
    // The layers wrap the finished router once, not each route (`Router::layer` would): axum
    // clones the matched route's whole service stack for every request, so per-route layers
    // cost a deep clone of CORS, trace and timeout settings on each call.
    let layered = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(
            x_request_id.clone(),
            Sequential::default(),
        ))
        .layer(PropagateRequestIdLayer::new(x_request_id))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!("request", id, method = %req.method(), path = %req.uri().path())
        }))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            timeout,
        ))
        .layer(axum::middleware::from_fn_with_state(
            limits,
            crate::ratelimit::rate_limit,
        ))
        .service(routes);
    // CORS answers preflights itself, so it needs a body type with a default: axum's.
    let layered = cors.layer(ServiceExt::<Request>::map_response(
        layered,
        IntoResponse::into_response,
    ));
    let tunnelled = axum::middleware::from_fn_with_state(limit, tunnel).layer(layered);
    // Outermost, so every layer and handler sees the same client address.
    tunnelled.map_request(move |req| crate::client_addr::resolve(req, &trust))
}
