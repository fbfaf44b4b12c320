//! `PromotionSucceeded` → `VerificationStarted` when the stage verifies with analysis
//! templates, else `FreightVerified` at once (a stage without verification). A
//! verification starts only while the stage holds the freight, no promotion of it runs
//! and, when the promotion left health checks (it updated Argo CD Applications), the
//! stage is `Healthy` ([`when_to_verify::start`]): otherwise it waits for that promotion
//! to end or for the stage to become healthy, or never starts when a later promotion
//! replaced the freight. A stage without verification but with health, as in Kargo, has
//! its freight verified once it is healthy.
//!
//! A stage with neither has its freight verified by the promoter as it records the
//! success ([`when_to_verify::verified_on_success`]); the verifier looks again
//! [`BACKSTOP`] later and records the same fact only if the read model still lacks it,
//! so a promoter stopped in between leaves nothing unverified.

use std::time::Duration;

use lading_bus::specs::SpecStore;
use lading_bus::{Bus, Delivery, HandlerError, Outcome};
use lading_domain::verification::when_to_verify::{self, Backstop, Start};
use lading_events::catalog::{PromotionSucceededV1, VerificationStartedV1};
use lading_events::{Event, now_ms};
use lading_projection::Projection;

use crate::{plan, stage_now};

/// Who starts the verification that follows a promotion.
pub const ACTOR: &str = "lading/verifier";
/// How often a verification waiting for a running promotion asks again.
pub const PROMOTION_POLL: Duration = Duration::from_secs(1);
/// How often a verification waiting for the stage to become healthy asks again.
pub const HEALTH_POLL: Duration = Duration::from_secs(1);

/// How long after a success the verifier looks whether the promoter recorded the
/// freight verified in a stage that verifies nothing, and records it if not.
pub const BACKSTOP: Duration = Duration::from_secs(5);

/// Whether the read model holds the promotion's freight verified in its stage.
fn verified_in(projection: &Projection, succeeded: &PromotionSucceededV1) -> bool {
    let Ok(id) = lading_domain::FreightId::parse(&succeeded.freight_id) else { return false };
    projection.read(|model| {
        model
            .project(&succeeded.project)
            .and_then(|p| p.freight.get(&id))
            .is_some_and(|f| f.freight.status.verified_in.contains_key(&succeeded.stage))
    })
}

/// The verdict for a succeeded promotion into a stage without analyses: verified.
pub fn verify(succeeded: &PromotionSucceededV1, now_ms: i64) -> Event {
    Event::FreightVerified(succeeded.verified(now_ms))
}

/// The verification that follows a promotion into a stage with analyses: named after
/// the promotion, so it starts once.
pub fn start(succeeded: &PromotionSucceededV1, templates: Vec<String>, now_ms: i64) -> Event {
    Event::VerificationStarted(VerificationStartedV1 {
        project: succeeded.project.clone(),
        stage: succeeded.stage.clone(),
        freight_id: succeeded.freight_id.clone(),
        promotion: succeeded.promotion.clone(),
        verification_id: succeeded.promotion.clone(),
        actor: ACTOR.to_owned(),
        templates,
        started_at_ms: now_ms,
    })
}

pub async fn handle(
    bus: &Bus,
    specs: &SpecStore,
    projection: &Projection,
    delivery: Delivery,
) -> Result<Outcome, HandlerError> {
    let Event::PromotionSucceeded(succeeded) = &delivery.event else {
        return Ok(Outcome::Done);
    };
    let templates = specs.read(|s| {
        s.stage(&succeeded.project, &succeeded.stage).filter(|spec| spec.has_analyses()).map(plan::template_names)
    });
    let event = match templates {
        Some(templates) => {
            let stage =
                stage_now::at(projection, &succeeded.project, &succeeded.stage, delivery.stream_sequence).await?;
            match when_to_verify::start(&stage, &succeeded.freight_id) {
                Start::Now => start(succeeded, templates, now_ms()),
                Start::AfterPromotion(running) => {
                    tracing::debug!(stage = succeeded.stage, running, "verification waits for the running promotion");
                    return Ok(Outcome::RetryAfter(PROMOTION_POLL));
                }
                Start::WhenHealthy(reason) => {
                    tracing::debug!(stage = succeeded.stage, reason, "verification waits for the stage to be healthy");
                    return Ok(Outcome::RetryAfter(HEALTH_POLL));
                }
                Start::Never(reason) => {
                    tracing::info!(stage = succeeded.stage, freight = succeeded.freight_id, reason, "not verifying");
                    return Ok(Outcome::Done);
                }
            }
        }
        None => {
            let stage =
                stage_now::at(projection, &succeeded.project, &succeeded.stage, delivery.stream_sequence).await?;
            // Health is the stage's after its latest promotion: it decides only for the
            // freight that promotion brought.
            if let Some(reason) = when_to_verify::not_healthy(&stage)
                && stage.current.contains(&succeeded.freight_id)
            {
                tracing::debug!(stage = succeeded.stage, reason, "verification waits for the stage to be healthy");
                return Ok(Outcome::RetryAfter(HEALTH_POLL));
            }
            // The promoter records this one with the success: looked at again a while
            // later, and recorded here only if it still is not.
            if when_to_verify::verified_on_success(false, stage.health.is_some()) {
                let first_look = delivery.delivered <= 1;
                match when_to_verify::backstop(first_look, !first_look && verified_in(projection, succeeded)) {
                    Backstop::Later => return Ok(Outcome::RetryAfter(BACKSTOP)),
                    Backstop::Nothing => return Ok(Outcome::Done),
                    Backstop::Record => {}
                }
            }
            verify(succeeded, now_ms())
        }
    };
    bus.publish(&event, &delivery.trace).await.map_err(|e| HandlerError::Transient(e.to_string()))?;
    tracing::info!(
        stage = succeeded.stage,
        freight = succeeded.freight_id,
        event = event.event_type().ce_type(),
        "promotion verified or verification started"
    );
    Ok(Outcome::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn succeeded() -> PromotionSucceededV1 {
        PromotionSucceededV1 {
            project: "p".into(),
            stage: "test".into(),
            promotion: "test.x.aaaaaaa".into(),
            freight_id: "a".repeat(40),
            commit: "c".into(),
            finished_at_ms: 1,
        }
    }

    #[test]
    fn a_succeeded_promotion_verifies_its_freight_in_its_stage() {
        let Event::FreightVerified(v) = verify(&succeeded(), 5) else { panic!("not a FreightVerified") };
        assert_eq!((v.stage.as_str(), v.freight_id.as_str(), v.verified_at_ms), ("test", "a".repeat(40).as_str(), 5));
        // The identity names stage, freight and promotion: one verification per promotion.
        assert_eq!(verify(&succeeded(), 6).identity(), verify(&succeeded(), 5).identity());
    }

    #[test]
    fn the_verification_after_a_promotion_is_named_after_it_and_starts_once() {
        let Event::VerificationStarted(s) = start(&succeeded(), vec!["AnalysisTemplate/t".into()], 5) else {
            panic!("not a VerificationStarted")
        };
        assert_eq!(s.verification_id, "test.x.aaaaaaa");
        assert_eq!(start(&succeeded(), vec![], 6).identity(), start(&succeeded(), vec![], 5).identity());
    }
}
