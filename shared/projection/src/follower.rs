//! Following the log into a live read model: facts from the events stream in log order,
//! discoveries from the discovery stream. Each follower is an ordered consumer (no acks,
//! no shared state, any number of them).
//!
//! Guarantees:
//! - start-up reads the latest snapshot (when it fits the stream) and only the tail of
//!   the log after it; it fails only when it stops making progress, not after a fixed
//!   time, so a long log is never a crash loop;
//! - a follower whose message stream ends (NATS restarted, its consumer vanished) is
//!   started again from the position after the last one applied;
//! - an event whose application panics is skipped and logged, not a dead follower;
//! - readiness tells the truth: the `ReadyFlag` given is false while the model is
//!   behind the log by more than the lag bound (or NATS cannot be asked), true again
//!   once it caught up.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use async_nats::jetstream::stream::Info;
use futures::{FutureExt, StreamExt};
use lading_bus::names::{DISCOVERY_STREAM, EVENTS_STREAM};
use lading_bus::{Bus, BusError, Result};
use lading_events::headers::CE_TYPE;
use lading_events::{Event, decode};
use lading_runtime::Shutdown;
use lading_runtime::readiness::ReadyFlag;
use tokio::sync::watch;

use crate::model::ReadModel;
use crate::snapshot;

/// How a projection follows the log.
#[derive(Clone)]
pub struct FollowOptions {
    /// Set false while the model is behind the log by more than `lag_bound`.
    pub ready: Option<ReadyFlag>,
    /// How long the model may stay behind what the log held before it is not ready.
    pub lag_bound: Duration,
    /// How long start-up may go without applying anything before it fails.
    pub stall_limit: Duration,
    /// Store a snapshot once this many events were applied since the last one (none when
    /// `None`).
    pub snapshot_every: Option<u64>,
}

impl Default for FollowOptions {
    fn default() -> Self {
        Self {
            ready: None,
            lag_bound: Duration::from_secs(5),
            stall_limit: Duration::from_secs(60),
            snapshot_every: None,
        }
    }
}

/// A live read model, and the log position it has applied.
#[derive(Clone)]
pub struct Projection {
    bus: Bus,
    model: Arc<RwLock<ReadModel>>,
    applied: watch::Receiver<u64>,
    /// The discovery stream's position applied.
    discovered: watch::Receiver<u64>,
}

/// Which stream a follower reads, and how its messages change the model.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Facts,
    Discoveries,
}

impl Source {
    fn stream(self) -> &'static str {
        match self {
            Source::Facts => EVENTS_STREAM,
            Source::Discoveries => DISCOVERY_STREAM,
        }
    }
}

/// The stream's info as the server holds it now (opening a stream reads it: one round
/// trip).
async fn stream_info(bus: &Bus, name: &str) -> Result<Info> {
    let stream = bus.jetstream().get_stream(name).await.map_err(|e| BusError::nats("reading stream info", e))?;
    Ok(stream.cached_info().clone())
}

impl Projection {
    /// Starts following the log; returns once everything stored at start is applied.
    pub async fn follow(bus: &Bus, shutdown: Shutdown) -> Result<Projection> {
        Self::follow_with(bus, shutdown, FollowOptions::default()).await
    }

    /// Starts following the log with `options`; returns once everything stored at start
    /// is applied (from the latest snapshot on, when one fits).
    pub async fn follow_with(bus: &Bus, shutdown: Shutdown, options: FollowOptions) -> Result<Projection> {
        let facts = stream_info(bus, EVENTS_STREAM).await?;
        let discoveries = stream_info(bus, DISCOVERY_STREAM).await?;
        let model = snapshot::read(bus, &facts).await.unwrap_or_default();
        let start = model.last_seq;
        if start > 0 {
            tracing::info!(seq = start, last = facts.state.last_sequence, "starting from a snapshot");
        }
        let model = Arc::new(RwLock::new(model));
        let (applied_tx, applied) = watch::channel(start);
        let (discovered_tx, mut discovered) = watch::channel(0u64);
        let projection = Projection { bus: bus.clone(), model, applied, discovered: discovered.clone() };
        tokio::spawn(supervise(projection.clone(), Source::Facts, applied_tx, shutdown.clone()));
        tokio::spawn(supervise(projection.clone(), Source::Discoveries, discovered_tx, shutdown.clone()));
        projection.catch_up(facts.state.last_sequence, options.stall_limit).await?;
        let discoveries_at_start = discoveries.state.last_sequence;
        let loaded = tokio::time::timeout(options.stall_limit, discovered.wait_for(|d| *d >= discoveries_at_start));
        if !loaded.await.is_ok_and(|r| r.is_ok()) {
            return Err(BusError::nats("loading discoveries", "no progress"));
        }
        if let Some(ready) = &options.ready {
            ready.set(true);
        }
        tokio::spawn(watch_lag(projection.clone(), options.clone(), shutdown.clone()));
        if let Some(every) = options.snapshot_every {
            tokio::spawn(write_snapshots(projection.clone(), every, shutdown));
        }
        Ok(projection)
    }

    /// Waits until `target` is applied, as long as the model keeps moving.
    async fn catch_up(&self, target: u64, stall_limit: Duration) -> Result<()> {
        let mut applied = self.applied.clone();
        loop {
            let before = *applied.borrow_and_update();
            if before >= target {
                return Ok(());
            }
            match tokio::time::timeout(stall_limit, applied.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(BusError::nats("replaying the log", "the follower stopped")),
                Err(_) => {
                    let message = format!("no progress for {stall_limit:?} at position {before} of {target}");
                    return Err(BusError::nats("replaying the log", message));
                }
            }
        }
    }

    /// Reads the model.
    pub fn read<R>(&self, f: impl FnOnce(&ReadModel) -> R) -> R {
        f(&self.model.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The last log position applied.
    pub fn applied(&self) -> u64 {
        *self.applied.borrow()
    }

    /// Waits until the model has applied log position `seq`; false on timeout.
    pub async fn wait_for(&self, seq: u64, timeout: Duration) -> bool {
        let mut applied = self.applied.clone();
        tokio::time::timeout(timeout, applied.wait_for(|a| *a >= seq)).await.is_ok_and(|r| r.is_ok())
    }

    /// The last position stored in the log now (to wait for the model to reach it).
    pub async fn latest_sequence(&self) -> Result<u64> {
        self.bus.last_event_sequence().await
    }

    /// A receiver that changes whenever an event is applied.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.applied.clone()
    }

    /// A receiver that changes whenever a discovery (the latest state of a warehouse:
    /// what it found, its failure, the refresh it last handled) is applied.
    pub fn discoveries(&self) -> watch::Receiver<u64> {
        self.discovered.clone()
    }

    /// Stores a snapshot of the model now.
    pub async fn write_snapshot(&self) -> Result<()> {
        let info = stream_info(&self.bus, EVENTS_STREAM).await?;
        let model = self.read(|m| m.clone());
        snapshot::write(&self.bus, &info, &model).await
    }

    /// Whether the model can be written now without waiting for a reader. Only the
    /// follower writes, so once this says yes the write lock is taken at once.
    fn writable(&self) -> bool {
        !matches!(self.model.try_write(), Err(std::sync::TryLockError::WouldBlock))
    }

    /// Applies one event. The lock is taken without blocking the thread: a long read
    /// (an api answer over a large model) delays the follower, not the runtime.
    async fn apply(&self, source: Source, seq: u64, event: &Event) {
        while !self.writable() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let mut model = self.model.write().unwrap_or_else(|p| p.into_inner());
        let applied = std::panic::catch_unwind(AssertUnwindSafe(|| match source {
            Source::Facts => model.apply(seq, event),
            Source::Discoveries => model.apply_discovery(seq, event),
        }));
        if applied.is_err() {
            tracing::error!(
                seq,
                event.r#type = event.event_type().ce_type(),
                event.id = event.identity(),
                "applying an event panicked; it is skipped"
            );
            if source == Source::Facts {
                model.last_seq = model.last_seq.max(seq);
            }
        }
    }
}

/// Follows one stream for good: a follower that panics (in the client library, say) is
/// started again after the last position it applied.
async fn supervise(projection: Projection, source: Source, applied: watch::Sender<u64>, shutdown: Shutdown) {
    while !shutdown.is_cancelled() {
        let run = follow_stream(projection.clone(), source, &applied, shutdown.clone());
        if let Err(panic) = AssertUnwindSafe(run).catch_unwind().await {
            let what = panic.downcast_ref::<&str>().copied().unwrap_or("a panic");
            tracing::error!(stream = source.stream(), panic = what, "the log follower panicked; following again");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

/// Follows one stream from the last position applied: a message stream that ends is
/// opened again after the last position applied.
async fn follow_stream(projection: Projection, source: Source, applied: &watch::Sender<u64>, shutdown: Shutdown) {
    let mut last = *applied.borrow();
    let mut pause = Duration::from_millis(100);
    loop {
        if shutdown.is_cancelled() {
            return;
        }
        match open(&projection.bus, source, last).await {
            Ok(mut messages) => loop {
                let next = tokio::select! {
                    () = shutdown.cancelled() => return,
                    next = messages.next() => next,
                };
                let message = match next {
                    Some(Ok(message)) => message,
                    Some(Err(error)) => {
                        tracing::warn!(stream = source.stream(), %error, "following the log: retrying");
                        continue;
                    }
                    None => break,
                };
                let Ok(info) = message.info() else { continue };
                let seq = info.stream_sequence;
                let ce_type = message.headers.as_ref().and_then(|h| h.get(CE_TYPE)).map(|v| v.as_str().to_owned());
                match decode(ce_type.as_deref(), &message.payload) {
                    Ok(event) => projection.apply(source, seq, &event).await,
                    Err(error) => tracing::warn!(seq, %error, "skipping an undecodable event"),
                }
                last = seq;
                pause = Duration::from_millis(100);
                applied.send_replace(seq);
            },
            Err(error) => tracing::warn!(stream = source.stream(), %error, "cannot follow the log yet"),
        }
        tracing::warn!(stream = source.stream(), after = last, "the log follower stopped; following again");
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}

/// An ordered consumer of `source` delivering what comes after position `after`.
async fn open(bus: &Bus, source: Source, after: u64) -> Result<pull::Ordered> {
    let stream =
        bus.jetstream().get_stream(source.stream()).await.map_err(|e| BusError::nats("opening a stream", e))?;
    let deliver_policy =
        if after == 0 { DeliverPolicy::All } else { DeliverPolicy::ByStartSequence { start_sequence: after + 1 } };
    let consumer = stream
        .create_consumer(pull::OrderedConfig { deliver_policy, ..Default::default() })
        .await
        .map_err(|e| BusError::nats("creating an ordered consumer", e))?;
    consumer.messages().await.map_err(|e| BusError::nats("following the log", e))
}

/// Whether a model is too far behind its log: the log's last position is noted every so
/// often, and the model must have reached the position noted at least `bound` ago.
pub struct LagTracker {
    bound: Duration,
    noted: VecDeque<(Instant, u64)>,
}

impl LagTracker {
    pub fn new(bound: Duration) -> Self {
        Self { bound, noted: VecDeque::new() }
    }

    /// Notes the log's last position `latest` at `now`; true while the model, having
    /// applied `applied`, is not behind by more than the bound.
    pub fn caught_up(&mut self, now: Instant, latest: u64, applied: u64) -> bool {
        self.noted.push_back((now, latest));
        while self.noted.len() > 1 && self.noted[1].0 + self.bound <= now {
            self.noted.pop_front();
        }
        let due = self.noted.front().filter(|(at, _)| *at + self.bound <= now).map(|(_, seq)| *seq);
        due.is_none_or(|due| applied >= due)
    }
}

/// Keeps the ready flag true only while the model is less than `lag_bound` behind the
/// log (see [`LagTracker`]).
async fn watch_lag(projection: Projection, options: FollowOptions, shutdown: Shutdown) {
    let Some(ready) = options.ready else { return };
    let every = (options.lag_bound / 5).max(Duration::from_millis(50));
    let mut tracker = LagTracker::new(options.lag_bound);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        let now = Instant::now();
        let latest = match projection.latest_sequence().await {
            Ok(latest) => latest,
            Err(error) => {
                tracing::warn!(%error, "cannot read the log's position; not ready");
                ready.set(false);
                continue;
            }
        };
        let behind = !tracker.caught_up(now, latest, projection.applied());
        if behind {
            tracing::warn!(applied = projection.applied(), latest, "the read model is behind the log");
        }
        ready.set(!behind);
    }
}

/// Stores a snapshot whenever `every` events were applied since the last one.
async fn write_snapshots(projection: Projection, every: u64, shutdown: Shutdown) {
    let mut changes = projection.changes();
    let mut last_written = projection.applied();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            changed = changes.changed() => if changed.is_err() { return },
        }
        let applied = projection.applied();
        if applied < last_written.saturating_add(every) {
            continue;
        }
        match projection.write_snapshot().await {
            Ok(()) => last_written = applied,
            Err(error) => tracing::warn!(%error, "storing a snapshot failed; trying again later"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_is_behind_only_once_it_missed_what_the_log_held_a_bound_ago() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut lag = LagTracker::new(Duration::from_secs(5));
        // Given the log at 10 and the model at 3, it is not behind yet: 10 is new.
        assert!(lag.caught_up(at(0), 10, 3));
        assert!(lag.caught_up(at(4_000), 12, 9));
        // When five seconds passed and the model still has not reached 10, it is behind;
        assert!(!lag.caught_up(at(5_000), 12, 9));
        // once it reached what the log held five seconds ago, it is caught up again.
        assert!(lag.caught_up(at(9_000), 12, 12));
        assert!(lag.caught_up(at(20_000), 12, 12));
    }
}
