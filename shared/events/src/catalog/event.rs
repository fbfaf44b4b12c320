//! An event of any type, and what routes it: its type, project, entity, time and
//! subjects.

use super::*;
use crate::subject;

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
    WarehouseRefreshRequestedV2(WarehouseRefreshRequestedV2),
    WarehouseRefreshHandledV2(WarehouseRefreshHandledV2),
    StageRefreshRequestedV2(StageRefreshRequestedV2),
    StageRefreshHandledV2(StageRefreshHandledV2),
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
            Event::WarehouseRefreshRequestedV2(_) => EventType::WarehouseRefreshRequestedV2,
            Event::WarehouseRefreshHandledV2(_) => EventType::WarehouseRefreshHandledV2,
            Event::StageRefreshRequestedV2(_) => EventType::StageRefreshRequestedV2,
            Event::StageRefreshHandledV2(_) => EventType::StageRefreshHandledV2,
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
            Event::WarehouseRefreshRequestedV2(e) => &e.project,
            Event::WarehouseRefreshHandledV2(e) => &e.project,
            Event::StageRefreshRequestedV2(e) => &e.project,
            Event::StageRefreshHandledV2(e) => &e.project,
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
            Event::WarehouseRefreshRequestedV2(e) => &e.warehouse,
            Event::WarehouseRefreshHandledV2(e) => &e.warehouse,
            Event::StageRefreshRequestedV2(e) => &e.stage,
            Event::StageRefreshHandledV2(e) => &e.stage,
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
            Event::WarehouseRefreshRequestedV2(e) => e.requested_at_ms,
            Event::WarehouseRefreshHandledV2(e) => e.handled_at_ms,
            Event::StageRefreshRequestedV2(e) => e.requested_at_ms,
            Event::StageRefreshHandledV2(e) => e.handled_at_ms,
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
}
