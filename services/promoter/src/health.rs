//! Stage health: the promoter, which ran the `argocd-update` steps and can reach Argo
//! CD, keeps observing the Applications a stage's last promotion updated and publishes
//! `StageHealthChanged` when the stage's health changes (the rules are
//! [`lading_domain::stage_health`]).
//!
//! - [`first`]: the health right after a promotion that left health checks; published
//!   just before its `PromotionSucceeded`, so the verifier, deciding on that event, finds
//!   it in the read model.
//! - [`run`]: every `LADING_HEALTH_INTERVAL`, each stage whose last successful promotion
//!   left health checks and that runs no promotion is assessed again; a change is
//!   published. Every replica watches every stage: a change's identity names the
//!   promotion and the number of changes before it, so replicas that see the same change
//!   store it once, and one that saw a different one publishes again on its next round.
//!   A stage with a running promotion, or whose last promotion did not succeed, is not
//!   assessed ([`lading_domain::stage_health::not_assessed`]).
//! - [`refresh`]: a `StageRefreshRequested` (Kargo's refresh of a Stage) assesses that
//!   stage at once, then publishes `StageRefreshHandled` naming the request (the Stage's
//!   `status.lastHandledRefresh`), whether or not there was anything to assess; replicas
//!   share the durable consumer [`REFRESH_CONSUMER`], so one of them handles each
//!   request, and the handled event's identity names the request, so a request handled
//!   again after a replica stopped mid-way is stored once.

use std::time::Duration;

use lading_domain::stage_health::{self, AppRead, Health, HealthCheck, StageHealth};
use lading_events::catalog::{HealthStatusV1, StageHealthChangedV1, StageRefreshHandledV2, StageRefreshRequestedV2};
use lading_events::{Event, now_ms};
use lading_runtime::Shutdown;

use crate::steps::argocd::{ArgoCdAccess, applications, client};

/// How long a health round waits for the read model to reach the end of the log.
const CATCH_UP: Duration = Duration::from_secs(10);

/// Reads every Application `checks` name, then assesses the stage's health.
pub async fn assess(access: &ArgoCdAccess, checks: &[HealthCheck]) -> StageHealth {
    let client = client(access).await;
    let mut reads = Vec::new();
    for check in checks {
        let mut check_reads = Vec::new();
        for app in stage_health::apps_of(check).unwrap_or_default() {
            let namespace = if app.namespace.is_empty() { access.namespace.clone() } else { app.namespace.clone() };
            let read = match &client {
                Err(e) => AppRead::Failed(e.clone()),
                Ok(client) => match applications(client, &namespace).get_opt(&app.name).await {
                    Ok(Some(found)) => match serde_json::to_value(found) {
                        Ok(value) => AppRead::Found(value),
                        Err(e) => AppRead::Failed(e.to_string()),
                    },
                    Ok(None) => AppRead::NotFound,
                    Err(e) => AppRead::Failed(e.to_string()),
                },
            };
            check_reads.push(read);
        }
        reads.push(check_reads);
    }
    stage_health::assess(checks, &reads)
}

fn wire_status(health: Health) -> HealthStatusV1 {
    match health {
        Health::Healthy => HealthStatusV1::Healthy,
        Health::Progressing => HealthStatusV1::Progressing,
        Health::Unknown => HealthStatusV1::Unknown,
        Health::Degraded => HealthStatusV1::Degraded,
    }
}

/// The event recording `health` as the `change`-th change after `promotion`.
pub fn changed_event(
    project: &str,
    stage: &str,
    promotion: &str,
    change: u32,
    checks: &[HealthCheck],
    health: &StageHealth,
) -> Event {
    Event::StageHealthChanged(StageHealthChangedV1 {
        project: project.to_owned(),
        stage: stage.to_owned(),
        promotion: promotion.to_owned(),
        change,
        status: wire_status(health.status),
        issues: health.issues.clone(),
        config: serde_json::to_string(checks).unwrap_or_else(|_| "[]".to_owned()),
        output: health.output.to_string(),
        checked_at_ms: now_ms(),
    })
}

/// The first health of a stage after `promotion`, when its steps left health checks.
pub async fn first(
    access: &ArgoCdAccess,
    project: &str,
    stage: &str,
    promotion: &str,
    checks: &[HealthCheck],
) -> Option<Event> {
    if checks.is_empty() {
        return None;
    }
    let health = assess(access, checks).await;
    tracing::info!(stage, promotion, health = health.status.as_str(), "stage health after the promotion");
    Some(changed_event(project, stage, promotion, 0, checks, &health))
}

/// A stage to assess: its last promotion's checks and the health last recorded.
struct Watched {
    project: String,
    stage: String,
    promotion: String,
    checks: Vec<HealthCheck>,
    recorded: StageHealth,
    changes: u32,
}

/// The stages to assess: every stage with health checks, or only `only` (project, stage).
fn watched(context: &crate::Context, only: Option<(&str, &str)>) -> Vec<Watched> {
    context.projection.read(|model| {
        let mut out = Vec::new();
        for (project, p) in &model.projects {
            for (stage, record) in &p.stages {
                if only.is_some_and(|only| only != (project.as_str(), stage.as_str())) {
                    continue;
                }
                let Some(health) = record.current_health() else { continue };
                // A running promotion, or a failed last one, leaves nothing to assess (Kargo).
                if record.health_not_assessed().is_some() {
                    continue;
                }
                out.push(Watched {
                    project: project.clone(),
                    stage: stage.clone(),
                    promotion: health.promotion.clone(),
                    checks: health.checks.clone(),
                    recorded: health.health.clone(),
                    changes: health.changes,
                });
            }
        }
        out
    })
}

/// Assesses every watched stage every `interval` until `shutdown`.
pub async fn run(context: std::sync::Arc<crate::Context>, shutdown: Shutdown) -> Result<(), crate::Error> {
    let interval = context.config.health_interval;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(interval) => {}
        }
        if let Err(error) = round(&context).await {
            tracing::warn!(%error, "stage health round failed; trying again next round");
        }
    }
}

async fn round(context: &crate::Context) -> Result<(), String> {
    assess_and_publish(context, None).await
}

/// Assesses the watched stages (every one, or only `only`) and publishes each change.
async fn assess_and_publish(context: &crate::Context, only: Option<(&str, &str)>) -> Result<(), String> {
    if watched(context, only).is_empty() {
        return Ok(());
    }
    // Decide from the whole log, so a change counted elsewhere is counted here.
    let end = context.projection.latest_sequence().await.map_err(|e| e.to_string())?;
    if !context.projection.wait_for(end, CATCH_UP).await {
        return Err(format!("the read model did not reach log position {end}"));
    }
    for stage in watched(context, only) {
        let health = assess(&context.config.remotes.argocd, &stage.checks).await;
        if !stage_health::changed(Some(&stage.recorded), &health) {
            continue;
        }
        let event =
            changed_event(&stage.project, &stage.stage, &stage.promotion, stage.changes, &stage.checks, &health);
        let trace = lading_bus::tracing_context::new_root();
        context.bus.publish(&event, &trace).await.map_err(|e| e.to_string())?;
        tracing::info!(
            project = stage.project,
            stage = stage.stage,
            from = stage.recorded.status.as_str(),
            to = health.status.as_str(),
            "stage health changed"
        );
    }
    Ok(())
}

/// The durable consumer the replicas share for stage refreshes.
pub const REFRESH_CONSUMER: &str = "promoter-stage-refresh";

/// Assesses a stage at once on each `StageRefreshRequested`, until `shutdown`.
pub async fn refresh(context: std::sync::Arc<crate::Context>, shutdown: Shutdown) -> Result<(), crate::Error> {
    use lading_bus::{ConsumerSpec, HandlerError, Outcome};
    use lading_events::EventType;
    let spec = ConsumerSpec::new(REFRESH_CONSUMER, vec![EventType::StageRefreshRequestedV2.filter()]);
    let bus = context.bus.clone();
    bus.consume(spec, shutdown, |delivery| {
        let context = context.clone();
        async move {
            let request = match &delivery.event {
                Event::StageRefreshRequestedV2(request) => request.clone(),
                // Asked before requests named the last handled one.
                Event::StageRefreshRequested(e) => StageRefreshRequestedV2 {
                    project: e.project.clone(),
                    stage: e.stage.clone(),
                    request_id: e.request_id.clone(),
                    after_seq: 0,
                    requested_at_ms: e.requested_at_ms,
                },
                _ => return Ok(Outcome::Done),
            };
            tracing::info!(project = request.project, stage = request.stage, "stage refresh: assessing its health");
            // A stage without health checks has nothing to assess: the request is handled.
            assess_and_publish(&context, Some((&request.project, &request.stage)))
                .await
                .map_err(HandlerError::Transient)?;
            let handled = Event::StageRefreshHandledV2(StageRefreshHandledV2 {
                project: request.project,
                stage: request.stage,
                request_id: request.request_id,
                after_seq: request.after_seq,
                handled_at_ms: now_ms(),
            });
            context.bus.publish(&handled, &delivery.trace).await.map_err(|e| HandlerError::Transient(e.to_string()))?;
            Ok(Outcome::Done)
        }
    })
    .await?;
    Ok(())
}
