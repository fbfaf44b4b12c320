//! The warehouse service: discovers new revisions of what warehouses subscribe to and
//! turns them into freight.
//!
//! # Layout
//!
//! - [`config`]: configuration and its environment variables.
//! - [`schedule`]: when each warehouse is next polled.
//! - [`discover`]: one discovery, ending in at most one `FreightCreated`.
//! - [`git_subscription`]: newest commit on a branch, from a local mirror.
//! - [`refresh_requested`]: the handler for `WarehouseRefreshRequested` (discover now).

pub mod config;
pub mod discover;
pub mod git_subscription;
pub mod refresh_requested;
pub mod schedule;

use std::sync::Arc;

use lading_bus::start::{StartError, start_service};
use lading_bus::{Bus, BusError, SpecStore};
use lading_runtime::{Readiness, Shutdown};
use tokio::time::Instant;

pub use config::Config;
use discover::DiscoveryLock;
use schedule::Schedule;

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
    pub lock: DiscoveryLock,
}

/// Runs the warehouse service until `shutdown`.
pub async fn run(config: Config, readiness: Readiness, shutdown: Shutdown) -> Result<(), Error> {
    let (bus, ready) = start_service("warehouse", &config.service, &readiness, &shutdown).await?;
    let specs = SpecStore::watch(&bus, shutdown.clone()).await?;
    let context = Arc::new(Context { bus, specs, config, lock: Default::default() });
    ready.set(true);
    tracing::info!(replica = context.config.service.replica, "warehouse running");
    let poller = poll(context.clone(), shutdown.clone());
    let refresher = refresh_requested::run(context.clone(), shutdown.clone());
    let result = tokio::try_join!(poller, refresher);
    ready.set(false);
    result.map(|_| ())
}

async fn poll(context: Arc<Context>, shutdown: Shutdown) -> Result<(), Error> {
    let mut schedule = Schedule::default();
    let mut changes = context.specs.changes();
    loop {
        schedule.reconcile(context.specs.read(|s| s.warehouses()), Instant::now());
        for (project, name, spec) in schedule.take_due(Instant::now()) {
            let trace = lading_bus::tracing_context::new_root();
            let _ = discover::discover(
                &context.bus,
                &context.config.cache_dir,
                &context.lock,
                &project,
                &name,
                &spec,
                &trace,
            )
            .await;
        }
        let wait = schedule.next_wait(Instant::now());
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(wait) => {}
            changed = changes.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
            }
        }
    }
}
