//! Every event type with its version: its CloudEvents type, the tokens of its subject,
//! and how long the log keeps it.

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
    WarehouseRefreshRequestedV2,
    WarehouseRefreshHandledV2,
    StageRefreshRequestedV2,
    StageRefreshHandledV2,
}

impl EventType {
    pub const ALL: [EventType; 35] = [
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
        EventType::WarehouseRefreshRequestedV2,
        EventType::WarehouseRefreshHandledV2,
        EventType::StageRefreshRequestedV2,
        EventType::StageRefreshHandledV2,
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
            EventType::WarehouseRefreshRequestedV2 => "dev.lading.warehouse.refresh-requested.v2",
            EventType::WarehouseRefreshHandledV2 => "dev.lading.warehouse.refresh-handled.v2",
            EventType::StageRefreshRequestedV2 => "dev.lading.stage.refresh-requested.v2",
            EventType::StageRefreshHandledV2 => "dev.lading.stage.refresh-handled.v2",
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
            | EventType::StageRefreshHandledV1
            | EventType::StageRefreshRequestedV2
            | EventType::StageRefreshHandledV2 => "stage",
            EventType::WarehouseRefreshRequestedV1
            | EventType::WarehouseDiscoveryFailedV1
            | EventType::WarehouseArtifactsDiscoveredV1
            | EventType::WarehouseRefreshHandledV1
            | EventType::WarehouseRefreshRequestedV2
            | EventType::WarehouseRefreshHandledV2 => "warehouse",
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
            EventType::WarehouseRefreshRequestedV2 | EventType::StageRefreshRequestedV2 => "refresh-requested",
            EventType::WarehouseRefreshHandledV2 | EventType::StageRefreshHandledV2 => "refresh-handled",
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
            | EventType::WarehouseRefreshHandledV1
            | EventType::WarehouseRefreshHandledV2 => Kept::Latest,
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
