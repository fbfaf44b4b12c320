//! Postcard payloads, keyed by the CloudEvents type in the `ce-type` header.

use crate::catalog::{Event, EventType};

/// Why a message could not be turned into an event.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("message has no ce-type header")]
    MissingType,
    #[error("unknown event type {0:?}")]
    UnknownType(String),
    #[error("payload of {ce_type} does not decode: {source}")]
    Payload { ce_type: &'static str, source: postcard::Error },
}

/// Encodes an event's payload (the type travels in the headers).
pub fn encode(event: &Event) -> Vec<u8> {
    let encoded = match event {
        Event::FreightCreated(e) => postcard::to_stdvec(e),
        Event::PromotionCreated(e) => postcard::to_stdvec(e),
        Event::PromotionSucceeded(e) => postcard::to_stdvec(e),
        Event::PromotionFailed(e) => postcard::to_stdvec(e),
        Event::FreightVerified(e) => postcard::to_stdvec(e),
        Event::WarehouseRefreshRequested(e) => postcard::to_stdvec(e),
        Event::WarehouseDiscoveryFailed(e) => postcard::to_stdvec(e),
        Event::PromotionStarted(e) => postcard::to_stdvec(e),
        Event::PromotionStepFinished(e) => postcard::to_stdvec(e),
        Event::PromotionAborted(e) => postcard::to_stdvec(e),
        Event::FreightAliasChanged(e) => postcard::to_stdvec(e),
        Event::PromotionErrored(e) => postcard::to_stdvec(e),
        Event::PromotionStepFinishedV2(e) => postcard::to_stdvec(e),
        Event::WarehouseArtifactsDiscovered(e) => postcard::to_stdvec(e),
        Event::FreightApproved(e) => postcard::to_stdvec(e),
        Event::FreightDeleted(e) => postcard::to_stdvec(e),
        Event::FreightAliasChangedV2(e) => postcard::to_stdvec(e),
        Event::PromotionCreatedV2(e) => postcard::to_stdvec(e),
        Event::PromotionAbortedV2(e) => postcard::to_stdvec(e),
        Event::WarehouseRefreshHandled(e) => postcard::to_stdvec(e),
        Event::VerificationRequested(e) => postcard::to_stdvec(e),
        Event::VerificationStarted(e) => postcard::to_stdvec(e),
        Event::VerificationMeasured(e) => postcard::to_stdvec(e),
        Event::VerificationFinished(e) => postcard::to_stdvec(e),
        Event::PromotionPushed(e) => postcard::to_stdvec(e),
        Event::StageHealthChanged(e) => postcard::to_stdvec(e),
        Event::FreightMetadataSet(e) => postcard::to_stdvec(e),
        Event::StageMetadataSet(e) => postcard::to_stdvec(e),
        Event::PromotionWaiting(e) => postcard::to_stdvec(e),
        Event::StageRefreshRequested(e) => postcard::to_stdvec(e),
        Event::StageRefreshHandled(e) => postcard::to_stdvec(e),
        Event::WarehouseRefreshRequestedV2(e) => postcard::to_stdvec(e),
        Event::WarehouseRefreshHandledV2(e) => postcard::to_stdvec(e),
        Event::StageRefreshRequestedV2(e) => postcard::to_stdvec(e),
        Event::StageRefreshHandledV2(e) => postcard::to_stdvec(e),
    };
    // Serializing these plain structs into a Vec cannot fail.
    encoded.unwrap_or_default()
}

/// Decodes a payload given its `ce-type`.
pub fn decode(ce_type: Option<&str>, payload: &[u8]) -> Result<Event, DecodeError> {
    let ce_type = ce_type.ok_or(DecodeError::MissingType)?;
    let event_type = EventType::from_ce_type(ce_type).ok_or_else(|| DecodeError::UnknownType(ce_type.to_owned()))?;
    let err = |source| DecodeError::Payload { ce_type: event_type.ce_type(), source };
    Ok(match event_type {
        EventType::FreightCreatedV1 => Event::FreightCreated(postcard::from_bytes(payload).map_err(err)?),
        EventType::PromotionCreatedV1 => Event::PromotionCreated(postcard::from_bytes(payload).map_err(err)?),
        EventType::PromotionSucceededV1 => Event::PromotionSucceeded(postcard::from_bytes(payload).map_err(err)?),
        EventType::PromotionFailedV1 => Event::PromotionFailed(postcard::from_bytes(payload).map_err(err)?),
        EventType::FreightVerifiedV1 => Event::FreightVerified(postcard::from_bytes(payload).map_err(err)?),
        EventType::WarehouseRefreshRequestedV1 => {
            Event::WarehouseRefreshRequested(postcard::from_bytes(payload).map_err(err)?)
        }
        EventType::WarehouseDiscoveryFailedV1 => {
            Event::WarehouseDiscoveryFailed(postcard::from_bytes(payload).map_err(err)?)
        }
        EventType::PromotionStartedV1 => Event::PromotionStarted(postcard::from_bytes(payload).map_err(err)?),
        EventType::PromotionStepFinishedV1 => Event::PromotionStepFinished(postcard::from_bytes(payload).map_err(err)?),
        EventType::PromotionAbortedV1 => Event::PromotionAborted(postcard::from_bytes(payload).map_err(err)?),
        EventType::FreightAliasChangedV1 => Event::FreightAliasChanged(postcard::from_bytes(payload).map_err(err)?),
        EventType::PromotionErroredV1 => Event::PromotionErrored(postcard::from_bytes(payload).map_err(err)?),
        EventType::PromotionStepFinishedV2 => {
            Event::PromotionStepFinishedV2(postcard::from_bytes(payload).map_err(err)?)
        }
        EventType::WarehouseArtifactsDiscoveredV1 => {
            Event::WarehouseArtifactsDiscovered(postcard::from_bytes(payload).map_err(err)?)
        }
        EventType::FreightApprovedV1 => Event::FreightApproved(postcard::from_bytes(payload).map_err(err)?),
        EventType::FreightDeletedV1 => Event::FreightDeleted(postcard::from_bytes(payload).map_err(err)?),
        EventType::FreightAliasChangedV2 => Event::FreightAliasChangedV2(postcard::from_bytes(payload).map_err(err)?),
        EventType::PromotionCreatedV2 => Event::PromotionCreatedV2(postcard::from_bytes(payload).map_err(err)?),
        EventType::PromotionAbortedV2 => Event::PromotionAbortedV2(postcard::from_bytes(payload).map_err(err)?),
        EventType::WarehouseRefreshHandledV1 => {
            Event::WarehouseRefreshHandled(postcard::from_bytes(payload).map_err(err)?)
        }
        EventType::VerificationRequestedV1 => Event::VerificationRequested(postcard::from_bytes(payload).map_err(err)?),
        EventType::VerificationStartedV1 => Event::VerificationStarted(postcard::from_bytes(payload).map_err(err)?),
        EventType::VerificationMeasuredV1 => Event::VerificationMeasured(postcard::from_bytes(payload).map_err(err)?),
        EventType::VerificationFinishedV1 => Event::VerificationFinished(postcard::from_bytes(payload).map_err(err)?),
        EventType::PromotionPushedV1 => Event::PromotionPushed(postcard::from_bytes(payload).map_err(err)?),
        EventType::StageHealthChangedV1 => Event::StageHealthChanged(postcard::from_bytes(payload).map_err(err)?),
        EventType::FreightMetadataSetV1 => Event::FreightMetadataSet(postcard::from_bytes(payload).map_err(err)?),
        EventType::StageMetadataSetV1 => Event::StageMetadataSet(postcard::from_bytes(payload).map_err(err)?),
        EventType::PromotionWaitingV1 => Event::PromotionWaiting(postcard::from_bytes(payload).map_err(err)?),
        EventType::StageRefreshRequestedV1 => Event::StageRefreshRequested(postcard::from_bytes(payload).map_err(err)?),
        EventType::StageRefreshHandledV1 => Event::StageRefreshHandled(postcard::from_bytes(payload).map_err(err)?),
        EventType::WarehouseRefreshRequestedV2 => {
            Event::WarehouseRefreshRequestedV2(postcard::from_bytes(payload).map_err(err)?)
        }
        EventType::WarehouseRefreshHandledV2 => {
            Event::WarehouseRefreshHandledV2(postcard::from_bytes(payload).map_err(err)?)
        }
        EventType::StageRefreshRequestedV2 => {
            Event::StageRefreshRequestedV2(postcard::from_bytes(payload).map_err(err)?)
        }
        EventType::StageRefreshHandledV2 => Event::StageRefreshHandledV2(postcard::from_bytes(payload).map_err(err)?),
    })
}

#[cfg(test)]
pub(crate) mod golden;
