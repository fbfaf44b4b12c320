//! `POST /api/v1/projects/{project}/stages/{stage}/verify`: verify the stage's current
//! freight again (Kargo's `kargo verify stage`), or with `{"abort": true}` stop the
//! running verification.

use axum::Json;
use axum::extract::{Extension, Path, State as AxumState};
use axum::http::StatusCode;
use lading_domain::spec::Spec;
use lading_events::catalog::VerificationRequestedV1;
use lading_events::{Event, now_ms};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{State, context, lookup};
use crate::auth::Caller;
use crate::error::ApiError;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    #[serde(default)]
    abort: bool,
}

pub async fn verify(
    AxumState(state): AxumState<State>,
    Path((project, stage)): Path<(String, String)>,
    Extension(caller): Extension<Caller>,
    body: Option<Json<VerifyRequest>>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let context = context(&state)?;
    lookup::project(&context, &project)?;
    lookup::stage(&context, &project, &stage)?;
    let abort = body.is_some_and(|Json(b)| b.abort);
    let verifies = context.specs.read(|s| {
        s.get(&project, lading_domain::spec::Kind::Stage, &stage).is_some_and(|m| match &m.spec {
            Spec::Stage(spec) => spec.verification.as_ref().is_some_and(|v| !v.analysis_templates.is_empty()),
            _ => false,
        })
    });
    if !verifies {
        return Err(ApiError::Conflict(format!(
            "stage {stage:?} has no verification (spec.verification.analysisTemplates)"
        )));
    }
    // The current freight: the one the stage's latest successful promotion brought.
    let current = context.projection.read(|model| {
        let record = model.project(&project)?.stages.get(&stage)?;
        let promotion = record.promotions.iter().rev().find(|p| {
            p.phase == lading_projection::model::PromotionPhase::Succeeded
                && record.current.values().any(|(id, _)| *id == p.freight_id)
        })?;
        let running = record.last_verification_of(&promotion.freight_id).is_some_and(|v| !v.phase.is_completed());
        Some((promotion.name.clone(), promotion.freight_id.clone(), running))
    });
    let Some((promotion, freight_id, running)) = current else {
        return Err(ApiError::Conflict(format!("stage {stage:?} holds no freight to verify")));
    };
    if abort && !running {
        return Err(ApiError::Conflict(format!("stage {stage:?} has no running verification to abort")));
    }
    if !abort && running {
        return Err(ApiError::Conflict(format!(
            "a verification of stage {stage:?} is running; abort it first (lading verify stage {stage} --abort)"
        )));
    }
    let request_id = ulid::Ulid::new().to_string().to_lowercase();
    let event = Event::VerificationRequested(VerificationRequestedV1 {
        project: project.clone(),
        stage: stage.clone(),
        freight_id: freight_id.to_string(),
        promotion,
        request_id: request_id.clone(),
        abort,
        actor: caller.name.clone(),
        requested_at_ms: now_ms(),
    });
    let trace = lading_bus::tracing_context::new_root();
    let published = context.bus.publish(&event, &trace).await.map_err(|e| ApiError::Unavailable(e.to_string()))?;
    lookup::applied(&context, published).await;
    tracing::info!(project, stage, abort, request = request_id, "verification requested");
    Ok((StatusCode::ACCEPTED, Json(json!({"requestId": request_id, "freight": freight_id.as_str(), "abort": abort}))))
}
