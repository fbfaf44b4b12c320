//! Warehouse configuration, from an injected map of environment variables.

use std::collections::HashMap;
use std::path::PathBuf;

use lading_domain::credentials::Credentials;
use lading_runtime::service::ServiceConfig;

use crate::registry::DEFAULT_RATE;

/// Where Git mirrors are kept between discoveries.
pub const CACHE_DIR_ENV: &str = "LADING_CACHE_DIR";

/// A YAML list of credentials (Git, image registries, chart repositories; see
/// `lading_domain::credentials`).
pub const CREDENTIALS_FILE_ENV: &str = "LADING_CREDENTIALS_FILE";

/// Requests per second to one registry (default 20).
pub const REGISTRY_RATE_ENV: &str = "LADING_REGISTRY_RATE_LIMIT";

/// How the warehouse service runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub service: ServiceConfig,
    pub cache_dir: PathBuf,
    pub credentials: Credentials,
    pub registry_rate: u32,
}

impl Config {
    pub fn new(nats_url: impl Into<String>, cache_dir: impl Into<PathBuf>) -> Self {
        Self {
            service: ServiceConfig::new(nats_url),
            cache_dir: cache_dir.into(),
            credentials: Credentials::default(),
            registry_rate: DEFAULT_RATE,
        }
    }

    pub fn from_env(env: &HashMap<String, String>) -> Result<Self, String> {
        let cache_dir = env
            .get(CACHE_DIR_ENV)
            .map(PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("lading-warehouse-cache"));
        let credentials = match env.get(CREDENTIALS_FILE_ENV) {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| format!("{CREDENTIALS_FILE_ENV}={path}: {e}"))?;
                Credentials::parse(&text).map_err(|e| format!("{CREDENTIALS_FILE_ENV}={path}: {e}"))?
            }
            None => Credentials::default(),
        };
        let registry_rate = match env.get(REGISTRY_RATE_ENV) {
            Some(rate) => match rate.parse::<u32>() {
                Ok(r) if r > 0 => r,
                _ => {
                    return Err(format!(
                        "{REGISTRY_RATE_ENV}={rate:?}: must be a positive number of requests per second"
                    ));
                }
            },
            None => DEFAULT_RATE,
        };
        Ok(Config { service: ServiceConfig::from_env(env)?, cache_dir, credentials, registry_rate })
    }
}
