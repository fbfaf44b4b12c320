//! Warehouse configuration, from an injected map of environment variables.

use std::collections::HashMap;
use std::path::PathBuf;

use lading_domain::credentials::Credentials;
use lading_domain::expression::{ExpressionLimits, limits};
use lading_runtime::service::ServiceConfig;

use crate::registry::DEFAULT_RATE;

/// Where Git mirrors are kept between discoveries.
pub const CACHE_DIR_ENV: &str = "LADING_CACHE_DIR";

/// A YAML list of credentials (Git, image registries, chart repositories; see
/// `lading_domain::credentials`).
pub const CREDENTIALS_FILE_ENV: &str = "LADING_CREDENTIALS_FILE";

/// Requests per second to one registry (default 20).
pub const REGISTRY_RATE_ENV: &str = "LADING_REGISTRY_RATE_LIMIT";

/// `expressionFilter` and `freightCreationCriteria`: the longest an evaluation may run
/// (default 100ms).
pub const EXPRESSION_TIMEOUT_ENV: &str = limits::TIMEOUT_ENV;
/// The largest result of an expression (default 1MiB).
pub const EXPRESSION_MAX_OUTPUT_ENV: &str = limits::MAX_OUTPUT_ENV;
/// The most bytes of values one evaluation may create (default 16MiB).
pub const EXPRESSION_MAX_ALLOCATED_ENV: &str = limits::MAX_ALLOCATED_ENV;

/// How the warehouse service runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub service: ServiceConfig,
    pub cache_dir: PathBuf,
    pub credentials: Credentials,
    pub registry_rate: u32,
    /// What each evaluation of an `expressionFilter` or `freightCreationCriteria` may spend.
    pub expression_limits: ExpressionLimits,
}

impl Config {
    pub fn new(nats_url: impl Into<String>, cache_dir: impl Into<PathBuf>) -> Self {
        Self {
            service: ServiceConfig::new(nats_url),
            cache_dir: cache_dir.into(),
            credentials: Credentials::default(),
            registry_rate: DEFAULT_RATE,
            expression_limits: ExpressionLimits::default(),
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
        let expression_limits = ExpressionLimits::from_env(env).map_err(|e| e.to_string())?;
        Ok(Config { service: ServiceConfig::from_env(env)?, cache_dir, credentials, registry_rate, expression_limits })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expression_limits_come_from_their_settings() {
        let env = HashMap::from([(EXPRESSION_MAX_OUTPUT_ENV.to_owned(), "64KiB".to_owned())]);
        assert_eq!(Config::from_env(&env).unwrap().expression_limits.max_output_bytes, 64 * 1024);
        let bad = HashMap::from([(EXPRESSION_TIMEOUT_ENV.to_owned(), "soon".to_owned())]);
        assert!(Config::from_env(&bad).unwrap_err().starts_with("LADING_EXPRESSION_TIMEOUT=\"soon\""));
    }
}
