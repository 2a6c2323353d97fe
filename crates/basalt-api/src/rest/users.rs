//! `/users`, `/login`, `/logout`, `/verifyPassword`, `/upgradeToRevocableSession`, `/sessions`
//! and `/roles`: the identity routes. `/users`, `/sessions` and `/roles` are the classes
//! `_User`, `_Session` and `_Role` under their own paths.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use basalt_core::{ErrorCode, ParseError};
use basalt_engine::Credentials;
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::keys::{Caller, Keys};
use crate::params::{find_request, get_request, pairs};
use crate::rest::classes::{create_in, found_json, updated_json};
use crate::tunnel::JsonObject;

/// Which class a resource path stands for.
fn class_of(resource: &str) -> Result<&'static str, ApiError> {
    match resource {
        "users" => Ok("_User"),
        "sessions" => Ok("_Session"),
        "roles" => Ok("_Role"),
        "installations" => Ok("_Installation"),
        other => {
            Err(ParseError::new(ErrorCode::InvalidJson, format!("unknown route /{other}")).into())
        }
    }
}

/// POST /{users|sessions|roles}: sign-up for users, a create otherwise.
pub(crate) async fn create(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path(resource): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let class = class_of(&resource)?;
    create_in(&state, &auth, class, body, &resource).await
}

/// GET /{users|sessions|roles}
pub(crate) async fn find(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path(resource): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let class = class_of(&resource)?;
    let req = find_request(query.as_deref())?;
    Ok(Json(found_json(
        state.engine.find(&auth, class, req).await?,
    )))
}

/// GET /{resource}/{id}
pub(crate) async fn get(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path((resource, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let class = class_of(&resource)?;
    let req = get_request(query.as_deref())?;
    Ok(Json(Value::Object(
        state.engine.get(&auth, class, &id, req).await?,
    )))
}

/// PUT /{resource}/{id}
pub(crate) async fn update(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path((resource, id)): Path<(String, String)>,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, ApiError> {
    let class = class_of(&resource)?;
    Ok(Json(updated_json(
        state.engine.update(&auth, class, &id, body).await?,
    )))
}

/// DELETE /{resource}/{id}
pub(crate) async fn delete(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path((resource, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let class = class_of(&resource)?;
    state.engine.delete(&auth, class, &id).await?;
    Ok(Json(json!({})))
}

/// GET /users/me: a session whose user was deleted is refused as Parse words it here.
pub(crate) async fn me(
    State(state): State<AppState>,
    Keys(auth, token): Keys,
) -> Result<Json<Value>, ApiError> {
    let auth = match token {
        Some(t) if !auth.master => {
            state
                .engine
                .authenticate(auth, &t)
                .await
                .map_err(|e| match e {
                    basalt_core::Error::Parse(p)
                        if p.message == basalt_engine::ORPHANED_SESSION =>
                    {
                        ApiError::from(ParseError::new(
                            ErrorCode::InvalidSessionToken,
                            "Permission denied",
                        ))
                    }
                    other => other.into(),
                })?
        }
        _ => auth,
    };
    Ok(Json(Value::Object(state.engine.me(&auth).await?)))
}

/// GET /sessions/me: Parse words a missing or unknown token differently here.
pub(crate) async fn session_me(
    State(state): State<AppState>,
    Keys(auth, token): Keys,
) -> Result<Json<Value>, ApiError> {
    let Some(token) = token else {
        return Err(
            ParseError::new(ErrorCode::InvalidSessionToken, "Session token required.").into(),
        );
    };
    let auth = state
        .engine
        .authenticate(auth, &token)
        .await
        .map_err(|e| match e {
            basalt_core::Error::Parse(p)
                if p.code == ErrorCode::InvalidSessionToken
                    && p.message == "Invalid session token" =>
            {
                ApiError::from(ParseError::new(
                    ErrorCode::InvalidSessionToken,
                    "Session token not found.",
                ))
            }
            other => other.into(),
        })?;
    Ok(Json(Value::Object(
        state.engine.current_session(&auth).await?,
    )))
}

/// POST /loginAs (master key): `{userId}`.
pub(crate) async fn login_as(
    State(state): State<AppState>,
    Keys(auth, _): Keys,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, ApiError> {
    let user_id = body.get("userId").and_then(Value::as_str);
    Ok(Json(Value::Object(
        state.engine.login_as(&auth, user_id).await?,
    )))
}

/// The credentials of a log-in: from the query string (GET) or the body (POST).
fn credentials(query: Option<&str>, body: &Map<String, Value>) -> Credentials {
    let mut fields: Map<String, Value> = body.clone();
    for (k, v) in pairs(query) {
        fields.entry(k).or_insert(Value::String(v));
    }
    let get = |k: &str| fields.get(k).and_then(Value::as_str).map(str::to_owned);
    Credentials {
        username: get("username"),
        email: get("email"),
        password: get("password"),
        // A GET carries it as JSON text in the query string.
        auth_data: fields.get("authData").map(|v| match v {
            Value::String(text) => serde_json::from_str(text).unwrap_or_else(|_| v.clone()),
            other => other.clone(),
        }),
    }
}

/// GET|POST /login (any session token sent along is ignored, as Parse does)
pub(crate) async fn login(
    State(state): State<AppState>,
    Keys(auth, _): Keys,
    RawQuery(query): RawQuery,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, ApiError> {
    let user = state
        .engine
        .login(&auth, &credentials(query.as_deref(), &body))
        .await?;
    Ok(Json(Value::Object(user)))
}

/// GET|POST /verifyPassword
pub(crate) async fn verify_password(
    State(state): State<AppState>,
    Keys(auth, _): Keys,
    RawQuery(query): RawQuery,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, ApiError> {
    let user = state
        .engine
        .verify_password(&auth, &credentials(query.as_deref(), &body))
        .await?;
    Ok(Json(Value::Object(user)))
}

/// POST /logout
pub(crate) async fn logout(
    State(state): State<AppState>,
    Caller(auth): Caller,
) -> Result<Json<Value>, ApiError> {
    state.engine.logout(&auth).await?;
    Ok(Json(json!({})))
}

/// POST /upgradeToRevocableSession
pub(crate) async fn upgrade_session(
    State(state): State<AppState>,
    Caller(auth): Caller,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(Value::Object(
        state.engine.upgrade_session(&auth).await?,
    )))
}

/// POST /requestPasswordReset `{email}`
pub(crate) async fn request_password_reset(
    State(state): State<AppState>,
    Caller(_auth): Caller,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, ApiError> {
    state
        .engine
        .request_password_reset(body.get("email"))
        .await?;
    Ok(Json(json!({})))
}

/// POST /verificationEmailRequest `{email}`
pub(crate) async fn verification_email_request(
    State(state): State<AppState>,
    Caller(_auth): Caller,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, ApiError> {
    state
        .engine
        .request_verification_email(body.get("email"))
        .await?;
    Ok(Json(json!({})))
}
