//! What an event is about in the log and in its public CloudEvent: its identity (its
//! `ce-id` and `Nats-Msg-Id`) and its CloudEvents `subject`.

use super::*;

impl Event {
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
            Event::WarehouseRefreshRequestedV2(e) => {
                format!("warehouse-refresh:{}:{}:{}:{}", e.project, e.warehouse, e.request_id, e.after_seq)
            }
            Event::WarehouseRefreshHandledV2(e) => {
                format!("warehouse-refresh-handled:{}:{}:{}:{}", e.project, e.warehouse, e.request_id, e.after_seq)
            }
            Event::StageRefreshRequestedV2(e) => {
                format!("stage-refresh:{}:{}:{}:{}", e.project, e.stage, e.request_id, e.after_seq)
            }
            Event::StageRefreshHandledV2(e) => {
                format!("stage-refresh-handled:{}:{}:{}:{}", e.project, e.stage, e.request_id, e.after_seq)
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
            Event::WarehouseRefreshRequestedV2(e) => format!("projects/{}/warehouses/{}", e.project, e.warehouse),
            Event::WarehouseRefreshHandledV2(e) => format!("projects/{}/warehouses/{}", e.project, e.warehouse),
            Event::StageRefreshRequestedV2(e) => format!("projects/{}/stages/{}", e.project, e.stage),
            Event::StageRefreshHandledV2(e) => format!("projects/{}/stages/{}", e.project, e.stage),
        }
    }
}
