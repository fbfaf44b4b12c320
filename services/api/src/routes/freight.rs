//! `GET /api/v1/projects/{project}/freight`: the project's freight, newest first.

use axum::Json;
use axum::extract::{Path, State as AxumState};
use serde_json::Value;

use super::{State, context, require_project};
use crate::error::ApiError;
use crate::objects::{freight_object, list as list_of};

pub async fn list(AxumState(state): AxumState<State>, Path(project): Path<String>) -> Result<Json<Value>, ApiError> {
    let context = context(&state)?;
    require_project(&context, &project)?;
    let items = context.projection.read(|model| {
        let mut records: Vec<_> = model.project(&project).map(|p| p.freight.values().collect()).unwrap_or_default();
        records.sort_by_key(|r| std::cmp::Reverse(r.discovered_seq));
        records.into_iter().map(|r| freight_object(&project, r)).collect::<Vec<_>>()
    });
    Ok(Json(list_of(items)))
}
