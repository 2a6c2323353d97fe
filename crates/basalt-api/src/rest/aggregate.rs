//! `/aggregate/:className` (master key): a pipeline or `distinct` over a class.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;
use crate::keys::MasterCaller;
use crate::params::pairs;

/// GET /aggregate/:className
pub(crate) async fn aggregate(
    State(state): State<AppState>,
    MasterCaller(auth): MasterCaller,
    Path(class): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let params: Vec<(String, Value)> = pairs(query.as_deref())
        .into_iter()
        .map(|(k, v)| {
            let parsed = serde_json::from_str(&v).unwrap_or(Value::String(v));
            (k, parsed)
        })
        .collect();
    let results = state.engine.aggregate(&auth, &class, &params).await?;
    Ok(Json(json!({"results": results})))
}
