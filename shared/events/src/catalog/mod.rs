//! The event catalog. A published v1 payload never changes shape (golden-byte tests guard
//! it); an incompatible change is a new version with a new CloudEvents type.
//!
//! Guarantees every event gives:
//! - its `ce-id` (also its `Nats-Msg-Id`) is derived from its identity, so a retried or
//!   raced publish is stored once;
//! - its subject names the project, the entity kind and name, and the event type, so a
//!   subscriber filters without decoding.
//!
//! Assumptions consumers may make: events of one stage (promotion events) are stored in
//! the order they happened; a freight's `FreightCreated` precedes every event about it.
//!
//! Payloads live by entity in `freight`, `promotion`, `stage`, `verification` and
//! `warehouse`; this module
//! ties them to their types, subjects and identities.

mod freight;
mod promotion;
mod stage;
mod verification;
mod warehouse;

pub use freight::*;
pub use promotion::*;
pub use stage::*;
pub use verification::*;
pub use warehouse::*;

use crate::subject;

/// Every event type, with its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    FreightCreatedV1,
    PromotionCreatedV1,
    PromotionSucceededV1,
    PromotionFailedV1,
    FreightVerifiedV1,
    WarehouseRefreshRequestedV1,
    WarehouseDiscoveryFailedV1,
    PromotionStartedV1,
    PromotionStepFinishedV1,
    PromotionAbortedV1,
    FreightAliasChangedV1,
    PromotionErroredV1,
    PromotionStepFinishedV2,
    WarehouseArtifactsDiscoveredV1,
    FreightApprovedV1,
    FreightDeletedV1,
    FreightAliasChangedV2,
    PromotionCreatedV2,
    PromotionAbortedV2,
    WarehouseRefreshHandledV1,
    VerificationRequestedV1,
    VerificationStartedV1,
    VerificationMeasuredV1,
    VerificationFinishedV1,
    PromotionPushedV1,
    StageHealthChangedV1,
    FreightMetadataSetV1,
    StageMetadataSetV1,
    PromotionWaitingV1,
    StageRefreshRequestedV1,
    StageRefreshHandledV1,
}

impl EventType {
    pub const ALL: [EventType; 31] = [
        EventType::FreightCreatedV1,
        EventType::PromotionCreatedV1,
        EventType::PromotionSucceededV1,
        EventType::PromotionFailedV1,
        EventType::FreightVerifiedV1,
        EventType::WarehouseRefreshRequestedV1,
        EventType::WarehouseDiscoveryFailedV1,
        EventType::PromotionStartedV1,
        EventType::PromotionStepFinishedV1,
        EventType::PromotionAbortedV1,
        EventType::FreightAliasChangedV1,
        EventType::PromotionErroredV1,
        EventType::PromotionStepFinishedV2,
        EventType::WarehouseArtifactsDiscoveredV1,
        EventType::FreightApprovedV1,
        EventType::FreightDeletedV1,
        EventType::FreightAliasChangedV2,
        EventType::PromotionCreatedV2,
        EventType::PromotionAbortedV2,
        EventType::WarehouseRefreshHandledV1,
        EventType::VerificationRequestedV1,
        EventType::VerificationStartedV1,
        EventType::VerificationMeasuredV1,
        EventType::VerificationFinishedV1,
        EventType::PromotionPushedV1,
        EventType::StageHealthChangedV1,
        EventType::FreightMetadataSetV1,
        EventType::StageMetadataSetV1,
        EventType::PromotionWaitingV1,
        EventType::StageRefreshRequestedV1,
        EventType::StageRefreshHandledV1,
    ];

    /// The CloudEvents `type` attribute.
    pub fn ce_type(self) -> &'static str {
        match self {
            EventType::FreightCreatedV1 => "dev.lading.freight.created.v1",
            EventType::PromotionCreatedV1 => "dev.lading.promotion.created.v1",
            EventType::PromotionSucceededV1 => "dev.lading.promotion.succeeded.v1",
            EventType::PromotionFailedV1 => "dev.lading.promotion.failed.v1",
            EventType::FreightVerifiedV1 => "dev.lading.freight.verified.v1",
            EventType::WarehouseRefreshRequestedV1 => "dev.lading.warehouse.refresh-requested.v1",
            EventType::WarehouseDiscoveryFailedV1 => "dev.lading.warehouse.discovery-failed.v1",
            EventType::PromotionStartedV1 => "dev.lading.promotion.started.v1",
            EventType::PromotionStepFinishedV1 => "dev.lading.promotion.step-finished.v1",
            EventType::PromotionAbortedV1 => "dev.lading.promotion.aborted.v1",
            EventType::FreightAliasChangedV1 => "dev.lading.freight.alias-changed.v1",
            EventType::PromotionErroredV1 => "dev.lading.promotion.errored.v1",
            EventType::PromotionStepFinishedV2 => "dev.lading.promotion.step-finished.v2",
            EventType::WarehouseArtifactsDiscoveredV1 => "dev.lading.warehouse.artifacts-discovered.v1",
            EventType::FreightApprovedV1 => "dev.lading.freight.approved.v1",
            EventType::FreightDeletedV1 => "dev.lading.freight.deleted.v1",
            EventType::FreightAliasChangedV2 => "dev.lading.freight.alias-changed.v2",
            EventType::PromotionCreatedV2 => "dev.lading.promotion.created.v2",
            EventType::PromotionAbortedV2 => "dev.lading.promotion.aborted.v2",
            EventType::WarehouseRefreshHandledV1 => "dev.lading.warehouse.refresh-handled.v1",
            EventType::VerificationRequestedV1 => "dev.lading.verification.requested.v1",
            EventType::VerificationStartedV1 => "dev.lading.verification.started.v1",
            EventType::VerificationMeasuredV1 => "dev.lading.verification.measured.v1",
            EventType::VerificationFinishedV1 => "dev.lading.verification.finished.v1",
            EventType::PromotionPushedV1 => "dev.lading.promotion.pushed.v1",
            EventType::StageHealthChangedV1 => "dev.lading.stage.health-changed.v1",
            EventType::FreightMetadataSetV1 => "dev.lading.freight.metadata-set.v1",
            EventType::StageMetadataSetV1 => "dev.lading.stage.metadata-set.v1",
            EventType::PromotionWaitingV1 => "dev.lading.promotion.waiting.v1",
            EventType::StageRefreshRequestedV1 => "dev.lading.stage.refresh-requested.v1",
            EventType::StageRefreshHandledV1 => "dev.lading.stage.refresh-handled.v1",
        }
    }

    pub fn from_ce_type(ce_type: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.ce_type() == ce_type)
    }

    /// The entity kind token in the subject.
    pub fn entity_kind(self) -> &'static str {
        match self {
            EventType::FreightCreatedV1
            | EventType::FreightVerifiedV1
            | EventType::FreightAliasChangedV1
            | EventType::FreightApprovedV1
            | EventType::FreightDeletedV1
            | EventType::FreightAliasChangedV2
            | EventType::FreightMetadataSetV1 => "freight",
            EventType::PromotionCreatedV1
            | EventType::PromotionSucceededV1
            | EventType::PromotionFailedV1
            | EventType::PromotionStartedV1
            | EventType::PromotionStepFinishedV1
            | EventType::PromotionAbortedV1
            | EventType::PromotionErroredV1
            | EventType::PromotionStepFinishedV2
            | EventType::PromotionCreatedV2
            | EventType::PromotionAbortedV2
            | EventType::VerificationRequestedV1
            | EventType::VerificationStartedV1
            | EventType::VerificationMeasuredV1
            | EventType::VerificationFinishedV1
            | EventType::PromotionPushedV1
            | EventType::StageHealthChangedV1
            | EventType::StageMetadataSetV1
            | EventType::PromotionWaitingV1
            | EventType::StageRefreshRequestedV1
            | EventType::StageRefreshHandledV1 => "stage",
            EventType::WarehouseRefreshRequestedV1
            | EventType::WarehouseDiscoveryFailedV1
            | EventType::WarehouseArtifactsDiscoveredV1
            | EventType::WarehouseRefreshHandledV1 => "warehouse",
        }
    }

    /// The event type token in the subject.
    pub fn subject_token(self) -> &'static str {
        match self {
            EventType::FreightCreatedV1 => "created",
            EventType::FreightVerifiedV1 => "verified",
            EventType::PromotionCreatedV1 => "promotion-created",
            EventType::PromotionSucceededV1 => "promotion-succeeded",
            EventType::PromotionFailedV1 => "promotion-failed",
            EventType::WarehouseRefreshRequestedV1 => "refresh-requested",
            EventType::WarehouseDiscoveryFailedV1 => "discovery-failed",
            EventType::PromotionStartedV1 => "promotion-started",
            EventType::PromotionStepFinishedV1 => "promotion-step-finished",
            EventType::PromotionAbortedV1 => "promotion-aborted",
            EventType::FreightAliasChangedV1 => "alias-changed",
            EventType::PromotionErroredV1 => "promotion-errored",
            EventType::PromotionStepFinishedV2 => "promotion-step-finished",
            EventType::WarehouseArtifactsDiscoveredV1 => "artifacts-discovered",
            EventType::FreightApprovedV1 => "approved",
            EventType::FreightDeletedV1 => "deleted",
            EventType::FreightAliasChangedV2 => "alias-changed",
            EventType::PromotionCreatedV2 => "promotion-created",
            EventType::PromotionAbortedV2 => "promotion-aborted",
            EventType::WarehouseRefreshHandledV1 => "refresh-handled",
            EventType::VerificationRequestedV1 => "verification-requested",
            EventType::VerificationStartedV1 => "verification-started",
            EventType::VerificationMeasuredV1 => "verification-measured",
            EventType::VerificationFinishedV1 => "verification-finished",
            EventType::PromotionPushedV1 => "promotion-pushed",
            EventType::StageHealthChangedV1 => "health-changed",
            EventType::FreightMetadataSetV1 | EventType::StageMetadataSetV1 => "metadata-set",
            EventType::PromotionWaitingV1 => "promotion-waiting",
            EventType::StageRefreshRequestedV1 => "refresh-requested",
            EventType::StageRefreshHandledV1 => "refresh-handled",
        }
    }

    /// A subject filter matching this type in every project.
    pub fn filter(self) -> String {
        subject::filter(self.entity_kind(), self.subject_token())
    }

    /// How long the log keeps events of this type.
    pub fn kept(self) -> Kept {
        match self {
            // What a warehouse found is state, published again on every change (and every
            // failure): only the latest per warehouse is kept, so it cannot grow the log.
            EventType::WarehouseArtifactsDiscoveredV1
            | EventType::WarehouseDiscoveryFailedV1
            | EventType::WarehouseRefreshHandledV1 => Kept::Latest,
            _ => Kept::All,
        }
    }

    /// The subject filters of every event type kept as `kept`, without repeats.
    pub fn filters_kept(kept: Kept) -> Vec<String> {
        let mut filters: Vec<String> =
            EventType::ALL.into_iter().filter(|t| t.kept() == kept).map(EventType::filter).collect();
        filters.sort();
        filters.dedup();
        filters
    }
}

/// How long the log keeps an event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kept {
    /// Every event, forever: facts (freight, promotions, verifications).
    All,
    /// The latest event per subject: state that repeats (discoveries).
    Latest,
}

/// An event of any type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    FreightCreated(FreightCreatedV1),
    PromotionCreated(PromotionCreatedV1),
    PromotionSucceeded(PromotionSucceededV1),
    PromotionFailed(PromotionFailedV1),
    FreightVerified(FreightVerifiedV1),
    WarehouseRefreshRequested(WarehouseRefreshRequestedV1),
    WarehouseDiscoveryFailed(WarehouseDiscoveryFailedV1),
    PromotionStarted(PromotionStartedV1),
    PromotionStepFinished(PromotionStepFinishedV1),
    PromotionAborted(PromotionAbortedV1),
    FreightAliasChanged(FreightAliasChangedV1),
    PromotionErrored(PromotionErroredV1),
    PromotionStepFinishedV2(PromotionStepFinishedV2),
    WarehouseArtifactsDiscovered(WarehouseArtifactsDiscoveredV1),
    FreightApproved(FreightApprovedV1),
    FreightDeleted(FreightDeletedV1),
    FreightAliasChangedV2(FreightAliasChangedV2),
    PromotionCreatedV2(PromotionCreatedV2),
    PromotionAbortedV2(PromotionAbortedV2),
    WarehouseRefreshHandled(WarehouseRefreshHandledV1),
    VerificationRequested(VerificationRequestedV1),
    VerificationStarted(VerificationStartedV1),
    VerificationMeasured(VerificationMeasuredV1),
    VerificationFinished(VerificationFinishedV1),
    PromotionPushed(PromotionPushedV1),
    StageHealthChanged(StageHealthChangedV1),
    FreightMetadataSet(FreightMetadataSetV1),
    StageMetadataSet(StageMetadataSetV1),
    PromotionWaiting(PromotionWaitingV1),
    StageRefreshRequested(StageRefreshRequestedV1),
    StageRefreshHandled(StageRefreshHandledV1),
}

impl Event {
    pub fn event_type(&self) -> EventType {
        match self {
            Event::FreightCreated(_) => EventType::FreightCreatedV1,
            Event::PromotionCreated(_) => EventType::PromotionCreatedV1,
            Event::PromotionSucceeded(_) => EventType::PromotionSucceededV1,
            Event::PromotionFailed(_) => EventType::PromotionFailedV1,
            Event::FreightVerified(_) => EventType::FreightVerifiedV1,
            Event::WarehouseRefreshRequested(_) => EventType::WarehouseRefreshRequestedV1,
            Event::WarehouseDiscoveryFailed(_) => EventType::WarehouseDiscoveryFailedV1,
            Event::PromotionStarted(_) => EventType::PromotionStartedV1,
            Event::PromotionStepFinished(_) => EventType::PromotionStepFinishedV1,
            Event::PromotionAborted(_) => EventType::PromotionAbortedV1,
            Event::FreightAliasChanged(_) => EventType::FreightAliasChangedV1,
            Event::PromotionErrored(_) => EventType::PromotionErroredV1,
            Event::PromotionStepFinishedV2(_) => EventType::PromotionStepFinishedV2,
            Event::WarehouseArtifactsDiscovered(_) => EventType::WarehouseArtifactsDiscoveredV1,
            Event::FreightApproved(_) => EventType::FreightApprovedV1,
            Event::FreightDeleted(_) => EventType::FreightDeletedV1,
            Event::FreightAliasChangedV2(_) => EventType::FreightAliasChangedV2,
            Event::PromotionCreatedV2(_) => EventType::PromotionCreatedV2,
            Event::PromotionAbortedV2(_) => EventType::PromotionAbortedV2,
            Event::WarehouseRefreshHandled(_) => EventType::WarehouseRefreshHandledV1,
            Event::VerificationRequested(_) => EventType::VerificationRequestedV1,
            Event::VerificationStarted(_) => EventType::VerificationStartedV1,
            Event::VerificationMeasured(_) => EventType::VerificationMeasuredV1,
            Event::VerificationFinished(_) => EventType::VerificationFinishedV1,
            Event::PromotionPushed(_) => EventType::PromotionPushedV1,
            Event::StageHealthChanged(_) => EventType::StageHealthChangedV1,
            Event::FreightMetadataSet(_) => EventType::FreightMetadataSetV1,
            Event::StageMetadataSet(_) => EventType::StageMetadataSetV1,
            Event::PromotionWaiting(_) => EventType::PromotionWaitingV1,
            Event::StageRefreshRequested(_) => EventType::StageRefreshRequestedV1,
            Event::StageRefreshHandled(_) => EventType::StageRefreshHandledV1,
        }
    }

    pub fn project(&self) -> &str {
        match self {
            Event::FreightCreated(e) => &e.project,
            Event::PromotionCreated(e) => &e.project,
            Event::PromotionSucceeded(e) => &e.project,
            Event::PromotionFailed(e) => &e.project,
            Event::FreightVerified(e) => &e.project,
            Event::WarehouseRefreshRequested(e) => &e.project,
            Event::WarehouseDiscoveryFailed(e) => &e.project,
            Event::PromotionStarted(e) => &e.project,
            Event::PromotionStepFinished(e) => &e.project,
            Event::PromotionAborted(e) => &e.project,
            Event::FreightAliasChanged(e) => &e.project,
            Event::PromotionErrored(e) => &e.project,
            Event::PromotionStepFinishedV2(e) => &e.project,
            Event::WarehouseArtifactsDiscovered(e) => &e.project,
            Event::FreightApproved(e) => &e.project,
            Event::FreightDeleted(e) => &e.project,
            Event::FreightAliasChangedV2(e) => &e.project,
            Event::PromotionCreatedV2(e) => &e.project,
            Event::PromotionAbortedV2(e) => &e.project,
            Event::WarehouseRefreshHandled(e) => &e.project,
            Event::VerificationRequested(e) => &e.project,
            Event::VerificationStarted(e) => &e.project,
            Event::VerificationMeasured(e) => &e.project,
            Event::VerificationFinished(e) => &e.project,
            Event::PromotionPushed(e) => &e.project,
            Event::StageHealthChanged(e) => &e.project,
            Event::FreightMetadataSet(e) => &e.project,
            Event::StageMetadataSet(e) => &e.project,
            Event::PromotionWaiting(e) => &e.project,
            Event::StageRefreshRequested(e) => &e.project,
            Event::StageRefreshHandled(e) => &e.project,
        }
    }

    /// The name of the entity the subject is about (freight ID, stage, warehouse).
    pub fn entity_name(&self) -> &str {
        match self {
            Event::FreightCreated(e) => &e.freight_id,
            Event::FreightVerified(e) => &e.freight_id,
            Event::PromotionCreated(e) => &e.stage,
            Event::PromotionSucceeded(e) => &e.stage,
            Event::PromotionFailed(e) => &e.stage,
            Event::WarehouseRefreshRequested(e) => &e.warehouse,
            Event::WarehouseDiscoveryFailed(e) => &e.warehouse,
            Event::PromotionStarted(e) => &e.stage,
            Event::PromotionStepFinished(e) => &e.stage,
            Event::PromotionAborted(e) => &e.stage,
            Event::FreightAliasChanged(e) => &e.freight_id,
            Event::PromotionErrored(e) => &e.stage,
            Event::PromotionStepFinishedV2(e) => &e.stage,
            Event::WarehouseArtifactsDiscovered(e) => &e.warehouse,
            Event::FreightApproved(e) => &e.freight_id,
            Event::FreightDeleted(e) => &e.freight_id,
            Event::FreightAliasChangedV2(e) => &e.freight_id,
            Event::PromotionCreatedV2(e) => &e.stage,
            Event::PromotionAbortedV2(e) => &e.stage,
            Event::WarehouseRefreshHandled(e) => &e.warehouse,
            Event::VerificationRequested(e) => &e.stage,
            Event::VerificationStarted(e) => &e.stage,
            Event::VerificationMeasured(e) => &e.stage,
            Event::VerificationFinished(e) => &e.stage,
            Event::PromotionPushed(e) => &e.stage,
            Event::StageHealthChanged(e) => &e.stage,
            Event::FreightMetadataSet(e) => &e.freight_id,
            Event::StageMetadataSet(e) => &e.stage,
            Event::PromotionWaiting(e) => &e.stage,
            Event::StageRefreshRequested(e) => &e.stage,
            Event::StageRefreshHandled(e) => &e.stage,
        }
    }

    /// When it happened, in milliseconds since the epoch.
    pub fn time_ms(&self) -> i64 {
        match self {
            Event::FreightCreated(e) => e.created_at_ms,
            Event::PromotionCreated(e) => e.created_at_ms,
            Event::PromotionSucceeded(e) => e.finished_at_ms,
            Event::PromotionFailed(e) => e.finished_at_ms,
            Event::FreightVerified(e) => e.verified_at_ms,
            Event::WarehouseRefreshRequested(e) => e.requested_at_ms,
            Event::WarehouseDiscoveryFailed(e) => e.failed_at_ms,
            Event::PromotionStarted(e) => e.started_at_ms,
            Event::PromotionStepFinished(e) => e.finished_at_ms,
            Event::PromotionAborted(e) => e.aborted_at_ms,
            Event::FreightAliasChanged(e) => e.changed_at_ms,
            Event::PromotionErrored(e) => e.errored_at_ms,
            Event::PromotionStepFinishedV2(e) => e.finished_at_ms,
            Event::WarehouseArtifactsDiscovered(e) => e.discovered_at_ms,
            Event::FreightApproved(e) => e.approved_at_ms,
            Event::FreightDeleted(e) => e.deleted_at_ms,
            Event::FreightAliasChangedV2(e) => e.changed_at_ms,
            Event::PromotionCreatedV2(e) => e.created_at_ms,
            Event::PromotionAbortedV2(e) => e.aborted_at_ms,
            Event::WarehouseRefreshHandled(e) => e.handled_at_ms,
            Event::VerificationRequested(e) => e.requested_at_ms,
            Event::VerificationStarted(e) => e.started_at_ms,
            Event::VerificationMeasured(e) => e.finished_at_ms,
            Event::VerificationFinished(e) => e.finished_at_ms,
            Event::PromotionPushed(e) => e.pushed_at_ms,
            Event::StageHealthChanged(e) => e.checked_at_ms,
            Event::FreightMetadataSet(e) => e.set_at_ms,
            Event::StageMetadataSet(e) => e.set_at_ms,
            Event::PromotionWaiting(e) => e.waiting_since_ms,
            Event::StageRefreshRequested(e) => e.requested_at_ms,
            Event::StageRefreshHandled(e) => e.handled_at_ms,
        }
    }

    /// The NATS subject the event is stored under.
    pub fn subject(&self) -> String {
        let t = self.event_type();
        subject::event(self.project(), t.entity_kind(), self.entity_name(), t.subject_token())
    }

    /// The subject its public CloudEvent is published under.
    pub fn public_subject(&self) -> String {
        let t = self.event_type();
        subject::public(self.project(), t.entity_kind(), self.entity_name(), t.subject_token())
    }

    /// The event's identity: its `ce-id` and its `Nats-Msg-Id`. Two publishes of the same
    /// fact share it, so the log stores the fact once.
    pub fn identity(&self) -> String {
        match self {
            Event::FreightCreated(e) => format!("freight-created:{}:{}", e.project, e.freight_id),
            Event::PromotionCreated(e) => match e.trigger {
                PromotionTrigger::Auto => {
                    format!("promotion-auto:{}:{}:{}", e.project, e.stage, e.freight_id)
                }
                PromotionTrigger::Manual => {
                    format!("promotion-created:{}:{}", e.project, e.promotion)
                }
            },
            Event::PromotionSucceeded(e) => {
                format!("promotion-finished:{}:{}", e.project, e.promotion)
            }
            Event::PromotionFailed(e) => {
                format!("promotion-finished:{}:{}", e.project, e.promotion)
            }
            Event::FreightVerified(e) => {
                format!("freight-verified:{}:{}:{}:{}", e.project, e.stage, e.freight_id, e.promotion)
            }
            Event::WarehouseRefreshRequested(e) => {
                format!("warehouse-refresh:{}:{}:{}", e.project, e.warehouse, e.request_id)
            }
            Event::WarehouseDiscoveryFailed(e) => {
                format!("warehouse-discovery-failed:{}:{}:{}", e.project, e.warehouse, e.failed_at_ms)
            }
            Event::PromotionStarted(e) => {
                format!("promotion-started:{}:{}:{}", e.project, e.promotion, e.started_at_ms)
            }
            Event::PromotionStepFinished(e) => {
                format!("promotion-step:{}:{}:{}:{}", e.project, e.promotion, e.index, e.started_at_ms)
            }
            Event::PromotionAborted(e) => {
                format!("promotion-finished:{}:{}", e.project, e.promotion)
            }
            Event::FreightAliasChanged(e) => {
                format!("freight-alias:{}:{}:{}:{}", e.project, e.freight_id, e.alias, e.changed_at_ms)
            }
            Event::PromotionErrored(e) => format!("promotion-finished:{}:{}", e.project, e.promotion),
            Event::PromotionStepFinishedV2(e) => {
                format!("promotion-step:{}:{}:{}:{}", e.project, e.promotion, e.index, e.started_at_ms)
            }
            Event::WarehouseArtifactsDiscovered(e) => {
                format!("warehouse-discovered:{}:{}:{}", e.project, e.warehouse, e.discovered_at_ms)
            }
            Event::FreightApproved(e) => format!("freight-approved:{}:{}:{}", e.project, e.freight_id, e.stage),
            Event::FreightDeleted(e) => format!("freight-deleted:{}:{}", e.project, e.freight_id),
            Event::FreightAliasChangedV2(e) => {
                format!("freight-alias:{}:{}:{}:{}", e.project, e.freight_id, e.alias, e.changed_at_ms)
            }
            Event::PromotionCreatedV2(e) => match e.trigger {
                PromotionTrigger::Auto => format!("promotion-auto:{}:{}:{}", e.project, e.stage, e.freight_id),
                PromotionTrigger::Manual => format!("promotion-created:{}:{}", e.project, e.promotion),
            },
            Event::PromotionAbortedV2(e) => format!("promotion-finished:{}:{}", e.project, e.promotion),
            Event::WarehouseRefreshHandled(e) => {
                format!("warehouse-refresh-handled:{}:{}:{}", e.project, e.warehouse, e.request_id)
            }
            Event::VerificationRequested(e) => format!("verification-requested:{}:{}", e.project, e.request_id),
            Event::VerificationStarted(e) => format!("verification-started:{}:{}", e.project, e.verification_id),
            Event::VerificationMeasured(e) => {
                format!("verification-measured:{}:{}:{}:{}", e.project, e.verification_id, e.metric, e.index)
            }
            Event::VerificationFinished(e) => format!("verification-finished:{}:{}", e.project, e.verification_id),
            Event::PromotionPushed(e) => {
                format!("promotion-pushed:{}:{}:{}:{}", e.project, e.promotion, e.index, e.commit)
            }
            Event::StageHealthChanged(e) => {
                format!("stage-health:{}:{}:{}:{}", e.project, e.stage, e.promotion, e.change)
            }
            Event::FreightMetadataSet(e) => {
                format!("freight-metadata:{}:{}:{}:{}", e.project, e.freight_id, e.actor, e.set_at_ms)
            }
            Event::StageMetadataSet(e) => {
                format!("stage-metadata:{}:{}:{}:{}", e.project, e.stage, e.actor, e.set_at_ms)
            }
            Event::PromotionWaiting(e) => {
                format!("promotion-waiting:{}:{}:{}:{}", e.project, e.promotion, e.index, e.waiting_since_ms)
            }
            Event::StageRefreshRequested(e) => {
                format!("stage-refresh:{}:{}:{}", e.project, e.stage, e.request_id)
            }
            Event::StageRefreshHandled(e) => {
                format!("stage-refresh-handled:{}:{}:{}", e.project, e.stage, e.request_id)
            }
        }
    }

    /// The CloudEvents `subject` attribute: the entity within the project.
    pub fn ce_subject(&self) -> String {
        match self {
            Event::FreightCreated(e) => format!("projects/{}/freight/{}", e.project, e.freight_id),
            Event::FreightVerified(e) => format!("projects/{}/freight/{}", e.project, e.freight_id),
            Event::PromotionCreated(e) => {
                format!("projects/{}/promotions/{}", e.project, e.promotion)
            }
            Event::PromotionSucceeded(e) => {
                format!("projects/{}/promotions/{}", e.project, e.promotion)
            }
            Event::PromotionFailed(e) => {
                format!("projects/{}/promotions/{}", e.project, e.promotion)
            }
            Event::WarehouseRefreshRequested(e) => {
                format!("projects/{}/warehouses/{}", e.project, e.warehouse)
            }
            Event::WarehouseDiscoveryFailed(e) => {
                format!("projects/{}/warehouses/{}", e.project, e.warehouse)
            }
            Event::PromotionStarted(e) => {
                format!("projects/{}/promotions/{}", e.project, e.promotion)
            }
            Event::PromotionStepFinished(e) => {
                format!("projects/{}/promotions/{}", e.project, e.promotion)
            }
            Event::PromotionAborted(e) => {
                format!("projects/{}/promotions/{}", e.project, e.promotion)
            }
            Event::FreightAliasChanged(e) => format!("projects/{}/freight/{}", e.project, e.freight_id),
            Event::PromotionErrored(e) => format!("projects/{}/promotions/{}", e.project, e.promotion),
            Event::PromotionStepFinishedV2(e) => format!("projects/{}/promotions/{}", e.project, e.promotion),
            Event::WarehouseArtifactsDiscovered(e) => format!("projects/{}/warehouses/{}", e.project, e.warehouse),
            Event::FreightApproved(e) => format!("projects/{}/freight/{}", e.project, e.freight_id),
            Event::FreightDeleted(e) => format!("projects/{}/freight/{}", e.project, e.freight_id),
            Event::FreightAliasChangedV2(e) => format!("projects/{}/freight/{}", e.project, e.freight_id),
            Event::PromotionCreatedV2(e) => format!("projects/{}/promotions/{}", e.project, e.promotion),
            Event::PromotionAbortedV2(e) => format!("projects/{}/promotions/{}", e.project, e.promotion),
            Event::WarehouseRefreshHandled(e) => format!("projects/{}/warehouses/{}", e.project, e.warehouse),
            Event::VerificationRequested(e) => format!("projects/{}/stages/{}", e.project, e.stage),
            Event::VerificationStarted(e) => format!("projects/{}/stages/{}", e.project, e.stage),
            Event::VerificationMeasured(e) => format!("projects/{}/stages/{}", e.project, e.stage),
            Event::VerificationFinished(e) => format!("projects/{}/stages/{}", e.project, e.stage),
            Event::PromotionPushed(e) => format!("projects/{}/promotions/{}", e.project, e.promotion),
            Event::StageHealthChanged(e) => format!("projects/{}/stages/{}", e.project, e.stage),
            Event::FreightMetadataSet(e) => format!("projects/{}/freight/{}", e.project, e.freight_id),
            Event::StageMetadataSet(e) => format!("projects/{}/stages/{}", e.project, e.stage),
            Event::PromotionWaiting(e) => format!("projects/{}/promotions/{}", e.project, e.promotion),
            Event::StageRefreshRequested(e) => format!("projects/{}/stages/{}", e.project, e.stage),
            Event::StageRefreshHandled(e) => format!("projects/{}/stages/{}", e.project, e.stage),
        }
    }
}

#[cfg(test)]
mod kept_tests {
    use super::*;

    #[test]
    fn discoveries_keep_their_latest_and_facts_are_kept_whole() {
        let latest = EventType::filters_kept(Kept::Latest);
        assert_eq!(
            latest,
            [
                "lading.evt.*.warehouse.*.artifacts-discovered",
                "lading.evt.*.warehouse.*.discovery-failed",
                "lading.evt.*.warehouse.*.refresh-handled"
            ]
        );
        let all = EventType::filters_kept(Kept::All);
        assert!(all.contains(&"lading.evt.*.freight.*.created".to_owned()));
        assert!(all.iter().all(|f| !latest.contains(f)), "no subject in both");
        assert_eq!(
            all.iter().filter(|f| f.ends_with("promotion-step-finished")).count(),
            1,
            "v1 and v2 share a subject"
        );
    }
}
