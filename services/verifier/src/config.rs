//! Verifier configuration, from an injected map of environment variables.

use std::collections::HashMap;
use std::net::SocketAddr;

pub const NATS_URL_ENV: &str = "LADING_NATS_URL";
pub const HEALTH_ADDR_ENV: &str = "LADING_HEALTH_ADDR";
pub const REPLICA_ENV: &str = "LADING_REPLICA";

/// How the verifier runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub nats_url: String,
    pub health_addr: Option<SocketAddr>,
    pub replica: String,
}

impl Config {
    pub fn new(nats_url: impl Into<String>) -> Self {
        Self {
            nats_url: nats_url.into(),
            health_addr: None,
            replica: ulid::Ulid::new().to_string().to_lowercase(),
        }
    }

    pub fn from_env(env: &HashMap<String, String>) -> Result<Self, String> {
        let mut config = Config::new(
            env.get(NATS_URL_ENV)
                .cloned()
                .unwrap_or_else(|| "nats://127.0.0.1:4222".into()),
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
