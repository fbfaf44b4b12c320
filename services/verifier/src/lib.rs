//! The verifier: after a promotion succeeds, verifies its freight in the stage with the
//! stage's analysis templates (Argo Rollouts' `AnalysisTemplate`s, as Kargo uses them)
//! and marks it verified when they succeed, which makes it available downstream. A stage
//! without verification verifies at once.
//!
//! # Layout
//!
//! - [`config`]: the common [`lading_runtime::service::ServiceConfig`], and the secrets
//!   analysis providers read (`LADING_SECRETS_FILE`).
//! - [`promotion_succeeded`]: `PromotionSucceeded` → `VerificationStarted` or `FreightVerified`.
//! - [`verification_requested`]: `lading verify stage` → `VerificationStarted`.
//! - [`verification_started`]: runs a verification: measurements, then its verdict.
//! - [`plan`]: a verification's templates, arguments and metrics, from the specs.
//! - [`history`]: what the log holds of a verification, to continue it.
//! - [`stage_now`]: what the read model says of a stage (its freight, a running
//!   promotion), for [`lading_domain::verification::when_to_verify`].
//! - [`providers`]: `prometheus`, `web` and `job` measurements.
//!
//! Two durable consumers: `verifier` decides quickly what a promotion or a request
//! starts; `verifier-runs` runs verifications, many at once per replica, each in the
//! delivery of its `VerificationStarted`.

pub mod config;
pub mod history;
pub mod plan;
pub mod promotion_succeeded;
pub mod providers;
pub mod stage_now;
pub mod verification_requested;
pub mod verification_started;

use lading_bus::specs::SpecStore;
use lading_bus::start::{StartError, start_service};
use lading_bus::{BusError, ConsumerSpec};
use lading_events::{Event, EventType};
use lading_projection::{FollowOptions, Projection};
use lading_runtime::{Readiness, Shutdown};

pub use config::Config;

/// Errors that stop the verifier.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Bus(#[from] BusError),
}

pub const CONSUMER: &str = "verifier";
/// The consumer that runs verifications.
pub const RUNS_CONSUMER: &str = "verifier-runs";
/// How many verifications one replica runs at once.
pub const CONCURRENT_RUNS: usize = 64;

/// Runs the verifier until `shutdown`.
pub async fn run(config: Config, readiness: Readiness, shutdown: Shutdown) -> Result<(), Error> {
    let (bus, ready) = start_service("verifier", &config.service, &readiness, &shutdown).await?;
    let specs = SpecStore::watch(&bus, shutdown.clone()).await?;
    let options = FollowOptions {
        ready: Some(readiness.register(format!("verifier/{}/read-model", config.service.replica))),
        ..FollowOptions::default()
    };
    let projection = Projection::follow_with(&bus, shutdown.clone(), options).await?;
    ready.set(true);
    tracing::info!(replica = config.service.replica, "verifier running");
    let decide = ConsumerSpec::new(
        CONSUMER,
        vec![EventType::PromotionSucceededV1.filter(), EventType::VerificationRequestedV1.filter()],
    );
    let mut runs = ConsumerSpec::new(RUNS_CONSUMER, vec![EventType::VerificationStartedV1.filter()]);
    runs.concurrency = CONCURRENT_RUNS;
    let runner = verification_started::Runner {
        bus: bus.clone(),
        specs: specs.clone(),
        projection: projection.clone(),
        shutdown: shutdown.clone(),
        limits: Default::default(),
        secrets: config.secrets.clone(),
    };
    let deciding = bus.consume(decide, shutdown.clone(), |delivery| {
        let (bus, specs, projection) = (bus.clone(), specs.clone(), projection.clone());
        async move {
            match delivery.event {
                Event::VerificationRequested(_) => {
                    verification_requested::handle(&bus, &specs, &projection, delivery).await
                }
                _ => promotion_succeeded::handle(&bus, &specs, &projection, delivery).await,
            }
        }
    });
    let running = bus.consume(runs, shutdown.clone(), |delivery| {
        let runner = runner.clone();
        async move { runner.handle(delivery).await }
    });
    // A consumer that fails (deleted from outside) stops the verifier, to be started again.
    let result = tokio::try_join!(deciding, running);
    ready.set(false);
    result?;
    Ok(())
}
