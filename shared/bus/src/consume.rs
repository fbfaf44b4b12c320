//! Durable pull consumers shared by a service's replicas.
//!
//! Guarantees: a message is acknowledged only after its handler succeeded; a transient
//! failure is redelivered after a growing delay, at most `max_failures` times per
//! replica; a message that cannot be decoded, that its handler rejects as permanently
//! bad, or that keeps failing, is copied to `lading.dlq.<consumer>` with the reason,
//! counted in `lading_bus_dead_letters_total`, and terminated: nothing is redelivered
//! forever. A handler that panics is logged with the event it was handling and counts as
//! a failure; the consumer goes on. A handling that never settles because its process
//! died (killed, aborted, out of memory) is counted in `lading-handlings`: a redelivery
//! marks its handling before the handler runs and clears it when the delivery settles,
//! and a first delivery (which has no earlier handling to count) writes only when it
//! leaves the message for redelivery, so the common path costs nothing. A delivery that
//! finds `max_unfinished` handlings that never settled is dead-lettered instead of
//! handled, so a message that kills its handler is not redelivered to one new process
//! after another. Waiting for a
//! turn (`Outcome::RetryAfter`) settles, and is never a failure. Long handlers keep
//! their message with `AckProgress` heartbeats. A consumer deleted from outside ends the
//! loop with an error (its service is started again and creates it anew). On shutdown
//! the loop stops pulling, lets the handler in flight finish, and returns.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use async_nats::jetstream::context::ConsumerInfoErrorKind;
use async_nats::jetstream::{AckKind, Message};
use futures::{FutureExt, StreamExt};
use lading_events::headers::{CE_TIME, CE_TYPE};
use lading_events::{Event, TraceContext, decode, subject};
use lading_runtime::Shutdown;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::names::{EVENTS_STREAM, HANDLINGS_BUCKET};
use crate::{Bus, BusError, Result};

/// A durable consumer: its name (shared by replicas) and the subjects it takes.
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    pub name: String,
    /// The stream it reads: the facts (`LADING_EVENTS`) unless set otherwise.
    pub stream: &'static str,
    pub filter_subjects: Vec<String>,
    /// How long a delivery may go without an ack or progress before redelivery.
    pub ack_wait: Duration,
    /// How many deliveries may be unacknowledged at once, across every replica; 1 makes
    /// the consumer handle messages strictly one after another, in log order.
    pub max_ack_pending: i64,
    /// How many deliveries one replica handles at once.
    pub concurrency: usize,
    /// How many transient failures of one message a replica retries before it gives up
    /// and dead-letters the message.
    pub max_failures: u32,
    /// How many handlings of one message may end without settling (the process died
    /// while handling it), across processes, before its next delivery is dead-lettered.
    /// 0 keeps no count: for a handler that cannot take its process down.
    pub max_unfinished: u32,
}

impl ConsumerSpec {
    pub fn new(name: &str, filter_subjects: Vec<String>) -> Self {
        Self {
            name: name.to_owned(),
            stream: EVENTS_STREAM,
            filter_subjects,
            // Handlers heartbeat every third of this, so it bounds how long a delivery
            // lost with a crashed replica or a NATS restart waits, not how long work runs.
            ack_wait: Duration::from_secs(10),
            max_ack_pending: 1000,
            concurrency: 1,
            // With the backoff below, about eight minutes of trying.
            max_failures: 20,
            max_unfinished: 3,
        }
    }
}

/// One decoded delivery.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub event: Event,
    /// The event's position in the log.
    pub stream_sequence: u64,
    /// How many times it was delivered, this time included.
    pub delivered: i64,
    /// The trace the event belongs to (a new one when the message carried none).
    pub trace: TraceContext,
}

/// A handler's verdict on a delivery it processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done: acknowledge.
    Done,
    /// Not now (e.g. waiting for a turn): redeliver after the delay, not an error.
    RetryAfter(Duration),
}

/// A handler's failure.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Worth retrying (a network error, NATS unavailable): nak with backoff.
    #[error("{0}")]
    Transient(String),
    /// Retrying cannot help: dead-letter and terminate.
    #[error("{0}")]
    Permanent(String),
}

/// Backoff for the n-th delivery after a transient failure: 1s, 2s, 4s … capped at 30s.
pub fn transient_backoff(delivered: i64) -> Duration {
    let exponent = (delivered.max(1) - 1).min(5) as u32;
    Duration::from_secs(1u64 << exponent).min(Duration::from_secs(30))
}

/// Header naming why a message was dead-lettered.
pub const DEAD_LETTER_REASON: &str = "Lading-Dead-Letter-Reason";
/// Header naming the subject a dead letter was first published on.
pub const DEAD_LETTER_SUBJECT: &str = "Lading-Original-Subject";

impl Bus {
    /// Runs `handler` for every message `spec` selects until `shutdown`. A consumer that
    /// cannot be opened (NATS restarting, no JetStream leader) is tried again until it can.
    pub async fn consume<F, Fut>(&self, spec: ConsumerSpec, shutdown: Shutdown, handler: F) -> Result<()>
    where
        F: Fn(Delivery) -> Fut,
        Fut: Future<Output = std::result::Result<Outcome, HandlerError>>,
    {
        // NATS restarting or without a JetStream leader fails these for a while: the
        // consumer waits for it like it waits to pull, until shutdown.
        let mut pause = Duration::from_millis(250);
        let (consumer, handlings) = loop {
            let opened = match self.open_consumer(&spec).await {
                Ok(consumer) => self.bucket(HANDLINGS_BUCKET).await.map(|handlings| (consumer, handlings)),
                Err(error) => Err(error),
            };
            match opened {
                Ok(opened) => break opened,
                Err(error) => {
                    lading_runtime::metrics::consumer_start_retry(&spec.name);
                    tracing::warn!(consumer = spec.name, %error, ?pause, "cannot open the consumer; retrying");
                    tokio::select! {
                        () = shutdown.cancelled() => return Ok(()),
                        () = tokio::time::sleep(pause) => {}
                    }
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
            }
        };
        let failures = Failures::default();
        let handlings = Handlings { store: handlings, consumer: spec.name.clone() };
        let mut reconnect_delay = Duration::from_millis(250);
        loop {
            let messages = consumer
                .stream()
                .max_messages_per_batch(spec.concurrency)
                .heartbeat(Duration::from_secs(5))
                .expires(Duration::from_secs(10))
                .messages()
                .await;
            let messages = match messages {
                Ok(messages) => messages,
                Err(error) => {
                    self.fail_if_deleted(&spec, &consumer, reconnect_delay).await?;
                    // NATS is unreachable or restarting: try again until it is back.
                    tracing::warn!(consumer = spec.name, %error, "cannot pull; retrying");
                    tokio::select! {
                        () = shutdown.cancelled() => return Ok(()),
                        () = tokio::time::sleep(reconnect_delay) => {}
                    }
                    reconnect_delay = (reconnect_delay * 2).min(Duration::from_secs(5));
                    continue;
                }
            };
            // Up to `concurrency` deliveries are handled at once. On shutdown no more are
            // pulled, and the ones in flight finish before this returns.
            let pulled = std::sync::atomic::AtomicBool::new(false);
            messages
                .take_until(shutdown.cancelled())
                .for_each_concurrent(spec.concurrency, |next| async {
                    match next {
                        Ok(message) => {
                            pulled.store(true, std::sync::atomic::Ordering::Relaxed);
                            self.handle_one(&spec, message, &handler, &failures, &handlings).await;
                        }
                        Err(error) => tracing::warn!(consumer = spec.name, %error, "pull failed; retrying"),
                    }
                })
                .await;
            if shutdown.is_cancelled() {
                return Ok(());
            }
            if pulled.load(std::sync::atomic::Ordering::Relaxed) {
                reconnect_delay = Duration::from_millis(250);
            }
            self.fail_if_deleted(&spec, &consumer, reconnect_delay).await?;
            tracing::warn!(consumer = spec.name, "message stream ended; pulling again");
        }
    }

    /// Fails when the durable consumer no longer exists (deleted from outside): pulling
    /// from it would go on failing quietly, so the service stops and is started again,
    /// which creates the consumer anew. NATS is asked twice, `pause` apart, so a server
    /// that is still starting is not mistaken for a deletion.
    async fn fail_if_deleted(
        &self,
        spec: &ConsumerSpec,
        consumer: &async_nats::jetstream::consumer::PullConsumer,
        pause: Duration,
    ) -> Result<()> {
        let not_found =
            || async { matches!(consumer.get_info().await, Err(e) if e.kind() == ConsumerInfoErrorKind::NotFound) };
        if not_found().await {
            tokio::time::sleep(pause).await;
            if not_found().await {
                tracing::error!(consumer = spec.name, "the durable consumer was deleted");
                return Err(BusError::nats(
                    "pulling messages",
                    format!("the durable consumer {} was deleted", spec.name),
                ));
            }
        }
        Ok(())
    }

    /// Creates the durable consumer `spec` names, or brings an existing one up to date.
    async fn open_consumer(&self, spec: &ConsumerSpec) -> Result<async_nats::jetstream::consumer::PullConsumer> {
        let stream = self
            .jetstream()
            .get_stream(spec.stream)
            .await
            .map_err(|e| BusError::nats("opening the event stream", e))?;
        let config = pull::Config {
            durable_name: Some(spec.name.clone()),
            filter_subjects: spec.filter_subjects.clone(),
            ack_policy: AckPolicy::Explicit,
            ack_wait: spec.ack_wait,
            deliver_policy: DeliverPolicy::All,
            max_ack_pending: spec.max_ack_pending,
            // Redelivery is bounded by counting failures, not deliveries: waiting for a
            // turn redelivers too, and must never dead-letter.
            max_deliver: -1,
            ..Default::default()
        };
        let mut consumer: async_nats::jetstream::consumer::PullConsumer = stream
            .get_or_create_consumer(&spec.name, config.clone())
            .await
            .map_err(|e| BusError::nats("creating a consumer", e))?;
        // A consumer made by an earlier version may take fewer event types (a new one
        // joined the handler's subjects): it is brought up to date, keeping its position.
        let info = consumer.info().await.map_err(|e| BusError::nats("reading a consumer", e))?;
        if info.config.filter_subjects != spec.filter_subjects || info.config.max_ack_pending != spec.max_ack_pending {
            return stream.update_consumer(config).await.map_err(|e| BusError::nats("updating a consumer", e));
        }
        Ok(consumer)
    }

    async fn handle_one<F, Fut>(
        &self,
        spec: &ConsumerSpec,
        message: Message,
        handler: &F,
        failures: &Failures,
        handlings: &Handlings,
    ) where
        F: Fn(Delivery) -> Fut,
        Fut: Future<Output = std::result::Result<Outcome, HandlerError>>,
    {
        let (stream_sequence, delivered) = match message.info() {
            Ok(info) => {
                lading_runtime::metrics::consumer_pending(&spec.name, info.pending);
                (info.stream_sequence, info.delivered)
            }
            Err(_) => (0, 1),
        };
        let headers = message.headers.clone().unwrap_or_default();
        let ce_type = headers.get(CE_TYPE).map(|v| v.as_str().to_owned());
        let event = match decode(ce_type.as_deref(), &message.payload) {
            Ok(event) => event,
            Err(error) => {
                self.dead_letter(spec, &message, stream_sequence, &error.to_string()).await;
                return;
            }
        };
        // A handling that begins is marked first: if this process dies before the
        // delivery settles, the next one knows.
        match handlings.begin(spec, stream_sequence, delivered).await {
            Ok(unfinished) if spec.max_unfinished > 0 && unfinished >= spec.max_unfinished => {
                let reason = format!(
                    "{unfinished} handlings never finished (the process handling it stopped: killed, aborted or out of memory)"
                );
                self.dead_letter(spec, &message, stream_sequence, &reason).await;
                handlings.end(spec, stream_sequence, delivered, false).await;
                return;
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(consumer = spec.name, seq = stream_sequence, %error, "cannot mark the handling; retrying");
                let _ = message.ack_with(AckKind::Nak(Some(transient_backoff(delivered)))).await;
                return;
            }
        }
        // Lag is publish to first handling: a redelivery's wait is the handler's choice.
        if delivered == 1
            && let Some(lag) = headers.get(CE_TIME).and_then(|time| lag_since(time.as_str()))
        {
            lading_runtime::metrics::event_lag(&spec.name, event.event_type().ce_type(), lag);
        }
        // The span of this handling continues the trace of the message (read by the W3C
        // propagator); what the handler publishes names it as the parent.
        let parent_context = crate::tracing_context::extract(&headers);
        let parent = crate::tracing_context::of_context(&parent_context);
        let span = tracing::info_span!(
            "handle",
            otel.name = %format!("{} {}", self.source().trim_start_matches("/lading/"), event.event_type().ce_type()),
            otel.kind = "consumer",
            consumer = spec.name,
            event.r#type = event.event_type().ce_type(),
            event.id = event.identity(),
            project = event.project(),
            trace_id = tracing::field::Empty,
            span_id = tracing::field::Empty,
            seq = stream_sequence,
        );
        let _ = span.set_parent(parent_context);
        let trace =
            crate::tracing_context::of_span(&span).unwrap_or_else(|| crate::tracing_context::child_of(parent.as_ref()));
        span.record("trace_id", trace.trace_id_hex());
        span.record("span_id", format!("{:016x}", trace.span_id));
        let event_type = event.event_type().ce_type();
        let event_id = event.identity();
        let delivery = Delivery { event, stream_sequence, delivered, trace };
        let outcome = {
            let work = AssertUnwindSafe(handler(delivery).instrument(span.clone())).catch_unwind().map(|result| {
                result.unwrap_or_else(|panic| {
                    let what = panic_message(panic.as_ref());
                    let _entered = span.enter();
                    tracing::error!(
                        panic = what,
                        event.r#type = event_type,
                        event.id = event_id,
                        "the handler panicked"
                    );
                    Err(HandlerError::Transient(format!("the handler panicked: {what}")))
                })
            });
            tokio::pin!(work);
            let mut heartbeat = progress_heartbeat(spec.ack_wait / 3);
            loop {
                tokio::select! {
                    outcome = &mut work => break outcome,
                    _ = heartbeat.tick() => {
                        let _ = message.ack_with(AckKind::Progress).await;
                    }
                }
            }
        };
        // Settled either way from here: a crash between the two redelivers a handling that
        // did finish, which handlers tolerate; the other order would count it as unfinished.
        let again = matches!(outcome, Ok(Outcome::RetryAfter(_)) | Err(HandlerError::Transient(_)));
        handlings.end(spec, stream_sequence, delivered, again).await;
        self.settle(spec, &message, stream_sequence, outcome, failures).instrument(span).await;
    }

    /// Acknowledges, naks or dead-letters a handled delivery by its outcome.
    async fn settle(
        &self,
        spec: &ConsumerSpec,
        message: &Message,
        stream_sequence: u64,
        outcome: std::result::Result<Outcome, HandlerError>,
        failures: &Failures,
    ) {
        let acked = match outcome {
            Ok(Outcome::Done) => {
                failures.forget(stream_sequence);
                message.double_ack().await
            }
            Ok(Outcome::RetryAfter(delay)) => message.ack_with(AckKind::Nak(Some(delay))).await,
            Err(HandlerError::Transient(reason)) => {
                let failed = failures.record(stream_sequence);
                if failed >= spec.max_failures {
                    failures.forget(stream_sequence);
                    let reason = format!("gave up after {failed} failed attempts: {reason}");
                    self.dead_letter(spec, message, stream_sequence, &reason).await;
                    return;
                }
                let delay = transient_backoff(failed as i64);
                tracing::warn!(reason, failed, retry_in_ms = delay.as_millis() as u64, "transient failure");
                message.ack_with(AckKind::Nak(Some(delay))).await
            }
            Err(HandlerError::Permanent(reason)) => {
                tracing::error!(reason, "permanent failure");
                failures.forget(stream_sequence);
                self.dead_letter(spec, message, stream_sequence, &reason).await;
                return;
            }
        };
        if let Err(error) = acked {
            tracing::warn!(%error, "acknowledgement failed; the message will be redelivered");
        }
    }

    async fn dead_letter(&self, spec: &ConsumerSpec, message: &Message, stream_sequence: u64, reason: &str) {
        tracing::error!(consumer = spec.name, seq = stream_sequence, reason, "dead-lettering message");
        lading_runtime::metrics::dead_letter(&spec.name);
        let mut headers: HeaderMap = message.headers.clone().unwrap_or_default();
        headers.insert(DEAD_LETTER_REASON, header_safe(reason).as_str());
        headers.insert(DEAD_LETTER_SUBJECT, message.subject.as_str());
        headers.insert("Nats-Msg-Id", format!("dlq:{}:{stream_sequence}", spec.name).as_str());
        let published = self
            .jetstream()
            .publish_with_headers(subject::dead_letter(&spec.name), headers, message.payload.clone())
            .await;
        match published {
            Ok(ack) => {
                if let Err(error) = ack.await {
                    tracing::error!(%error, "dead letter not stored; leaving the message for redelivery");
                    return;
                }
            }
            Err(error) => {
                tracing::error!(%error, "dead letter not sent; leaving the message for redelivery");
                return;
            }
        }
        if let Err(error) = message.ack_with(AckKind::Term).await {
            tracing::warn!(%error, "terminating a dead-lettered message failed");
        }
    }
}

/// How long ago `time` (RFC 3339, an event's `ce-time`) was; zero when it is in the
/// future (clocks differ), `None` when it is not a time.
fn lag_since(time: &str) -> Option<Duration> {
    let then = chrono::DateTime::parse_from_rfc3339(time).ok()?;
    Some((chrono::Utc::now() - then.with_timezone(&chrono::Utc)).to_std().unwrap_or(Duration::ZERO))
}

/// Handlings that began and did not settle, per message of one consumer, kept in NATS
/// so they outlive the process.
struct Handlings {
    store: async_nats::jetstream::kv::Store,
    consumer: String,
}

impl Handlings {
    fn key(&self, seq: u64) -> String {
        format!("{}.{seq}", self.consumer)
    }

    /// Marks one more handling of `seq` (its `delivered`-th delivery) as begun; returns
    /// how many earlier ones never settled. A first delivery has no earlier handling and
    /// writes nothing: a later delivery that finds no marker knows the first never
    /// settled, since a first handling that settled and left the message for
    /// redelivery wrote a settled marker ("0").
    async fn begin(&self, spec: &ConsumerSpec, seq: u64, delivered: i64) -> Result<u32> {
        if spec.max_unfinished == 0 || delivered <= 1 {
            return Ok(0);
        }
        let key = self.key(seq);
        let earlier = self.store.get(&key).await.map_err(|e| BusError::nats("reading a handling marker", e))?;
        let unfinished = earlier.as_deref().map_or(1, unfinished_count);
        self.store
            .put(&key, (unfinished + 1).to_string().into())
            .await
            .map_err(|e| BusError::nats("writing a handling marker", e))?;
        Ok(unfinished)
    }

    /// Records that the handling of `seq` settled: "0" when the message comes `again`
    /// (redelivered after a nak), else the marker goes (a first delivery left none).
    async fn end(&self, spec: &ConsumerSpec, seq: u64, delivered: i64, again: bool) {
        if spec.max_unfinished == 0 {
            return;
        }
        let cleared = if again {
            self.store.put(self.key(seq), "0".into()).await.map(|_| ()).map_err(|e| e.to_string())
        } else if delivered > 1 {
            self.store.purge(self.key(seq)).await.map_err(|e| e.to_string())
        } else {
            Ok(())
        };
        if let Err(error) = cleared {
            tracing::warn!(consumer = self.consumer, seq, %error, "cannot settle a handling marker");
        }
    }
}

/// The count a handling marker holds (a marker that is not a number counts as one).
fn unfinished_count(marker: &[u8]) -> u32 {
    std::str::from_utf8(marker).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(1)
}

/// Transient failures per message (by stream sequence) seen by this replica.
#[derive(Default)]
struct Failures(Mutex<HashMap<u64, u32>>);

impl Failures {
    /// Counts one more failure; returns how many there were.
    fn record(&self, seq: u64) -> u32 {
        let mut counts = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(seq).or_default();
        *count += 1;
        *count
    }

    fn forget(&self, seq: u64) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(&seq);
    }
}

/// The ticks on which a handling still at work tells NATS so (`AckKind::Progress`), the
/// first one `period` after the handling begins. Not `tokio::time::interval`, whose first
/// tick is due at once yet, awaited, completes only when the timer next turns (about
/// 1.1 ms later, measured): awaiting it before the handler held every delivery back.
fn progress_heartbeat(period: Duration) -> tokio::time::Interval {
    tokio::time::interval_at(tokio::time::Instant::now() + period, period)
}

/// What a panic said, when it said anything.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// A reason as a header value: one line, at most 1,024 characters.
fn header_safe(reason: &str) -> String {
    let line: String = reason.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    lading_domain::excerpt::shortened(&line, 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_first_progress_heartbeat_is_a_period_after_the_handling_begins() {
        let begun = tokio::time::Instant::now();
        let mut heartbeat = progress_heartbeat(Duration::from_secs(10));
        // Nothing is due before a period has passed: the handler runs at once.
        let early = tokio::time::timeout(Duration::from_secs(9), heartbeat.tick()).await;
        assert!(early.is_err(), "a heartbeat was due {:?} after the handling began", begun.elapsed());
        heartbeat.tick().await;
        assert_eq!(begun.elapsed(), Duration::from_secs(10));
    }

    #[test]
    fn lag_is_measured_from_the_event_time() {
        let then = (chrono::Utc::now() - chrono::Duration::seconds(5)).to_rfc3339();
        let lag = lag_since(&then).unwrap();
        assert!(lag >= Duration::from_secs(5) && lag < Duration::from_secs(60), "{lag:?}");
        let future = (chrono::Utc::now() + chrono::Duration::seconds(60)).to_rfc3339();
        assert_eq!(lag_since(&future), Some(Duration::ZERO));
        assert_eq!(lag_since("yesterday"), None);
    }

    #[test]
    fn transient_backoff_grows_and_caps() {
        assert_eq!(transient_backoff(1), Duration::from_secs(1));
        assert_eq!(transient_backoff(2), Duration::from_secs(2));
        assert_eq!(transient_backoff(4), Duration::from_secs(8));
        assert_eq!(transient_backoff(100), Duration::from_secs(30));
        assert_eq!(transient_backoff(0), Duration::from_secs(1));
    }

    #[test]
    fn failures_are_counted_per_message_until_forgotten() {
        let failures = Failures::default();
        assert_eq!(failures.record(7), 1);
        assert_eq!(failures.record(7), 2);
        assert_eq!(failures.record(8), 1);
        failures.forget(7);
        assert_eq!(failures.record(7), 1);
    }

    #[test]
    fn a_handling_marker_counts_unfinished_handlings() {
        assert_eq!(unfinished_count(b"2"), 2);
        assert_eq!(unfinished_count(b"garbage"), 1);
    }

    #[test]
    fn dead_letter_reasons_fit_in_a_header() {
        assert_eq!(header_safe("line one\nline two"), "line one line two");
        assert!(header_safe(&"x".repeat(5000)).len() < 1100);
    }
}
