//! The event contract: what happened, in which words, on which subject, in which bytes.
//!
//! # Layout
//!
//! - [`catalog`]: every event type with its frozen v1 payload and its guarantees.
//! - [`codec`]: postcard encoding keyed by the CloudEvents type.
//! - [`headers`]: CloudEvents binary-mode headers carried on every message.
//! - [`subject`]: subject names as functions; tokens carry project, kind, name and type.
//! - [`trace`]: W3C trace context (`traceparent`), so one trace follows a freight.
//! - [`read_model`]: the state every reader rebuilds by replaying the log.

pub mod catalog;
pub mod codec;
pub mod headers;
pub mod read_model;
pub mod subject;
pub mod trace;

pub use catalog::{Event, EventType};
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
