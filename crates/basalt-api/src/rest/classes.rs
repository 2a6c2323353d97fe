//! `/classes/:className` and `/classes/:className/:objectId`.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use basalt_engine::{Created, FindResult, Updated};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::keys::Caller;
use crate::params::{find_request, get_request};
use crate::tunnel::JsonObject;

/// The JSON of a create's answer.
pub(crate) fn created_json(c: &Created) -> Value {
    let mut o = c.filled.clone();
    o.insert("objectId".into(), json!(c.object_id));
    o.insert("createdAt".into(), json!(c.created_at));
    Value::Object(o)
}

/// The JSON of an update's answer.
pub(crate) fn updated_json(u: Updated) -> Value {
    let mut o = u.echoed;
    o.insert("updatedAt".into(), Value::String(u.updated_at));
    Value::Object(o)
}

/// The JSON of a find's answer.
pub(crate) fn found_json(r: FindResult) -> Value {
    let mut o = Map::new();
    o.insert(
        "results".into(),
        Value::Array(r.results.into_iter().map(Value::Object).collect()),
    );
    if let Some(c) = r.count {
        o.insert("count".into(), json!(c));
    }
    Value::Object(o)
}

/// POST: create an object.
pub(crate) async fn create(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path(class): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    create_in(&state, &auth, &class, body, &format!("classes/{class}")).await
}

/// Creates an object of `class` and answers 201 with `Location: {serverURL}/{route}/{id}`.
pub(crate) async fn create_in(
    state: &AppState,
    auth: &basalt_engine::AuthContext,
    class: &str,
    body: Map<String, Value>,
    route: &str,
) -> Result<Response, ApiError> {
    let created = state.engine.create(auth, class, body).await?;
    if created.existing {
        // authData naming an existing user logs that user in: 200 with the user.
        return Ok((StatusCode::OK, Json(Value::Object(created.filled))).into_response());
    }
    let location = format!("{}/{route}/{}", state.config.server_url, created.object_id);
    let mut body = created_json(&created);
    if class == "_Session"
        && let Some(o) = body.as_object_mut()
    {
        // Parse answers POST /sessions without the creation date.
        o.remove("createdAt");
    }
    let mut res = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

/// GET: find objects.
pub(crate) async fn find(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path(class): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let req = find_request(query.as_deref())?;
    Ok(Json(found_json(
        state.engine.find(&auth, &class, req).await?,
    )))
}

/// GET: one object.
pub(crate) async fn get(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path((class, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let req = get_request(query.as_deref())?;
    Ok(Json(Value::Object(
        state.engine.get(&auth, &class, &id, req).await?,
    )))
}

/// PUT: update an object.
pub(crate) async fn update(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path((class, id)): Path<(String, String)>,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(updated_json(
        state.engine.update(&auth, &class, &id, body).await?,
    )))
}

/// DELETE: remove an object.
pub(crate) async fn delete(
    State(state): State<AppState>,
    Caller(auth): Caller,
    Path((class, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    state.engine.delete(&auth, &class, &id).await?;
    Ok(Json(json!({})))
}
