//! `/health` and `/serverInfo`.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::AppState;
use crate::keys::MasterCaller;

/// GET /health: no key needed.
pub(crate) async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// GET /serverInfo: master key.
pub(crate) async fn server_info(
    State(state): State<AppState>,
    _master: MasterCaller,
) -> Json<Value> {
    Json(json!({
        "parseServerVersion": state.config.version,
        "features": {
            "globalConfig": {"create": false, "read": false, "update": false, "delete": false},
            "hooks": {"createFunction": false, "createTrigger": false, "getFunctions": false, "getTriggers": false,
                      "updateFunction": false, "updateTrigger": false, "deleteFunction": false, "deleteTrigger": false},
            "cloudCode": {"jobs": false},
            "logs": {"level": false, "size": false, "order": false, "until": false, "from": false},
            "push": {"immediatePush": false, "scheduledPush": false, "storedPushData": false, "pushAudiences": false, "localization": false},
            "schemas": {"addField": true, "removeField": true, "addClass": true, "removeClass": true,
                        "clearAllDataFromClass": false, "exportClass": false, "editClassLevelPermissions": true,
                        "editPointerPermissions": true},
        }
    }))
}
