//! The event contract: what happened, in which words, on which subject, in which bytes.
//! It holds no rules: the state rebuilt from events lives in `lading-projection`.
//!
//! # Layout
//!
//! - [`catalog`]: every event type with its frozen v1 payload and its guarantees:
//!   payloads by entity (freight, promotion, stage, verification, warehouse), the type
//!   list with subject tokens and retention, routing, and each event's identity.
//! - [`codec`]: postcard encoding keyed by the CloudEvents type.
//! - [`cloudevent`]: the public face of each event: a structured-mode CloudEvent in JSON,
//!   with a JSON Schema per type (published in `docs/events/`).
//! - [`headers`]: CloudEvents binary-mode headers carried on every message.
//! - [`subject`]: subject names as functions; tokens carry project, kind, name and type.
//! - [`trace`]: W3C trace context (`traceparent`), so one trace follows a freight.

pub mod catalog;
pub mod cloudevent;
pub mod codec;
pub mod headers;
pub mod subject;
pub mod trace;

pub use catalog::{Event, EventType};
pub use cloudevent::CloudEvent;
pub use codec::{DecodeError, decode, encode};
pub use headers::EventHeaders;
pub use trace::TraceContext;

/// Milliseconds since the Unix epoch, as event payloads carry time.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Converts payload milliseconds to a timestamp (the epoch for out-of-range values).
pub fn time_from_ms(ms: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
