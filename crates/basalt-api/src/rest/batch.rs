//! `/batch`: routes each sub-request to an engine operation and answers, per sub-request,
//! `{"success": …}` or `{"error": {code, error}}`.

use axum::Json;
use axum::extract::State;
use basalt_core::{Error, ErrorCode, ParseError};
use basalt_engine::{BatchOp, BatchOutcome};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::error::{ApiError, parse_error_json};
use crate::keys::{Caller, Peer};
use crate::params::{find_request, get_request};
use crate::rest::classes::{created_json, found_json, updated_json};
use crate::tunnel::JsonObject;

fn invalid(msg: String) -> ApiError {
    ParseError::new(ErrorCode::InvalidJson, msg).into()
}

/// Body fields of a GET sub-request as a query string, so they decode like a real GET's.
fn as_query(body: &Map<String, Value>) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in body {
        match v {
            Value::String(s) => ser.append_pair(k, s),
            other => ser.append_pair(k, &other.to_string()),
        };
    }
    ser.finish()
}

fn route(mount: &str, req: &Value) -> Result<BatchOp, ApiError> {
    let path = req
        .get("path")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("batch request path must be a string".to_owned()))?;
    let method = req
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or("GET")
        .to_ascii_uppercase();
    let rest = path
        .strip_prefix(mount)
        .filter(|r| r.starts_with('/'))
        .ok_or_else(|| invalid(format!("cannot route batch path {path}")))?;
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    if rest == "/batch" {
        return Err(invalid("nested batch requests are not allowed".to_owned()));
    }
    let body = match req.get("body") {
        Some(Value::Object(o)) => o.clone(),
        None | Some(Value::Null) => Map::new(),
        Some(_) => return Err(invalid("batch request body must be an object".to_owned())),
    };
    let segments: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    let cannot = || invalid(format!("cannot route {method} {rest}"));
    let query = if query.is_empty() {
        as_query(&body)
    } else {
        query.to_owned()
    };
    match (method.as_str(), segments.as_slice()) {
        ("POST", ["classes", class]) => Ok(BatchOp::Create {
            class: (*class).to_owned(),
            body,
        }),
        ("GET", ["classes", class]) => Ok(BatchOp::Find {
            class: (*class).to_owned(),
            req: find_request(Some(&query))?,
        }),
        ("GET", ["classes", class, id]) => Ok(BatchOp::Get {
            class: (*class).to_owned(),
            object_id: (*id).to_owned(),
            req: get_request(Some(&query).filter(|q| !q.is_empty()).map(String::as_str))?,
        }),
        ("PUT", ["classes", class, id]) => Ok(BatchOp::Update {
            class: (*class).to_owned(),
            object_id: (*id).to_owned(),
            body,
        }),
        ("DELETE", ["classes", class, id]) => Ok(BatchOp::Delete {
            class: (*class).to_owned(),
            object_id: (*id).to_owned(),
        }),
        _ => Err(cannot()),
    }
}

fn outcome_json(o: BatchOutcome) -> Value {
    match o {
        BatchOutcome::Created(c) => created_json(&c),
        BatchOutcome::Updated(u) => updated_json(u),
        BatchOutcome::Deleted => json!({}),
        BatchOutcome::Object(d) => Value::Object(d),
        BatchOutcome::Found(f) => found_json(f),
    }
}

/// POST /batch. Each sub-request counts against the rate limits its own route has, so a batch
/// is no way around them.
pub(crate) async fn batch(
    State(state): State<AppState>,
    Caller(auth): Caller,
    headers: axum::http::HeaderMap,
    Peer(ip): Peer,
    JsonObject(body): JsonObject,
) -> Result<axum::response::Response, ApiError> {
    let requests = body
        .get("requests")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("requests must be an array".to_owned()))?;
    // Checked here too, so an oversize transaction is refused as the client error it is rather
    // than rolled back as a failed transaction.
    state.engine.check_batch_size(requests.len())?;
    let token = headers
        .get("x-parse-session-token")
        .and_then(|v| v.to_str().ok());
    for r in requests {
        let path = r.get("path").and_then(Value::as_str).unwrap_or_default();
        let method = r
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or("GET")
            .to_ascii_uppercase();
        let method =
            axum::http::Method::from_bytes(method.as_bytes()).unwrap_or(axum::http::Method::GET);
        let path = path.split('?').next().unwrap_or_default();
        if let Some(refused) = state
            .limits
            .check(&method, path, ip, token, auth.master)
            .await
        {
            return Ok(refused);
        }
    }
    let ops = requests
        .iter()
        .map(|r| route(&state.config.mount_path, r))
        .collect::<Result<Vec<_>, _>>()?;
    let transaction = body
        .get("transaction")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let results = match state.engine.batch(&auth, ops, transaction).await {
        Ok(r) => r,
        // Parse Server answers a failed transactional batch with its generic internal error;
        // clients (the SDK's saveAll) rely only on the failure, so the cause goes to the log.
        Err(Error::Parse(e)) if transaction => {
            tracing::info!(code = e.code.code(), error = %e.message, "transactional batch rolled back");
            return Err(ApiError::Internal(anyhow::anyhow!(
                "transactional batch rolled back: {}",
                e.message
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let items = results
        .into_iter()
        .map(|r| match r {
            Ok(o) => json!({"success": outcome_json(o)}),
            Err(Error::Parse(e)) => json!({"error": parse_error_json(&e)}),
            Err(Error::Internal(e)) => {
                tracing::error!(error = ?e, "batch sub-request failed");
                json!({"error": {"code": 1, "error": "Internal server error."}})
            }
        })
        .collect();
    Ok(axum::response::IntoResponse::into_response(Json(
        Value::Array(items),
    )))
}
