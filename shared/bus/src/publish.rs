//! Publishing events: CloudEvents headers, `traceparent`, and `Nats-Msg-Id` from the
//! event's identity so a retried or raced publish is stored once.
//!
//! Three strengths: [`Bus::publish`] (stored once within the deduplication window),
//! [`Bus::publish_once`] (stored only if its subject is empty, forever), and
//! [`Bus::publish_terminal`] (stored once however late it is retried: it expects the
//! subject's last message to be the one it saw, and recognises its own). Decided facts
//! that must not be dropped use [`Bus::publish_until_stored`]; a run of them that need
//! not wait for each other's acknowledgements (a promotion's step reports) goes through a
//! [`Pipeline`].

use std::collections::VecDeque;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::context::{PublishAckFuture, PublishErrorKind};
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

/// How many times [`Bus::publish`] tries before it returns its error.
pub const PUBLISH_ATTEMPTS: u32 = 10;

/// How a publish waits for the stream and paces its retries. The defaults are what
/// services run with: an attempt waits 5 s for its acknowledgement, the pause after a
/// failed attempt starts at 100 ms and doubles up to 2 s (so a [`Bus::publish`] gives up
/// after about a minute of NATS being away), and a publish that must not be dropped
/// pauses from 500 ms up to 5 s between rounds. Tests compress these times to fail fast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishTiming {
    /// How long one attempt waits for the stream's acknowledgement.
    pub ack_timeout: Duration,
    /// The pause after the first failed attempt; every other pause is a multiple of it.
    pub first_pause: Duration,
}

impl Default for PublishTiming {
    fn default() -> Self {
        PublishTiming { ack_timeout: Duration::from_secs(5), first_pause: Duration::from_millis(100) }
    }
}

impl PublishTiming {
    /// The longest pause between attempts of one publish.
    fn longest_pause(&self) -> Duration {
        self.first_pause * 20
    }

    /// The first and longest pause between rounds of a publish that must not be dropped.
    fn persistent_pauses(&self) -> (Duration, Duration) {
        (self.first_pause * 5, self.first_pause * 50)
    }
}

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
    /// service decided and must not drop (its identity makes retries harmless). A
    /// shutdown ends it at once, even while an attempt waits for NATS: the fact is then
    /// decided again by whoever handles the event next.
    pub async fn publish_until_stored(
        &self,
        event: &Event,
        trace: &TraceContext,
        shutdown: &Shutdown,
    ) -> Result<Published> {
        let stopped = || BusError::nats("publishing a decided fact", "the service is shutting down");
        let (mut pause, longest) = self.publish_timing().persistent_pauses();
        loop {
            let attempt = tokio::select! {
                () = shutdown.cancelled() => return Err(stopped()),
                attempt = self.publish(event, trace) => attempt,
            };
            match attempt {
                Ok(published) => return Ok(published),
                Err(error) => {
                    tracing::warn!(event.id = event.identity(), %error, "publish failed; trying again until it is stored");
                    tokio::select! {
                        () = shutdown.cancelled() => return Err(stopped()),
                        () = tokio::time::sleep(pause) => {}
                    }
                    pause = (pause * 2).min(longest);
                }
            }
        }
    }

    /// A pipeline of facts published in `trace` that must not be dropped.
    pub fn pipeline(&self, trace: &TraceContext, shutdown: &Shutdown) -> Pipeline {
        Pipeline { bus: self.clone(), trace: *trace, shutdown: shutdown.clone(), in_flight: VecDeque::new() }
    }

    /// The position of the last event stored in the log now (0 for an empty log): one
    /// message read from the stream's leader, a smaller question and answer than the
    /// stream's info.
    pub async fn last_event_sequence(&self) -> Result<u64> {
        Ok(self.last_on_subject(">").await?.map_or(0, |(seq, _)| seq))
    }

    /// The sequence and `ce-id` of the last message stored on `subject`.
    async fn last_on_subject(&self, subject: &str) -> Result<Option<(u64, String)>> {
        // A handle without info: reading the message is the only round trip.
        let stream = self
            .jetstream()
            .get_stream_no_info(EVENTS_STREAM)
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

    /// Sends `event` without waiting for the stream's acknowledgement: `None` when it
    /// could not even be sent.
    async fn send(&self, event: &Event, trace: &TraceContext) -> Option<PublishAckFuture> {
        let headers = EventHeaders::for_event(event, self.source(), trace);
        let map = header_map(&headers, trace);
        let payload: bytes::Bytes = encode(event).into();
        self.jetstream().publish_with_headers(event.subject(), map, payload).await.ok()
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
        let timing = self.publish_timing();
        let mut delay = timing.first_pause;
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
                    lading_runtime::metrics::publish_failed();
                    tracing::warn!(event.id = headers.id, attempt, error = %e, "publish failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(timing.longest_pause());
                    attempt += 1;
                }
                Err(e) => {
                    lading_runtime::metrics::publish_failed();
                    return Err(BusError::nats("publishing an event", e));
                }
            }
        }
    }
}

/// Facts published one after another without waiting for each acknowledgement: each is
/// sent at once, and [`Pipeline::stored`] waits until every one sent is stored.
///
/// Guarantees: when [`Pipeline::stored`] returns `Ok`, every fact sent through the
/// pipeline is in the log (a fact whose send or acknowledgement failed is published again
/// until it is stored, like [`Bus::publish_until_stored`]). The facts are stored in the
/// order they were sent, since one connection's publishes reach the stream in order;
/// only a fact that failed and had to be published again lands after the ones sent
/// after it. Readers place such facts by their content (a step's index), not by their
/// position.
pub struct Pipeline {
    bus: Bus,
    trace: TraceContext,
    shutdown: Shutdown,
    in_flight: VecDeque<(Event, Option<PublishAckFuture>)>,
}

impl Pipeline {
    /// Sends `event` without waiting for its acknowledgement.
    pub async fn send(&mut self, event: Event) {
        let pending = self.bus.send(&event, &self.trace).await;
        self.in_flight.push_back((event, pending));
    }

    /// How many facts were sent and are not yet known to be stored.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Waits until every fact sent is stored, in the order they were sent; fails only
    /// when shutdown stopped a fact that had to be published again.
    pub async fn stored(&mut self) -> Result<()> {
        while let Some((event, pending)) = self.in_flight.pop_front() {
            let acknowledged = match pending {
                Some(pending) => pending.await.is_ok(),
                None => false,
            };
            if !acknowledged {
                lading_runtime::metrics::publish_failed();
                tracing::warn!(event.id = event.identity(), "a pipelined publish failed; publishing it again");
                self.bus.publish_until_stored(&event, &self.trace, &self.shutdown).await?;
            }
        }
        Ok(())
    }
}
