//! A stage's records in the read model: its promotions and their steps, verifications
//! and their measurements, and its health.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use lading_domain::FreightId;
use lading_domain::promotion_queue::{Queued, Turn, head_of_queue, turn_of};
use lading_domain::stage_health::{Health, HealthCheck, StageHealth};
use lading_domain::verification::Phase;
use lading_events::catalog::{
    HealthStatusV1, PromotionPushedV1, PromotionTrigger, PromotionWaitingV1, StageHealthChangedV1, StepStatusV2,
    VerificationPhaseV1,
};
use lading_events::time_from_ms;
use serde::{Deserialize, Serialize};

use super::PromotionPhase;

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
    /// The last refresh request whose health assessment finished (Kargo's
    /// `lastHandledRefresh`).
    #[serde(default)]
    pub last_handled_refresh: Option<String>,
    /// The log position of that request's `refresh-handled` (0: none): a later request
    /// names it, so the same token asked for again is a new request.
    #[serde(default)]
    pub last_handled_refresh_seq: u64,
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
    pub(super) fn record_health(&mut self, e: &StageHealthChangedV1) {
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
    pub(super) fn record_step(&mut self, promotion: &str, step: StepRecord) {
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

    pub(super) fn verification_mut(&mut self, id: &str) -> Option<&mut VerificationRecord> {
        self.verifications.iter_mut().rev().find(|v| v.id == id)
    }
}

/// How many verifications a stage keeps in its read model.
pub const VERIFICATIONS_KEPT: usize = 50;

pub(super) fn phase_of(phase: VerificationPhaseV1) -> Phase {
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

pub(super) fn health_of(status: HealthStatusV1) -> Health {
    match status {
        HealthStatusV1::Healthy => Health::Healthy,
        HealthStatusV1::Progressing => Health::Progressing,
        HealthStatusV1::Unknown => Health::Unknown,
        HealthStatusV1::Degraded => Health::Degraded,
    }
}
