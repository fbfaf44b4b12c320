//! Runs promotions: per stage one at a time, in creation order.
//!
//! Handles `PromotionCreated` on the durable consumer `promoter-run`, shared by every
//! replica. A promotion runs only when it is the oldest unfinished promotion of its stage
//! (per the read model) and its replica holds the stage's lease (`promotion.<project>.
//! <stage>` in the lease bucket); otherwise the message is redelivered shortly, except
//! for the promotion next in line, which watches the read model for its turn and then
//! the lease for its release (a bounded while, on a bounded number of workers).
//!
//! Guarantees, and how they hold:
//! - one promotion per stage at a time, in order: the queue head check decides *which*
//!   promotion may run, the lease decides *who* runs it; a replica that lost its lease
//!   (see [`lading_bus::lease::Fence`]) stops before its next effect and records nothing.
//! - a promotion's effects happen once: `git-commit` and `git-push` recognise the
//!   promotion's own commit by its trailer, so a run resumed by another replica never
//!   commits or pushes twice.
//! - the outcome matches Git: the run claims `committed` before its first push and
//!   before recording any outcome, an abort claims `aborted` first (see
//!   [`lading_bus::claims`]); whichever comes first holds.
//! - an outcome is stored once: `PromotionSucceeded`, `PromotionFailed` and
//!   `PromotionErrored` are published by the lease holder on the condition that the
//!   subject did not change since it looked ([`lading_bus::Bus::publish_terminal`]).
//! - a stage that verifies nothing (no analyses, no health checks left) has the freight
//!   verified right after the success, not a verifier's hop later; the verifier records
//!   it a while later if it still is not, so a run stopped in between loses nothing.
//! - a message that can never be handled (a malformed freight ID, a promotion the read
//!   model refused) is dead-lettered, not redelivered forever.

mod execute;
mod guard;
mod resume;

pub use resume::{MARKER_FILE, PROMOTIONS_DIR};

use std::sync::Arc;
use std::time::{Duration, Instant};

use lading_bus::claims::Claim;
use lading_bus::{ConsumerSpec, Delivery, HandlerError, Outcome};
use lading_domain::FreightId;
use lading_domain::promotion_claim::{Held, TurnRuling, on_turn, parks};
use lading_domain::promotion_queue::Turn;
use lading_domain::verification::when_to_verify::verified_on_success;
use lading_events::catalog::{
    PromotionAbortedV2, PromotionCreatedV2, PromotionStartedV1, PromotionSucceededV1, PromotionWaitingV1,
};
use lading_events::{Event, EventType, TraceContext, now_ms};
use lading_runtime::Shutdown;

use crate::engine::Stop;
use crate::{Context, Error};

pub const CONSUMER: &str = "promoter-run";

/// How soon a promotion waiting for its turn is looked at again.
const WAIT_FOR_TURN: Duration = Duration::from_millis(200);
/// How long the promotion next in its stage's queue watches for its turn (the read model
/// showing the running one ended, then the stage's lease given up) before it leaves its
/// message for redelivery like the others.
const WATCH_TURN: Duration = Duration::from_secs(5);
/// How long to wait for the read model to reach a position in the log.
const CATCH_UP: Duration = Duration::from_secs(10);
/// How long recording freight verified with a success may hold the stage's turn.
const VERIFY_ON_SUCCESS: Duration = Duration::from_secs(2);

pub async fn run(context: Arc<Context>, shutdown: Shutdown) -> Result<(), Error> {
    let mut spec = ConsumerSpec::new(CONSUMER, vec![EventType::PromotionCreatedV2.filter()]);
    // Promotions of different stages run side by side; the stage lease keeps each stage
    // to one at a time.
    spec.concurrency = context.config.promotions_at_once;
    // A watching promotion holds a worker: at most a quarter of them watch, so the
    // promotions they wait for always find one.
    let watchers = Arc::new(tokio::sync::Semaphore::new((spec.concurrency / 4).max(1)));
    let bus = context.bus.clone();
    bus.consume(spec, shutdown, |delivery| {
        let (context, watchers) = (context.clone(), watchers.clone());
        async move { handle(&context, &watchers, delivery).await }
    })
    .await?;
    Ok(())
}

/// Whose turn it is for `created` in its stage's queue, per the read model.
fn turn_of(context: &Context, created: &PromotionCreatedV2) -> Turn {
    context.projection.read(|model| {
        model
            .project(&created.project)
            .and_then(|p| p.stages.get(&created.stage))
            .map_or(Turn::Unknown, |stage| stage.turn_of(&created.promotion))
    })
}

/// How many unfinished promotions of its stage are ahead of `created`, per the read model.
fn ahead_of(context: &Context, created: &PromotionCreatedV2) -> Option<usize> {
    context.projection.read(|model| {
        model.project(&created.project)?.stages.get(&created.stage)?.unfinished_ahead_of(&created.promotion)
    })
}

/// Watches the read model, without asking NATS, until `created` is no longer waiting for
/// its turn or `until` passes; returns its turn then.
async fn watch_turn(context: &Context, created: &PromotionCreatedV2, until: tokio::time::Instant) -> Turn {
    let mut applied = context.projection.changes();
    loop {
        let turn = turn_of(context, created);
        if turn != Turn::Waiting {
            return turn;
        }
        match tokio::time::timeout_at(until, applied.changed()).await {
            Ok(Ok(())) => {}
            _ => return turn,
        }
    }
}

fn transient(error: lading_bus::BusError) -> HandlerError {
    HandlerError::Transient(error.to_string())
}

async fn handle(
    context: &Context,
    watchers: &tokio::sync::Semaphore,
    delivery: Delivery,
) -> Result<Outcome, HandlerError> {
    let created = match &delivery.event {
        Event::PromotionCreatedV2(created) => created.clone(),
        earlier @ Event::PromotionCreated(_) => match lading_projection::model::upgrade::to_current(earlier) {
            Some(Event::PromotionCreatedV2(created)) => created,
            _ => return Ok(Outcome::Done),
        },
        _ => return Ok(Outcome::Done),
    };
    let created = &created;
    if let Err(error) = FreightId::parse(&created.freight_id) {
        return Err(HandlerError::Permanent(format!(
            "promotion {} names a malformed freight ID: {error}",
            lading_domain::excerpt::quoted(&created.promotion)
        )));
    }
    let mut hops = Hops::start();
    if !context.projection.wait_for(delivery.stream_sequence, CATCH_UP).await {
        return Err(HandlerError::Transient("read model is behind the log".to_owned()));
    }
    hops.mark("read_model");
    record_queue_depth(context, created, None);
    // The promotion next in line watches for its turn instead of being redelivered
    // every WAIT_FOR_TURN (while a watcher's place is free); the others wait their turn
    // to be next.
    let watching = match turn_of(context, created) {
        Turn::Waiting if ahead_of(context, created) == Some(1) => watchers.try_acquire().ok(),
        _ => None,
    };
    let watch_until = tokio::time::Instant::now() + WATCH_TURN;
    let turn = match &watching {
        Some(_) => watch_turn(context, created, watch_until).await,
        None => turn_of(context, created),
    };
    match turn {
        Turn::Finished => {
            // It may have waited here and finished elsewhere (or been aborted).
            let base = context.config.work_dir.clone().unwrap_or_else(std::env::temp_dir);
            if let Some(dir) = resume::PromotionDir::new(&base, &created.promotion) {
                dir.remove();
            }
            return Ok(Outcome::Done);
        }
        Turn::Waiting => return Ok(Outcome::RetryAfter(WAIT_FOR_TURN)),
        Turn::Unknown => {
            return Err(HandlerError::Permanent(format!(
                "promotion {} is not in stage {}'s queue: the read model refused its event",
                lading_domain::excerpt::quoted(&created.promotion),
                lading_domain::excerpt::quoted(&created.stage)
            )));
        }
        Turn::Mine => {}
    }
    let lease_key = format!("promotion.{}.{}", created.project, created.stage);
    let holder = format!("{}/{}", context.config.service.replica, created.promotion);
    let mut taken = Instant::now();
    let mut lease = context.bus.try_lease(&lease_key, &holder).await.map_err(transient)?;
    // The promotion before it may be giving the lease up right now: a watcher waits for
    // that, and asks once more.
    if lease.is_none() && watching.is_some() {
        let left = watch_until.saturating_duration_since(tokio::time::Instant::now());
        if context.bus.lease_given_up(&lease_key, left).await.map_err(transient)? {
            // Its validity counts from when it was asked for.
            taken = Instant::now();
            lease = context.bus.try_lease(&lease_key, &holder).await.map_err(transient)?;
        }
    }
    drop(watching);
    let Some(lease) = lease else {
        return Ok(Outcome::RetryAfter(WAIT_FOR_TURN));
    };
    hops.mark("lease");
    // Another replica may have finished this promotion just before we took the lease:
    // catch up with everything stored so far before deciding to run it. The abort claim
    // is read meanwhile (both only need the lease taken).
    let (latest, claim) = tokio::join!(
        context.projection.latest_sequence(),
        context.bus.promotion_claim(&created.project, &created.promotion)
    );
    let caught_up = match latest {
        Ok(latest) => context.projection.wait_for(latest, CATCH_UP).await,
        Err(_) => false,
    };
    let claim = match claim {
        Ok(claim) if caught_up => claim,
        Ok(_) => {
            lease.release().await;
            return Err(HandlerError::Transient("read model is behind the log".to_owned()));
        }
        Err(error) => {
            lease.release().await;
            return Err(transient(error));
        }
    };
    hops.mark("caught_up");
    if turn_of(context, created) != Turn::Mine {
        lease.release().await;
        return Ok(Outcome::RetryAfter(WAIT_FOR_TURN));
    }
    let held = lease.hold(taken);
    let result = run_turn(context, created, &delivery.trace, held.fence(), claim, &mut hops).await;
    held.release().await;
    hops.mark("released");
    if matches!(result, Ok(Outcome::Done)) {
        record_queue_depth(context, created, Some(&created.promotion));
    }
    tracing::debug!(promotion = created.promotion, hops = %hops, "promotion handled");
    result
}

/// How long each part of handling a promotion took, in milliseconds, logged once it is
/// handled: the read model catching up with the delivery, taking the lease, catching up
/// with the log, recording the start, running the steps, recording the outcome, giving
/// the lease up.
struct Hops {
    last: Instant,
    parts: Vec<(&'static str, u128)>,
}

impl Hops {
    fn start() -> Self {
        Self { last: Instant::now(), parts: Vec::new() }
    }

    fn mark(&mut self, part: &'static str) {
        let now = Instant::now();
        self.parts.push((part, now.duration_since(self.last).as_micros()));
        self.last = now;
    }
}

impl std::fmt::Display for Hops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (part, micros)) in self.parts.iter().enumerate() {
            let separator = if i == 0 { "" } else { " " };
            write!(f, "{separator}{part}={:.1}", *micros as f64 / 1000.0)?;
        }
        Ok(())
    }
}

/// Sets the stage's queue depth gauge from the read model, not counting `finished`
/// (a promotion whose outcome was just recorded, which the read model may not hold yet).
fn record_queue_depth(context: &Context, created: &PromotionCreatedV2, finished: Option<&str>) {
    let depth = context.projection.read(|model| {
        model.project(&created.project).and_then(|p| p.stages.get(&created.stage)).map(|stage| {
            stage.promotions.iter().filter(|p| !p.phase.is_terminal() && Some(p.name.as_str()) != finished).count()
        })
    });
    if let Some(depth) = depth {
        lading_runtime::metrics::queue_depth(&created.project, &created.stage, depth);
    }
}

/// The phase an outcome event records.
fn phase_of(event: &Event) -> &'static str {
    match event {
        Event::PromotionSucceeded(_) => "Succeeded",
        Event::PromotionFailed(_) => "Failed",
        Event::PromotionErrored(_) => "Errored",
        _ => "Aborted",
    }
}

/// Runs the promotion while this replica holds the stage's turn, and records how it
/// ended.
async fn run_turn(
    context: &Context,
    created: &PromotionCreatedV2,
    trace: &TraceContext,
    fence: lading_bus::lease::Fence,
    claim: Option<Claim>,
    hops: &mut Hops,
) -> Result<Outcome, HandlerError> {
    // An abort claimed before the turn came (read once the lease was taken): record it
    // (its author may have died before publishing it). A promotion parked after its push
    // is taken back from the abort's reach before any step runs.
    let claim = match on_turn(claim.as_ref().map(Claim::held)) {
        TurnRuling::Run | TurnRuling::RecordAbort => claim,
        TurnRuling::Reclaim => context
            .bus
            .replace_claim(&created.project, &created.promotion, Held::Parked, &Claim::Committed)
            .await
            .map_err(transient)?,
    };
    match claim {
        Some(Claim::Aborted { actor, reason }) => {
            publish_aborted(context, created, &actor, &reason, trace, Duration::ZERO).await?;
            return Ok(Outcome::Done);
        }
        Some(Claim::Parked) => return Err(HandlerError::Transient("the promotion's claim is still parked".to_owned())),
        None | Some(Claim::Committed) => {}
    }
    let running = Instant::now();
    // A promotion that waited started already.
    let waited = resume::recorded(context, created);
    // The start is sent without waiting for its acknowledgement: the steps' reports follow
    // it on the same connection, so the log stores them after it, and it is known stored
    // before anything that follows the steps is recorded.
    let mut start = context.bus.pipeline(trace, &context.shutdown);
    if waited.is_none() {
        let started = Event::PromotionStarted(PromotionStartedV1 {
            project: created.project.clone(),
            stage: created.stage.clone(),
            promotion: created.promotion.clone(),
            freight_id: created.freight_id.clone(),
            started_at_ms: now_ms(),
        });
        start.send(started).await;
    }
    hops.mark("started");
    let finished = execute::execute(context, created, trace, fence.clone(), waited.as_ref()).await;
    hops.mark("steps");
    if start.stored().await.is_err() {
        return Ok(Outcome::RetryAfter(WAIT_FOR_TURN));
    }
    match finished {
        execute::Finished::Waiting(waiting) => {
            if fence.check().is_err() {
                return Ok(Outcome::RetryAfter(WAIT_FOR_TURN));
            }
            // Recorded once per wait; a look that finds it still waiting records nothing.
            let same_wait = waited
                .as_ref()
                .is_some_and(|w| w.index as usize == waiting.index && w.waiting_since_ms == waiting.parked.since_ms);
            if !same_wait {
                let event = Event::PromotionWaiting(PromotionWaitingV1 {
                    project: created.project.clone(),
                    stage: created.stage.clone(),
                    promotion: created.promotion.clone(),
                    freight_id: created.freight_id.clone(),
                    index: waiting.index as u32,
                    alias: waiting.alias,
                    uses: waiting.uses,
                    state: waiting.state,
                    message: waiting.parked.message,
                    waiting_since_ms: waiting.parked.since_ms,
                    poll_interval_ms: u64::try_from(waiting.parked.interval.as_millis()).unwrap_or(u64::MAX),
                });
                context.bus.publish_until_stored(&event, trace, &context.shutdown).await.map_err(transient)?;
            }
            park_claim(context, created, &fence).await;
            // The stage's lease is released and no worker is held meanwhile; the
            // promotion stays the head of its stage's queue.
            Ok(Outcome::RetryAfter(waiting.parked.interval))
        }
        execute::Finished::Unrecorded => Ok(Outcome::RetryAfter(WAIT_FOR_TURN)),
        execute::Finished::Outcome(event, health, committed) => {
            if fence.check().is_err() {
                return Ok(Outcome::RetryAfter(WAIT_FOR_TURN));
            }
            // Recording an outcome is past the point of no return too; a run that pushed
            // claimed it before its first push, and it stays so: only a run holding the turn
            // parks a claim, and an abort replaces only a parked one.
            let claimed = if committed {
                Ok(Claim::Committed)
            } else {
                context.bus.claim_promotion(&created.project, &created.promotion, &Claim::Committed).await
            };
            match claimed {
                Ok(Claim::Committed) => {
                    // The stage's health goes first: whoever acts on the promotion's end
                    // finds it in the log.
                    if let Some(health) = &health {
                        context.bus.publish_until_stored(health, trace, &context.shutdown).await.map_err(transient)?;
                    }
                    let published = context.bus.publish_terminal(&event, trace).await.map_err(transient)?;
                    hops.mark("outcome");
                    if matches!(published, lading_bus::Published::Stored(_)) {
                        lading_runtime::metrics::promotion_finished(phase_of(&event), running.elapsed());
                    }
                    if let Event::PromotionSucceeded(succeeded) = &event {
                        verify_on_success(context, succeeded, health.is_some(), trace).await;
                    }
                }
                Ok(Claim::Aborted { actor, reason }) => {
                    publish_aborted(context, created, &actor, &reason, trace, running.elapsed()).await?
                }
                // Parked by a run of this promotion that waited: another run is at work.
                Ok(Claim::Parked) => return Ok(Outcome::RetryAfter(WAIT_FOR_TURN)),
                Err(error) => return Err(transient(error)),
            }
            Ok(Outcome::Done)
        }
        execute::Finished::Stopped(Stop::Aborted(reason)) => {
            tracing::info!(promotion = created.promotion, reason, "promotion aborted");
            let actor = match context.bus.promotion_claim(&created.project, &created.promotion).await {
                Ok(Some(Claim::Aborted { actor, .. })) => actor,
                _ => String::new(),
            };
            publish_aborted(context, created, &actor, &reason, trace, running.elapsed()).await?;
            Ok(Outcome::Done)
        }
        execute::Finished::Stopped(Stop::LostTurn(reason)) => {
            lading_runtime::metrics::lost_turn();
            tracing::warn!(promotion = created.promotion, reason, "lost the stage's turn; leaving the promotion");
            Ok(Outcome::RetryAfter(WAIT_FOR_TURN))
        }
    }
}

/// Records the freight of a promotion that succeeded verified in its stage when nothing
/// remains to wait for ([`verified_on_success`]: no analyses, no health checks left), so
/// that downstream stages need not wait for the verifier's turn. The verifier records it
/// a while later if it still is not: a lost publish here is only slower.
async fn verify_on_success(
    context: &Context,
    succeeded: &PromotionSucceededV1,
    left_health_checks: bool,
    trace: &TraceContext,
) {
    let has_analyses = context.specs.read(|s| s.stage(&succeeded.project, &succeeded.stage).map(|s| s.has_analyses()));
    // A stage deleted meanwhile: the verifier decides.
    let Some(has_analyses) = has_analyses else { return };
    if !verified_on_success(has_analyses, left_health_checks) {
        return;
    }
    let verified = Event::FreightVerified(succeeded.verified(now_ms()));
    // Bounded: the stage's turn is still held, and the verifier records it anyway.
    let error = match tokio::time::timeout(VERIFY_ON_SUCCESS, context.bus.publish(&verified, trace)).await {
        Ok(Ok(_)) => return,
        Ok(Err(error)) => error.to_string(),
        Err(_) => format!("not stored within {VERIFY_ON_SUCCESS:?}"),
    };
    tracing::warn!(error, promotion = succeeded.promotion, "freight not recorded verified; the verifier will");
}

/// Hands a waiting promotion's `committed` claim over (`parked`), its wait recorded and
/// its turn still held, so that an abort may end it while no run holds it. Left
/// `committed` when that fails: an abort is then refused until the next look parks it.
async fn park_claim(context: &Context, created: &PromotionCreatedV2, fence: &lading_bus::lease::Fence) {
    let held = match context.bus.promotion_claim(&created.project, &created.promotion).await {
        Ok(held) => held,
        Err(error) => {
            tracing::warn!(%error, promotion = created.promotion, "cannot read the waiting promotion's claim");
            return;
        }
    };
    if !parks(held.as_ref().map(Claim::held)) || fence.check().is_err() {
        return;
    }
    let parked = context.bus.replace_claim(&created.project, &created.promotion, Held::Committed, &Claim::Parked).await;
    if let Err(error) = parked {
        tracing::warn!(%error, promotion = created.promotion, "cannot park the waiting promotion's claim");
    }
}

/// Records an abort the claims decided (after the promotion ran for `ran`), unless the
/// log already has the promotion's end.
async fn publish_aborted(
    context: &Context,
    created: &PromotionCreatedV2,
    actor: &str,
    reason: &str,
    trace: &TraceContext,
    ran: Duration,
) -> Result<(), HandlerError> {
    if turn_of(context, created) == Turn::Finished {
        return Ok(());
    }
    let event = Event::PromotionAbortedV2(PromotionAbortedV2 {
        project: created.project.clone(),
        stage: created.stage.clone(),
        promotion: created.promotion.clone(),
        freight_id: created.freight_id.clone(),
        reason: reason.to_owned(),
        actor: actor.to_owned(),
        aborted_at_ms: now_ms(),
    });
    if let lading_bus::Published::Stored(_) = context.bus.publish(&event, trace).await.map_err(transient)? {
        lading_runtime::metrics::promotion_finished("Aborted", ran);
    }
    Ok(())
}
