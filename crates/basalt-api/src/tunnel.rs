//! Reads every request body once, as JSON whatever its content type (Parse's body parser does
//! the same), and undoes the JS SDK's tunnelling: a POST whose JSON body carries `_method`,
//! `_ApplicationId`, `_JavaScriptKey`, `_SessionToken`… becomes the request it stands for, with
//! those fields as headers and, for GET, the rest of the body as query parameters.
//!
//! It must wrap the router rather than be a route layer: a method rewrite after routing would
//! come too late (axum's docs say so for URI and method rewrites).

use axum::body::{Body, to_bytes};
use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use crate::error::ApiError;

/// The decoded JSON body of a request (absent when it had none).
#[derive(Debug, Clone, Default)]
pub(crate) struct ParsedBody(pub Option<Value>);

/// Body fields the SDKs tunnel and the header each stands for.
const TUNNELLED: &[(&str, &str)] = &[
    ("_ApplicationId", "x-parse-application-id"),
    ("_JavaScriptKey", "x-parse-javascript-key"),
    ("_ClientKey", "x-parse-client-key"),
    ("_RestAPIKey", "x-parse-rest-api-key"),
    ("_WindowsKey", "x-parse-windows-key"),
    ("_MasterKey", "x-parse-master-key"),
    ("_SessionToken", "x-parse-session-token"),
    ("_InstallationId", "x-parse-installation-id"),
    ("_ClientVersion", "x-parse-client-version"),
    ("_RevocableSession", "x-parse-revocable-session"),
    ("_context", "x-parse-cloud-context"),
];

/// The largest body accepted and how long reading it may take (a client that never finishes
/// its body must not hold a connection past the request timeout).
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyLimit(pub usize, pub std::time::Duration);

fn wants_body(req: &Request) -> bool {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    // File uploads carry raw bytes, not JSON.
    // File uploads carry raw bytes and the pages' forms are form-encoded, not JSON.
    let path = req.uri().path();
    !path.contains("/files/") && !path.contains("/apps/")
}

/// The middleware.
pub(crate) async fn tunnel(State(limit): State<BodyLimit>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit.1, rewrite(limit.0, req))
        .await
        .unwrap_or(Err(ApiError::BodyTimeout))
    {
        Ok(req) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

async fn rewrite(limit: usize, req: Request) -> Result<Request, ApiError> {
    if !wants_body(&req) {
        return Ok(req);
    }
    let (mut parts, body) = req.into_parts();
    let bytes = to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::BodyTooLarge(limit))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        parts.extensions.insert(ParsedBody(None));
        return Ok(Request::from_parts(parts, Body::empty()));
    }
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|e| ApiError::MalformedBody(e.to_string()))?;
    let value = match value {
        Value::Object(mut o) if parts.method == Method::POST && is_tunnelled(&o) => {
            for (field, header) in TUNNELLED {
                if let Some(v) = o.remove(*field) {
                    let text = match v {
                        Value::String(s) => s,
                        Value::Null => continue,
                        other => other.to_string(),
                    };
                    if let Ok(hv) = HeaderValue::from_str(&text) {
                        parts.headers.insert(HeaderName::from_static(header), hv);
                    }
                }
            }
            o.remove("_ContentType");
            let method = match o.remove("_method") {
                Some(Value::String(m)) => Method::from_bytes(m.to_ascii_uppercase().as_bytes())
                    .map_err(|_| ApiError::MalformedBody(format!("unknown _method {m}")))?,
                _ => Method::POST,
            };
            parts.method = method.clone();
            if method == Method::GET || method == Method::DELETE {
                parts.uri = with_query(&parts.uri, &o)?;
                None
            } else {
                Some(Value::Object(o))
            }
        }
        other => Some(other),
    };
    parts.extensions.insert(ParsedBody(value));
    Ok(Request::from_parts(parts, Body::empty()))
}

fn is_tunnelled(o: &Map<String, Value>) -> bool {
    o.contains_key("_method") || o.contains_key("_ApplicationId")
}

/// Appends body fields to the URI as query parameters (non-strings as JSON text).
fn with_query(uri: &Uri, fields: &Map<String, Value>) -> Result<Uri, ApiError> {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    if let Some(q) = uri.query() {
        for (k, v) in form_urlencoded::parse(q.as_bytes()) {
            ser.append_pair(&k, &v);
        }
    }
    for (k, v) in fields {
        match v {
            Value::String(s) => ser.append_pair(k, s),
            other => ser.append_pair(k, &other.to_string()),
        };
    }
    let query = ser.finish();
    let pq = if query.is_empty() {
        uri.path().to_owned()
    } else {
        format!("{}?{query}", uri.path())
    };
    pq.parse::<Uri>()
        .map_err(|e| ApiError::MalformedBody(format!("bad tunnelled query: {e}")))
}

/// The request's JSON body as an object (`{}` when absent).
pub(crate) struct JsonObject(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, _) = req.into_parts();
        match parts
            .extensions
            .remove::<ParsedBody>()
            .unwrap_or_default()
            .0
        {
            None => Ok(JsonObject(Map::new())),
            Some(Value::Object(o)) => Ok(JsonObject(o)),
            Some(_) => Err(ApiError::Parse(basalt_core::ParseError::new(
                basalt_core::ErrorCode::InvalidJson,
                "request body must be a JSON object",
            ))),
        }
    }
}
