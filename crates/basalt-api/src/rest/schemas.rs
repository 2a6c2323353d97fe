//! `/schemas` and `/schemas/:className` (master key).

use axum::Json;
use axum::extract::{Path, State};
use basalt_core::{ErrorCode, ParseError};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::keys::MasterCaller;
use crate::tunnel::JsonObject;

/// GET /schemas
pub(crate) async fn all(
    State(state): State<AppState>,
    MasterCaller(auth): MasterCaller,
) -> Json<Value> {
    Json(json!({"results": state.engine.schemas(&auth)}))
}

/// GET /schemas/:className
pub(crate) async fn one(
    State(state): State<AppState>,
    MasterCaller(auth): MasterCaller,
    Path(class): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(state.engine.schema(&auth, &class)?))
}

/// POST /schemas (class name in the body)
pub(crate) async fn create_from_body(
    State(state): State<AppState>,
    MasterCaller(auth): MasterCaller,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, ApiError> {
    let class = body
        .get("className")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ParseError::new(
                ErrorCode::MissingRequiredField,
                "POST /schemas needs a class name.",
            )
        })?
        .to_owned();
    Ok(Json(state.engine.create_class(&auth, &class, &body).await?))
}

/// POST /schemas/:className
pub(crate) async fn create(
    State(state): State<AppState>,
    MasterCaller(auth): MasterCaller,
    Path(class): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(state.engine.create_class(&auth, &class, &body).await?))
}

/// PUT /schemas/:className
pub(crate) async fn update(
    State(state): State<AppState>,
    MasterCaller(auth): MasterCaller,
    Path(class): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(state.engine.update_class(&auth, &class, &body).await?))
}

/// DELETE /purge/:className: removes every object, keeps the class.
pub(crate) async fn purge(
    State(state): State<AppState>,
    MasterCaller(auth): MasterCaller,
    Path(class): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state.engine.purge(&auth, &class).await?;
    Ok(Json(json!({})))
}

/// DELETE /schemas/:className
pub(crate) async fn delete(
    State(state): State<AppState>,
    MasterCaller(auth): MasterCaller,
    Path(class): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state.engine.delete_class(&auth, &class).await?;
    Ok(Json(json!({})))
}
