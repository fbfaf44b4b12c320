//! `GET /api/v1/projects/{project}/stages`: stage specs with their promotion status.

use axum::Json;
use axum::extract::{Path, State as AxumState};
use lading_domain::spec::Kind;
use serde_json::Value;

use super::{State, context, require_project};
use crate::error::ApiError;
use crate::objects::{list as list_of, stage_object};

pub async fn list(AxumState(state): AxumState<State>, Path(project): Path<String>) -> Result<Json<Value>, ApiError> {
    let context = context(&state)?;
    require_project(&context, &project)?;
    let manifests: Vec<_> = context.specs.read(|s| s.in_project(&project, Kind::Stage).cloned().collect());
    let items = context.projection.read(|model| {
        let project_model = model.project(&project);
        manifests.iter().map(|m| stage_object(m, project_model)).collect::<Vec<_>>()
    });
    Ok(Json(list_of(items)))
}
