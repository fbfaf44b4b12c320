//! `argocd-update` and `argocd-wait`, through the Kubernetes API of the cluster Argo CD
//! runs in (`LADING_ARGOCD_KUBECONFIG`, else kube's inference: in-cluster, then
//! `KUBECONFIG`).
//!
//! Each of `apps` names one Application by `name`, or every one its label `selector`
//! matches in the namespace (listed when the step starts; none matching fails the step).
//! `argocd-update` reads every Application first and refuses, before changing any, one
//! that does not authorize the stage or has no source an update names. It then starts a
//! sync of each (a JSON merge patch: sources, hard refresh, `operation` naming the
//! promotion, the last `operationState` cleared, as Kargo does) and waits, polling every
//! `LADING_ARGOCD_POLL_INTERVAL`, until Argo CD reports the sync finished: `Succeeded` at
//! the desired revisions ends the step, `Failed`/`Error` fails it with Argo CD's message.
//! A retried step finds the sync it started (by the promotion named in the operation)
//! and does not start another. Both steps wait at most their `retry.timeout` (default 5m,
//! Kargo's) and stop when the promotion is aborted.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams};
use lading_domain::argocd::{
    AppUpdate, LabelSelector, Selection, SyncProgress, UpdateConfig, WaitConfig, apps_output, authorize,
    desired_revisions, desired_sources, selection, sync_patch, sync_progress, wait_ready,
};
use serde_json::{Map, Value, json};

use super::StepContext;
use crate::engine::Effect;

/// Kargo's default timeout of both steps.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// Where the Argo CD steps find Argo CD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgoCdAccess {
    /// The kubeconfig of Argo CD's cluster; `None`: in-cluster, else `KUBECONFIG`.
    pub kubeconfig: Option<PathBuf>,
    /// The namespace of Applications a step names without one.
    pub namespace: String,
    /// How often a waiting step reads the Applications again.
    pub poll: Duration,
}

impl Default for ArgoCdAccess {
    fn default() -> Self {
        Self {
            kubeconfig: None,
            namespace: lading_domain::argocd::DEFAULT_NAMESPACE.to_owned(),
            poll: Duration::from_secs(1),
        }
    }
}

/// Runs `future` to its end from the step's (blocking) thread.
fn block_on<T>(future: impl Future<Output = Result<T, String>>) -> Result<T, String> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle.block_on(future),
        Err(_) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("starting the Kubernetes client: {e}"))?
            .block_on(future),
    }
}

pub(crate) async fn client(access: &ArgoCdAccess) -> Result<kube::Client, String> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = match &access.kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| format!("{}={}: {e}", crate::config::ARGOCD_KUBECONFIG_ENV, path.display()))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
                .await
                .map_err(|e| format!("{}={}: {e}", crate::config::ARGOCD_KUBECONFIG_ENV, path.display()))?
        }
        None => kube::Config::infer().await.map_err(|e| {
            format!(
                "no Kubernetes cluster for Argo CD: set {} or run in a cluster ({e})",
                crate::config::ARGOCD_KUBECONFIG_ENV
            )
        })?,
    };
    kube::Client::try_from(config).map_err(|e| format!("the Kubernetes client: {e}"))
}

pub(crate) fn applications(client: &kube::Client, namespace: &str) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Application");
    Api::namespaced_with(client.clone(), namespace, &ApiResource::from_gvk_with_plural(&gvk, "applications"))
}

/// One Application a step works on.
struct Target {
    field: String,
    name: String,
    namespace: String,
    api: Api<DynamicObject>,
}

impl Target {
    async fn read(&self) -> Result<Value, String> {
        match self.api.get_opt(&self.name).await {
            Ok(Some(app)) => serde_json::to_value(app).map_err(|e| format!("{}: {e}", self.field)),
            Ok(None) => Err(format!(
                "{}: Argo CD Application {:?} in namespace {:?} not found",
                self.field, self.name, self.namespace
            )),
            Err(e) => Err(format!(
                "{}: reading Argo CD Application {:?} in namespace {:?}: {e}",
                self.field, self.name, self.namespace
            )),
        }
    }
}

/// The Applications `config.apps[index]` names: the one called `name`, or each one
/// `selector` matches in `namespace` (the step's, else the default), by name.
async fn targets_of(
    client: &kube::Client,
    access: &ArgoCdAccess,
    index: usize,
    (name, selector, namespace): (&str, Option<&LabelSelector>, Option<&String>),
) -> Result<Vec<Target>, String> {
    let field = format!("config.apps[{index}]");
    let namespace = namespace.filter(|n| !n.is_empty()).cloned().unwrap_or(access.namespace.clone());
    let api = applications(client, &namespace);
    let names = match selection(name, selector).map_err(|e| format!("{field}.{e}"))? {
        Selection::Name(name) => vec![name],
        Selection::Labels(query) => {
            let listed = api.list(&ListParams::default().labels(&query)).await.map_err(|e| {
                format!("{field}.selector: listing Argo CD Applications in namespace {namespace:?}: {e}")
            })?;
            let mut names: Vec<String> = listed.items.into_iter().filter_map(|app| app.metadata.name).collect();
            if names.is_empty() {
                return Err(format!(
                    "{field}.selector: no Argo CD Application in namespace {namespace:?} matches {query:?}"
                ));
            }
            names.sort();
            names
        }
    };
    Ok(names
        .into_iter()
        .map(|name| Target { field: field.clone(), name, namespace: namespace.clone(), api: api.clone() })
        .collect())
}

/// Sleeps one poll interval, within the deadline; `Err` when the deadline passed or
/// the promotion was stopped.
async fn pause(ctx: &StepContext<'_>, access: &ArgoCdAccess, deadline: Instant, waiting: &str) -> Result<(), String> {
    let now = Instant::now();
    if now >= deadline {
        return Err(format!(
            "{waiting}: still not done after {:?} (the step's retry.timeout)",
            ctx.timeout.unwrap_or(DEFAULT_TIMEOUT)
        ));
    }
    tokio::time::sleep(access.poll.min(deadline - now)).await;
    if ctx.remotes.cancel.is_cancelled() {
        return Err(format!("{waiting}: the wait was cancelled: the promotion was stopped"));
    }
    Ok(())
}

/// `argocd-update`: output `apps`, `[{name, namespace, desiredRevisions}]`.
pub fn update(ctx: &StepContext<'_>, config: UpdateConfig) -> Result<Map<String, Value>, String> {
    if config.apps.is_empty() {
        return Err("config.apps: needs at least one Application".to_owned());
    }
    block_on(run_update(ctx, &config))
}

async fn run_update(ctx: &StepContext<'_>, config: &UpdateConfig) -> Result<Map<String, Value>, String> {
    let access = &ctx.remotes.argocd;
    let deadline = Instant::now() + ctx.timeout.unwrap_or(DEFAULT_TIMEOUT);
    let client = client(access).await?;
    // Every Application is checked before any is changed.
    let mut targets: Vec<(Target, &AppUpdate, Vec<String>)> = Vec::new();
    for (i, app_update) in config.apps.iter().enumerate() {
        let named = (app_update.name.as_str(), app_update.selector.as_ref(), app_update.namespace.as_ref());
        for target in targets_of(&client, access, i, named).await? {
            let field = &target.field;
            let app = target.read().await?;
            authorize(&app, ctx.project, ctx.stage).map_err(|e| format!("{field}: {e}"))?;
            desired_sources(app_update, &app).map_err(|e| format!("{field}.{e}"))?;
            let desired = desired_revisions(app_update, &app);
            targets.push((target, app_update, desired));
        }
    }
    let mut pending: Vec<usize> = (0..targets.len()).collect();
    loop {
        let mut still = Vec::new();
        for &index in &pending {
            let (target, app_update, desired) = &targets[index];
            let app = target.read().await?;
            match sync_progress(&app, ctx.promotion, desired) {
                SyncProgress::Succeeded => {}
                SyncProgress::Failed(message) => return Err(format!("{}: {message}", target.field)),
                SyncProgress::Running => still.push(index),
                SyncProgress::Busy(why) => {
                    tracing::info!(app = target.name, why, "waiting for Argo CD's current operation to end");
                    still.push(index);
                }
                SyncProgress::Start => {
                    // Checked again on the Application as it is now.
                    authorize(&app, ctx.project, ctx.stage).map_err(|e| format!("{}: {e}", target.field))?;
                    let sources = desired_sources(app_update, &app).map_err(|e| format!("{}.{e}", target.field))?;
                    ctx.effects.before_effect(Effect::Call)?;
                    let patch = sync_patch(&app, sources, ctx.promotion);
                    target.api.patch(&target.name, &PatchParams::default(), &Patch::Merge(&patch)).await.map_err(
                        |e| format!("{}: starting a sync of Argo CD Application {:?}: {e}", target.field, target.name),
                    )?;
                    tracing::info!(app = target.name, namespace = target.namespace, "started an Argo CD sync");
                    still.push(index);
                }
            }
        }
        pending = still;
        let Some(&first) = pending.first() else { break };
        let waiting = format!(
            "{}: waiting for Argo CD Application {:?} in namespace {:?} to sync",
            targets[first].0.field, targets[first].0.name, targets[first].0.namespace
        );
        pause(ctx, access, deadline, &waiting).await?;
    }
    let apps: Vec<Value> = targets
        .iter()
        .map(|(t, _, desired)| json!({"name": t.name, "namespace": t.namespace, "desiredRevisions": desired}))
        .collect();
    let mut outputs = Map::new();
    outputs.insert("apps".to_owned(), Value::Array(apps));
    Ok(outputs)
}

/// `argocd-wait`: output `apps`, `[{name, namespace}]`.
pub fn wait(ctx: &StepContext<'_>, config: WaitConfig) -> Result<Map<String, Value>, String> {
    if config.apps.is_empty() {
        return Err("config.apps: needs at least one Application".to_owned());
    }
    block_on(run_wait(ctx, &config))
}

async fn run_wait(ctx: &StepContext<'_>, config: &WaitConfig) -> Result<Map<String, Value>, String> {
    let access = &ctx.remotes.argocd;
    let deadline = Instant::now() + ctx.timeout.unwrap_or(DEFAULT_TIMEOUT);
    let client = client(access).await?;
    let mut refs = Vec::new();
    let mut targets = Vec::new();
    for (i, wanted) in config.apps.iter().enumerate() {
        let named = (wanted.name.as_str(), wanted.selector.as_ref(), wanted.namespace.as_ref());
        targets.extend(targets_of(&client, access, i, named).await?.into_iter().map(|t| (t, wanted)));
    }
    for (target, wanted) in targets {
        let field = target.field.clone();
        loop {
            let app = target.read().await?;
            if wait_ready(&app, &wanted.wait_for).map_err(|e| format!("{field}: {e}"))? {
                break;
            }
            let waiting = format!(
                "{field}: waiting for Argo CD Application {:?} in namespace {:?}",
                target.name, target.namespace
            );
            pause(ctx, access, deadline, &waiting).await?;
        }
        refs.push((target.namespace.clone(), target.name.clone()));
    }
    let mut outputs = Map::new();
    outputs.insert("apps".to_owned(), apps_output(&refs));
    Ok(outputs)
}
