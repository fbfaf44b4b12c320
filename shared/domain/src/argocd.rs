//! Argo CD `Application`s as the `argocd-update` and `argocd-wait` steps see them: who may
//! update one, the sources a step asks for, the sync operation it starts, whether that
//! sync finished, and the health a stage takes from the Applications it updated. Rules
//! over the Application's JSON (as the Kubernetes API returns it), following Kargo.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::url_normalize::normalize_git;

/// Annotations naming the stages (`<project>:<stage>`, comma-separated) that may update
/// an Application: Kargo's, and Lading's own.
pub const AUTHORIZED_STAGE_ANNOTATIONS: [&str; 2] = ["kargo.akuity.io/authorized-stage", "lading.dev/authorized-stage"];

/// The operation info naming the promotion that started a sync (Kargo's key, so an
/// Application moved between the two reads the same).
pub const PROMOTION_INFO_KEY: &str = "kargo.akuity.io/promotion";

/// Who a sync operation says started it.
pub const OPERATION_INITIATOR: &str = "lading-promoter";

/// The Argo CD namespace when a step names none (Kargo's default).
pub const DEFAULT_NAMESPACE: &str = "argocd";

pub use crate::label_selector::{LabelRequirement, LabelSelector, Selection, selection};

/// `argocd-update`'s config (Kargo's fields).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateConfig {
    pub apps: Vec<AppUpdate>,
}

/// One Application to update, by `name`, or every one `selector` matches.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AppUpdate {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub selector: Option<LabelSelector>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub sources: Vec<SourceUpdate>,
}

/// How one source of an Application changes.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SourceUpdate {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    #[serde(default)]
    pub chart: String,
    #[serde(default)]
    pub desired_revision: String,
    #[serde(default)]
    pub update_target_revision: bool,
    #[serde(default)]
    pub helm: Option<HelmImages>,
    #[serde(default)]
    pub kustomize: Option<KustomizeImages>,
}

/// Helm parameters to set (`key` = `value`).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HelmImages {
    pub images: Vec<HelmImage>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HelmImage {
    pub key: String,
    pub value: String,
}

/// Kustomize image overrides.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KustomizeImages {
    pub images: Vec<KustomizeImage>,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KustomizeImage {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    #[serde(default)]
    pub tag: String,
    #[serde(default)]
    pub digest: String,
    #[serde(default)]
    pub new_name: String,
}

/// `argocd-wait`'s config (Kargo's fields).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WaitConfig {
    pub apps: Vec<AppWait>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppWait {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub selector: Option<LabelSelector>,
    #[serde(default)]
    pub namespace: Option<String>,
    /// `health`, `sync`, `operation`, `suspended`, `degraded`; default the first three.
    #[serde(default)]
    pub wait_for: Vec<String>,
}

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or_default()
}

/// `namespace/name` of an Application, for messages.
fn app_ref(app: &Value) -> String {
    format!("Argo CD Application {:?} in namespace {:?}", text(app, "/metadata/name"), text(app, "/metadata/namespace"))
}

/// The stages an authorized-stage annotation names, as `(project, stage)`.
pub fn authorized_stages(value: &str) -> Result<Vec<(String, String)>, String> {
    let mut stages = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (project, stage) = entry.split_once(':').map(|(p, s)| (p.trim(), s.trim())).unwrap_or_default();
        if project.is_empty() || stage.is_empty() {
            return Err(format!("invalid authorized stage {entry:?}: expected <project>:<stage>"));
        }
        if project.contains('*') || stage.contains('*') {
            return Err(format!("invalid authorized stage {entry:?}: glob expressions are not supported"));
        }
        stages.push((project.to_owned(), stage.to_owned()));
    }
    if stages.is_empty() {
        return Err(format!("no authorized stage in {value:?}"));
    }
    Ok(stages)
}

/// Whether `app` lets stage `stage` of `project` update it.
pub fn authorize(app: &Value, project: &str, stage: &str) -> Result<(), String> {
    let refused = || {
        format!(
            "{} does not authorize stage {stage} of project {project}: annotate it {}: {project}:{stage}",
            app_ref(app),
            AUTHORIZED_STAGE_ANNOTATIONS[0]
        )
    };
    let annotations = app.pointer("/metadata/annotations").and_then(Value::as_object);
    for key in AUTHORIZED_STAGE_ANNOTATIONS {
        let Some(value) = annotations.and_then(|a| a.get(key)).and_then(Value::as_str) else { continue };
        let stages = authorized_stages(value).map_err(|e| format!("{}: annotation {key}: {e}", app_ref(app)))?;
        if stages.iter().any(|(p, s)| p == project && s == stage) {
            return Ok(());
        }
    }
    Err(refused())
}

/// The Application's sources: `spec.sources`, else `[spec.source]`.
pub fn sources(app: &Value) -> Vec<Value> {
    match app.pointer("/spec/sources").and_then(Value::as_array) {
        Some(sources) if !sources.is_empty() => sources.clone(),
        _ => app.pointer("/spec/source").filter(|s| s.is_object()).cloned().into_iter().collect(),
    }
}

fn same_repo(a: &str, b: &str) -> bool {
    match (normalize_git(a), normalize_git(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

fn update_matches(update: &SourceUpdate, source: &Value) -> bool {
    let (repo, chart) = (text(source, "/repoURL"), text(source, "/chart"));
    if !chart.is_empty() || !update.chart.is_empty() {
        repo == update.repo_url && chart == update.chart
    } else {
        same_repo(repo, &update.repo_url)
    }
}

/// The revision each source of `app` should sync to (empty: whatever it tracks).
pub fn desired_revisions(update: &AppUpdate, app: &Value) -> Vec<String> {
    sources(app)
        .iter()
        .map(|source| {
            update
                .sources
                .iter()
                .find(|u| update_matches(u, source))
                .map(|u| u.desired_revision.clone())
                .unwrap_or_default()
        })
        .collect()
}

fn kustomize_image(image: &KustomizeImage) -> String {
    let mut text = image.repo_url.clone();
    if !image.new_name.is_empty() {
        text = format!("{text}={}", image.new_name);
    }
    if !image.digest.is_empty() { format!("{text}@{}", image.digest) } else { format!("{text}:{}", image.tag) }
}

fn apply_source_update(update: &SourceUpdate, desired_revision: &str, source: &mut Value) {
    if update.update_target_revision && !desired_revision.is_empty() {
        source["targetRevision"] = json!(desired_revision);
    }
    if let Some(kustomize) = update.kustomize.as_ref().filter(|k| !k.images.is_empty()) {
        if !source.get("kustomize").is_some_and(Value::is_object) {
            source["kustomize"] = json!({});
        }
        source["kustomize"]["images"] = kustomize.images.iter().map(kustomize_image).collect();
    }
    if let Some(helm) = update.helm.as_ref().filter(|h| !h.images.is_empty()) {
        if !source.get("helm").is_some_and(Value::is_object) {
            source["helm"] = json!({});
        }
        if !source["helm"].get("parameters").is_some_and(Value::is_array) {
            source["helm"]["parameters"] = json!([]);
        }
        let Some(parameters) = source["helm"]["parameters"].as_array_mut() else { return };
        for image in &helm.images {
            let parameter = json!({"name": image.key, "value": image.value});
            match parameters.iter_mut().find(|p| text(p, "/name") == image.key) {
                Some(existing) => *existing = parameter,
                None => parameters.push(parameter),
            }
        }
    }
}

/// The Application's sources with `update` applied; every source update must match one
/// of its sources.
pub fn desired_sources(update: &AppUpdate, app: &Value) -> Result<Vec<Value>, String> {
    let revisions = desired_revisions(update, app);
    let mut sources = sources(app);
    for (i, source_update) in update.sources.iter().enumerate() {
        let Some(index) = sources.iter().position(|s| update_matches(source_update, s)) else {
            let chart = if source_update.chart.is_empty() {
                String::new()
            } else {
                format!(" and chart {:?}", source_update.chart)
            };
            return Err(format!(
                "sources[{i}]: no source of {} has repoURL {}{chart}",
                app_ref(app),
                source_update.repo_url
            ));
        };
        apply_source_update(source_update, &revisions[index], &mut sources[index]);
    }
    Ok(sources)
}

/// The JSON merge patch that starts a sync of `app` for `promotion` with `sources`: the
/// sources, a hard refresh, the operation (naming the promotion), and the last
/// operation's state cleared, as Kargo does.
pub fn sync_patch(app: &Value, sources: Vec<Value>, promotion: &str) -> Value {
    let spec = if app.pointer("/spec/sources").and_then(Value::as_array).is_some_and(|s| !s.is_empty()) {
        json!({"sources": sources})
    } else {
        json!({"source": sources.into_iter().next().unwrap_or(Value::Null)})
    };
    let mut sync = json!({"revisions": []});
    if let Some(options) = app.pointer("/spec/syncPolicy/syncOptions").filter(|o| o.is_array()) {
        sync["syncOptions"] = options.clone();
    }
    let mut operation = json!({
        "initiatedBy": {"username": OPERATION_INITIATOR, "automated": true},
        "info": [
            {"name": "Reason", "value": "Promotion triggered a sync of this Application resource."},
            {"name": PROMOTION_INFO_KEY, "value": promotion},
        ],
        "sync": sync,
    });
    if let Some(retry) = app.pointer("/spec/syncPolicy/retry").filter(|r| r.is_object()) {
        operation["retry"] = retry.clone();
    }
    json!({
        "metadata": {"annotations": {"argocd.argoproj.io/refresh": "hard"}},
        "spec": spec,
        "operation": operation,
        "status": {"operationState": null},
    })
}

/// Where the sync a step wants stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncProgress {
    /// No sync of this promotion yet, and nothing in the way: start one.
    Start,
    /// Another operation runs: wait for it to end, then start.
    Busy(String),
    /// This promotion's sync is under way.
    Running,
    /// This promotion's sync finished at the desired revisions (one that finished at
    /// other revisions is started again, as Kargo does).
    Succeeded,
    /// This promotion's sync failed, with Argo CD's message.
    Failed(String),
}

fn completed(phase: &str) -> bool {
    matches!(phase, "Succeeded" | "Failed" | "Error")
}

fn promotion_of(operation: Option<&Value>) -> Option<&str> {
    operation?
        .get("info")?
        .as_array()?
        .iter()
        .find(|i| text(i, "/name") == PROMOTION_INFO_KEY)
        .map(|i| text(i, "/value"))
}

/// How the sync of `app` for `promotion` stands, given the revisions it should reach.
pub fn sync_progress(app: &Value, promotion: &str, desired: &[String]) -> SyncProgress {
    let pending = app.get("operation").filter(|o| o.is_object());
    if let Some(operation) = pending {
        // Asked for, not yet picked up by Argo CD.
        return match promotion_of(Some(operation)) {
            Some(p) if p == promotion => SyncProgress::Running,
            _ => SyncProgress::Busy(format!("{} has an operation pending", app_ref(app))),
        };
    }
    let Some(state) = app.pointer("/status/operationState").filter(|s| s.is_object()) else {
        return SyncProgress::Start;
    };
    let phase = text(state, "/phase");
    match promotion_of(state.get("operation")) {
        Some(p) if p == promotion => {}
        _ if completed(phase) || phase.is_empty() => return SyncProgress::Start,
        _ => {
            let by = text(state, "/operation/initiatedBy/username");
            return SyncProgress::Busy(format!("{} runs an operation started by {by:?}", app_ref(app)));
        }
    }
    match phase {
        "Succeeded" => {}
        "Failed" | "Error" => {
            return SyncProgress::Failed(format!("{} failed to sync: {}", app_ref(app), text(state, "/message")));
        }
        _ => return SyncProgress::Running,
    }
    let observed: Vec<&str> = match state.pointer("/syncResult/revisions").and_then(Value::as_array) {
        Some(revisions) if !revisions.is_empty() => revisions.iter().map(|r| r.as_str().unwrap_or_default()).collect(),
        _ => vec![text(state, "/syncResult/revision")],
    };
    let mismatch = desired
        .iter()
        .enumerate()
        .any(|(i, want)| !want.is_empty() && observed.get(i).copied().unwrap_or_default() != want.as_str());
    if mismatch {
        // As Kargo: the source moved on (or Argo CD had not seen the push): sync again.
        return SyncProgress::Start;
    }
    SyncProgress::Succeeded
}

/// A stage's health (Kargo's states; Kargo's `Unhealthy` is `Degraded` here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Health {
    Healthy,
    Progressing,
    Unknown,
    Degraded,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "Healthy",
            Health::Progressing => "Progressing",
            Health::Unknown => "Unknown",
            Health::Degraded => "Degraded",
        }
    }
}

/// Conditions of an Application that `argocd-wait` treats as errors it cannot wait out.
const ERROR_CONDITIONS: [&str; 4] = ["ComparisonError", "InvalidSpecError", "SyncError", "UnknownError"];

/// Conditions of an Application that make the stage unhealthy (Kargo's health checker:
/// they may make Argo CD's own health status unreliable).
const HEALTH_ERROR_CONDITIONS: [&str; 2] = ["ComparisonError", "InvalidSpecError"];

fn conditions_of<'a>(app: &'a Value, types: &'a [&str]) -> impl Iterator<Item = &'a Value> + 'a {
    app.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(move |c| types.contains(&text(c, "/type")))
}

/// Whether Argo CD assessed the Application's health after its last operation finished:
/// `status.reconciledAt` at or after `status.operationState.finishedAt` (Argo CD reassesses
/// health in a separate loop, so health read just after a sync may predate it).
fn reconciled_after_operation(app: &Value) -> bool {
    let finished = text(app, "/status/operationState/finishedAt");
    if finished.is_empty() {
        return true;
    }
    let reconciled = text(app, "/status/reconciledAt");
    match (chrono::DateTime::parse_from_rfc3339(reconciled), chrono::DateTime::parse_from_rfc3339(finished)) {
        (Ok(reconciled), Ok(finished)) => reconciled >= finished,
        _ => false,
    }
}

/// The revisions Argo CD reports the Application's sources synced to.
fn observed_revisions(app: &Value) -> Vec<&str> {
    match app.pointer("/status/sync/revisions").and_then(Value::as_array) {
        Some(revisions) if !revisions.is_empty() => revisions.iter().map(|r| r.as_str().unwrap_or_default()).collect(),
        _ => vec![text(app, "/status/sync/revision")],
    }
}

/// The health a stage takes from its sync of `app` toward `desired` (one revision per
/// source, empty where any will do), Kargo's order: a sync under way is `Unknown`, a
/// source at another revision `Degraded`.
fn health_from_sync(app: &Value, desired: &[String]) -> Option<(Health, Vec<String>)> {
    let who = app_ref(app);
    if desired.iter().all(String::is_empty) {
        // Nothing to compare with: the sync does not count against the stage.
        return None;
    }
    let syncing = app.get("operation").is_some_and(|o| o.get("sync").is_some_and(|s| !s.is_null()));
    if syncing || text(app, "/status/operationState/finishedAt").is_empty() {
        return Some((Health::Unknown, vec![format!("{who} is being synced")]));
    }
    let sources = sources(app);
    if sources.len() != desired.len() {
        return Some((
            Health::Unknown,
            vec![format!("{who} has {} sources but {} desired revisions", sources.len(), desired.len())],
        ));
    }
    let observed = observed_revisions(app);
    if observed.len() != desired.len() {
        return Some((
            Health::Unknown,
            vec![format!("{who} has {} observed revisions but {} desired revisions", observed.len(), desired.len())],
        ));
    }
    let behind: Vec<String> = desired
        .iter()
        .zip(&observed)
        .enumerate()
        .filter(|(_, (want, seen))| !want.is_empty() && *seen != want)
        .map(|(i, (want, _))| {
            format!(
                "source {i} with repoURL {} is not synced to the desired revision {want:?}",
                text(&sources[i], "/repoURL")
            )
        })
        .collect();
    (!behind.is_empty()).then(|| {
        (
            Health::Degraded,
            vec![format!("not all sources of {who} are synced to the desired revisions: {}", behind.join("; "))],
        )
    })
}

/// The health one Application gives a stage that wants it at `desired` revisions, and
/// the issues when it is not healthy: Kargo's health checker, in its order. Health Argo CD
/// has not reassessed since the last sync is not trusted (`Unknown`); an error condition
/// makes it `Degraded`; then the sync (see [`health_from_sync`]); then Argo CD's health
/// (`Progressing` and `Suspended` are `Progressing`, `Healthy` is `Healthy`, anything else
/// `Degraded`).
pub fn app_health(app: &Value, desired: &[String]) -> (Health, Vec<String>) {
    let who = app_ref(app);
    if !reconciled_after_operation(app) {
        return (
            Health::Unknown,
            vec![format!(
                "{who} was not reconciled after its most recent operation completed; its health status is not trusted"
            )],
        );
    }
    let errors: Vec<String> = conditions_of(app, &HEALTH_ERROR_CONDITIONS)
        .map(|c| format!("{who} has {:?} condition: {}", text(c, "/type"), text(c, "/message")))
        .collect();
    if !errors.is_empty() {
        return (Health::Degraded, errors);
    }
    if let Some(from_sync) = health_from_sync(app, desired) {
        return from_sync;
    }
    match text(app, "/status/health/status") {
        "Healthy" => (Health::Healthy, Vec::new()),
        "Progressing" | "" => (Health::Progressing, vec![format!("{who} is progressing")]),
        "Suspended" => (Health::Progressing, vec![format!("{who} is suspended")]),
        other => (Health::Degraded, vec![format!("{who} has health state {other:?}")]),
    }
}

/// What a stage's health shows of one Application (Kargo's `applicationStatuses` entry):
/// Argo CD's health and sync status and its conditions, without the times Argo CD
/// rewrites on every refresh, so the entry changes only when the Application does.
pub fn app_status_output(namespace: &str, name: &str, app: Option<&Value>) -> Value {
    let status = app.and_then(|a| a.get("status"));
    let field = |key: &str, default: Value| status.and_then(|s| s.get(key)).cloned().unwrap_or(default);
    let conditions: Vec<Value> = status
        .and_then(|s| s.get("conditions"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| {
            let mut c = c.clone();
            if let Some(c) = c.as_object_mut() {
                c.remove("lastTransitionTime");
            }
            c
        })
        .collect();
    let mut entry = json!({
        "namespace": namespace,
        "name": name,
        "health": field("health", json!({"status": "Unknown"})),
        "sync": field("sync", json!({"status": "Unknown"})),
    });
    if !conditions.is_empty() {
        entry["conditions"] = Value::Array(conditions);
    }
    entry
}

/// A stage's health from its Applications': the worst of them; `Healthy` with none.
pub fn stage_health(apps: &[Health]) -> Health {
    apps.iter().copied().max().unwrap_or(Health::Healthy)
}

/// Whether `app` is ready for `argocd-wait` with `wait_for` (default health, sync and
/// operation); `Err` when it can never become so (an error condition).
pub fn wait_ready(app: &Value, wait_for: &[String]) -> Result<bool, String> {
    let defaults = ["health".to_owned(), "sync".to_owned(), "operation".to_owned()];
    let wait_for = if wait_for.is_empty() { &defaults[..] } else { wait_for };
    for (i, what) in wait_for.iter().enumerate() {
        if !["health", "sync", "operation", "suspended", "degraded"].contains(&what.as_str()) {
            return Err(format!("waitFor[{i}]: {what:?} is not one of health, sync, operation, suspended, degraded"));
        }
    }
    let errors: Vec<String> = conditions_of(app, &ERROR_CONDITIONS)
        .map(|c| format!("{} has {:?} condition: {}", app_ref(app), text(c, "/type"), text(c, "/message")))
        .collect();
    if !errors.is_empty() {
        return Err(errors.join("; "));
    }
    let wants = |w: &str| wait_for.iter().any(|x| x == w);
    if wants("operation") {
        let phase = text(app, "/status/operationState/phase");
        if app.get("operation").is_some_and(|o| o.is_object()) || (!phase.is_empty() && !completed(phase)) {
            return Ok(false);
        }
    }
    let status = text(app, "/status/health/status");
    if (wants("health") || wants("suspended") || wants("degraded"))
        && !((wants("health") && status == "Healthy")
            || (wants("suspended") && status == "Suspended")
            || (wants("degraded") && status == "Degraded"))
    {
        return Ok(false);
    }
    if wants("sync") && text(app, "/status/sync/status") != "Synced" {
        return Ok(false);
    }
    Ok(true)
}

/// `{name, namespace}` of each Application a step touched: its output `apps`.
pub fn apps_output(apps: &[(String, String)]) -> Value {
    Value::Array(apps.iter().map(|(namespace, name)| json!({"name": name, "namespace": namespace})).collect())
}

#[cfg(test)]
#[path = "argocd_tests.rs"]
mod tests;
