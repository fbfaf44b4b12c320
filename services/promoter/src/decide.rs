//! Queues automatic promotions when freight appears, is verified somewhere, or has
//! soaked long enough.
//!
//! Handles `FreightCreated`, `FreightVerified` and `FreightApproved` on the durable consumer
//! `promoter-decide`, one delivery at a time across all replicas (`max_ack_pending = 1`)
//! and in log order, deciding as of each event's log position: the freight visible is
//! the freight discovered up to that event, so freight discovered one after another is
//! promoted one after another. Soak times are not events: a timer re-decides every
//! project whose stages require soaking. Spec changes are not events either: a new
//! stage, a policy turned on or an upstream changed re-decides the project at once (and
//! every project is decided once when the promoter starts). The rule itself is
//! [`lading_domain::availability::decide_auto_promotions`]; this module only gathers its
//! inputs and publishes `PromotionCreated`, whose identity
//! (`promotion-auto:<project>:<stage>:<freight>`) makes a repeated decision a no-op.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lading_bus::claims::Claim;
use lading_bus::{ConsumerSpec, Delivery, HandlerError, Outcome};
use lading_domain::FreightId;
use lading_domain::availability::{AutoPromotion, ExistingPromotion, FreightFacts, StageFacts, decide_auto_promotions};
use lading_domain::promotion_queue::{PendingAuto, superseded};
use lading_events::catalog::{PromotionAbortedV2, PromotionCreatedV2, PromotionTrigger};
use lading_events::{Event, EventType, TraceContext, now_ms};
use lading_projection::model::{ProjectModel, PromotionPhase};
use lading_runtime::Shutdown;

use crate::{Context, Error};

pub const CONSUMER: &str = "promoter-decide";
/// Who the promoter's own decisions (automatic promotions, supersedes) are made by.
pub const ACTOR: &str = "lading/promoter";

/// How long to wait for the read model to reach a delivered event.
const CATCH_UP: Duration = Duration::from_secs(10);
/// How often projects with soak times are decided again.
const SOAK_CHECK: Duration = Duration::from_secs(5);

pub async fn run(context: Arc<Context>, shutdown: Shutdown) -> Result<(), Error> {
    let mut spec = ConsumerSpec::new(
        CONSUMER,
        vec![
            EventType::FreightCreatedV1.filter(),
            EventType::FreightVerifiedV1.filter(),
            EventType::FreightApprovedV1.filter(),
        ],
    );
    // Decisions are made one at a time, in log order, whatever the number of replicas:
    // promotions are then queued in discovery order and a stage never moves back.
    spec.max_ack_pending = 1;
    // A lost ack holds the line until redelivery: keep that short.
    spec.ack_wait = Duration::from_secs(5);
    tokio::spawn(soak_timer(context.clone(), shutdown.clone()));
    tokio::spawn(on_spec_changes(context.clone(), shutdown.clone()));
    let bus = context.bus.clone();
    bus.consume(spec, shutdown, |delivery| {
        let context = context.clone();
        async move { handle(&context, delivery).await }
    })
    .await?;
    Ok(())
}

/// A new promotion's name (see [`lading_domain::names::promotion_name`]).
pub fn promotion_name(stage: &str, freight: &FreightId) -> String {
    lading_domain::names::promotion_name(stage, freight, &ulid::Ulid::new().to_string())
}

async fn handle(context: &Context, delivery: Delivery) -> Result<Outcome, HandlerError> {
    let project = match &delivery.event {
        Event::FreightCreated(e) => e.project.clone(),
        Event::FreightVerified(e) => e.project.clone(),
        Event::FreightApproved(e) => e.project.clone(),
        _ => return Ok(Outcome::Done),
    };
    if !context.projection.wait_for(delivery.stream_sequence, CATCH_UP).await {
        return Err(HandlerError::Transient("read model is behind the log".to_owned()));
    }
    let decided = decisions(context, &project, Some(delivery.stream_sequence), Utc::now());
    queue(context, &project, decided, &delivery.trace).await.map_err(HandlerError::Transient)?;
    Ok(Outcome::Done)
}

/// What the decider does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Queue an automatic promotion of the freight into the stage.
    Queue { stage: String, freight: FreightId },
    /// Drop a pending automatic promotion that newer freight supersedes.
    Supersede { stage: String, promotion: String, freight: FreightId, reason: String },
}

/// What to do in `project`, seeing the freight discovered up to log position `as_of`
/// (all of it when `None`).
pub fn decisions(context: &Context, project: &str, as_of: Option<u64>, now: DateTime<Utc>) -> Vec<Action> {
    let (stages, policies) = context.specs.read(|s| (s.stage_requests(project), s.promotion_policies(project)));
    context.projection.read(|model| {
        let Some(project_model) = model.project(project) else {
            return Vec::new();
        };
        let freight: Vec<FreightFacts<'_>> = project_model
            .freight
            .values()
            .filter(|f| as_of.is_none_or(|seq| f.discovered_seq <= seq))
            .map(|f| FreightFacts {
                id: &f.id,
                origin: &f.freight.origin,
                discovered: f.discovered_seq,
                status: &f.freight.status,
            })
            .collect();
        let mut out = Vec::new();
        for (name, labels, spec) in &stages {
            let existing = existing_promotions(project_model, name);
            let stage = StageFacts { name, labels, spec };
            for decision in decide_auto_promotions(&stage, &policies, &freight, &existing, now) {
                tracing::debug!(stage = name, ?decision, "auto-promotion decision");
                if let AutoPromotion::Promote(id) = decision {
                    out.extend(superseded_by(project_model, name, &id));
                    out.push(Action::Queue { stage: name.clone(), freight: id });
                }
            }
        }
        out
    })
}

/// Pending (not yet running) automatic promotions that promoting `newer` supersedes.
fn superseded_by(project: &ProjectModel, stage: &str, newer: &FreightId) -> Vec<Action> {
    let (Some(record), Some(newer_freight)) = (project.stages.get(stage), project.freight.get(newer)) else {
        return Vec::new();
    };
    let pending: Vec<PendingAuto<'_>> = record
        .promotions
        .iter()
        .filter(|p| p.phase == PromotionPhase::Pending && p.trigger == PromotionTrigger::Auto)
        .filter_map(|p| {
            let freight = project.freight.get(&p.freight_id)?;
            Some(PendingAuto {
                name: &p.name,
                freight: &p.freight_id,
                origin: &freight.freight.origin,
                freight_discovered: freight.discovered_seq,
            })
        })
        .collect();
    superseded(&pending, &newer_freight.freight.origin, newer_freight.discovered_seq)
        .into_iter()
        .map(|p| Action::Supersede {
            stage: stage.to_owned(),
            promotion: p.name.to_owned(),
            freight: p.freight.clone(),
            reason: format!("superseded by newer freight {} ({})", newer_freight.freight.alias, newer.short()),
        })
        .collect()
}

fn existing_promotions<'a>(project: &'a ProjectModel, stage: &str) -> Vec<ExistingPromotion<'a>> {
    let Some(record) = project.stages.get(stage) else {
        return Vec::new();
    };
    record
        .promotions
        .iter()
        .filter_map(|p| {
            let freight = project.freight.get(&p.freight_id)?;
            Some(ExistingPromotion {
                freight: &p.freight_id,
                origin: &freight.freight.origin,
                freight_discovered: freight.discovered_seq,
                unsuccessful: p.phase.is_unsuccessful(),
                manual: p.trigger == PromotionTrigger::Manual,
                created: p.created_seq,
            })
        })
        .collect()
}

/// Publishes the decided actions. Promotions queued in different stages are sent one
/// after another without waiting for each acknowledgement (a decision over 200 stages
/// is 200 of them); a stage's second event in one decision, and every supersede, waits
/// until everything sent before it is stored, so a stage's events keep their order.
/// Every event is stored before this returns.
async fn queue(context: &Context, project: &str, actions: Vec<Action>, trace: &TraceContext) -> Result<(), String> {
    let mut pipeline = context.bus.pipeline(trace, &context.shutdown);
    let mut in_flight: std::collections::HashSet<String> = std::collections::HashSet::new();
    for action in actions {
        if let Action::Queue { stage, freight } = &action {
            if !in_flight.insert(stage.clone()) {
                pipeline.stored().await.map_err(|e| e.to_string())?;
                in_flight = std::iter::once(stage.clone()).collect();
            }
            pipeline
                .send(Event::PromotionCreatedV2(PromotionCreatedV2 {
                    project: project.to_owned(),
                    stage: stage.clone(),
                    promotion: promotion_name(stage, freight),
                    freight_id: freight.to_string(),
                    trigger: PromotionTrigger::Auto,
                    actor: ACTOR.to_owned(),
                    created_at_ms: now_ms(),
                }))
                .await;
            tracing::info!(project, ?action, "decided");
            continue;
        }
        pipeline.stored().await.map_err(|e| e.to_string())?;
        in_flight.clear();
        let event = match &action {
            Action::Queue { .. } => continue,
            Action::Supersede { stage, promotion, freight, reason } => {
                // A pending promotion may have started meanwhile and passed its point of
                // no return: then it is not superseded.
                let claim = Claim::Aborted { actor: ACTOR.to_owned(), reason: reason.clone() };
                let held = context.bus.claim_promotion(project, promotion, &claim).await.map_err(|e| e.to_string())?;
                if !lading_domain::promotion_claim::superseded(held.held()) {
                    continue;
                }
                Event::PromotionAbortedV2(PromotionAbortedV2 {
                    project: project.to_owned(),
                    stage: stage.clone(),
                    promotion: promotion.clone(),
                    freight_id: freight.to_string(),
                    reason: reason.clone(),
                    actor: ACTOR.to_owned(),
                    aborted_at_ms: now_ms(),
                })
            }
        };
        context.bus.publish(&event, trace).await.map_err(|e| e.to_string())?;
        tracing::info!(project, ?action, "decided");
    }
    pipeline.stored().await.map_err(|e| e.to_string())
}

/// What auto-promotion decisions in a project depend on in its specs: its stages (with
/// labels) and its promotion policies, rendered to compare.
fn decision_inputs(specs: &lading_bus::specs::Specs, project: &str) -> String {
    let stages = specs.stages(project);
    let policies = specs.promotion_policies(project);
    let stages: Vec<_> =
        stages.iter().map(|(name, labels, spec)| (name, labels, serde_json::to_value(spec).ok())).collect();
    serde_json::json!({"stages": stages, "policies": serde_json::to_value(&policies).ok()}).to_string()
}

/// Decides every project once, then again each project whose stages or policies change.
async fn on_spec_changes(context: Arc<Context>, shutdown: Shutdown) {
    let mut changes = context.specs.changes();
    let mut seen: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    // The specs' revision when every project was last decided without a failure: until it
    // moves, rendering every project's inputs again would find nothing new.
    let mut decided_at: Option<u64> = None;
    loop {
        let revision = *changes.borrow_and_update();
        if decided_at != Some(revision) {
            let current: Vec<(String, String)> = context.specs.read(|s| {
                s.projects().into_iter().map(|p| (decision_inputs(s, &p), p)).map(|(inputs, p)| (p, inputs)).collect()
            });
            let mut failed = false;
            for (project, inputs) in current {
                if seen.get(&project) == Some(&inputs) {
                    continue;
                }
                let decided = decisions(&context, &project, None, Utc::now());
                let trace = lading_bus::tracing_context::new_root();
                match queue(&context, &project, decided, &trace).await {
                    Ok(()) => {
                        seen.insert(project, inputs);
                    }
                    Err(error) => {
                        failed = true;
                        tracing::warn!(project, error, "deciding after a spec change failed; will retry");
                    }
                }
            }
            decided_at = (!failed).then_some(revision);
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            changed = changes.changed() => if changed.is_err() { return },
            // A failed decision is tried again.
            () = tokio::time::sleep(SOAK_CHECK) => {}
        }
        // Manifests applied together arrive one spec at a time: decide once they stop
        // coming (or a second passed), not once per spec, which would render and decide
        // every stage of the project once per stage.
        let settling = tokio::time::Instant::now() + SPECS_SETTLE_LIMIT;
        while tokio::time::timeout_at(settling.min(tokio::time::Instant::now() + SPECS_SETTLE), changes.changed())
            .await
            .is_ok_and(|changed| changed.is_ok())
        {}
    }
}

/// How long the specs must stay unchanged before a change is decided on.
const SPECS_SETTLE: Duration = Duration::from_millis(20);
/// The longest a stream of spec changes delays deciding.
const SPECS_SETTLE_LIMIT: Duration = Duration::from_secs(1);

/// Re-decides projects whose stages require soak time, as time passes.
async fn soak_timer(context: Arc<Context>, shutdown: Shutdown) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(SOAK_CHECK) => {}
        }
        let projects: Vec<String> = context.specs.read(|s| {
            s.projects()
                .into_iter()
                .filter(|p| {
                    s.stages(p).iter().any(|(_, _, spec)| {
                        spec.requested_freight.iter().any(|r| r.sources.required_soak_time.is_some())
                    })
                })
                .collect()
        });
        for project in projects {
            let decided = decisions(&context, &project, None, Utc::now());
            if decided.is_empty() {
                continue;
            }
            let trace = lading_bus::tracing_context::new_root();
            if let Err(error) = queue(&context, &project, decided, &trace).await {
                tracing::warn!(project, error, "queueing soaked freight failed; will retry");
            }
        }
    }
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
