//! `VerificationRequested` (not an abort) → a new `VerificationStarted` for the stage's
//! current freight, named after the request, once no promotion of the stage runs and a
//! stage with health is `Healthy` ([`when_to_verify::start`]). Aborts are noticed by the running verification itself.

use lading_bus::specs::SpecStore;
use lading_bus::{Bus, Delivery, HandlerError, Outcome};
use lading_domain::verification::when_to_verify::{self, Start};
use lading_events::catalog::{FreightVerifiedV1, VerificationStartedV1};
use lading_events::{Event, now_ms};
use lading_projection::Projection;

use crate::promotion_succeeded::{HEALTH_POLL, PROMOTION_POLL};
use crate::{plan, stage_now};

pub async fn handle(
    bus: &Bus,
    specs: &SpecStore,
    projection: &Projection,
    delivery: Delivery,
) -> Result<Outcome, HandlerError> {
    let Event::VerificationRequested(request) = &delivery.event else {
        return Ok(Outcome::Done);
    };
    if request.abort {
        return Ok(Outcome::Done);
    }
    let templates = specs.read(|s| {
        s.stage(&request.project, &request.stage).filter(|spec| spec.has_analyses()).map(plan::template_names)
    });
    if templates.is_some() {
        let stage = stage_now::at(projection, &request.project, &request.stage, delivery.stream_sequence).await?;
        match when_to_verify::start(&stage, &request.freight_id) {
            Start::Now => {}
            Start::AfterPromotion(_) => return Ok(Outcome::RetryAfter(PROMOTION_POLL)),
            Start::WhenHealthy(_) => return Ok(Outcome::RetryAfter(HEALTH_POLL)),
            Start::Never(reason) => {
                tracing::info!(stage = request.stage, request = request.request_id, reason, "not verifying");
                return Ok(Outcome::Done);
            }
        }
    }
    let event = match templates {
        Some(templates) => Event::VerificationStarted(VerificationStartedV1 {
            project: request.project.clone(),
            stage: request.stage.clone(),
            freight_id: request.freight_id.clone(),
            promotion: request.promotion.clone(),
            verification_id: request.request_id.clone(),
            actor: request.actor.clone(),
            templates,
            started_at_ms: now_ms(),
        }),
        None => Event::FreightVerified(FreightVerifiedV1 {
            project: request.project.clone(),
            stage: request.stage.clone(),
            freight_id: request.freight_id.clone(),
            promotion: request.promotion.clone(),
            verified_at_ms: now_ms(),
        }),
    };
    bus.publish(&event, &delivery.trace).await.map_err(|e| HandlerError::Transient(e.to_string()))?;
    Ok(Outcome::Done)
}
