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

/// How many times a publish is tried before its error is returned (about 15 s in all).
const PUBLISH_ATTEMPTS: u32 = 10;

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
            map.insert("Nats-Expected-Last-Subject-Sequence", seq.to_string().as_str());
        }
        let payload: bytes::Bytes = encode(event).into();
        // The message ID makes a publish idempotent, so one that failed while NATS was
        // unreachable (a restart, a leader change) is simply sent again.
        let mut delay = std::time::Duration::from_millis(100);
        let mut attempt = 1;
        loop {
            let sent = self.jetstream().publish_with_headers(event.subject(), map.clone(), payload.clone()).await;
            let ack = match sent {
                Ok(pending) => pending.await,
                Err(e) => Err(e),
            };
            match ack {
                Ok(ack) if ack.duplicate => return Ok(Published::Duplicate),
                Ok(ack) => {
                    tracing::debug!(event.type = headers.ce_type, event.id = headers.id, seq = ack.sequence, "published");
                    return Ok(Published::Stored(ack.sequence));
                }
                Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => {
                    return Ok(Published::Duplicate);
                }
                Err(e) if attempt < PUBLISH_ATTEMPTS => {
                    tracing::warn!(event.id = headers.id, attempt, error = %e, "publish failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(std::time::Duration::from_secs(2));
                    attempt += 1;
                }
                Err(e) => return Err(BusError::nats("publishing an event", e)),
            }
        }
    }
}
