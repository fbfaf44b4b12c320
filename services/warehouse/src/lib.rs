//! The warehouse service: discovers new revisions of what warehouses subscribe to and
//! turns them into freight.
//!
//! # Layout
//!
//! - [`config`]: configuration and its environment variables.
//! - [`schedule`]: when each warehouse is next polled.
//! - [`discover`]: one discovery: discovered artifacts, then at most one `FreightCreated`.
//! - [`git_subscription`]: commits and tags by Kargo's strategies, from shared mirrors.
//! - [`expression_filter`]: a git subscription's `expressionFilter`.
//! - [`image_subscription`]: image tags and digests by Kargo's strategies.
//! - [`chart_subscription`]: chart versions from HTTP and OCI repositories.
//! - [`registry`]: the OCI registry client (auth, paging, rate limit, budgets, cache).
//! - [`source_locks`]: one lock per source, so a hung source delays only its readers.
//! - [`refresh_requested`]: the handler for `WarehouseRefreshRequested` (discover now).
//!
//! Warehouses discover side by side, at most `LADING_DISCOVERY_CONCURRENCY` at once per
//! replica; the discoveries of one source take turns. Every call to a source keeps to
//! the budgets of [`config::Budgets`], so a hung or hostile source ends in a
//! `lastDiscoveryError` of its own warehouses while the others go on.

pub mod chart_subscription;
pub mod config;
pub mod discover;
pub mod expression_filter;
pub mod git_subscription;
pub mod image_subscription;
pub mod refresh_requested;
pub mod registry;
pub mod schedule;
pub mod source_locks;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use lading_bus::start::{StartError, start_service};
use lading_bus::{Bus, BusError, SpecStore};
use lading_runtime::{Readiness, Shutdown};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::Instrument as _;

pub use config::Config;
use lading_domain::credentials::Credentials;
use lading_events::catalog::WarehouseArtifactsDiscoveredV1;
use registry::Registries;
use schedule::Schedule;
use source_locks::SourceLocks;

/// Errors that stop the warehouse service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Bus(#[from] BusError),
}

/// Handles shared by the service's tasks.
pub struct Context {
    pub bus: Bus,
    pub specs: SpecStore,
    pub config: Config,
    /// Turns of the sources: discoveries of one source take turns.
    pub sources: SourceLocks,
    /// Permits for discoveries running at once.
    pub discoveries: Semaphore,
    pub credentials: Credentials,
    pub registries: Registries,
    /// What was last published as discovered, per (project, warehouse), with its time
    /// zeroed: an unchanged discovery is not published again.
    published: Mutex<HashMap<(String, String), WarehouseArtifactsDiscoveredV1>>,
}

impl Context {
    pub fn new(bus: Bus, specs: SpecStore, config: Config) -> Self {
        let registries = Registries::new(config.credentials.clone(), config.registry_rate, config.budgets.registry);
        Self {
            bus,
            specs,
            credentials: config.credentials.clone(),
            sources: SourceLocks::default(),
            discoveries: Semaphore::new(config.budgets.discovery_concurrency.value),
            config,
            registries,
            published: Mutex::default(),
        }
    }

    /// Records `found` as published; false when it equals what was.
    pub(crate) fn remember_published(&self, found: &WarehouseArtifactsDiscoveredV1) -> bool {
        let mut timeless = found.clone();
        timeless.discovered_at_ms = 0;
        let key = (found.project.clone(), found.warehouse.clone());
        let mut published = self.published.lock().unwrap_or_else(|p| p.into_inner());
        if published.get(&key) == Some(&timeless) {
            return false;
        }
        published.insert(key, timeless);
        true
    }

    /// Forgets what was published (after a failure, the next success is published).
    pub(crate) fn forget_published(&self, project: &str, warehouse: &str) {
        self.published.lock().unwrap_or_else(|p| p.into_inner()).remove(&(project.to_owned(), warehouse.to_owned()));
    }
}

/// Runs the warehouse service until `shutdown`.
pub async fn run(config: Config, readiness: Readiness, shutdown: Shutdown) -> Result<(), Error> {
    let (bus, ready) = start_service("warehouse", &config.service, &readiness, &shutdown).await?;
    let specs = SpecStore::watch(&bus, shutdown.clone()).await?;
    let context = Arc::new(Context::new(bus, specs, config));
    ready.set(true);
    tracing::info!(replica = context.config.service.replica, "warehouse running");
    let poller = poll(context.clone(), shutdown.clone());
    let refresher = refresh_requested::run(context.clone(), shutdown.clone());
    let result = tokio::try_join!(poller, refresher);
    ready.set(false);
    result.map(|_| ())
}

/// A warehouse whose discovery is running; it leaves the set when dropped.
struct InFlight {
    key: (String, String),
    set: Arc<Mutex<HashSet<(String, String)>>>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.set.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.key);
    }
}

async fn poll(context: Arc<Context>, shutdown: Shutdown) -> Result<(), Error> {
    let mut schedule = Schedule::default();
    let mut changes = context.specs.changes();
    let mut running = JoinSet::new();
    let in_flight: Arc<Mutex<HashSet<(String, String)>>> = Arc::default();
    loop {
        schedule.reconcile(context.specs.read(|s| s.warehouses()), Instant::now());
        // Warehouses due together share mirror syncs and registry answers.
        let round = std::time::Instant::now();
        for (project, name, spec) in schedule.take_due(Instant::now()) {
            let key = (project.clone(), name.clone());
            // A warehouse still discovering from its last turn skips this one.
            if !in_flight.lock().unwrap_or_else(|p| p.into_inner()).insert(key.clone()) {
                tracing::info!(project, warehouse = name, "still discovering; this turn is skipped");
                continue;
            }
            let (context, in_flight) = (context.clone(), in_flight.clone());
            running.spawn(async move {
                // Even a discovery that panics leaves its turn, so the next one runs.
                let _done = InFlight { key, set: in_flight };
                // A discovery starts a trace; the freight it makes carries it onwards.
                let span = tracing::info_span!("discover", otel.name = "warehouse discover", project = %project, warehouse = %name);
                let trace =
                    lading_bus::tracing_context::of_span(&span).unwrap_or_else(lading_bus::tracing_context::new_root);
                let _ = discover::discover(&context, &project, &name, &spec, round, &trace).instrument(span).await;
            });
        }
        while let Some(joined) = running.try_join_next() {
            if let Err(error) = joined
                && error.is_panic()
            {
                tracing::error!(%error, "a discovery panicked; the warehouse discovers again at its next turn");
            }
        }
        let wait = schedule.next_wait(Instant::now());
        tokio::select! {
            () = shutdown.cancelled() => {
                running.abort_all();
                return Ok(());
            }
            () = tokio::time::sleep(wait) => {}
            changed = changes.changed() => {
                if changed.is_err() {
                    running.abort_all();
                    return Ok(());
                }
            }
        }
    }
}
