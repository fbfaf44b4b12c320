//! `POST /api/v1/projects/{project}/stages/{stage}/promotions` (promote freight by hand)
//! and `POST …/stages/{stage}/abort` (stop the stage's current or named promotion).

use axum::Json;
use axum::extract::{Extension, Path, Query, State as AxumState};
use axum::http::StatusCode;
use chrono::Utc;
use lading_bus::claims::Claim;
use lading_domain::availability::is_available;
use lading_domain::names::promotion_name;
use lading_domain::promotion_claim::{AbortRuling, Held, on_abort};
use lading_events::catalog::{PromotionAbortedV2, PromotionCreatedV2, PromotionTrigger};
use lading_events::{Event, now_ms};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{State, context, lookup};
use crate::auth::Caller;
use crate::error::ApiError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromoteRequest {
    /// Freight name (ID) or alias.
    freight: String,
}

pub async fn create(
    AxumState(state): AxumState<State>,
    Path((project, stage)): Path<(String, String)>,
    Extension(caller): Extension<Caller>,
    Json(request): Json<PromoteRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let context = context(&state)?;
    let ulid = ulid::Ulid::new().to_string();
    let (name, freight_id) =
        request_promotion(&context, &project, &stage, &request.freight, &caller.name, &ulid).await?;
    Ok((StatusCode::CREATED, Json(json!({"name": name, "freight": freight_id.as_str()}))))
}

/// Requests a promotion of `freight` (ID or alias) into `stage`, named with `ulid`
/// (the same ULID names the same promotion: a repeated request is stored once).
/// Refused when the stage does not request the freight's origin or it is not available.
pub(crate) async fn request_promotion(
    context: &crate::SharedContext,
    project: &str,
    stage: &str,
    freight: &str,
    actor: &str,
    ulid: &str,
) -> Result<(String, lading_domain::FreightId), ApiError> {
    lookup::project(context, project)?;
    let spec = lookup::stage(context, project, stage)?;
    lookup::freight(context, project, freight)?;
    let (freight_id, origin, available) = context
        .projection
        .read(|model| {
            let record = model.project(project)?.find_freight(freight)?;
            let origin = &record.freight.origin;
            let available =
                spec.request_for(origin).map(|r| is_available(stage, r, &record.freight.status, Utc::now()));
            Some((record.id.clone(), format!("{}/{}", origin.kind, origin.name), available))
        })
        .ok_or_else(|| ApiError::NotFound(format!("freight {freight:?} not found in project {project:?}")))?;
    match available {
        None => {
            return Err(ApiError::Conflict(format!("stage {stage:?} does not request freight from {origin}")));
        }
        Some(false) => {
            let upstream =
                spec.request_for_origin_key(&origin).map(|r| r.sources.stages.join(", ")).unwrap_or_default();
            return Err(ApiError::Conflict(format!(
                "freight {} is not available to stage {stage:?}: it must first be verified in {upstream} (or approved for {stage})",
                freight_id.short()
            )));
        }
        Some(true) => {}
    }
    let name = promotion_name(stage, &freight_id, ulid);
    let event = Event::PromotionCreatedV2(PromotionCreatedV2 {
        project: project.to_owned(),
        stage: stage.to_owned(),
        promotion: name.clone(),
        freight_id: freight_id.to_string(),
        trigger: PromotionTrigger::Manual,
        actor: actor.to_owned(),
        created_at_ms: now_ms(),
    });
    let trace = lading_bus::tracing_context::new_root();
    let published = context.bus.publish(&event, &trace).await.map_err(|e| ApiError::Unavailable(e.to_string()))?;
    lookup::applied(context, published).await;
    tracing::info!(project, stage, promotion = name, freight = %freight_id, "manual promotion queued");
    Ok((name, freight_id))
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AbortRequest {
    /// The promotion to abort; the stage's current one when absent.
    #[serde(default)]
    promotion: Option<String>,
}

pub async fn abort(
    AxumState(state): AxumState<State>,
    Path((project, stage)): Path<(String, String)>,
    Extension(caller): Extension<Caller>,
    body: Option<Json<AbortRequest>>,
) -> Result<Json<Value>, ApiError> {
    let context = context(&state)?;
    lookup::project(&context, &project)?;
    lookup::stage(&context, &project, &stage)?;
    let named = body.and_then(|Json(b)| b.promotion);
    let target = context.projection.read(|model| {
        let record = model.project(&project)?.stages.get(&stage)?;
        let promotion = match &named {
            Some(name) => record.promotion(name)?,
            None => record.head_of_queue()?,
        };
        Some((promotion.name.clone(), promotion.freight_id.clone(), promotion.phase))
    });
    let Some((name, freight_id, phase)) = target else {
        return Err(match named {
            Some(name) => ApiError::NotFound(format!("promotion {name:?} not found in stage {stage:?}")),
            None => ApiError::Conflict(format!("stage {stage:?} has no promotion to abort")),
        });
    };
    if phase.is_terminal() {
        return Err(ApiError::Conflict(format!("promotion {name} already ended ({phase:?})")));
    }
    // Abort and the promotion's own finish race: the claim decides once which holds.
    let reason = format!("aborted by {}", caller.name);
    let claim = Claim::Aborted { actor: caller.name.clone(), reason: reason.clone() };
    // A promotion parked at a wait after its push is held by no run: the abort takes
    // its claim over, unless a run took it back first.
    let unavailable = |e: lading_bus::BusError| ApiError::Unavailable(e.to_string());
    let mut claimed = context.bus.claim_promotion(&project, &name, &claim).await.map_err(unavailable)?;
    if on_abort(claimed.held()) == AbortRuling::TakeOverParked {
        claimed = context
            .bus
            .replace_claim(&project, &name, Held::Parked, &claim)
            .await
            .map_err(unavailable)?
            .unwrap_or(Claim::Committed);
    }
    if on_abort(claimed.held()) != AbortRuling::Abort {
        return Err(ApiError::Conflict(format!(
            "promotion {name} can no longer be aborted: it is running past its push (or recording its outcome) and will finish"
        )));
    }
    let event = Event::PromotionAbortedV2(PromotionAbortedV2 {
        project: project.clone(),
        stage: stage.clone(),
        promotion: name.clone(),
        freight_id: freight_id.to_string(),
        reason,
        actor: caller.name.clone(),
        aborted_at_ms: now_ms(),
    });
    let trace = lading_bus::tracing_context::new_root();
    let published = context.bus.publish(&event, &trace).await.map_err(|e| ApiError::Unavailable(e.to_string()))?;
    lookup::applied(&context, published).await;
    tracing::info!(project, stage, promotion = name, "promotion aborted");
    Ok(Json(json!({"name": name})))
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this stage's promotions.
    #[serde(default)]
    stage: Option<String>,
}

/// `GET /api/v1/projects/{project}/promotions[?stage=S]`: Kargo-style Promotion objects,
/// oldest first per stage.
pub async fn list(
    AxumState(state): AxumState<State>,
    Path(project): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let context = context(&state)?;
    lookup::project(&context, &project)?;
    if let Some(stage) = &query.stage {
        lookup::stage(&context, &project, stage)?;
    }
    let items = context.projection.read(|model| {
        let Some(project_model) = model.project(&project) else { return Vec::new() };
        project_model
            .stages
            .iter()
            .filter(|(stage, _)| query.stage.as_ref().is_none_or(|s| s == *stage))
            .flat_map(|(stage, record)| {
                record.promotions.iter().map(|p| crate::objects::promotion_object(&project, stage, project_model, p))
            })
            .collect::<Vec<_>>()
    });
    Ok(Json(crate::objects::list(items)))
}
