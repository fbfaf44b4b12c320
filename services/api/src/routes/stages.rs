//! `GET /api/v1/projects/{project}/stages`: stage specs with their promotion status, and
//! whether the project's promotion policies let each auto-promote
//! (`status.autoPromotionEnabled`).

use axum::Json;
use axum::extract::{Path, State as AxumState};
use lading_domain::availability::{StageFacts, auto_promotion_enabled};
use lading_domain::spec::references::unresolved_references;
use lading_domain::spec::{Kind, Spec};
use serde_json::Value;

use super::{State, context, lookup};
use crate::error::ApiError;
use crate::objects::{list as list_of, stage_object};

pub async fn list(AxumState(state): AxumState<State>, Path(project): Path<String>) -> Result<Json<Value>, ApiError> {
    let context = context(&state)?;
    lookup::project(&context, &project)?;
    let stages: Vec<_> = context.specs.read(|s| {
        let policies = s.promotion_policies(&project);
        s.in_project(&project, Kind::Stage)
            .map(|m| {
                let (unresolved, auto) = match &m.spec {
                    Spec::Stage(spec) => (
                        unresolved_references(spec, |r| s.reference_exists(&project, r)),
                        auto_promotion_enabled(
                            &policies,
                            &StageFacts { name: m.name(), labels: &m.metadata.labels, spec },
                        ),
                    ),
                    _ => (Vec::new(), false),
                };
                (m.clone(), unresolved, auto)
            })
            .collect()
    });
    let items = context.projection.read(|model| {
        let project_model = model.project(&project);
        stages
            .iter()
            .map(|(m, unresolved, auto)| {
                let mut object = stage_object(m, project_model, unresolved);
                object["status"]["autoPromotionEnabled"] = (*auto).into();
                object
            })
            .collect::<Vec<_>>()
    });
    Ok(Json(list_of(items)))
}
