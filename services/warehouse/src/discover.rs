//! One discovery: the newest revision of each subscription, assembled into freight and
//! announced once.
//!
//! `FreightCreated` is published with "no message yet on this subject" as a condition
//! (its subject names the freight), so however many replicas discover the same freight,
//! and however often, the log holds it once. The alias is claimed before publishing, in
//! the alias bucket, and the same freight always gets back the alias it claimed.

use std::path::Path;
use std::sync::Arc;

use lading_bus::{Bus, Published};
use lading_domain::spec::WarehouseSpec;
use lading_domain::{Freight, FreightOrigin, freight_id};
use lading_events::catalog::{FreightCreatedV1, WarehouseDiscoveryFailedV1};
use lading_events::{Event, TraceContext, now_ms};
use tokio::sync::Mutex;

use crate::git_subscription;

/// What a discovery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discovered {
    /// New freight was announced.
    Created { freight_id: String, alias: String },
    /// The newest revisions form freight that already exists.
    Unchanged { freight_id: String },
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

/// Serializes discoveries within a process, so one mirror is never fetched twice at once.
pub type DiscoveryLock = Arc<Mutex<()>>;

/// Discovers `warehouse` in `project` and announces new freight. Failures to read a
/// source are published as `WarehouseDiscoveryFailed`; both kinds are returned.
pub async fn discover(
    bus: &Bus,
    cache_dir: &Path,
    lock: &DiscoveryLock,
    project: &str,
    warehouse: &str,
    spec: &WarehouseSpec,
    trace: &TraceContext,
) -> Result<Discovered, DiscoveryError> {
    let result = discover_inner(bus, cache_dir, lock, project, warehouse, spec, trace).await;
    if let Err(DiscoveryError::Source(reason)) = &result {
        tracing::warn!(project, warehouse, reason, "discovery failed");
        let failed = Event::WarehouseDiscoveryFailed(WarehouseDiscoveryFailedV1 {
            project: project.to_owned(),
            warehouse: warehouse.to_owned(),
            reason: reason.clone(),
            failed_at_ms: now_ms(),
        });
        if let Err(error) = bus.publish(&failed, trace).await {
            tracing::warn!(%error, "could not record the discovery failure");
        }
    }
    result
}

async fn discover_inner(
    bus: &Bus,
    cache_dir: &Path,
    lock: &DiscoveryLock,
    project: &str,
    warehouse: &str,
    spec: &WarehouseSpec,
    trace: &TraceContext,
) -> Result<Discovered, DiscoveryError> {
    let mut freight = Freight { origin: FreightOrigin::warehouse(warehouse), ..Freight::default() };
    {
        let _guard = lock.lock().await;
        for subscription in spec.git_subscriptions() {
            let cache_dir = cache_dir.to_path_buf();
            let subscription = subscription.clone();
            let commit =
                tokio::task::spawn_blocking(move || git_subscription::newest_commit(&cache_dir, &subscription))
                    .await
                    .map_err(|e| DiscoveryError::Source(format!("discovery task failed: {e}")))?
                    .map_err(DiscoveryError::Source)?;
            freight.commits.push(commit);
        }
    }
    let id =
        freight_id::compute(&freight).map_err(|e| DiscoveryError::Source(format!("cannot name the freight: {e}")))?;
    let alias = bus.claim_alias(project, &id).await.map_err(|e| DiscoveryError::Bus(e.to_string()))?;
    freight.alias = alias.clone();
    let event = Event::FreightCreated(FreightCreatedV1::new(project, &id, &freight, now_ms()));
    match bus.publish_once(&event, trace).await.map_err(|e| DiscoveryError::Bus(e.to_string()))? {
        Published::Stored(_) => {
            tracing::info!(project, warehouse, freight = %id, alias, "freight created");
            Ok(Discovered::Created { freight_id: id.to_string(), alias })
        }
        Published::Duplicate => Ok(Discovered::Unchanged { freight_id: id.to_string() }),
    }
}
