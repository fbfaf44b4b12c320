//! CloudEvents binary-mode headers: every message carries `ce-*` attributes and a
//! `traceparent`, so a tool in any language routes on headers without decoding postcard.

use crate::catalog::Event;
use crate::trace::TraceContext;

pub const CE_ID: &str = "ce-id";
pub const CE_SOURCE: &str = "ce-source";
pub const CE_TYPE: &str = "ce-type";
pub const CE_SPECVERSION: &str = "ce-specversion";
pub const CE_TIME: &str = "ce-time";
pub const CE_SUBJECT: &str = "ce-subject";
pub const CONTENT_TYPE: &str = "content-type";
pub const TRACEPARENT: &str = "traceparent";
/// JetStream's deduplication header.
pub const NATS_MSG_ID: &str = "Nats-Msg-Id";

/// The media type of postcard payloads.
pub const POSTCARD_CONTENT_TYPE: &str = "application/x-postcard";

/// The CloudEvents `time` of `event`: RFC 3339 in UTC, to the millisecond.
pub fn ce_time(event: &Event) -> String {
    crate::time_from_ms(event.time_ms()).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The headers of one event message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventHeaders {
    pub id: String,
    pub source: String,
    pub ce_type: String,
    pub time: String,
    pub subject: String,
    pub traceparent: String,
}

impl EventHeaders {
    /// Headers for `event` published by `source` (e.g. `/lading/warehouse`) in `trace`.
    pub fn for_event(event: &Event, source: &str, trace: &TraceContext) -> Self {
        let time = ce_time(event);
        Self {
            id: event.identity(),
            source: source.to_owned(),
            ce_type: event.event_type().ce_type().to_owned(),
            time,
            subject: event.ce_subject(),
            traceparent: trace.to_traceparent(),
        }
    }

    /// Name/value pairs to put on the wire, `Nats-Msg-Id` included.
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        vec![
            (CE_ID, &self.id),
            (CE_SOURCE, &self.source),
            (CE_TYPE, &self.ce_type),
            (CE_SPECVERSION, "1.0"),
            (CE_TIME, &self.time),
            (CE_SUBJECT, &self.subject),
            (CONTENT_TYPE, POSTCARD_CONTENT_TYPE),
            (TRACEPARENT, &self.traceparent),
            (NATS_MSG_ID, &self.id),
        ]
    }
}
