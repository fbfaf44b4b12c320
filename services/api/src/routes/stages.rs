//! `GET /api/v1/projects/{project}/stages`: stage specs with their promotion status, and
//! whether the project's promotion policies let each auto-promote
//! (`status.autoPromotionEnabled`); `POST …/stages/{stage}/refresh`: assess the stage's
//! health now.

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

pub async fn refresh(
    AxumState(state): AxumState<State>,
    Path((project, stage)): Path<(String, String)>,
) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    let context = context(&state)?;
    lookup::stage(&context, &project, &stage)?;
    let trace = lading_bus::tracing_context::new_root();
    let request_id = publish_refresh(&context, &project, &stage, &trace).await?;
    tracing::info!(project, stage, trace_id = trace.trace_id_hex(), "stage refresh requested");
    Ok((
        axum::http::StatusCode::ACCEPTED,
        Json(serde_json::json!({"requestId": request_id, "traceparent": trace.to_traceparent()})),
    ))
}

/// Asks the promoter to assess the stage's health now (`StageRefreshRequested`); its
/// request ID.
pub(crate) async fn publish_refresh(
    context: &crate::SharedContext,
    project: &str,
    stage: &str,
    trace: &lading_events::TraceContext,
) -> Result<String, ApiError> {
    let request_id = ulid::Ulid::new().to_string().to_lowercase();
    let after_seq = context.projection.read(|model| {
        model.project(project).and_then(|p| p.stages.get(stage)).map_or(0, |s| s.last_handled_refresh_seq)
    });
    let event = lading_events::Event::StageRefreshRequestedV2(lading_events::catalog::StageRefreshRequestedV2 {
        project: project.to_owned(),
        stage: stage.to_owned(),
        request_id: request_id.clone(),
        after_seq,
        requested_at_ms: lading_events::now_ms(),
    });
    context.bus.publish(&event, trace).await.map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(request_id)
}
