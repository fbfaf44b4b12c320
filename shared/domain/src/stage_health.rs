//! A stage's health, as Kargo assesses it: after a promotion, each `argocd-update` step
//! leaves a health check (the Applications it updated and the revisions it wanted them
//! at); the stage's health is the worst of its Applications' (`Healthy` < `Progressing` <
//! `Unknown` < `Degraded`), with every issue found, and is shown as the Stage's
//! `status.health` (`{status, issues, config, output}`) and its `Healthy` condition. A
//! stage whose last promotion updated no Application has no health.
//!
//! Pure rules: the promoter reads the Applications and publishes a change; the projection
//! keeps the latest; the verifier waits for `Healthy` ([`crate::verification::when_to_verify`]).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub use crate::argocd::Health;
use crate::argocd::{app_health, app_status_output};

/// The step whose health check this module knows.
pub const ARGOCD_UPDATE: &str = "argocd-update";

impl Health {
    pub const ALL: [Health; 4] = [Health::Healthy, Health::Progressing, Health::Unknown, Health::Degraded];

    pub fn parse(text: &str) -> Option<Health> {
        Health::ALL.into_iter().find(|h| h.as_str() == text)
    }
}

/// One health check a promotion left: the step that left it and its input (Kargo's
/// `HealthCheckStep`). For `argocd-update`, the input is its `apps` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    pub uses: String,
    pub config: Value,
}

/// One Application an `argocd-update` health check looks at.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppCheck {
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub desired_revisions: Vec<String>,
}

#[derive(Deserialize)]
struct ArgoCdCheckInput {
    apps: Vec<AppCheck>,
}

/// The health check a step leaves, from its outputs: `argocd-update`'s `apps`; other
/// steps leave none.
pub fn check_left_by(uses: &str, outputs: &serde_json::Map<String, Value>) -> Option<HealthCheck> {
    (uses == ARGOCD_UPDATE).then(|| HealthCheck {
        uses: uses.to_owned(),
        config: json!({"apps": outputs.get("apps").cloned().unwrap_or_else(|| json!([]))}),
    })
}

/// The Applications a health check looks at; `Err` for a check of a kind this version
/// does not know or whose input does not read.
pub fn apps_of(check: &HealthCheck) -> Result<Vec<AppCheck>, String> {
    if check.uses != ARGOCD_UPDATE {
        return Err(format!("no health checker registered for health check kind {:?}", check.uses));
    }
    serde_json::from_value::<ArgoCdCheckInput>(check.config.clone())
        .map(|input| input.apps)
        .map_err(|e| format!("could not read the {ARGOCD_UPDATE} health check input: {e}"))
}

/// What reading one Application gave.
#[derive(Debug, Clone, PartialEq)]
pub enum AppRead {
    Found(Value),
    NotFound,
    /// The cluster could not be asked (the message says why).
    Failed(String),
}

/// A stage's health: Kargo's `status.health` (its `config` travels beside it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageHealth {
    pub status: Health,
    /// Why it is not healthy; empty when `Healthy`.
    pub issues: Vec<String>,
    /// Per check, what it saw (`{"applicationStatuses": [...]}` for `argocd-update`).
    pub output: Value,
}

/// The stage's health from its checks and, per check, what reading each of its
/// Applications gave (in [`apps_of`]'s order; a check that does not read has none).
pub fn assess(checks: &[HealthCheck], reads: &[Vec<AppRead>]) -> StageHealth {
    let mut status = Health::Healthy;
    let mut issues = Vec::new();
    let mut output = Vec::new();
    for (i, check) in checks.iter().enumerate() {
        let apps = match apps_of(check) {
            Ok(apps) => apps,
            Err(issue) => {
                status = status.max(Health::Unknown);
                issues.push(issue);
                continue;
            }
        };
        let reads = reads.get(i).map(Vec::as_slice).unwrap_or_default();
        let mut statuses = Vec::new();
        for (j, app) in apps.iter().enumerate() {
            let read = reads.get(j).cloned().unwrap_or(AppRead::Failed("not read".to_owned()));
            let (health, app_issues) = match &read {
                AppRead::Found(value) => app_health(value, &app.desired_revisions),
                AppRead::NotFound => (
                    Health::Unknown,
                    vec![format!("unable to find Argo CD Application {:?} in namespace {:?}", app.name, app.namespace)],
                ),
                AppRead::Failed(why) => (
                    Health::Unknown,
                    vec![format!(
                        "error finding Argo CD Application {:?} in namespace {:?}: {why}",
                        app.name, app.namespace
                    )],
                ),
            };
            status = status.max(health);
            issues.extend(app_issues);
            let found = match &read {
                AppRead::Found(value) => Some(value),
                _ => None,
            };
            statuses.push(app_status_output(&app.namespace, &app.name, found));
        }
        output.push(json!({"applicationStatuses": statuses}));
    }
    StageHealth { status, issues, output: Value::Array(output) }
}

/// A Kubernetes-style condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// `True`, `False` or `Unknown`.
    pub status: &'static str,
    pub reason: String,
    pub message: String,
}

/// Kargo's `Healthy` condition for a stage with `checks` health checks whose latest
/// health is `health` (`None`: not assessed yet since the promotion).
pub fn healthy_condition(health: Option<&StageHealth>, checks: usize) -> Condition {
    let Some(health) = health else {
        return Condition {
            status: "Unknown",
            reason: "WaitingForHealthCheck".to_owned(),
            message: "waiting for the health check after the successful promotion".to_owned(),
        };
    };
    match health.status {
        Health::Healthy => Condition {
            status: "True",
            reason: "Healthy".to_owned(),
            message: format!("stage is healthy (performed {checks} health checks)"),
        },
        Health::Degraded => Condition {
            status: "False",
            reason: "Degraded".to_owned(),
            message: format!("stage is unhealthy ({} issues in {checks} health checks)", health.issues.len()),
        },
        other => Condition { status: "Unknown", reason: other.as_str().to_owned(), message: health.issues.join("; ") },
    }
}

/// Why a stage's health is not assessed now, though its last successful promotion left
/// health checks (Kargo's stage reconciler assesses no health in these cases).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotAssessed {
    /// A promotion of the stage is running: what it changes is not deployed yet.
    PromotionRunning,
    /// The last promotion that ran ended without succeeding (its phase).
    LastPromotion(crate::promotion_queue::PromotionPhase),
}

/// Why the health of a stage whose promotions are `promotions` (oldest first: each
/// one's phase and whether it started) is not assessed now; `None`: it is.
pub fn not_assessed(
    promotions: impl DoubleEndedIterator<Item = (crate::promotion_queue::PromotionPhase, bool)> + Clone,
) -> Option<NotAssessed> {
    use crate::promotion_queue::PromotionPhase;
    if promotions.clone().any(|(phase, _)| phase == PromotionPhase::Running) {
        return Some(NotAssessed::PromotionRunning);
    }
    // A promotion aborted before it ran changed nothing: the one before it stands.
    let (last, _) = promotions.rev().find(|(phase, started)| phase.is_terminal() && *started)?;
    last.is_unsuccessful().then_some(NotAssessed::LastPromotion(last))
}

/// The health and `Healthy` condition a stage shows while its health is not assessed
/// (Kargo's words): `Unknown`, with the reason as its one issue.
pub fn not_assessed_health(why: NotAssessed) -> (StageHealth, Condition) {
    let (issue, reason, message) = match why {
        NotAssessed::PromotionRunning => (
            "Cannot assess health because a Promotion is currently in progress",
            "ActivePromotion".to_owned(),
            "Stage has a Promotion in progress",
        ),
        NotAssessed::LastPromotion(phase) => (
            "Cannot assess health because last Promotion did not succeed",
            format!("LastPromotion{phase:?}"),
            "Cannot assess health because last Promotion did not succeed",
        ),
    };
    (
        StageHealth { status: Health::Unknown, issues: vec![issue.to_owned()], output: Value::Null },
        Condition { status: "Unknown", reason, message: message.to_owned() },
    )
}

/// Whether a newly assessed health differs from the one recorded (only a change is
/// published).
pub fn changed(recorded: Option<&StageHealth>, assessed: &StageHealth) -> bool {
    recorded != Some(assessed)
}

#[cfg(test)]
#[path = "stage_health_tests.rs"]
mod tests;
