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
use lading_domain::spec::{FreightCreationPolicy, Subscription, WarehouseSpec};
use lading_domain::{Freight, FreightOrigin, freight_functions, freight_id};
use lading_events::catalog::{WarehouseArtifactsDiscoveredV1, WarehouseDiscoveryFailedV1};
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
    let result = discover_inner(context, project, warehouse, spec, asked, trace).await;
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

/// Runs each subscription's discovery, in spec order. Blocking.
pub fn discover_artifacts(
    context: &Context,
    spec: &WarehouseSpec,
    asked: Instant,
) -> Result<WarehouseArtifactsDiscoveredV1, String> {
    let mut found = WarehouseArtifactsDiscoveredV1::default();
    for (i, subscription) in spec.subscriptions.iter().enumerate() {
        let failed = |kind: &str, url: &str, e: String| format!("subscriptions[{i}] ({kind} {url}): {e}");
        match subscription {
            Subscription { git: Some(git), .. } => {
                let cache_dir = &context.config.cache_dir;
                let lock = git_subscription::mirror_lock(cache_dir, &git.repo_url);
                let _guard = lock.blocking_lock();
                let credentials = &context.credentials;
                let callbacks = || git_callbacks(credentials, &git.repo_url);
                let (repo, sync) = git_subscription::sync_mirror(cache_dir, &git.repo_url, asked, callbacks)
                    .map_err(|e| failed("git", &git.repo_url, e))?;
                lading_runtime::metrics::increment("lading_warehouse_git_syncs_total", &[("result", sync.label())]);
                let limits = &context.config.expression_limits;
                found
                    .git
                    .push(git_subscription::discover(&repo, git, limits).map_err(|e| failed("git", &git.repo_url, e))?);
            }
            Subscription { image: Some(image), .. } => found.images.push(
                image_subscription::discover(&context.registries, image, asked)
                    .map_err(|e| failed("image", &image.repo_url, e))?,
            ),
            Subscription { chart: Some(chart), .. } => found.charts.push(
                chart_subscription::discover(&context.registries, chart, asked)
                    .map_err(|e| failed("chart", &chart.repo_url, e))?,
            ),
            _ => {}
        }
    }
    Ok(found)
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
        let _guard = context.lock.lock().await;
        let (handles, spec) = (context.clone(), spec.clone());
        tokio::task::spawn_blocking(move || discover_artifacts(&handles, &spec, asked))
            .await
            .map_err(|e| DiscoveryError::Source(format!("discovery task failed: {e}")))?
            .map_err(DiscoveryError::Source)?
    };
    found.project = project.to_owned();
    found.warehouse = warehouse.to_owned();
    if context.remember_published(&found) {
        found.discovered_at_ms = now_ms();
        let event = Event::WarehouseArtifactsDiscovered(found.clone());
        context.bus.publish(&event, trace).await.map_err(|e| DiscoveryError::Bus(e.to_string()))?;
    }
    if spec.freight_creation_policy == FreightCreationPolicy::Manual {
        return Ok(Discovered::NotCreated { reason: "freightCreationPolicy is Manual".to_owned() });
    }
    let mut freight = newest_freight(warehouse, &found).map_err(DiscoveryError::Source)?;
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
