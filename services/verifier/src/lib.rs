//! The verifier: after a promotion succeeds, marks its freight verified in the stage,
//! which makes it available to downstream stages.
//!
//! # Layout
//!
//! - [`config`]: configuration and its environment variables.
//! - [`promotion_succeeded`]: the handler for `PromotionSucceeded`.
//!
//! Stages have no verification checks yet, so verification succeeds as soon as the
//! promotion did.

pub mod config;
pub mod promotion_succeeded;

use lading_bus::{Bus, BusError, ConsumerSpec};
use lading_events::EventType;
use lading_runtime::{Readiness, Shutdown};

pub use config::Config;

/// Errors that stop the verifier.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("health server: {0}")]
    Health(std::io::Error),
}

pub const CONSUMER: &str = "verifier";

/// Runs the verifier until `shutdown`.
pub async fn run(config: Config, readiness: Readiness, shutdown: Shutdown) -> Result<(), Error> {
    let ready = readiness.register(format!("verifier/{}", config.replica));
    if let Some(addr) = config.health_addr {
        lading_runtime::health::serve(addr, readiness.clone(), shutdown.clone())
            .await
            .map_err(Error::Health)?;
    }
    let bus = Bus::connect(&config.nats_url, "verifier").await?;
    bus.provision().await?;
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
