//! `VerificationStarted` → measurements, then one verdict (`VerificationFinished`, and
//! `FreightVerified` when it is `Successful`).
//!
//! The verification runs inside the delivery of its `VerificationStarted`, which the
//! consumer keeps alive with progress heartbeats. Every measurement is an event; a
//! replica that takes the delivery over (the first one died or shut down) reads them and
//! continues, so limits and counts are never reset. Each wait is bounded: a measurement
//! by its provider's timeout and [`MEASUREMENT_LIMIT`], the pause before the next one by
//! the metric's interval; an abort is noticed within [`ABORT_POLL`].
//!
//! A verification whose freight a later promotion replaced stops (noticed within
//! [`ABORT_POLL`], and checked against the whole log before the verdict): its verdict is
//! `Aborted` and it marks nothing verified ([`when_to_verify::verdict`]).

use std::sync::Arc;
use std::time::Duration;

use lading_bus::specs::SpecStore;
use lading_bus::{Bus, Delivery, HandlerError, Outcome};
use lading_domain::expression::ExpressionLimits;
use lading_domain::verification::{self, MetricTally, Next, Phase, RunVerdict, when_to_verify};
use lading_events::catalog::{
    FreightVerifiedV1, VerificationFinishedV1, VerificationMeasuredV1, VerificationPhaseV1, VerificationStartedV1,
};
use lading_events::{Event, TraceContext, now_ms};
use lading_projection::Projection;
use lading_runtime::Shutdown;

use crate::history::{self, History};
use crate::plan::{self, PlannedMetric};
use crate::providers::{self, Measured};
use crate::stage_now;

/// The longest one measurement may take, whatever its provider's own timeout.
pub const MEASUREMENT_LIMIT: Duration = Duration::from_secs(600);
/// How often a waiting verification checks whether it was aborted.
pub const ABORT_POLL: Duration = Duration::from_secs(1);

/// What the verification handler needs.
#[derive(Clone)]
pub struct Runner {
    pub bus: Bus,
    pub specs: SpecStore,
    pub projection: Projection,
    pub shutdown: Shutdown,
    pub limits: ExpressionLimits,
    /// Where providers' `${{ secret('name').key }}` reads.
    pub secrets: lading_secret_source::SecretSource,
}

fn transient(e: impl std::fmt::Display) -> HandlerError {
    HandlerError::Transient(e.to_string())
}

pub fn wire_phase(phase: Phase) -> VerificationPhaseV1 {
    match phase {
        Phase::Pending => VerificationPhaseV1::Pending,
        Phase::Running => VerificationPhaseV1::Running,
        Phase::Successful => VerificationPhaseV1::Successful,
        Phase::Failed => VerificationPhaseV1::Failed,
        Phase::Error => VerificationPhaseV1::Error,
        Phase::Inconclusive => VerificationPhaseV1::Inconclusive,
        Phase::Aborted => VerificationPhaseV1::Aborted,
    }
}

fn domain_phase(phase: VerificationPhaseV1) -> Phase {
    Phase::ALL.into_iter().find(|p| wire_phase(*p) == phase).unwrap_or(Phase::Error)
}

impl Runner {
    pub async fn handle(&self, delivery: Delivery) -> Result<Outcome, HandlerError> {
        let Event::VerificationStarted(started) = &delivery.event else {
            return Ok(Outcome::Done);
        };
        let from = delivery.stream_sequence;
        let history = history::read(&self.bus, started, from).await.map_err(transient)?;
        if let Some(finished) = &history.finished {
            // Decided already (a replica died after the verdict): make sure of its effect.
            if finished.phase == VerificationPhaseV1::Successful {
                self.publish_verified(started, finished.finished_at_ms, &delivery.trace).await?;
            }
            return Ok(Outcome::Done);
        }
        if let Some(actor) = &history.aborted_by {
            let verdict = RunVerdict { phase: Phase::Aborted, message: format!("aborted by {actor}") };
            return self.finish(started, verdict, &delivery.trace).await;
        }
        // From here on the read model holds at least the promotion this verification
        // follows, so a freight it does not hold was replaced, not yet unseen.
        stage_now::at(&self.projection, &started.project, &started.stage, from).await?;
        let specs = self.specs.clone();
        let limits = self.limits;
        let (project, stage) = (started.project.clone(), started.stage.clone());
        // Arguments read the verified freight and the project's metadata (Kargo's
        // `imageFrom()`, `freightMetadata()`, `stageMetadata()` …).
        let (freight, metadata) = self.projection.read(|m| {
            let model = m.project(&project);
            let freight = model.and_then(|p| p.find_freight(&started.freight_id)).map(|f| f.freight.clone());
            (freight, model.map(|p| p.metadata()).unwrap_or_default())
        });
        let planned = tokio::task::spawn_blocking(move || {
            let scope = lading_domain::verification::args::ArgumentScope {
                freight: freight.as_ref(),
                metadata: Some(&metadata),
            };
            specs.read(|s| match s.stage(&project, &stage) {
                None => Err(format!("stage {stage:?} no longer exists")),
                Some(spec) => plan::build(s, &project, &stage, spec, &limits, scope),
            })
        })
        .await
        .map_err(transient)?;
        let plan = match planned {
            Ok(plan) => plan,
            Err(reason) => {
                let verdict = RunVerdict { phase: Phase::Error, message: reason };
                return self.finish(started, verdict, &delivery.trace).await;
            }
        };
        let mut tallies = tallies_from(&plan.metrics, &history);
        loop {
            let pairs: Vec<_> = plan.metrics.iter().map(|m| &m.plan).zip(tallies.iter()).collect();
            let verdict = verification::assess_run(&pairs);
            if verdict.phase.is_completed() {
                return self.finish(started, verdict, &delivery.trace).await;
            }
            let due = plan
                .metrics
                .iter()
                .enumerate()
                .filter_map(|(i, m)| {
                    match verification::next_measurement(&m.plan, &tallies[i], started.started_at_ms) {
                        Next::MeasureAt(at) => Some((i, at)),
                        Next::Done => None,
                    }
                })
                .min_by_key(|(_, at)| *at);
            let Some((index, at)) = due else {
                // Running with nothing due cannot happen; end rather than spin.
                let verdict = RunVerdict { phase: Phase::Error, message: "no metric is due to be measured".into() };
                return self.finish(started, verdict, &delivery.trace).await;
            };
            match self.wait_until(started, from, at).await? {
                Waited::Due => {}
                Waited::Aborted(actor) => {
                    let verdict = RunVerdict { phase: Phase::Aborted, message: format!("aborted by {actor}") };
                    return self.finish(started, verdict, &delivery.trace).await;
                }
                Waited::Replaced(reason) => {
                    let verdict = RunVerdict { phase: Phase::Aborted, message: reason };
                    return self.finish(started, verdict, &delivery.trace).await;
                }
                // Another replica continues from the recorded measurements.
                Waited::ShuttingDown => return Ok(Outcome::RetryAfter(Duration::ZERO)),
            }
            let metric = &plan.metrics[index];
            let taken =
                tallies[index].successful + tallies[index].failed + tallies[index].inconclusive + tallies[index].error;
            let measured = self.measure(started, metric, &plan.args, taken as u32).await;
            self.bus
                .publish(&Event::VerificationMeasured(measured.clone()), &delivery.trace)
                .await
                .map_err(transient)?;
            tracing::info!(
                stage = started.stage,
                verification = started.verification_id,
                metric = measured.metric,
                phase = ?measured.phase,
                value = measured.value,
                "measured"
            );
            tallies[index].record(
                domain_phase(measured.phase),
                &measured.value,
                &measured.message,
                measured.finished_at_ms,
            );
        }
    }

    async fn measure(
        &self,
        started: &VerificationStartedV1,
        metric: &PlannedMetric,
        args: &std::collections::BTreeMap<String, String>,
        index: u32,
    ) -> VerificationMeasuredV1 {
        let started_at_ms = now_ms();
        let revealed = lading_domain::secrets::Revealed::default();
        let outcome = tokio::time::timeout(MEASUREMENT_LIMIT, async {
            let found = self.secrets.project(&started.project).await.map_err(|e| e.to_string())?;
            let access = lading_domain::secrets::SecretAccess {
                project: started.project.clone(),
                secrets: found.secrets,
                revealed: revealed.clone(),
            };
            let secrets = providers::Secrets { access: &access, limits: &self.limits };
            providers::measure(&metric.metric, args, secrets).await
        })
        .await;
        let (phase, value, message) = match outcome {
            Err(_) => (
                Phase::Error,
                String::new(),
                format!("the measurement took longer than {}s", MEASUREMENT_LIMIT.as_secs()),
            ),
            Ok(Err(error)) => (Phase::Error, String::new(), error),
            Ok(Ok(Measured::Decided { succeeded, output })) => {
                (if succeeded { Phase::Successful } else { Phase::Failed }, String::new(), output)
            }
            Ok(Ok(Measured::Value(value))) => {
                let (success, failure, limits) = (metric.success.clone(), metric.failure.clone(), self.limits);
                let shown = value.display();
                let judged = tokio::task::spawn_blocking(move || {
                    verification::judge(&value, success.as_deref(), failure.as_deref(), &limits)
                })
                .await;
                match judged {
                    Ok(verdict) => (verdict.phase, shown, verdict.message),
                    Err(e) => (Phase::Error, shown, format!("judging the value stopped: {e}")),
                }
            }
        };
        // A secret a provider read is never recorded, whatever echoed it.
        let (value, message) = (revealed.scrub(&value), revealed.scrub(&message));
        VerificationMeasuredV1 {
            project: started.project.clone(),
            stage: started.stage.clone(),
            verification_id: started.verification_id.clone(),
            metric: metric.plan.name.clone(),
            index,
            phase: wire_phase(phase),
            value,
            message,
            started_at_ms,
            finished_at_ms: now_ms(),
        }
    }

    async fn wait_until(&self, started: &VerificationStartedV1, from: u64, at_ms: i64) -> Result<Waited, HandlerError> {
        loop {
            if let Some(actor) = history::abort_requested(&self.bus, started, from).await.map_err(transient)? {
                return Ok(Waited::Aborted(actor));
            }
            let stage = stage_now::read(&self.projection, &started.project, &started.stage);
            if let Some(reason) = when_to_verify::stale(&stage, &started.freight_id) {
                return Ok(Waited::Replaced(reason));
            }
            let left = at_ms - now_ms();
            if left <= 0 {
                return Ok(Waited::Due);
            }
            let pause = Duration::from_millis(left as u64).min(ABORT_POLL);
            tokio::select! {
                () = self.shutdown.cancelled() => return Ok(Waited::ShuttingDown),
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    async fn finish(
        &self,
        started: &VerificationStartedV1,
        verdict: RunVerdict,
        trace: &TraceContext,
    ) -> Result<Outcome, HandlerError> {
        let stage = stage_now::latest(&self.projection, &started.project, &started.stage).await?;
        let verdict = when_to_verify::verdict(&stage, &started.freight_id, verdict);
        let finished_at_ms = now_ms();
        let finished = VerificationFinishedV1 {
            project: started.project.clone(),
            stage: started.stage.clone(),
            freight_id: started.freight_id.clone(),
            promotion: started.promotion.clone(),
            verification_id: started.verification_id.clone(),
            phase: wire_phase(verdict.phase),
            message: verdict.message.clone(),
            finished_at_ms,
        };
        let published = self.bus.publish(&Event::VerificationFinished(finished), trace).await.map_err(transient)?;
        if let lading_bus::Published::Stored(_) = published {
            let took = finished_at_ms.saturating_sub(started.started_at_ms).max(0) as u64;
            lading_runtime::metrics::verification_finished(verdict.phase.as_str(), Duration::from_millis(took));
        }
        tracing::info!(
            stage = started.stage,
            freight = started.freight_id,
            verification = started.verification_id,
            phase = %verdict.phase,
            message = verdict.message,
            "verification finished"
        );
        if verdict.phase == Phase::Successful {
            self.publish_verified(started, finished_at_ms, trace).await?;
        }
        Ok(Outcome::Done)
    }

    async fn publish_verified(
        &self,
        started: &VerificationStartedV1,
        verified_at_ms: i64,
        trace: &TraceContext,
    ) -> Result<(), HandlerError> {
        let verified = Event::FreightVerified(FreightVerifiedV1 {
            project: started.project.clone(),
            stage: started.stage.clone(),
            freight_id: started.freight_id.clone(),
            promotion: started.promotion.clone(),
            verified_at_ms,
        });
        self.bus.publish(&verified, trace).await.map_err(transient)?;
        Ok(())
    }
}

enum Waited {
    Due,
    Aborted(String),
    /// A later promotion replaced the freight (the reason says so).
    Replaced(String),
    ShuttingDown,
}

/// Each metric's tally from the recorded measurements, in index order.
fn tallies_from(metrics: &[PlannedMetric], history: &History) -> Vec<MetricTally> {
    metrics
        .iter()
        .map(|m| {
            let mut recorded: Vec<_> = history.measurements.iter().filter(|r| r.metric == m.plan.name).collect();
            recorded.sort_by_key(|r| r.index);
            let mut tally = MetricTally::default();
            for r in recorded {
                tally.record(domain_phase(r.phase), &r.value, &r.message, r.finished_at_ms);
            }
            tally
        })
        .collect()
}

#[allow(dead_code)]
fn _assert_send(runner: Arc<Runner>, delivery: Delivery) -> impl Send {
    async move { runner.handle(delivery).await }
}
