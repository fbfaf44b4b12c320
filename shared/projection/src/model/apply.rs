//! Applying one event to the read model: the state change each event type makes.

use std::collections::BTreeMap;

use lading_domain::FreightId;
use lading_domain::freight::{ApprovedStage, CurrentStage, VerifiedStage};
use lading_domain::soak::longest_soak_after_leaving;
use lading_domain::verification::Phase;
use lading_events::catalog::Event;
use lading_events::time_from_ms;

use super::stage::phase_of;
use super::{
    FreightRecord, MeasurementRecord, PromotionPhase, PromotionRecord, ReadModel, StepRecord, VERIFICATIONS_KEPT,
    VerificationRecord, origin_key, upgrade,
};

impl ReadModel {
    pub(super) fn apply_event(&mut self, seq: u64, event: &Event) {
        // Earlier versions of an event apply as the current one does.
        let upgraded = upgrade::to_current(event);
        let event = upgraded.as_ref().unwrap_or(event);
        let project = self.projects.entry(event.project().to_owned()).or_default();
        match event {
            // Upgraded above.
            Event::PromotionCreated(_)
            | Event::PromotionAborted(_)
            | Event::FreightAliasChanged(_)
            | Event::WarehouseRefreshRequested(_)
            | Event::WarehouseRefreshHandled(_)
            | Event::StageRefreshRequested(_)
            | Event::StageRefreshHandled(_) => {}
            Event::FreightCreated(e) => {
                let Ok(id) = FreightId::parse(&e.freight_id) else {
                    return;
                };
                project.freight.entry(id.clone()).or_insert_with(|| FreightRecord {
                    id: id.clone(),
                    freight: e.freight(),
                    discovered_seq: seq,
                    created_at: time_from_ms(e.created_at_ms),
                    metadata: BTreeMap::new(),
                });
                project.warehouses.entry(e.origin_name.clone()).or_default().last_freight = Some(id);
            }
            Event::PromotionCreatedV2(e) => {
                let Ok(id) = FreightId::parse(&e.freight_id) else {
                    return;
                };
                let stage = project.stages.entry(e.stage.clone()).or_default();
                if stage.promotion(&e.promotion).is_none() {
                    stage.promotions.push(PromotionRecord {
                        name: e.promotion.clone(),
                        freight_id: id,
                        created_seq: seq,
                        created_at: time_from_ms(e.created_at_ms),
                        trigger: e.trigger,
                        phase: PromotionPhase::Pending,
                        started_at: None,
                        finished_at: None,
                        commit: String::new(),
                        message: String::new(),
                        steps: Vec::new(),
                        created_by: e.actor.clone(),
                        aborted_by: String::new(),
                        pushes: Vec::new(),
                        waiting: None,
                    });
                }
            }
            Event::PromotionSucceeded(e) => {
                let stage = project.stages.entry(e.stage.clone()).or_default();
                let Some(record) = stage.promotions.iter_mut().find(|p| p.name == e.promotion) else {
                    return;
                };
                if record.phase.is_terminal() {
                    return;
                }
                let since = time_from_ms(e.finished_at_ms);
                record.phase = PromotionPhase::Succeeded;
                record.finished_at = Some(since);
                record.commit = e.commit.clone();
                let new_current = record.freight_id.clone();
                // Health found after an earlier promotion no longer says anything.
                if stage.health.as_ref().is_some_and(|h| h.promotion != e.promotion) {
                    stage.health = None;
                }
                let Some(origin) = project.freight.get(&new_current).map(|f| origin_key(&f.freight.origin)) else {
                    return;
                };
                if let Some((previous, entered)) = stage.current.remove(&origin)
                    && let Some(f) = project.freight.get_mut(&previous)
                {
                    f.freight.status.currently_in.remove(&e.stage);
                    // It leaves the stage: remember its longest soak there.
                    if let Some(verified) = f.freight.status.verified_in.get_mut(&e.stage) {
                        verified.longest_soak =
                            Some(longest_soak_after_leaving(verified.longest_soak.as_deref(), entered, since));
                    }
                }
                if let Some(f) = project.freight.get_mut(&new_current) {
                    f.freight.status.currently_in.insert(e.stage.clone(), CurrentStage { since });
                }
                stage.current.insert(origin, (new_current, since));
            }
            Event::PromotionFailed(e) => {
                let stage = project.stages.entry(e.stage.clone()).or_default();
                if let Some(record) = stage.promotions.iter_mut().find(|p| p.name == e.promotion)
                    && !record.phase.is_terminal()
                {
                    record.phase = PromotionPhase::Failed;
                    record.finished_at = Some(time_from_ms(e.finished_at_ms));
                    record.message = e.reason.clone();
                }
            }
            Event::FreightVerified(e) => {
                let Ok(id) = FreightId::parse(&e.freight_id) else {
                    return;
                };
                if let Some(f) = project.freight.get_mut(&id) {
                    f.freight
                        .status
                        .verified_in
                        .entry(e.stage.clone())
                        .or_insert(VerifiedStage { longest_soak: None, verified_at: time_from_ms(e.verified_at_ms) });
                }
            }
            Event::WarehouseRefreshRequestedV2(_) | Event::StageRefreshRequestedV2(_) => {}
            Event::PromotionStarted(e) => {
                let stage = project.stages.entry(e.stage.clone()).or_default();
                if let Some(record) = stage.promotions.iter_mut().find(|p| p.name == e.promotion)
                    && !record.phase.is_terminal()
                {
                    record.phase = PromotionPhase::Running;
                    record.started_at.get_or_insert(time_from_ms(e.started_at_ms));
                }
            }
            Event::PromotionStepFinished(e) => {
                let step = StepRecord {
                    index: e.index,
                    alias: e.alias.clone(),
                    uses: e.uses.clone(),
                    status: e.status.into(),
                    message: e.message.clone(),
                    started_at: time_from_ms(e.started_at_ms),
                    finished_at: time_from_ms(e.finished_at_ms),
                };
                project.stages.entry(e.stage.clone()).or_default().record_step(&e.promotion, step);
            }
            Event::PromotionWaiting(e) => {
                let stage = project.stages.entry(e.stage.clone()).or_default();
                if let Some(record) = stage.promotions.iter_mut().find(|p| p.name == e.promotion)
                    && !record.phase.is_terminal()
                {
                    record.phase = PromotionPhase::Running;
                    record.started_at.get_or_insert(time_from_ms(e.waiting_since_ms));
                    record.waiting = Some(e.clone());
                }
            }
            Event::PromotionStepFinishedV2(e) => {
                let stage = project.stages.entry(e.stage.clone()).or_default();
                // The step that waited reported: the wait is over.
                if let Some(record) = stage.promotions.iter_mut().find(|p| p.name == e.promotion)
                    && record.waiting.as_ref().is_some_and(|w| w.index <= e.index)
                {
                    record.waiting = None;
                }
                let step = StepRecord {
                    index: e.index,
                    alias: e.alias.clone(),
                    uses: e.uses.clone(),
                    status: e.status,
                    message: e.message.clone(),
                    started_at: time_from_ms(e.started_at_ms),
                    finished_at: time_from_ms(e.finished_at_ms),
                };
                project.stages.entry(e.stage.clone()).or_default().record_step(&e.promotion, step);
            }
            Event::PromotionPushed(e) => {
                let stage = project.stages.entry(e.stage.clone()).or_default();
                if let Some(record) = stage.promotions.iter_mut().find(|p| p.name == e.promotion) {
                    // A resumed promotion may push from the same step again: keep the latest.
                    record.pushes.retain(|p| p.index != e.index);
                    record.pushes.push(e.clone());
                    record.pushes.sort_by_key(|p| p.index);
                }
            }
            Event::WarehouseArtifactsDiscovered(e) => {
                let warehouse = project.warehouses.entry(e.warehouse.clone()).or_default();
                warehouse.discovered = Some(e.clone());
                warehouse.last_discovery_error = None;
            }
            Event::PromotionErrored(e) => {
                let stage = project.stages.entry(e.stage.clone()).or_default();
                if let Some(record) = stage.promotions.iter_mut().find(|p| p.name == e.promotion)
                    && !record.phase.is_terminal()
                {
                    record.phase = PromotionPhase::Errored;
                    record.finished_at = Some(time_from_ms(e.errored_at_ms));
                    record.message = e.reason.clone();
                }
            }
            Event::FreightMetadataSet(e) => {
                if let Ok(id) = FreightId::parse(&e.freight_id)
                    && let Some(f) = project.freight.get_mut(&id)
                {
                    lading_domain::metadata::merge(&mut f.metadata, &e.values);
                }
            }
            Event::StageMetadataSet(e) => {
                let stage = project.stages.entry(e.stage.clone()).or_default();
                lading_domain::metadata::merge(&mut stage.metadata, &e.values);
            }
            Event::FreightAliasChangedV2(e) => {
                if let Ok(id) = FreightId::parse(&e.freight_id)
                    && let Some(f) = project.freight.get_mut(&id)
                {
                    f.freight.alias = e.alias.clone();
                }
            }
            Event::PromotionAbortedV2(e) => {
                let stage = project.stages.entry(e.stage.clone()).or_default();
                if let Some(record) = stage.promotions.iter_mut().find(|p| p.name == e.promotion)
                    && !record.phase.is_terminal()
                {
                    record.phase = PromotionPhase::Aborted;
                    record.finished_at = Some(time_from_ms(e.aborted_at_ms));
                    record.message = e.reason.clone();
                    record.aborted_by = e.actor.clone();
                }
            }
            Event::FreightApproved(e) => {
                if let Ok(id) = FreightId::parse(&e.freight_id)
                    && let Some(f) = project.freight.get_mut(&id)
                {
                    let approved_at = time_from_ms(e.approved_at_ms);
                    f.freight.status.approved_for.entry(e.stage.clone()).or_insert(ApprovedStage { approved_at });
                }
            }
            Event::FreightDeleted(e) => {
                if let Ok(id) = FreightId::parse(&e.freight_id) {
                    project.freight.remove(&id);
                }
            }
            Event::StageRefreshHandledV2(e) => {
                let stage = project.stages.entry(e.stage.clone()).or_default();
                stage.last_handled_refresh = Some(e.request_id.clone());
                stage.last_handled_refresh_seq = seq;
            }
            Event::WarehouseRefreshHandledV2(e) => {
                let warehouse = project.warehouses.entry(e.warehouse.clone()).or_default();
                warehouse.last_handled_refresh = Some(e.request_id.clone());
                warehouse.last_handled_refresh_seq = seq;
            }
            Event::VerificationRequested(_) => {}
            Event::VerificationStarted(e) => {
                let Ok(id) = FreightId::parse(&e.freight_id) else {
                    return;
                };
                let stage = project.stages.entry(e.stage.clone()).or_default();
                if stage.verification_mut(&e.verification_id).is_none() {
                    stage.verifications.push(VerificationRecord {
                        id: e.verification_id.clone(),
                        freight_id: id,
                        promotion: e.promotion.clone(),
                        actor: e.actor.clone(),
                        templates: e.templates.clone(),
                        phase: Phase::Running,
                        message: String::new(),
                        started_at: time_from_ms(e.started_at_ms),
                        finished_at: None,
                        measurements: Vec::new(),
                    });
                    let excess = stage.verifications.len().saturating_sub(VERIFICATIONS_KEPT);
                    stage.verifications.drain(..excess);
                }
            }
            Event::VerificationMeasured(e) => {
                let stage = project.stages.entry(e.stage.clone()).or_default();
                if let Some(record) = stage.verification_mut(&e.verification_id) {
                    record.measurements.retain(|m| !(m.metric == e.metric && m.index == e.index));
                    record.measurements.push(MeasurementRecord {
                        metric: e.metric.clone(),
                        index: e.index,
                        phase: phase_of(e.phase),
                        value: e.value.clone(),
                        message: e.message.clone(),
                        started_at: time_from_ms(e.started_at_ms),
                        finished_at: time_from_ms(e.finished_at_ms),
                    });
                }
            }
            Event::VerificationFinished(e) => {
                let stage = project.stages.entry(e.stage.clone()).or_default();
                if let Some(record) = stage.verification_mut(&e.verification_id)
                    && !record.phase.is_completed()
                {
                    record.phase = phase_of(e.phase);
                    record.message = e.message.clone();
                    record.finished_at = Some(time_from_ms(e.finished_at_ms));
                }
            }
            Event::StageHealthChanged(e) => {
                project.stages.entry(e.stage.clone()).or_default().record_health(e);
            }
            Event::WarehouseDiscoveryFailed(e) => {
                project.warehouses.entry(e.warehouse.clone()).or_default().last_discovery_error =
                    Some((e.reason.clone(), time_from_ms(e.failed_at_ms)));
            }
        }
    }
}
