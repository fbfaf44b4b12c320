//! Publishing events: CloudEvents headers, `traceparent`, and `Nats-Msg-Id` from the
//! event's identity so a retried or raced publish is stored once.

use async_nats::HeaderMap;
use async_nats::jetstream::context::PublishErrorKind;
use lading_events::{Event, EventHeaders, TraceContext, encode};

use crate::{Bus, BusError, Result};

/// What became of a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// Stored at this stream sequence.
    Stored(u64),
    /// The same event (same identity) was already stored.
    Duplicate,
}

fn header_map(headers: &EventHeaders) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in headers.pairs() {
        map.insert(name, value);
    }
    map
}

impl Bus {
    /// Publishes `event` in `trace`, waiting for the stream's acknowledgement.
    pub async fn publish(&self, event: &Event, trace: &TraceContext) -> Result<Published> {
        self.publish_with(event, trace, None).await
    }

    /// Publishes `event` only if nothing was ever stored on its subject: the first of any
    /// number of racing or retried publishers wins, forever (not only within the
    /// deduplication window). Used for `FreightCreated`, whose subject names the freight.
    pub async fn publish_once(&self, event: &Event, trace: &TraceContext) -> Result<Published> {
        self.publish_with(event, trace, Some(0)).await
    }

    async fn publish_with(
        &self,
        event: &Event,
        trace: &TraceContext,
        expected_subject_seq: Option<u64>,
    ) -> Result<Published> {
        let headers = EventHeaders::for_event(event, self.source(), trace);
        let mut map = header_map(&headers);
        if let Some(seq) = expected_subject_seq {
            map.insert(
                "Nats-Expected-Last-Subject-Sequence",
                seq.to_string().as_str(),
            );
        }
        let ack = self
            .jetstream()
            .publish_with_headers(event.subject(), map, encode(event).into())
            .await
            .map_err(|e| BusError::nats("publishing an event", e))?
            .await;
        match ack {
            Ok(ack) if ack.duplicate => Ok(Published::Duplicate),
            Ok(ack) => {
                tracing::debug!(event.type = headers.ce_type, event.id = headers.id, seq = ack.sequence, "published");
                Ok(Published::Stored(ack.sequence))
            }
            Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => Ok(Published::Duplicate),
            Err(e) => Err(BusError::nats("publishing an event", e)),
        }
    }
}
