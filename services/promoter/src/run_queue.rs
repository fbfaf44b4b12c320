//! Runs promotions: per stage one at a time, in creation order.
//!
//! Handles `PromotionCreated` on the durable consumer `promoter-run`, shared by every
//! replica. A promotion runs only when it is the oldest unfinished promotion of its stage
//! (per the read model) and its replica holds the stage's lease (`promotion.<project>.
//! <stage>` in the lease bucket); otherwise the message is redelivered shortly. The lease
//! expires if its holder dies, so another replica resumes the promotion; the `git-commit`
//! step recognises a commit already made for the promotion by its trailer, so a resumed
//! promotion never commits twice. The outcome is `PromotionSucceeded` or
//! `PromotionFailed`, which share one identity: only the first is stored.

use std::sync::Arc;
use std::time::Duration;

use lading_bus::{ConsumerSpec, Delivery, HandlerError, Outcome};
use lading_domain::FreightId;
use lading_domain::promotion_queue::Turn;
use lading_events::catalog::{
    FreightAliasChangedV1, PromotionCreatedV1, PromotionErroredV1, PromotionFailedV1, PromotionStartedV1,
    PromotionStepFinishedV2, PromotionSucceededV1, StepStatusV2,
};
use lading_events::{Event, EventType, TraceContext, now_ms};
use lading_projection::model::PromotionPhase;
use lading_runtime::Shutdown;

use crate::engine::{
    PromotionError, PromotionInput, StepFailure, StepObserver, StepOutcome, StepReport, run_promotion_observed,
};
use crate::{Context, Error};

pub const CONSUMER: &str = "promoter-run";

/// How soon a promotion waiting for its turn is looked at again.
const WAIT_FOR_TURN: Duration = Duration::from_millis(200);
const LEASE_RENEWAL: Duration = Duration::from_secs(5);
/// How many promotions (of different stages) one replica runs at once.
const PROMOTIONS_AT_ONCE: usize = 8;

pub async fn run(context: Arc<Context>, shutdown: Shutdown) -> Result<(), Error> {
    let mut spec = ConsumerSpec::new(CONSUMER, vec![EventType::PromotionCreatedV1.filter()]);
    // Promotions of different stages run side by side; the stage lease keeps each stage
    // to one at a time.
    spec.concurrency = PROMOTIONS_AT_ONCE;
    let bus = context.bus.clone();
    bus.consume(spec, shutdown, |delivery| {
        let context = context.clone();
        async move { handle(&context, delivery).await }
    })
    .await?;
    Ok(())
}

/// Whose turn it is for `created` in its stage's queue, per the read model.
fn turn_of(context: &Context, created: &PromotionCreatedV1) -> Turn {
    context.projection.read(|model| {
        model
            .project(&created.project)
            .and_then(|p| p.stages.get(&created.stage))
            .map_or(Turn::Unknown, |stage| stage.turn_of(&created.promotion))
    })
}

async fn handle(context: &Context, delivery: Delivery) -> Result<Outcome, HandlerError> {
    let Event::PromotionCreated(created) = &delivery.event else {
        return Ok(Outcome::Done);
    };
    if !context.projection.wait_for(delivery.stream_sequence, Duration::from_secs(10)).await {
        return Err(HandlerError::Transient("read model is behind the log".to_owned()));
    }
    match turn_of(context, created) {
        Turn::Finished => return Ok(Outcome::Done),
        Turn::Waiting | Turn::Unknown => return Ok(Outcome::RetryAfter(WAIT_FOR_TURN)),
        Turn::Mine => {}
    }
    let lease_key = format!("promotion.{}.{}", created.project, created.stage);
    let holder = format!("{}/{}", context.config.service.replica, created.promotion);
    let transient = |e: lading_bus::BusError| HandlerError::Transient(e.to_string());
    let Some(mut lease) = context.bus.try_lease(&lease_key, &holder).await.map_err(transient)? else {
        return Ok(Outcome::RetryAfter(WAIT_FOR_TURN));
    };
    // Another replica may have finished this promotion just before we took the lease:
    // catch up with everything stored so far before deciding to run it.
    let latest = latest_sequence(context).await.map_err(transient)?;
    if !context.projection.wait_for(latest, Duration::from_secs(10)).await {
        lease.release().await;
        return Err(HandlerError::Transient("read model is behind the log".to_owned()));
    }
    if let Turn::Finished = turn_of(context, created) {
        lease.release().await;
        return Ok(Outcome::Done);
    }
    let renewing = Shutdown::new();
    let renewal = {
        let stop = renewing.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(LEASE_RENEWAL) => {
                        if let Err(error) = lease.renew().await {
                            tracing::error!(%error, "lost the stage lease");
                            break;
                        }
                    }
                }
            }
            lease
        })
    };
    let started = Event::PromotionStarted(PromotionStartedV1 {
        project: created.project.clone(),
        stage: created.stage.clone(),
        promotion: created.promotion.clone(),
        freight_id: created.freight_id.clone(),
        started_at_ms: now_ms(),
    });
    if let Err(error) = context.bus.publish(&started, &delivery.trace).await {
        tracing::warn!(%error, "could not record the start of the promotion");
    }
    let finished = execute(context, created, &delivery.trace).await;
    renewing.cancel();
    let published = match &finished {
        Some(event) => context.bus.publish(event, &delivery.trace).await.map(|_| ()),
        None => Ok(()),
    };
    if let Ok(lease) = renewal.await {
        lease.release().await;
    }
    published.map_err(transient)?;
    Ok(Outcome::Done)
}

async fn latest_sequence(context: &Context) -> Result<u64, lading_bus::BusError> {
    let mut stream = context
        .bus
        .jetstream()
        .get_stream(lading_bus::names::EVENTS_STREAM)
        .await
        .map_err(|e| lading_bus::BusError::Nats { context: "opening the event stream", message: e.to_string() })?;
    let info = stream
        .info()
        .await
        .map_err(|e| lading_bus::BusError::Nats { context: "reading stream info", message: e.to_string() })?;
    Ok(info.state.last_sequence)
}

/// Runs the promotion's steps and returns the event recording how it ended.
/// Stops a promotion before its next step once it was aborted, and forwards step
/// reports to be published.
struct RunObserver {
    projection: lading_projection::Projection,
    created: PromotionCreatedV1,
    reports: tokio::sync::mpsc::UnboundedSender<StepReport>,
    failpoint: Option<String>,
    bus: lading_bus::Bus,
    runtime: tokio::runtime::Handle,
    trace: TraceContext,
}

impl StepObserver for RunObserver {
    fn set_freight_alias(&mut self, freight: &FreightId, alias: &str) -> Result<(), String> {
        let project = self.created.project.clone();
        let previous = self
            .projection
            .read(|m| m.project(&project)?.freight.get(freight).map(|f| f.freight.alias.clone()))
            .ok_or_else(|| format!("freight {freight} is unknown in project {project:?}"))?;
        if previous == alias {
            return Ok(());
        }
        let (bus, trace, freight) = (self.bus.clone(), self.trace, freight.clone());
        // Steps run on a blocking thread: wait here for NATS.
        self.runtime.block_on(async move {
            match bus.change_alias(&project, &freight, alias, &previous).await.map_err(|e| e.to_string())? {
                lading_bus::aliases::AliasChange::TakenBy(other) => {
                    Err(format!("alias {alias:?} belongs to freight {}", other.get(..7).unwrap_or(&other)))
                }
                lading_bus::aliases::AliasChange::Claimed => {
                    let event = Event::FreightAliasChanged(FreightAliasChangedV1 {
                        project,
                        freight_id: freight.to_string(),
                        alias: alias.to_owned(),
                        previous_alias: previous,
                        changed_at_ms: now_ms(),
                    });
                    bus.publish(&event, &trace).await.map(|_| ()).map_err(|e| e.to_string())
                }
            }
        })
    }

    fn before_step(&mut self, _index: usize) -> Result<(), String> {
        let created = &self.created;
        let aborted = self.projection.read(|m| {
            let stage = m.project(&created.project)?.stages.get(&created.stage)?;
            let promotion = stage.promotion(&created.promotion)?;
            (promotion.phase == PromotionPhase::Aborted).then(|| promotion.message.clone())
        });
        match aborted {
            Some(reason) => Err(reason),
            None => Ok(()),
        }
    }

    fn step_finished(&mut self, report: StepReport) {
        let crash = self.failpoint.as_deref() == Some(&format!("after-step:{}", report.uses));
        let _ = self.reports.send(report);
        if crash {
            tracing::error!(failpoint = self.failpoint, "failpoint reached: aborting the process");
            std::process::abort();
        }
    }
}

fn step_event(created: &PromotionCreatedV1, report: StepReport) -> Event {
    let status = match report.outcome {
        StepOutcome::Succeeded => StepStatusV2::Succeeded,
        StepOutcome::Failed => StepStatusV2::Failed,
        StepOutcome::Errored => StepStatusV2::Errored,
        StepOutcome::Skipped => StepStatusV2::Skipped,
    };
    Event::PromotionStepFinishedV2(PromotionStepFinishedV2 {
        project: created.project.clone(),
        stage: created.stage.clone(),
        promotion: created.promotion.clone(),
        index: report.index as u32,
        alias: report.alias,
        uses: report.uses,
        status,
        message: report.message,
        started_at_ms: report.started_at_ms,
        finished_at_ms: report.finished_at_ms,
    })
}

/// Runs the promotion's steps and returns the event recording how it ended; `None` when
/// it was aborted (the abort is already recorded).
async fn execute(context: &Context, created: &PromotionCreatedV1, trace: &TraceContext) -> Option<Event> {
    let failed = |reason: String| {
        tracing::warn!(promotion = created.promotion, reason, "promotion failed");
        Event::PromotionFailed(PromotionFailedV1 {
            project: created.project.clone(),
            stage: created.stage.clone(),
            promotion: created.promotion.clone(),
            freight_id: created.freight_id.clone(),
            reason,
            finished_at_ms: now_ms(),
        })
    };
    let errored = |reason: String| {
        tracing::warn!(promotion = created.promotion, reason, "promotion could not run");
        Event::PromotionErrored(PromotionErroredV1 {
            project: created.project.clone(),
            stage: created.stage.clone(),
            promotion: created.promotion.clone(),
            freight_id: created.freight_id.clone(),
            reason,
            errored_at_ms: now_ms(),
        })
    };
    let Some(stage) = context.specs.read(|s| s.stage(&created.project, &created.stage).cloned()) else {
        return Some(errored(format!("stage {:?} no longer exists", created.stage)));
    };
    let steps = match crate::engine::tasks::expand_tasks(stage.steps(), |task| {
        context.specs.read(|s| s.promotion_task(&created.project, task).cloned())
    }) {
        Ok(steps) => steps,
        Err(reason) => return Some(errored(reason)),
    };
    let Ok(freight_id) = FreightId::parse(&created.freight_id) else {
        return Some(errored(format!("malformed freight ID {:?}", created.freight_id)));
    };
    let Some(freight) = context.projection.read(|m| {
        let project = m.project(&created.project)?;
        let target = &project.freight.get(&freight_id)?.freight;
        let current = project.stages.get(&created.stage).map(|s| &s.current);
        let others =
            current.into_iter().flatten().filter_map(|(_, (id, _))| project.freight.get(id)).map(|f| &f.freight);
        Some(lading_domain::freight_collection::collect(target, others))
    }) else {
        return Some(errored(format!("freight {freight_id} is unknown")));
    };
    let work_dir = context.config.work_dir.clone();
    let author = context.config.author.clone();
    let credentials = context.config.git_credentials.clone();
    // Mirrors are locked within a process: each replica keeps its own.
    let mirrors = work_dir
        .clone()
        .unwrap_or_else(std::env::temp_dir)
        .join("lading-git-mirrors")
        .join(&context.config.service.replica);
    let created_owned = created.clone();
    tracing::info!(promotion = created.promotion, stage = created.stage, freight = %freight_id, "promotion running");
    let started = std::time::Instant::now();
    let (reports, mut received) = tokio::sync::mpsc::unbounded_channel();
    let mut observer = RunObserver {
        projection: context.projection.clone(),
        created: created.clone(),
        reports,
        failpoint: context.config.failpoint.clone(),
        bus: context.bus.clone(),
        runtime: tokio::runtime::Handle::current(),
        trace: *trace,
    };
    let publisher = {
        let bus = context.bus.clone();
        let created = created.clone();
        let trace = *trace;
        tokio::spawn(async move {
            while let Some(report) = received.recv().await {
                if let Err(error) = bus.publish(&step_event(&created, report), &trace).await {
                    tracing::warn!(%error, "could not record a step");
                }
            }
        })
    };
    let result = tokio::task::spawn_blocking(move || {
        let workspace = match &work_dir {
            Some(dir) => std::fs::create_dir_all(dir).and_then(|()| tempfile::tempdir_in(dir)),
            None => tempfile::tempdir(),
        }
        .map_err(|e| {
            PromotionError::Step(StepFailure {
                index: 0,
                uses: String::new(),
                message: format!("creating the workspace: {e}"),
            })
        })?;
        let input = PromotionInput {
            project: &created_owned.project,
            stage: &created_owned.stage,
            promotion: &created_owned.promotion,
            freight_id: &freight_id,
            freight: &freight,
            vars: stage.vars(),
            steps: &steps,
            author: &author,
            credentials: &credentials,
            mirrors: Some(&mirrors),
        };
        run_promotion_observed(&input, workspace.path(), &mut observer)
    })
    .await
    .unwrap_or_else(|e| {
        Err(PromotionError::Step(StepFailure {
            index: 0,
            uses: String::new(),
            message: format!("the promotion task failed: {e}"),
        }))
    });
    // Step reports are published before the outcome.
    let _ = publisher.await;
    Some(match result {
        Ok(outcome) => {
            tracing::info!(
                promotion = created.promotion,
                commit = outcome.commit,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "promotion succeeded"
            );
            Event::PromotionSucceeded(PromotionSucceededV1 {
                project: created.project.clone(),
                stage: created.stage.clone(),
                promotion: created.promotion.clone(),
                freight_id: created.freight_id.clone(),
                commit: outcome.commit,
                finished_at_ms: now_ms(),
            })
        }
        Err(PromotionError::Aborted { index, reason }) => {
            tracing::info!(promotion = created.promotion, index, reason, "promotion aborted");
            return None;
        }
        Err(PromotionError::Step(failure)) => failed(failure.to_string()),
    })
}
