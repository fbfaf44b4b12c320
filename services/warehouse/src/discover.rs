//! One discovery: what each subscription offers now (newest first), recorded as
//! `WarehouseArtifactsDiscovered` when it changed, then — for `Automatic` warehouses whose
//! `freightCreationCriteria` hold — the first of each list assembled into freight and
//! announced once.
//!
//! `FreightCreated` is published with "no message yet on this subject" as a condition
//! (its subject names the freight), so however many replicas discover the same freight,
//! and however often, the log holds it once. The alias is claimed before publishing, in
//! the alias bucket, and the same freight always gets back the alias it claimed.

use std::sync::Arc;
use std::time::Instant;

use lading_bus::Bus;
use lading_domain::credentials::{Challenges, CredentialType, Credentials};
use lading_domain::spec::{FreightCreationPolicy, GitSubscription, Subscription, WarehouseSpec};
use lading_domain::{Freight, FreightOrigin, freight_functions, freight_id};
use lading_events::catalog::{
    ChartDiscoveryResultV1, GitDiscoveryResultV1, ImageDiscoveryResultV1, WarehouseArtifactsDiscoveredV1,
    WarehouseDiscoveryFailedV1,
};
use lading_events::{Event, TraceContext, now_ms};

use crate::{Context, chart_subscription, git_subscription, image_subscription};

/// What a discovery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discovered {
    /// New freight was announced.
    Created { freight_id: String, alias: String },
    /// The newest revisions form freight that already exists.
    Unchanged { freight_id: String },
    /// Artifacts were discovered; the warehouse makes no freight on its own (Manual
    /// policy, or the creation criteria did not hold — `reason` says which).
    NotCreated { reason: String },
}

/// Why a discovery failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    /// The subscribed source could not be read (recorded as `WarehouseDiscoveryFailed`).
    #[error("{0}")]
    Source(String),
    /// NATS could not be reached: worth retrying, nothing to record.
    #[error("{0}")]
    Bus(String),
}

/// Discovers `warehouse` in `project` and announces new freight. `asked` is when the
/// discovery was asked for: mirrors and registry answers fetched since are reused.
/// Failures to read a source are published as `WarehouseDiscoveryFailed`; both kinds
/// are returned.
pub async fn discover(
    context: &Arc<Context>,
    project: &str,
    warehouse: &str,
    spec: &WarehouseSpec,
    asked: Instant,
    trace: &TraceContext,
) -> Result<Discovered, DiscoveryError> {
    let began = Instant::now();
    let result = discover_inner(context, project, warehouse, spec, asked, trace).await;
    let outcome = match &result {
        Ok(Discovered::Created { .. }) => {
            lading_runtime::metrics::freight_created(project, warehouse);
            "created"
        }
        Ok(Discovered::Unchanged { .. }) => "unchanged",
        Ok(Discovered::NotCreated { .. }) => "not_created",
        Err(DiscoveryError::Source(_)) => "failed",
        Err(DiscoveryError::Bus(_)) => "bus_unavailable",
    };
    lading_runtime::metrics::discovery_finished(outcome, began.elapsed());
    if let Err(DiscoveryError::Source(reason)) = &result {
        tracing::warn!(project, warehouse, reason, "discovery failed");
        context.forget_published(project, warehouse);
        let failed = Event::WarehouseDiscoveryFailed(WarehouseDiscoveryFailedV1 {
            project: project.to_owned(),
            warehouse: warehouse.to_owned(),
            reason: reason.clone(),
            failed_at_ms: now_ms(),
        });
        if let Err(error) = context.bus.publish(&failed, trace).await {
            tracing::warn!(%error, "could not record the discovery failure");
        }
    }
    result
}

/// Runs each subscription's discovery, in spec order, each in its source's turn (see
/// [`crate::source_locks`]) and on a blocking thread, all within the discovery deadline
/// (`LADING_DISCOVERY_TIMEOUT`). A discovery past its deadline is abandoned: its source
/// keeps its turn until the blocking call returns, which its own timeouts bound.
pub async fn discover_artifacts(
    context: &Arc<Context>,
    spec: &WarehouseSpec,
    asked: Instant,
) -> Result<WarehouseArtifactsDiscoveredV1, String> {
    let budget = context.config.budgets.discovery_timeout;
    let deadline = tokio::time::Instant::now() + budget.value;
    let mut found = WarehouseArtifactsDiscoveredV1::default();
    for (i, subscription) in spec.subscriptions.iter().enumerate() {
        let Some((kind, url)) = source_of(subscription) else { continue };
        let failed = |e: String| match subscription.name.as_str() {
            "" => format!("subscriptions[{i}] ({kind} {url}): {e}"),
            name => format!("subscriptions[{i}] ({name}: {kind} {url}): {e}"),
        };
        let one = discover_one(context, subscription.clone(), asked);
        match tokio::time::timeout_at(deadline, one).await {
            Ok(Ok(artifacts)) => artifacts.add_to(&mut found),
            Ok(Err(e)) => return Err(failed(e)),
            Err(_) => return Err(failed(format!("discovery not finished within {budget}"))),
        }
    }
    Ok(found)
}

/// A subscription's kind and repository URL.
fn source_of(subscription: &Subscription) -> Option<(&'static str, &str)> {
    match subscription {
        Subscription { git: Some(git), .. } => Some(("git", &git.repo_url)),
        Subscription { image: Some(image), .. } => Some(("image", &image.repo_url)),
        Subscription { chart: Some(chart), .. } => Some(("chart", &chart.repo_url)),
        _ => None,
    }
}

/// What one subscription offers.
enum Artifacts {
    Git(GitDiscoveryResultV1),
    Images(ImageDiscoveryResultV1),
    Charts(ChartDiscoveryResultV1),
}

impl Artifacts {
    fn add_to(self, found: &mut WarehouseArtifactsDiscoveredV1) {
        match self {
            Artifacts::Git(git) => found.git.push(git),
            Artifacts::Images(images) => found.images.push(images),
            Artifacts::Charts(charts) => found.charts.push(charts),
        }
    }
}

/// One subscription's discovery, in its source's turn, on a blocking thread.
async fn discover_one(context: &Arc<Context>, subscription: Subscription, asked: Instant) -> Result<Artifacts, String> {
    let Some((kind, url)) = source_of(&subscription) else { return Err("names no source".to_owned()) };
    let turn = context.sources.turn(&format!("{kind} {url}")).await;
    let context = context.clone();
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        discover_blocking(&context, &subscription, asked)
    })
    .await
    .map_err(|e| format!("discovery task failed: {e}"))?
}

/// Callbacks for the transfers of a Git subscription: its credentials, and no check of
/// the server's certificate when it sets `insecureSkipTLSVerify`.
pub fn subscription_callbacks(credentials: &Credentials, git: &GitSubscription) -> git2::RemoteCallbacks<'static> {
    let mut callbacks = git_callbacks(credentials, &git.repo_url);
    if git.insecure_skip_tls_verify {
        callbacks.certificate_check(|_, _| Ok(git2::CertificateCheckStatus::CertificateOk));
    }
    callbacks
}

fn discover_blocking(context: &Context, subscription: &Subscription, asked: Instant) -> Result<Artifacts, String> {
    match subscription {
        Subscription { git: Some(git), .. } => {
            let credentials = &context.credentials;
            let callbacks = || subscription_callbacks(credentials, git);
            let budget = &context.config.budgets.git;
            let (repo, sync) =
                git_subscription::sync_mirror(&context.config.cache_dir, &git.repo_url, asked, callbacks, budget)?;
            lading_runtime::metrics::git_synced(sync.label());
            git_subscription::discover(&repo, git, &context.config.expression_limits).map(Artifacts::Git)
        }
        Subscription { image: Some(image), .. } => {
            image_subscription::discover(&context.registries, image, asked).map(Artifacts::Images)
        }
        Subscription { chart: Some(chart), .. } => {
            chart_subscription::discover(&context.registries, chart, asked).map(Artifacts::Charts)
        }
        _ => Err("names no source".to_owned()),
    }
}

/// Callbacks answering a Git server's credential challenge for `url`, once.
pub fn git_callbacks(credentials: &Credentials, url: &str) -> git2::RemoteCallbacks<'static> {
    let mut challenges = Challenges::new(credentials, CredentialType::Git, url);
    let mut callbacks = git2::RemoteCallbacks::new();
    callbacks.credentials(move |_url, username_from_url, _allowed| {
        let c = challenges.answer().map_err(git2::Error::from_str)?;
        git2::Cred::userpass_plaintext(username_from_url.unwrap_or(&c.username), &c.password)
    });
    callbacks
}

/// The freight made of the first artifact of each subscription.
pub fn newest_freight(warehouse: &str, found: &WarehouseArtifactsDiscoveredV1) -> Result<Freight, String> {
    let mut freight = Freight { origin: FreightOrigin::warehouse(warehouse), ..Freight::default() };
    for git in &found.git {
        let first = git.commits.first().ok_or_else(|| format!("no commit of {} passes its filters", git.repo_url))?;
        freight.commits.push(git_subscription::freight_commit(&git.repo_url, first));
    }
    for image in &found.images {
        let first =
            image.references.first().ok_or_else(|| format!("no image of {} passes its filters", image.repo_url))?;
        freight.images.push(image_subscription::freight_image(image, first));
    }
    for chart in &found.charts {
        let first =
            chart.versions.first().ok_or_else(|| format!("no version of {} passes its filters", chart.repo_url))?;
        freight.charts.push(chart_subscription::freight_chart(chart, first));
    }
    Ok(freight)
}

async fn discover_inner(
    context: &Arc<Context>,
    project: &str,
    warehouse: &str,
    spec: &WarehouseSpec,
    asked: Instant,
    trace: &TraceContext,
) -> Result<Discovered, DiscoveryError> {
    let mut found = {
        // Warehouses discover side by side, a bounded number at once.
        let _permit = context.discoveries.acquire().await.map_err(|e| DiscoveryError::Source(e.to_string()))?;
        discover_artifacts(context, spec, asked).await.map_err(DiscoveryError::Source)?
    };
    found.project = project.to_owned();
    found.warehouse = warehouse.to_owned();
    let discovered = context.remember_published(&found).then(|| {
        found.discovered_at_ms = now_ms();
        Event::WarehouseArtifactsDiscovered(found.clone())
    });
    // What was discovered and the freight it makes go to different streams: each is
    // recorded without waiting for the other.
    let record = async {
        match &discovered {
            Some(event) => {
                context.bus.publish(event, trace).await.map(drop).map_err(|e| DiscoveryError::Bus(e.to_string()))
            }
            None => Ok(()),
        }
    };
    let (recorded, created) = tokio::join!(record, create_freight(context, project, warehouse, spec, &found, trace));
    if recorded.is_err() {
        // Not recorded: the next discovery records it, though it finds the same.
        context.forget_published(project, warehouse);
    }
    recorded?;
    created
}

/// The freight made of what `found` lists first, announced once, unless the warehouse
/// makes none on its own (a Manual policy, or creation criteria that do not hold).
async fn create_freight(
    context: &Arc<Context>,
    project: &str,
    warehouse: &str,
    spec: &WarehouseSpec,
    found: &WarehouseArtifactsDiscoveredV1,
    trace: &TraceContext,
) -> Result<Discovered, DiscoveryError> {
    if spec.freight_creation_policy == FreightCreationPolicy::Manual {
        return Ok(Discovered::NotCreated { reason: "freightCreationPolicy is Manual".to_owned() });
    }
    let mut freight = newest_freight(warehouse, found).map_err(DiscoveryError::Source)?;
    spec.name_artifacts(&mut freight);
    if let Some(criteria) = &spec.freight_creation_criteria {
        // Evaluated on a blocking thread: it may run for up to its time budget.
        let (expression, candidate, limits) =
            (criteria.expression.clone(), freight.clone(), context.config.expression_limits);
        let holds =
            tokio::task::spawn_blocking(move || freight_functions::evaluate_bool(&expression, &candidate, &limits))
                .await
                .map_err(|e| DiscoveryError::Source(format!("freightCreationCriteria.expression: {e}")))?
                .map_err(|e| DiscoveryError::Source(format!("freightCreationCriteria.expression: {e}")))?;
        if !holds {
            tracing::info!(project, warehouse, "freightCreationCriteria do not hold; no freight");
            return Ok(Discovered::NotCreated { reason: "freightCreationCriteria do not hold".to_owned() });
        }
    }
    announce(&context.bus, project, &mut freight, trace).await
}

/// Announces `freight` in `project` once.
pub async fn announce(
    bus: &Bus,
    project: &str,
    freight: &mut Freight,
    trace: &TraceContext,
) -> Result<Discovered, DiscoveryError> {
    let id =
        freight_id::compute(freight).map_err(|e| DiscoveryError::Source(format!("cannot name the freight: {e}")))?;
    let announced =
        bus.announce_freight(project, &id, freight, trace).await.map_err(|e| DiscoveryError::Bus(e.to_string()))?;
    if announced.created {
        tracing::info!(project, origin = freight.origin.name, freight = %id, alias = announced.alias, "freight created");
        Ok(Discovered::Created { freight_id: id.to_string(), alias: announced.alias })
    } else {
        Ok(Discovered::Unchanged { freight_id: id.to_string() })
    }
}
