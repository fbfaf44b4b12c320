//! `GET /api/v1/version`: which Lading the api is, for `lading version`.

use axum::Json;
use serde_json::{Value, json};

pub async fn version() -> Json<Value> {
    Json(json!({"version": env!("CARGO_PKG_VERSION")}))
}
