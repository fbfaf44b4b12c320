//! Running a promotion's steps on a blocking thread in a fresh workspace, publishing
//! each step's report (and what a `git-push` step pushed) as it finishes, and turning the result into the event that records
//! how the promotion ended.

use lading_bus::lease::Fence;
use lading_domain::FreightId;
use lading_events::catalog::{
    PromotionCreatedV2, PromotionErroredV1, PromotionFailedV1, PromotionPushedV1, PromotionStepFinishedV2,
    PromotionSucceededV1, StepStatusV2,
};
use lading_events::{Event, TraceContext, now_ms};

use std::sync::Arc;

use super::guard::{self, RunObserver, TurnGuard};
use crate::Context;
use crate::engine::{
    PromotionError, PromotionInput, StepFailure, StepOutcome, StepReport, Stop, Waiting, run_promotion_observed,
};

/// How a run ended.
pub enum Finished {
    /// The event recording its outcome (succeeded, failed or errored), for a promotion
    /// that left health checks the stage's first health after it (published just before
    /// the outcome), and whether the run claimed its point of no return already (before
    /// its first push), so the outcome need not claim it again.
    Outcome(Event, Option<Box<Event>>, bool),
    /// Its step reports could not all be stored (the service is shutting down): no
    /// outcome is recorded without them; the run is left to be resumed.
    Unrecorded,
    /// It stopped early, recording nothing.
    Stopped(Stop),
    /// A step waits (a pull request still open): the run stopped there, its workspace
    /// kept, to be resumed.
    Waiting(Box<Waiting>),
}

fn outcome_label(outcome: StepOutcome) -> &'static str {
    match outcome {
        StepOutcome::Succeeded => "Succeeded",
        StepOutcome::Failed => "Failed",
        StepOutcome::Errored => "Errored",
        StepOutcome::Skipped => "Skipped",
    }
}

fn step_event(created: &PromotionCreatedV2, report: StepReport) -> Event {
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

/// What a `git-push` step reported it pushed, as its event.
fn pushed_event(created: &PromotionCreatedV2, report: &StepReport) -> Option<Event> {
    let pushed = report.pushed.as_ref()?;
    Some(Event::PromotionPushed(PromotionPushedV1 {
        project: created.project.clone(),
        stage: created.stage.clone(),
        promotion: created.promotion.clone(),
        index: report.index as u32,
        repo_url: pushed.repo_url.clone(),
        branch: pushed.branch.clone(),
        commit: pushed.commit.clone(),
        changed_files: pushed.changed_files,
        changes: pushed.changes.clone(),
        pushed_at_ms: report.finished_at_ms,
    }))
}

/// Runs the promotion's steps (from the step it waited at, when `waited`) and returns
/// how it ended.
pub async fn execute(
    context: &Context,
    created: &PromotionCreatedV2,
    trace: &TraceContext,
    fence: Fence,
    waited: Option<&lading_events::catalog::PromotionWaitingV1>,
) -> Finished {
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
        return Finished::Outcome(errored(format!("stage {:?} no longer exists", created.stage)), None, false);
    };
    let steps = match crate::engine::tasks::expand_tasks(stage.steps(), |task| {
        context.specs.read(|s| s.promotion_task(&created.project, task).cloned())
    }) {
        Ok(steps) => steps,
        Err(reason) => return Finished::Outcome(errored(reason), None, false),
    };
    let Ok(freight_id) = FreightId::parse(&created.freight_id) else {
        return Finished::Outcome(errored(format!("malformed freight ID {:?}", created.freight_id)), None, false);
    };
    let Some((freight, origins)) = context.projection.read(|m| {
        let project = m.project(&created.project)?;
        let target = &project.freight.get(&freight_id)?.freight;
        let current = project.stages.get(&created.stage).map(|s| &s.current);
        let others =
            current.into_iter().flatten().filter_map(|(_, (id, _))| project.freight.get(id)).map(|f| &f.freight);
        let origins = lading_domain::freight_collection::by_origin(target, others.clone());
        Some((lading_domain::freight_collection::collect(target, others), origins))
    }) else {
        return Finished::Outcome(errored(format!("freight {freight_id} is unknown")), None, false);
    };
    let work_dir = context.config.work_dir.clone();
    let author = context.config.author.clone();
    let mut remotes = context.config.remotes.clone();
    // In Kubernetes mode the project's namespace holds its secrets and Git credentials.
    let project_secrets = match context.config.secrets.project(&created.project).await {
        Ok(found) => found,
        Err(error) => return Finished::Outcome(errored(error.to_string()), None, false),
    };
    if let Some(credentials) = project_secrets.credentials {
        remotes.credentials = crate::steps::GitCredentials::from((*credentials).clone());
    }
    let secrets = lading_domain::secrets::SecretAccess {
        project: created.project.clone(),
        secrets: project_secrets.secrets,
        revealed: Default::default(),
    };
    // Mirrors are locked within a process: each replica keeps its own.
    let mirrors = work_dir
        .clone()
        .unwrap_or_else(std::env::temp_dir)
        .join("lading-git-mirrors")
        .join(&context.config.service.replica);
    let base = work_dir.clone().unwrap_or_else(std::env::temp_dir);
    let Some(promotion_dir) = super::resume::PromotionDir::new(&base, &created.promotion) else {
        return Finished::Outcome(
            errored(format!("promotion name {:?} cannot name a workspace", created.promotion)),
            None,
            false,
        );
    };
    let resume = match super::resume::plan(&promotion_dir, waited, &steps) {
        Ok(resume) => resume,
        Err(error) => return Finished::Outcome(errored(format!("creating the workspace: {error}")), None, false),
    };
    let created_owned = created.clone();
    tracing::info!(promotion = created.promotion, stage = created.stage, freight = %freight_id, "promotion running");
    let started = std::time::Instant::now();
    let (reports, mut received) = tokio::sync::mpsc::unbounded_channel::<StepReport>();
    let guard = Arc::new(TurnGuard::new(fence, context.bus.clone(), tokio::runtime::Handle::current(), created));
    // Work in flight (a transfer, a call, a child process) stops as soon as the
    // promotion is aborted or the turn lost, not at its own timeouts.
    remotes.cancel = guard.cancellation();
    let watcher = tokio::spawn(guard::stop_when_aborted_or_lost(guard.clone()));
    let run_guard = guard.clone();
    let projection = context.projection.clone();
    let specs = context.specs.clone();
    let failpoint = context.config.failpoint.clone();
    let trace_copy = *trace;
    let publisher = {
        let bus = context.bus.clone();
        let created = created.clone();
        let trace = *trace;
        let shutdown = context.shutdown.clone();
        // Each report is sent as soon as its step finishes, without waiting for the
        // acknowledgement of the one before; every acknowledgement is awaited before the
        // outcome is recorded.
        tokio::spawn(async move {
            let mut pipeline = bus.pipeline(&trace, &shutdown);
            while let Some(report) = received.recv().await {
                let took = report.finished_at_ms.saturating_sub(report.started_at_ms).max(0) as u64;
                lading_runtime::metrics::step_finished(
                    &report.uses,
                    outcome_label(report.outcome),
                    std::time::Duration::from_millis(took),
                );
                let pushed = pushed_event(&created, &report);
                for event in std::iter::once(step_event(&created, report)).chain(pushed) {
                    pipeline.send(event).await;
                }
            }
            match pipeline.stored().await {
                Ok(()) => true,
                Err(error) => {
                    tracing::warn!(%error, "a step's report was not recorded before shutdown");
                    false
                }
            }
        })
    };
    let result = tokio::task::spawn_blocking(move || {
        let guard = run_guard;
        let mut observer = RunObserver {
            guard: &guard,
            projection,
            specs,
            created: created_owned.clone(),
            reports,
            failpoint,
            trace: trace_copy,
        };
        let workspace = promotion_dir.workspace();
        let stage_vars = stage.vars();
        let input = PromotionInput {
            project: &created_owned.project,
            stage: &created_owned.stage,
            promotion: &created_owned.promotion,
            freight_id: &freight_id,
            freight: &freight,
            origins: &origins,
            vars: &stage_vars,
            steps: &steps,
            author: &author,
            remotes: &remotes,
            mirrors: Some(&mirrors),
            effects: &*guard,
            secrets: Some(&secrets),
            parks: true,
            resume: resume.as_ref(),
        };
        let result = run_promotion_observed(&input, &workspace, &mut observer);
        match &result {
            // Kept for the run that resumes it here.
            Err(PromotionError::Waiting(waiting)) => promotion_dir.keep_for(waiting.parked.since_ms),
            _ => {
                // The next promotion of the same branches starts from these working trees.
                crate::steps::keep_working_trees(&workspace, &mirrors);
                promotion_dir.remove();
            }
        }
        result
    })
    .await
    .unwrap_or_else(|e| {
        Err(PromotionError::Step(StepFailure {
            index: 0,
            uses: String::new(),
            message: format!("the promotion task failed: {e}"),
        }))
    });
    watcher.abort();
    // Step reports are stored before the outcome.
    if !publisher.await.unwrap_or(false) {
        return Finished::Unrecorded;
    }
    let committed = guard.committed();
    match result {
        Ok(outcome) => {
            tracing::info!(
                promotion = created.promotion,
                commit = outcome.commit,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "promotion succeeded"
            );
            let health = crate::health::first(
                &context.config.remotes.argocd,
                &created.project,
                &created.stage,
                &created.promotion,
                &outcome.health_checks,
            )
            .await;
            let succeeded = Event::PromotionSucceeded(PromotionSucceededV1 {
                project: created.project.clone(),
                stage: created.stage.clone(),
                promotion: created.promotion.clone(),
                freight_id: created.freight_id.clone(),
                commit: outcome.commit,
                finished_at_ms: now_ms(),
            });
            Finished::Outcome(succeeded, health.map(Box::new), committed)
        }
        Err(PromotionError::Stopped { index, stop }) => {
            tracing::info!(promotion = created.promotion, index, %stop, "promotion stopped");
            Finished::Stopped(stop)
        }
        Err(PromotionError::Step(failure)) => Finished::Outcome(failed(failure.to_string()), None, committed),
        Err(PromotionError::Waiting(waiting)) => {
            tracing::info!(
                promotion = created.promotion,
                step = waiting.index,
                waiting = waiting.parked.message,
                "promotion waiting"
            );
            Finished::Waiting(waiting)
        }
    }
}
