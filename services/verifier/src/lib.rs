//! The verifier: after a promotion succeeds, marks its freight verified in the stage,
//! which makes it available to downstream stages.
//!
//! # Layout
//!
//! - configuration is the common [`lading_runtime::service::ServiceConfig`].
//! - [`promotion_succeeded`]: the handler for `PromotionSucceeded`.
//!
//! Stages have no verification checks yet, so verification succeeds as soon as the
//! promotion did.

pub mod promotion_succeeded;

use lading_bus::start::{StartError, start_service};
use lading_bus::{BusError, ConsumerSpec};
use lading_events::EventType;
use lading_runtime::{Readiness, Shutdown};

/// The verifier needs only the configuration every service has.
pub use lading_runtime::service::ServiceConfig as Config;

/// Errors that stop the verifier.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Bus(#[from] BusError),
}

pub const CONSUMER: &str = "verifier";

/// Runs the verifier until `shutdown`.
pub async fn run(config: Config, readiness: Readiness, shutdown: Shutdown) -> Result<(), Error> {
    let (bus, ready) = start_service("verifier", &config, &readiness, &shutdown).await?;
    ready.set(true);
    tracing::info!(replica = config.replica, "verifier running");
    let spec = ConsumerSpec::new(CONSUMER, vec![EventType::PromotionSucceededV1.filter()]);
    let result = bus
        .consume(spec, shutdown, |delivery| {
            let bus = bus.clone();
            async move { promotion_succeeded::handle(&bus, delivery).await }
        })
        .await;
    ready.set(false);
    Ok(result?)
}
