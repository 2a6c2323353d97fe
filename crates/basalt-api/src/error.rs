//! The one place errors become HTTP responses, in the shapes Parse Server sends.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use basalt_core::{Error, ErrorCode, ParseError};
use serde_json::json;

/// Everything a handler can fail with.
#[derive(Debug)]
pub enum ApiError {
    /// A Parse error: `{code, error}` with the table's status.
    Parse(ParseError),
    /// Missing or wrong application id or client key: 403 `{"error":"unauthorized"}`.
    Unauthorized,
    /// A master-key-only route called without it: 403 `{"error":"Permission denied"}`.
    MasterKeyRequired,
    /// A body that is not JSON: 400 `{"error": <parser message>}` without a code, as Parse's
    /// body parser answers.
    MalformedBody(String),
    /// A body over the size limit: 413.
    BodyTooLarge(usize),
    /// A body that did not arrive within the request timeout: 408.
    BodyTimeout,
    /// A bug or an outage: 500 `{"code":1,"message":"Internal server error."}`; the cause is
    /// logged, never shown.
    Internal(anyhow::Error),
}

impl From<ParseError> for ApiError {
    fn from(e: ParseError) -> Self {
        ApiError::Parse(e)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Parse(p) => ApiError::Parse(p),
            Error::Internal(e) => ApiError::Internal(e),
        }
    }
}

/// The body and status of a Parse error, also used inside batch responses.
pub fn parse_error_json(e: &ParseError) -> serde_json::Value {
    json!({"code": e.code.code(), "error": e.message})
}

/// Parse's body for an internal error.
pub fn internal_json() -> serde_json::Value {
    json!({"code": 1, "message": "Internal server error."})
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            ApiError::Parse(e) => {
                let status =
                    StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
                if e.code == ErrorCode::InternalServerError {
                    tracing::error!(error = %e.message, "internal error reported as a Parse error");
                }
                (status, parse_error_json(&e))
            }
            ApiError::Unauthorized => (StatusCode::FORBIDDEN, json!({"error": "unauthorized"})),
            ApiError::MasterKeyRequired => {
                (StatusCode::FORBIDDEN, json!({"error": "Permission denied"}))
            }
            ApiError::MalformedBody(msg) => (StatusCode::BAD_REQUEST, json!({"error": msg})),
            ApiError::BodyTooLarge(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"code": ErrorCode::ObjectTooLarge.code(), "error": format!("request body is too large: the limit is {limit} bytes")}),
            ),
            ApiError::BodyTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                json!({"code": ErrorCode::Timeout.code(), "error": "the request body did not arrive in time"}),
            ),
            ApiError::Internal(e) => {
                tracing::error!(error = ?e, "internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, internal_json())
            }
        };
        (status, Json(body)).into_response()
    }
}
