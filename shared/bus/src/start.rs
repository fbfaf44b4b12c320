//! Starting a service: readiness registered, health served when configured, NATS
//! connected and the streams and buckets provisioned.

use lading_runtime::readiness::ReadyFlag;
use lading_runtime::service::ServiceConfig;
use lading_runtime::{Readiness, Shutdown};

use crate::{Bus, BusError};

/// Why a service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("health server: {0}")]
    Health(std::io::Error),
}

/// Registers `service/<replica>` (not ready yet), serves health when configured,
/// connects and provisions. The caller sets the flag once it is ready for work.
pub async fn start_service(
    service: &str,
    config: &ServiceConfig,
    readiness: &Readiness,
    shutdown: &Shutdown,
) -> Result<(Bus, ReadyFlag), StartError> {
    let ready = readiness.register(format!("{service}/{}", config.replica));
    if let Some(addr) = config.health_addr {
        lading_runtime::health::serve(addr, readiness.clone(), shutdown.clone()).await.map_err(StartError::Health)?;
    }
    let bus = Bus::connect(&config.nats_url, service).await?.with_stream_replicas(config.stream_replicas);
    bus.provision().await?;
    Ok((bus, ready))
}
