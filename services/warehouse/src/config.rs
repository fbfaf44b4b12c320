//! Warehouse configuration, from an injected map of environment variables.

use std::collections::HashMap;
use std::path::PathBuf;

use lading_runtime::service::ServiceConfig;

/// Where Git mirrors are kept between discoveries.
pub const CACHE_DIR_ENV: &str = "LADING_CACHE_DIR";

/// How the warehouse service runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub service: ServiceConfig,
    pub cache_dir: PathBuf,
}

impl Config {
    pub fn new(nats_url: impl Into<String>, cache_dir: impl Into<PathBuf>) -> Self {
        Self { service: ServiceConfig::new(nats_url), cache_dir: cache_dir.into() }
    }

    pub fn from_env(env: &HashMap<String, String>) -> Result<Self, String> {
        let cache_dir = env
            .get(CACHE_DIR_ENV)
            .map(PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("lading-warehouse-cache"));
        Ok(Config { service: ServiceConfig::from_env(env)?, cache_dir })
    }
}
