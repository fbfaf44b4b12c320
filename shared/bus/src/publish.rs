//! Publishing events: CloudEvents headers, `traceparent`, and `Nats-Msg-Id` from the
//! event's identity so a retried or raced publish is stored once.
//!
//! Three strengths: [`Bus::publish`] (stored once within the deduplication window),
//! [`Bus::publish_once`] (stored only if its subject is empty, forever), and
//! [`Bus::publish_terminal`] (stored once however late it is retried: it expects the
//! subject's last message to be the one it saw, and recognises its own). Decided facts
//! that must not be dropped use [`Bus::publish_until_stored`].

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::stream::LastRawMessageErrorKind;
use lading_events::headers::{CE_ID, TRACEPARENT};
use lading_events::{Event, EventHeaders, TraceContext, encode};
use lading_runtime::Shutdown;

use crate::names::EVENTS_STREAM;
use crate::{Bus, BusError, Result};

/// What became of a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// Stored at this stream sequence.
    Stored(u64),
    /// The same event (same identity) was already stored.
    Duplicate,
}

/// What the server said to a conditional publish.
enum Sent {
    Stored(u64),
    DuplicateId,
    /// The subject's last sequence was not the expected one.
    WrongLastSequence,
}

/// The message's headers; its trace context is written by OpenTelemetry's W3C propagator.
fn header_map(headers: &EventHeaders, trace: &TraceContext) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in headers.pairs() {
        if name != TRACEPARENT {
            map.insert(name, value);
        }
    }
    crate::tracing_context::inject(trace, &mut map);
    map
}

/// How many times a publish is tried before its error is returned (about 15 s in all).
const PUBLISH_ATTEMPTS: u32 = 10;
/// The longest pause between attempts of a publish that must not be dropped.
const PERSISTENT_RETRY_CAP: Duration = Duration::from_secs(5);

impl Bus {
    /// Publishes `event` in `trace`, waiting for the stream's acknowledgement.
    pub async fn publish(&self, event: &Event, trace: &TraceContext) -> Result<Published> {
        match self.publish_with(event, trace, None).await? {
            Sent::Stored(seq) => Ok(Published::Stored(seq)),
            Sent::DuplicateId | Sent::WrongLastSequence => Ok(Published::Duplicate),
        }
    }

    /// Publishes `event` only if nothing was ever stored on its subject: the first of any
    /// number of racing or retried publishers wins, forever (not only within the
    /// deduplication window). Used for `FreightCreated`, whose subject names the freight.
    pub async fn publish_once(&self, event: &Event, trace: &TraceContext) -> Result<Published> {
        match self.publish_with(event, trace, Some(0)).await? {
            Sent::Stored(seq) => Ok(Published::Stored(seq)),
            Sent::DuplicateId | Sent::WrongLastSequence => Ok(Published::Duplicate),
        }
    }

    /// Publishes an event that one writer at a time publishes on its subject (a stage's
    /// promotion outcome, under the stage's lease) so that it is stored once however late
    /// a retry comes: when the subject's last message is this event, it is a duplicate;
    /// otherwise it is published on the condition that nothing was stored after that.
    pub async fn publish_terminal(&self, event: &Event, trace: &TraceContext) -> Result<Published> {
        let identity = event.identity();
        for _ in 0..PUBLISH_ATTEMPTS {
            let last = self.last_on_subject(&event.subject()).await?;
            if last.as_ref().is_some_and(|(_, id)| *id == identity) {
                return Ok(Published::Duplicate);
            }
            let expected = last.map_or(0, |(seq, _)| seq);
            match self.publish_with(event, trace, Some(expected)).await? {
                Sent::Stored(seq) => return Ok(Published::Stored(seq)),
                Sent::DuplicateId => return Ok(Published::Duplicate),
                Sent::WrongLastSequence => continue,
            }
        }
        Err(BusError::nats("publishing an outcome", "the subject kept changing"))
    }

    /// Publishes `event`, retrying until it is stored or `shutdown` fires: for facts a
    /// service decided and must not drop (its identity makes retries harmless).
    pub async fn publish_until_stored(
        &self,
        event: &Event,
        trace: &TraceContext,
        shutdown: &Shutdown,
    ) -> Result<Published> {
        let mut pause = Duration::from_millis(500);
        loop {
            match self.publish(event, trace).await {
                Ok(published) => return Ok(published),
                Err(error) if shutdown.is_cancelled() => return Err(error),
                Err(error) => {
                    tracing::warn!(event.id = event.identity(), %error, "publish failed; trying again until it is stored");
                    tokio::select! {
                        () = shutdown.cancelled() => return Err(error),
                        () = tokio::time::sleep(pause) => {}
                    }
                    pause = (pause * 2).min(PERSISTENT_RETRY_CAP);
                }
            }
        }
    }

    /// The sequence and `ce-id` of the last message stored on `subject`.
    async fn last_on_subject(&self, subject: &str) -> Result<Option<(u64, String)>> {
        let stream = self
            .jetstream()
            .get_stream(EVENTS_STREAM)
            .await
            .map_err(|e| BusError::nats("opening the event stream", e))?;
        match stream.get_last_raw_message_by_subject(subject).await {
            Ok(message) => {
                let id = message.headers.get(CE_ID).map(|v| v.as_str().to_owned()).unwrap_or_default();
                Ok(Some((message.sequence, id)))
            }
            Err(e) if e.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(None),
            Err(e) => Err(BusError::nats("reading a subject's last message", e)),
        }
    }

    async fn publish_with(
        &self,
        event: &Event,
        trace: &TraceContext,
        expected_subject_seq: Option<u64>,
    ) -> Result<Sent> {
        let headers = EventHeaders::for_event(event, self.source(), trace);
        let mut map = header_map(&headers, trace);
        if let Some(seq) = expected_subject_seq {
            map.insert("Nats-Expected-Last-Subject-Sequence", seq.to_string().as_str());
        }
        let payload: bytes::Bytes = encode(event).into();
        // The message ID makes a publish idempotent, so one that failed while NATS was
        // unreachable (a restart, a leader change) is simply sent again.
        let mut delay = Duration::from_millis(100);
        let mut attempt = 1;
        loop {
            let sent = self.jetstream().publish_with_headers(event.subject(), map.clone(), payload.clone()).await;
            let ack = match sent {
                Ok(pending) => pending.await,
                Err(e) => Err(e),
            };
            match ack {
                Ok(ack) if ack.duplicate => return Ok(Sent::DuplicateId),
                Ok(ack) => {
                    tracing::debug!(event.type = headers.ce_type, event.id = headers.id, seq = ack.sequence, "published");
                    return Ok(Sent::Stored(ack.sequence));
                }
                Err(e) if e.kind() == PublishErrorKind::WrongLastSequence => return Ok(Sent::WrongLastSequence),
                Err(e) if attempt < PUBLISH_ATTEMPTS => {
                    tracing::warn!(event.id = headers.id, attempt, error = %e, "publish failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                    attempt += 1;
                }
                Err(e) => return Err(BusError::nats("publishing an event", e)),
            }
        }
    }
}
