//! Warehouse configuration, from an injected map of environment variables.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

pub const NATS_URL_ENV: &str = "LADING_NATS_URL";
pub const HEALTH_ADDR_ENV: &str = "LADING_HEALTH_ADDR";
pub const CACHE_DIR_ENV: &str = "LADING_CACHE_DIR";
pub const REPLICA_ENV: &str = "LADING_REPLICA";

/// How the warehouse service runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub nats_url: String,
    pub health_addr: Option<SocketAddr>,
    /// Where Git mirrors are kept between discoveries.
    pub cache_dir: PathBuf,
    pub replica: String,
}

impl Config {
    pub fn new(nats_url: impl Into<String>, cache_dir: impl Into<PathBuf>) -> Self {
        Self {
            nats_url: nats_url.into(),
            health_addr: None,
            cache_dir: cache_dir.into(),
            replica: ulid::Ulid::new().to_string().to_lowercase(),
        }
    }

    pub fn from_env(env: &HashMap<String, String>) -> Result<Self, String> {
        let cache_dir = env
            .get(CACHE_DIR_ENV)
            .map(PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("lading-warehouse-cache"));
        let mut config = Config::new(
            env.get(NATS_URL_ENV)
                .cloned()
                .unwrap_or_else(|| "nats://127.0.0.1:4222".into()),
            cache_dir,
        );
        if let Some(addr) = env.get(HEALTH_ADDR_ENV) {
            config.health_addr = Some(
                addr.parse()
                    .map_err(|e| format!("{HEALTH_ADDR_ENV}={addr:?}: {e}"))?,
            );
        }
        if let Some(replica) = env.get(REPLICA_ENV) {
            config.replica = replica.clone();
        }
        Ok(config)
    }
}
