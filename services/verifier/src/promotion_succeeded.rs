//! `PromotionSucceeded` → `FreightVerified` for the promotion's stage and freight.

use lading_bus::{Bus, Delivery, HandlerError, Outcome};
use lading_events::catalog::FreightVerifiedV1;
use lading_events::{Event, now_ms};

/// The verification verdict for a succeeded promotion (no checks configured: verified).
pub fn verify(succeeded: &lading_events::catalog::PromotionSucceededV1, now_ms: i64) -> Event {
    Event::FreightVerified(FreightVerifiedV1 {
        project: succeeded.project.clone(),
        stage: succeeded.stage.clone(),
        freight_id: succeeded.freight_id.clone(),
        promotion: succeeded.promotion.clone(),
        verified_at_ms: now_ms,
    })
}

pub async fn handle(bus: &Bus, delivery: Delivery) -> Result<Outcome, HandlerError> {
    let Event::PromotionSucceeded(succeeded) = &delivery.event else {
        return Ok(Outcome::Done);
    };
    let verified = verify(succeeded, now_ms());
    bus.publish(&verified, &delivery.trace).await.map_err(|e| HandlerError::Transient(e.to_string()))?;
    tracing::info!(stage = succeeded.stage, freight = succeeded.freight_id, "freight verified");
    Ok(Outcome::Done)
}

#[cfg(test)]
mod tests {
    use lading_events::catalog::PromotionSucceededV1;

    use super::*;

    #[test]
    fn a_succeeded_promotion_verifies_its_freight_in_its_stage() {
        let succeeded = PromotionSucceededV1 {
            project: "p".into(),
            stage: "test".into(),
            promotion: "test.x.aaaaaaa".into(),
            freight_id: "a".repeat(40),
            commit: "c".into(),
            finished_at_ms: 1,
        };
        let Event::FreightVerified(v) = verify(&succeeded, 5) else { panic!("not a FreightVerified") };
        assert_eq!((v.stage.as_str(), v.freight_id.as_str(), v.verified_at_ms), ("test", "a".repeat(40).as_str(), 5));
        // The identity names stage, freight and promotion: one verification per promotion.
        assert_eq!(verify(&succeeded, 6).identity(), verify(&succeeded, 5).identity());
    }
}
