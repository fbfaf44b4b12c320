//! The read model: what the log says about freight, stages and warehouses, rebuilt by
//! applying events in log order. The api serves it; the promoter decides from it. Every
//! rule it applies (queue order, soak accounting) is a function in `lading_domain`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use lading_domain::freight::{ApprovedStage, CurrentStage, VerifiedStage};
use lading_domain::promotion_queue::{Queued, Turn, head_of_queue, turn_of};
use lading_domain::soak::longest_soak_after_leaving;
use lading_domain::stage_health::{Health, HealthCheck, StageHealth};
use lading_domain::verification::Phase;
use lading_domain::{Freight, FreightId, FreightOrigin};
use lading_events::catalog::{
    Event, HealthStatusV1, PromotionPushedV1, PromotionTrigger, PromotionWaitingV1, StageHealthChangedV1, StepStatusV2,
    VerificationPhaseV1, WarehouseArtifactsDiscoveredV1,
};
use lading_events::time_from_ms;
use serde::{Deserialize, Serialize};

pub use lading_domain::promotion_queue::PromotionPhase;

/// How one step of a promotion went (Kargo's `stepExecutionMetadata`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    pub index: u32,
    pub alias: String,
    pub uses: String,
    pub status: StepStatusV2,
    pub message: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

/// One promotion of a stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionRecord {
    pub name: String,
    pub freight_id: FreightId,
    /// Log position of its `PromotionCreated` event: the stage's queue order.
    pub created_seq: u64,
    pub created_at: DateTime<Utc>,
    pub trigger: PromotionTrigger,
    pub phase: PromotionPhase,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub commit: String,
    pub message: String,
    /// Steps that finished, by index (a resumed promotion replaces earlier entries).
    pub steps: Vec<StepRecord>,
    /// Who asked for it (a token's name; `lading/promoter` for automatic promotions;
    /// empty for promotions recorded before actors were).
    #[serde(default)]
    pub created_by: String,
    /// Who aborted it, when someone did.
    #[serde(default)]
    pub aborted_by: String,
    /// What its `git-push` steps pushed, in step order.
    #[serde(default)]
    pub pushes: Vec<PromotionPushedV1>,
    /// The wait its run stopped at, while that step has not reported since: where the
    /// promotion resumes and with what.
    #[serde(default)]
    pub waiting: Option<PromotionWaitingV1>,
}

/// One measurement of a verification's metric.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeasurementRecord {
    pub metric: String,
    pub index: u32,
    pub phase: Phase,
    pub value: String,
    pub message: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

/// One verification of freight in a stage (Kargo's `verificationHistory` entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerificationRecord {
    pub id: String,
    pub freight_id: FreightId,
    pub promotion: String,
    pub actor: String,
    pub templates: Vec<String>,
    pub phase: Phase,
    pub message: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// In the order they were taken (a re-measured index replaces the earlier record).
    pub measurements: Vec<MeasurementRecord>,
}

/// A stage's latest health after one of its promotions (Kargo's `status.health`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthRecord {
    /// The promotion whose health checks found it.
    pub promotion: String,
    /// The health checks that promotion left.
    pub checks: Vec<HealthCheck>,
    pub health: StageHealth,
    /// How many changes were recorded after the promotion, this one included.
    pub changes: u32,
    pub checked_at: DateTime<Utc>,
}

/// A stage's promotions, in creation order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageRecord {
    pub promotions: Vec<PromotionRecord>,
    /// Verifications, oldest first.
    #[serde(default)]
    pub verifications: Vec<VerificationRecord>,
    /// Per freight origin (`Warehouse/<name>`), the freight of the latest successful
    /// promotion and since when: a stage holds one freight from each origin it requests.
    pub current: BTreeMap<String, (FreightId, DateTime<Utc>)>,
    /// The latest health found after a promotion that left health checks; kept only
    /// while no later promotion succeeded.
    #[serde(default)]
    pub health: Option<HealthRecord>,
    /// What `set-metadata` steps set on the stage (Kargo's `status.metadata`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, serde_json::Value>,
}

impl StageRecord {
    /// The stage's health since its last successful promotion: `None` when that
    /// promotion left no health check (see [`lading_domain::stage_health`]).
    pub fn current_health(&self) -> Option<&HealthRecord> {
        let health = self.health.as_ref()?;
        let last = self.promotions.iter().rev().find(|p| p.phase == PromotionPhase::Succeeded)?;
        (last.name == health.promotion).then_some(health)
    }

    /// Why the stage's health is not assessed now (a promotion runs, or the last one
    /// that ran did not succeed); `None`: it is.
    pub fn health_not_assessed(&self) -> Option<lading_domain::stage_health::NotAssessed> {
        lading_domain::stage_health::not_assessed(self.promotions.iter().map(|p| (p.phase, p.started_at.is_some())))
    }

    /// Records a health change after `promotion`, unless a later promotion succeeded or
    /// that one ended without succeeding.
    fn record_health(&mut self, e: &StageHealthChangedV1) {
        let Some(record) = self.promotion(&e.promotion) else { return };
        if matches!(record.phase, PromotionPhase::Failed | PromotionPhase::Errored | PromotionPhase::Aborted) {
            return;
        }
        let created = record.created_seq;
        if self.promotions.iter().any(|p| p.phase == PromotionPhase::Succeeded && p.created_seq > created) {
            return;
        }
        let (Ok(checks), Ok(output)) =
            (serde_json::from_str::<Vec<HealthCheck>>(&e.config), serde_json::from_str::<serde_json::Value>(&e.output))
        else {
            return;
        };
        let changes = match &self.health {
            Some(h) if h.promotion == e.promotion => h.changes + 1,
            _ => 1,
        };
        self.health = Some(HealthRecord {
            promotion: e.promotion.clone(),
            checks,
            health: StageHealth { status: health_of(e.status), issues: e.issues.clone(), output },
            changes,
            checked_at: time_from_ms(e.checked_at_ms),
        });
    }

    /// The oldest promotion not yet finished: the one allowed to run.
    pub fn head_of_queue(&self) -> Option<&PromotionRecord> {
        head_of_queue(&self.promotions, |p| Queued { name: &p.name, phase: p.phase })
    }

    /// Whose turn it is, for the promotion `name`.
    pub fn turn_of(&self, name: &str) -> Turn {
        let queue: Vec<Queued<'_>> = self.promotions.iter().map(|p| Queued { name: &p.name, phase: p.phase }).collect();
        turn_of(&queue, name)
    }

    /// How many unfinished promotions are ahead of the promotion `name` (1: it runs next).
    pub fn unfinished_ahead_of(&self, name: &str) -> Option<usize> {
        let queue: Vec<Queued<'_>> = self.promotions.iter().map(|p| Queued { name: &p.name, phase: p.phase }).collect();
        lading_domain::promotion_queue::unfinished_ahead_of(&queue, name)
    }

    /// Records how a step of one of its promotions ended (a retried step replaces its
    /// earlier record).
    fn record_step(&mut self, promotion: &str, step: StepRecord) {
        if let Some(record) = self.promotions.iter_mut().find(|p| p.name == promotion) {
            record.steps.retain(|s| s.index != step.index);
            record.steps.push(step);
            record.steps.sort_by_key(|s| s.index);
        }
    }

    pub fn promotion(&self, name: &str) -> Option<&PromotionRecord> {
        self.promotions.iter().find(|p| p.name == name)
    }

    pub fn last_promotion(&self) -> Option<&PromotionRecord> {
        self.promotions.last()
    }

    /// The latest verification of `freight` in this stage.
    pub fn last_verification_of(&self, freight: &FreightId) -> Option<&VerificationRecord> {
        self.verifications.iter().rev().find(|v| &v.freight_id == freight)
    }

    fn verification_mut(&mut self, id: &str) -> Option<&mut VerificationRecord> {
        self.verifications.iter_mut().rev().find(|v| v.id == id)
    }
}

/// How many verifications a stage keeps in its read model.
pub const VERIFICATIONS_KEPT: usize = 50;

fn phase_of(phase: VerificationPhaseV1) -> Phase {
    match phase {
        VerificationPhaseV1::Pending => Phase::Pending,
        VerificationPhaseV1::Running => Phase::Running,
        VerificationPhaseV1::Successful => Phase::Successful,
        VerificationPhaseV1::Failed => Phase::Failed,
        VerificationPhaseV1::Error => Phase::Error,
        VerificationPhaseV1::Inconclusive => Phase::Inconclusive,
        VerificationPhaseV1::Aborted => Phase::Aborted,
    }
}

fn health_of(status: HealthStatusV1) -> Health {
    match status {
        HealthStatusV1::Healthy => Health::Healthy,
        HealthStatusV1::Progressing => Health::Progressing,
        HealthStatusV1::Unknown => Health::Unknown,
        HealthStatusV1::Degraded => Health::Degraded,
    }
}

/// A freight and when it was discovered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreightRecord {
    pub id: FreightId,
    pub freight: Freight,
    /// Log position of its `FreightCreated` event: discovery order.
    pub discovered_seq: u64,
    pub created_at: DateTime<Utc>,
    /// What `set-metadata` steps set on the freight (Kargo's `status.metadata`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, serde_json::Value>,
}

/// What is known of a warehouse from the log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WarehouseRecord {
    pub last_freight: Option<FreightId>,
    /// The last discovery's failure; cleared by the next successful discovery.
    pub last_discovery_error: Option<(String, DateTime<Utc>)>,
    /// What the last successful discovery found.
    pub discovered: Option<WarehouseArtifactsDiscoveredV1>,
    /// The last refresh request the warehouse finished (Kargo's `lastHandledRefresh`).
    #[serde(default)]
    pub last_handled_refresh: Option<String>,
}

/// One project's read model.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectModel {
    pub freight: BTreeMap<FreightId, FreightRecord>,
    pub stages: BTreeMap<String, StageRecord>,
    pub warehouses: BTreeMap<String, WarehouseRecord>,
}

impl ProjectModel {
    /// Finds a freight by ID or alias.
    pub fn find_freight(&self, name_or_alias: &str) -> Option<&FreightRecord> {
        match FreightId::parse(name_or_alias) {
            Ok(id) => self.freight.get(&id),
            Err(_) => self.freight.values().find(|f| f.freight.alias == name_or_alias),
        }
    }

    /// What `freightMetadata()` and `stageMetadata()` read in this project.
    pub fn metadata(&self) -> lading_domain::metadata::ProjectMetadata {
        lading_domain::metadata::ProjectMetadata {
            freight: self
                .freight
                .iter()
                .filter(|(_, f)| !f.metadata.is_empty())
                .map(|(id, f)| (id.to_string(), f.metadata.clone()))
                .collect(),
            stages: self
                .stages
                .iter()
                .filter(|(_, s)| !s.metadata.is_empty())
                .map(|(name, s)| (name.clone(), s.metadata.clone()))
                .collect(),
        }
    }
}

/// The whole read model, and the last log position applied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadModel {
    pub projects: BTreeMap<String, ProjectModel>,
    pub last_seq: u64,
}

/// The key of an origin in a stage's current freight: `Warehouse/<name>`.
pub fn origin_key(origin: &FreightOrigin) -> String {
    format!("{}/{}", origin.kind, origin.name)
}

impl ReadModel {
    pub fn project(&self, name: &str) -> Option<&ProjectModel> {
        self.projects.get(name)
    }

    /// Applies the event stored at log position `seq`. Events about unknown freight (a
    /// malformed ID) are ignored rather than trusted.
    pub fn apply(&mut self, seq: u64, event: &Event) {
        self.last_seq = self.last_seq.max(seq);
        self.apply_event(seq, event);
    }

    /// Applies a discovery (the latest of a warehouse, from the discovery stream, whose
    /// positions are not the log's).
    pub fn apply_discovery(&mut self, event: &Event) {
        self.apply_event(0, event);
    }

    fn apply_event(&mut self, seq: u64, event: &Event) {
        // Earlier versions of an event apply as the current one does.
        let upgraded = upgrade::to_current(event);
        let event = upgraded.as_ref().unwrap_or(event);
        let project = self.projects.entry(event.project().to_owned()).or_default();
        match event {
            // Upgraded above.
            Event::PromotionCreated(_) | Event::PromotionAborted(_) | Event::FreightAliasChanged(_) => {}
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
            Event::WarehouseRefreshRequested(_) | Event::StageRefreshRequested(_) => {}
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
            Event::WarehouseRefreshHandled(e) => {
                project.warehouses.entry(e.warehouse.clone()).or_default().last_handled_refresh =
                    Some(e.request_id.clone());
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

pub mod upgrade;

#[cfg(test)]
mod tests;
