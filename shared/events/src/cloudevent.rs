//! Structured-mode CloudEvents in JSON: the public face of every event, readable by any
//! tool in any language, with a JSON Schema for each type's `data`.
//!
//! The envelope carries the same `id`, `type`, `subject` and `time` as the internal
//! message's `ce-*` headers, so a consumer of both can deduplicate; `traceparent` (the
//! W3C trace the event belongs to) is carried as a CloudEvents extension attribute.

use schemars::Schema;
use serde::{Deserialize, Serialize};

use crate::catalog::*;
use crate::trace::TraceContext;

/// The media type of a structured-mode CloudEvent in JSON.
pub const CONTENT_TYPE: &str = "application/cloudevents+json";
/// The media type of `data`.
pub const DATA_CONTENT_TYPE: &str = "application/json";
/// Where the JSON Schemas of `data` are published.
pub const SCHEMA_BASE_URL: &str = "https://lading.dev/events/";

/// One CloudEvent (specification 1.0), as published on `lading.pub.>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloudEvent {
    pub specversion: String,
    pub id: String,
    pub source: String,
    #[serde(rename = "type")]
    pub ce_type: String,
    pub subject: String,
    pub time: String,
    pub datacontenttype: String,
    pub dataschema: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
    pub data: serde_json::Value,
}

impl CloudEvent {
    /// The CloudEvent of `event`, published by `source` in the trace `trace` (when the
    /// internal message carried one).
    pub fn of(event: &Event, source: &str, trace: Option<&TraceContext>) -> Self {
        CloudEvent {
            specversion: "1.0".to_owned(),
            id: event.identity(),
            source: source.to_owned(),
            ce_type: event.event_type().ce_type().to_owned(),
            subject: event.ce_subject(),
            time: crate::headers::ce_time(event),
            datacontenttype: DATA_CONTENT_TYPE.to_owned(),
            dataschema: schema_url(event.event_type()),
            traceparent: trace.map(TraceContext::to_traceparent),
            data: data(event),
        }
    }

    /// The event as JSON bytes.
    pub fn to_json(&self) -> Vec<u8> {
        // A struct of strings and a JSON value always serializes.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// The URL of the JSON Schema of `event_type`'s `data`.
pub fn schema_url(event_type: EventType) -> String {
    format!("{SCHEMA_BASE_URL}{}.json", event_type.ce_type())
}

/// The prefix every Lading CloudEvents type starts with.
pub const TYPE_PREFIX: &str = "dev.lading.";

/// A type filter that names no event type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{filter:?} is not an event type{suggestion}; types look like \"freight.created\" or \"dev.lading.promotion.succeeded.v1\""
)]
pub struct UnknownType {
    pub filter: String,
    pub suggestion: String,
}

/// The event types `filter` names: a CloudEvents type (`dev.lading.freight.created.v1`),
/// the same without `dev.lading.` (`freight.created.v1`), or either without its version
/// (`freight.created`: every version).
pub fn types_named(filter: &str) -> Result<Vec<EventType>, UnknownType> {
    let short = filter.trim().strip_prefix(TYPE_PREFIX).unwrap_or(filter.trim());
    let named: Vec<EventType> = EventType::ALL
        .into_iter()
        .filter(|t| {
            let own = &t.ce_type()[TYPE_PREFIX.len()..];
            own == short || own.rsplit_once('.').is_some_and(|(unversioned, _)| unversioned == short)
        })
        .collect();
    if named.is_empty() {
        let mut known: Vec<&str> = EventType::ALL.iter().map(|t| &t.ce_type()[TYPE_PREFIX.len()..]).collect();
        known.extend(
            EventType::ALL.iter().filter_map(|t| t.ce_type()[TYPE_PREFIX.len()..].rsplit_once('.')).map(|(u, _)| u),
        );
        return Err(UnknownType {
            filter: filter.to_owned(),
            suggestion: lading_domain::suggest::did_you_mean(short, known),
        });
    }
    Ok(named)
}

/// Every event variant with its type (the payload type has the type's name).
macro_rules! each_payload {
    ($callback:ident, $($arg:tt)*) => {
        $callback! {
            ($($arg)*)
            (FreightCreated, FreightCreatedV1),
            (PromotionCreated, PromotionCreatedV1),
            (PromotionSucceeded, PromotionSucceededV1),
            (PromotionFailed, PromotionFailedV1),
            (FreightVerified, FreightVerifiedV1),
            (WarehouseRefreshRequested, WarehouseRefreshRequestedV1),
            (WarehouseDiscoveryFailed, WarehouseDiscoveryFailedV1),
            (PromotionStarted, PromotionStartedV1),
            (PromotionStepFinished, PromotionStepFinishedV1),
            (PromotionAborted, PromotionAbortedV1),
            (FreightAliasChanged, FreightAliasChangedV1),
            (PromotionErrored, PromotionErroredV1),
            (PromotionStepFinishedV2, PromotionStepFinishedV2),
            (WarehouseArtifactsDiscovered, WarehouseArtifactsDiscoveredV1),
            (FreightApproved, FreightApprovedV1),
            (FreightDeleted, FreightDeletedV1),
            (FreightAliasChangedV2, FreightAliasChangedV2),
            (PromotionCreatedV2, PromotionCreatedV2),
            (PromotionAbortedV2, PromotionAbortedV2),
            (WarehouseRefreshHandled, WarehouseRefreshHandledV1),
            (VerificationRequested, VerificationRequestedV1),
            (VerificationStarted, VerificationStartedV1),
            (VerificationMeasured, VerificationMeasuredV1),
            (VerificationFinished, VerificationFinishedV1),
            (PromotionPushed, PromotionPushedV1),
            (StageHealthChanged, StageHealthChangedV1),
            (FreightMetadataSet, FreightMetadataSetV1),
            (StageMetadataSet, StageMetadataSetV1),
            (PromotionWaiting, PromotionWaitingV1),
            (StageRefreshRequested, StageRefreshRequestedV1),
            (StageRefreshHandled, StageRefreshHandledV1),
            (WarehouseRefreshRequestedV2, WarehouseRefreshRequestedV2),
            (WarehouseRefreshHandledV2, WarehouseRefreshHandledV2),
            (StageRefreshRequestedV2, StageRefreshRequestedV2),
            (StageRefreshHandledV2, StageRefreshHandledV2)
        }
    };
}

macro_rules! data_of {
    (($event:expr) $(($variant:ident, $payload:ident)),*) => {
        match $event {
            $(Event::$variant(payload) => serde_json::to_value(payload),)*
        }
    };
}

macro_rules! schema_of {
    (($event_type:expr) $(($variant:ident, $payload:ident)),*) => {
        match $event_type {
            $(EventType::$payload => schemars::schema_for!($payload),)*
        }
    };
}

/// The event's payload as the JSON `data` of its CloudEvent.
pub fn data(event: &Event) -> serde_json::Value {
    // Payloads are plain structs of strings, numbers and lists: they always serialize.
    each_payload!(data_of, event).unwrap_or_default()
}

/// The JSON Schema of `event_type`'s `data`, as published in `docs/events/`.
pub fn data_schema(event_type: EventType) -> Schema {
    let mut schema = each_payload!(schema_of, event_type);
    schema.insert("$id".to_owned(), schema_url(event_type).into());
    schema
}

#[cfg(test)]
mod tests;
