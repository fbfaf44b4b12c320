//! Promoter configuration, from an injected map of environment variables.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::steps::CommitAuthor;

pub const NATS_URL_ENV: &str = "LADING_NATS_URL";
pub const HEALTH_ADDR_ENV: &str = "LADING_HEALTH_ADDR";
pub const WORK_DIR_ENV: &str = "LADING_WORK_DIR";
pub const REPLICA_ENV: &str = "LADING_REPLICA";
pub const GIT_AUTHOR_NAME_ENV: &str = "LADING_GIT_AUTHOR_NAME";
pub const GIT_AUTHOR_EMAIL_ENV: &str = "LADING_GIT_AUTHOR_EMAIL";

/// How the promoter runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub nats_url: String,
    /// Serves `/healthz`, `/readyz` and `/metrics` here when set.
    pub health_addr: Option<SocketAddr>,
    /// Where promotion workspaces are created (the system temp dir when unset).
    pub work_dir: Option<PathBuf>,
    /// This replica's name, for leases and logs.
    pub replica: String,
    pub author: CommitAuthor,
}

impl Config {
    pub fn new(nats_url: impl Into<String>) -> Self {
        Self {
            nats_url: nats_url.into(),
            health_addr: None,
            work_dir: None,
            replica: ulid::Ulid::new().to_string().to_lowercase(),
            author: CommitAuthor::default(),
        }
    }

    /// Reads the configuration from `env` (the process environment in `main`).
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
        config.work_dir = env.get(WORK_DIR_ENV).map(PathBuf::from);
        if let Some(replica) = env.get(REPLICA_ENV) {
            config.replica = replica.clone();
        }
        if let Some(name) = env.get(GIT_AUTHOR_NAME_ENV) {
            config.author.name = name.clone();
        }
        if let Some(email) = env.get(GIT_AUTHOR_EMAIL_ENV) {
            config.author.email = email.clone();
        }
        Ok(config)
    }
}
