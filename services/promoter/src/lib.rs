//! The promoter: decides what to promote where, and runs promotions, one at a time per
//! stage, in order, editing GitOps repositories with Kargo's steps.
//!
//! # Layout
//!
//! - [`config`]: configuration and its environment variables.
//! - [`decide`]: on `FreightCreated` / `FreightVerified`, queues automatic promotions
//!   (the rule itself is [`lading_domain::availability::decide_auto_promotion`]).
//! - [`run_queue`]: on `PromotionCreated`, runs the stage's oldest pending promotion
//!   under a per-stage lease and records how it ended (and, in a stage that verifies
//!   nothing, its freight verified).
//! - [`engine`]: the step runner, expressions and the workspace.
//! - [`health`]: the health of stages whose last promotion updated Argo CD
//!   Applications, published when it changes, and assessed at once on a stage refresh.
//! - [`steps`]: one module per promotion step.
//! - [`work_dir`]: the work directory, the workspaces a killed promoter left, and the
//!   sweep of workspaces kept for promotions that ended elsewhere or waited too long.

pub mod config;
pub mod decide;
pub mod engine;
pub mod health;
pub mod run_queue;
pub mod steps;
pub mod work_dir;

use std::sync::Arc;

use lading_bus::start::{StartError, start_service};
use lading_bus::{Bus, BusError, SpecStore};
use lading_projection::{FollowOptions, Projection};
use lading_runtime::{Readiness, Shutdown};

pub use config::Config;

/// Errors that stop the promoter.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("work directory {dir}: {source}")]
    WorkDir { dir: String, source: std::io::Error },
}

/// Handles shared by the promoter's handlers.
pub struct Context {
    pub bus: Bus,
    pub specs: SpecStore,
    pub projection: Projection,
    pub config: Config,
    /// Fires when the promoter stops: retries of facts that must be recorded end then.
    pub shutdown: Shutdown,
}

/// Runs the promoter until `shutdown`.
pub async fn run(config: Config, readiness: Readiness, shutdown: Shutdown) -> Result<(), Error> {
    engine::expressions::set_limits(config.expression_limits);
    let _work_dir_lock = match &config.work_dir {
        Some(dir) => {
            work_dir::claim(dir).map_err(|source| Error::WorkDir { dir: dir.display().to_string(), source })?
        }
        None => None,
    };
    let (bus, ready) = start_service("promoter", &config.service, &readiness, &shutdown).await?;
    let specs = SpecStore::watch(&bus, shutdown.clone()).await?;
    let options = FollowOptions {
        ready: Some(readiness.register(format!("promoter/{}/read-model", config.service.replica))),
        ..FollowOptions::default()
    };
    let projection = Projection::follow_with(&bus, shutdown.clone(), options).await?;
    let context = Arc::new(Context { bus, specs, projection, config, shutdown: shutdown.clone() });
    ready.set(true);
    tracing::info!(replica = context.config.service.replica, "promoter running");
    if let Err(missing) = steps::git_available() {
        // Only blobless clones need it: said once here, and by each step that would.
        tracing::warn!(reason = missing, "blobless clones (git-clone config.blobless) will fail");
    }
    let decider = decide::run(context.clone(), shutdown.clone());
    let runner = run_queue::run(context.clone(), shutdown.clone());
    let health = health::run(context.clone(), shutdown.clone());
    let refresh = health::refresh(context.clone(), shutdown.clone());
    let sweeps = work_dir::run_sweeps(context.clone(), shutdown.clone());
    let result = tokio::try_join!(decider, runner, health, refresh, sweeps);
    ready.set(false);
    result.map(|_| ())
}
