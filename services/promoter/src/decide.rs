//! Queues automatic promotions when freight appears or is verified somewhere.
//!
//! Handles `FreightCreated` and `FreightVerified` on the durable consumer
//! `promoter-decide`. The decision is the pure rule in `lading_domain::availability`;
//! this module only gathers its inputs from the read model and specs, and publishes
//! `PromotionCreated` for each stage that should take the freight. Deliveries are
//! handled one at a time across all replicas (`max_ack_pending = 1`). The event's identity
//! (`promotion-auto:<project>:<stage>:<freight>`) makes a redelivered decision a no-op.

use std::sync::Arc;
use std::time::Duration;

use lading_bus::{ConsumerSpec, Delivery, HandlerError, Outcome};
use lading_domain::FreightId;
use lading_domain::availability::{
    AutoPromotion, ExistingPromotion, FreightFacts, decide_auto_promotion,
};
use lading_events::catalog::{PromotionCreatedV1, PromotionTrigger};
use lading_events::read_model::PromotionPhase;
use lading_events::{Event, EventType, now_ms};
use lading_runtime::Shutdown;

use crate::{Context, Error};

pub const CONSUMER: &str = "promoter-decide";

/// How long to wait for the read model to reach a delivered event.
const CATCH_UP: Duration = Duration::from_secs(10);

pub async fn run(context: Arc<Context>, shutdown: Shutdown) -> Result<(), Error> {
    let mut spec = ConsumerSpec::new(
        CONSUMER,
        vec![
            EventType::FreightCreatedV1.filter(),
            EventType::FreightVerifiedV1.filter(),
        ],
    );
    // Decisions are made one at a time, in log order, whatever the number of replicas:
    // promotions are then queued in discovery order and a stage never moves back.
    spec.max_ack_pending = 1;
    // A lost ack holds the line until redelivery: keep that short.
    spec.ack_wait = Duration::from_secs(5);
    let bus = context.bus.clone();
    bus.consume(spec, shutdown, |delivery| {
        let context = context.clone();
        async move { handle(&context, delivery).await }
    })
    .await?;
    Ok(())
}

/// A promotion's name: `<stage>.<ulid>.<first 7 of the freight ID>`, as Kargo names them.
pub fn promotion_name(stage: &str, freight: &FreightId) -> String {
    format!(
        "{stage}.{}.{}",
        ulid::Ulid::new().to_string().to_lowercase(),
        freight.short()
    )
}

async fn handle(context: &Context, delivery: Delivery) -> Result<Outcome, HandlerError> {
    let (project, freight_id) = match &delivery.event {
        Event::FreightCreated(e) => (e.project.clone(), e.freight_id.clone()),
        Event::FreightVerified(e) => (e.project.clone(), e.freight_id.clone()),
        _ => return Ok(Outcome::Done),
    };
    let Ok(freight_id) = FreightId::parse(&freight_id) else {
        return Err(HandlerError::Permanent(format!(
            "malformed freight ID {freight_id:?}"
        )));
    };
    if !context
        .projection
        .wait_for(delivery.stream_sequence, CATCH_UP)
        .await
    {
        return Err(HandlerError::Transient(
            "read model is behind the log".to_owned(),
        ));
    }
    let (stages, policies) = context
        .specs
        .read(|s| (s.stages(&project), s.promotion_policies(&project)));
    let to_promote: Vec<String> = context.projection.read(|model| {
        let Some(project_model) = model.project(&project) else {
            return Vec::new();
        };
        let Some(record) = project_model.freight.get(&freight_id) else {
            return Vec::new();
        };
        let facts = FreightFacts {
            id: &record.id,
            origin: &record.freight.origin,
            discovered: record.discovered_seq,
            status: &record.freight.status,
        };
        stages
            .iter()
            .filter(|(stage, spec)| {
                let existing: Vec<ExistingPromotion<'_>> = project_model
                    .stages
                    .get(stage.as_str())
                    .map(|s| {
                        s.promotions
                            .iter()
                            .map(|p| ExistingPromotion {
                                freight: &p.freight_id,
                                freight_discovered: project_model
                                    .freight
                                    .get(&p.freight_id)
                                    .map_or(0, |f| f.discovered_seq),
                                unsuccessful: p.phase == PromotionPhase::Failed,
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let decision = decide_auto_promotion(stage, spec, &policies, facts, &existing);
                tracing::debug!(stage, ?decision, "auto-promotion decision");
                decision == AutoPromotion::Promote
            })
            .map(|(stage, _)| stage.clone())
            .collect()
    });
    for stage in to_promote {
        let event = Event::PromotionCreated(PromotionCreatedV1 {
            project: project.clone(),
            stage: stage.clone(),
            promotion: promotion_name(&stage, &freight_id),
            freight_id: freight_id.to_string(),
            trigger: PromotionTrigger::Auto,
            created_at_ms: now_ms(),
        });
        context
            .bus
            .publish(&event, &delivery.trace)
            .await
            .map_err(|e| HandlerError::Transient(e.to_string()))?;
        tracing::info!(stage, freight = %freight_id, "queued automatic promotion");
    }
    Ok(Outcome::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promotion_names_follow_kargo() {
        let id = FreightId::parse("1edc32a855f4aceead43bf3774b7fdd88bb48a79").unwrap();
        let name = promotion_name("uat", &id);
        let parts: Vec<&str> = name.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], "uat");
        assert_eq!(parts[1].len(), 26);
        assert_eq!(parts[2], "1edc32a");
    }
}
