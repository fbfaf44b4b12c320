//! Warehouse configuration, from an injected map of environment variables.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use lading_domain::credentials::Credentials;
use lading_domain::expression::{ExpressionLimits, limits};
use lading_domain::limits::{Limit, SettingError, parse_count, parse_size, parse_timeout};
use lading_remote::GitBudget;
use lading_runtime::service::ServiceConfig;

use crate::registry::{DEFAULT_RATE, RegistryLimits};

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

/// Git remotes' budget (shared with the promoter; see [`GitBudget`]).
pub use lading_remote::{GIT_CONNECT_TIMEOUT_ENV, GIT_IDLE_TIMEOUT_ENV, GIT_MAX_TRANSFER_ENV, GIT_TIMEOUT_ENV};

/// Registries and chart repositories: longest wait for a connection (default 10s).
pub const HTTP_CONNECT_TIMEOUT_ENV: &str = "LADING_HTTP_CONNECT_TIMEOUT";
/// Registries and chart repositories: longest wait for the next bytes (default 30s).
pub const HTTP_IDLE_TIMEOUT_ENV: &str = "LADING_HTTP_IDLE_TIMEOUT";
/// Registries and chart repositories: longest request, and longest tag list over all
/// its pages (default 2m).
pub const HTTP_TIMEOUT_ENV: &str = "LADING_HTTP_TIMEOUT";

/// Most bytes of one repository's tag list, over all its pages (default 16MiB).
pub const REGISTRY_MAX_TAG_LIST_ENV: &str = "LADING_REGISTRY_MAX_TAG_LIST_BYTES";
/// Most pages of one repository's tag list (default 1000).
pub const REGISTRY_MAX_TAG_PAGES_ENV: &str = "LADING_REGISTRY_MAX_TAG_PAGES";
/// Largest manifest, image index or image config (default 4MiB).
pub const REGISTRY_MAX_MANIFEST_ENV: &str = "LADING_REGISTRY_MAX_MANIFEST_BYTES";
/// Largest chart repository `index.yaml` (default 64MiB).
pub const CHART_INDEX_MAX_ENV: &str = "LADING_CHART_INDEX_MAX_BYTES";

/// Longest discovery of one warehouse, every subscription included (default 15m).
pub const DISCOVERY_TIMEOUT_ENV: &str = "LADING_DISCOVERY_TIMEOUT";
/// How many warehouses one replica discovers at once (default 8).
pub const DISCOVERY_CONCURRENCY_ENV: &str = "LADING_DISCOVERY_CONCURRENCY";

/// What calls to remote sources may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budgets {
    pub git: GitBudget,
    /// Registries and chart repositories.
    pub registry: RegistryLimits,
    pub discovery_timeout: Limit<Duration>,
    pub discovery_concurrency: Limit<usize>,
}

const fn seconds(value: u64, setting: &'static str) -> Limit<Duration> {
    Limit::new(Duration::from_secs(value), setting)
}

impl Default for Budgets {
    fn default() -> Self {
        Self {
            git: GitBudget::default(),
            registry: RegistryLimits::default(),
            discovery_timeout: seconds(900, DISCOVERY_TIMEOUT_ENV),
            discovery_concurrency: Limit::new(8, DISCOVERY_CONCURRENCY_ENV),
        }
    }
}

impl Budgets {
    /// The defaults, with what `env` sets instead.
    pub fn from_env(env: &HashMap<String, String>) -> Result<Self, SettingError> {
        let mut budgets = Budgets { git: GitBudget::from_env(env)?, ..Budgets::default() };
        let timeouts = [
            (&mut budgets.registry.timeouts.connect, HTTP_CONNECT_TIMEOUT_ENV),
            (&mut budgets.registry.timeouts.idle, HTTP_IDLE_TIMEOUT_ENV),
            (&mut budgets.registry.timeouts.total, HTTP_TIMEOUT_ENV),
            (&mut budgets.discovery_timeout, DISCOVERY_TIMEOUT_ENV),
        ];
        for (limit, setting) in timeouts {
            if let Some(value) = env.get(setting) {
                *limit = parse_timeout(setting, value)?;
            }
        }
        let sizes = [
            (&mut budgets.registry.max_tag_list, REGISTRY_MAX_TAG_LIST_ENV),
            (&mut budgets.registry.max_manifest, REGISTRY_MAX_MANIFEST_ENV),
            (&mut budgets.registry.max_chart_index, CHART_INDEX_MAX_ENV),
        ];
        for (limit, setting) in sizes {
            if let Some(value) = env.get(setting) {
                *limit = parse_size(setting, value)?;
            }
        }
        for (limit, setting) in [
            (&mut budgets.registry.max_tag_pages, REGISTRY_MAX_TAG_PAGES_ENV),
            (&mut budgets.discovery_concurrency, DISCOVERY_CONCURRENCY_ENV),
        ] {
            if let Some(value) = env.get(setting) {
                *limit = parse_count(setting, value)?;
            }
        }
        Ok(budgets)
    }
}

/// How the warehouse service runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub service: ServiceConfig,
    pub cache_dir: PathBuf,
    pub credentials: Credentials,
    pub registry_rate: u32,
    /// What each evaluation of an `expressionFilter` or `freightCreationCriteria` may spend.
    pub expression_limits: ExpressionLimits,
    pub budgets: Budgets,
}

impl Config {
    pub fn new(nats_url: impl Into<String>, cache_dir: impl Into<PathBuf>) -> Self {
        Self {
            service: ServiceConfig::new(nats_url),
            cache_dir: cache_dir.into(),
            credentials: Credentials::default(),
            registry_rate: DEFAULT_RATE,
            expression_limits: ExpressionLimits::default(),
            budgets: Budgets::default(),
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
        let budgets = Budgets::from_env(env).map_err(|e| e.to_string())?;
        Ok(Config {
            service: ServiceConfig::from_env(env)?,
            cache_dir,
            credentials,
            registry_rate,
            budgets,
            expression_limits,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn budgets_default_generously_and_each_setting_overrides_its_limit() {
        let defaults = Budgets::from_env(&HashMap::new()).unwrap();
        assert_eq!(defaults, Budgets::default());
        assert_eq!(defaults.git.timeouts.idle.value, Duration::from_secs(30));
        let set = Budgets::from_env(&env(&[
            (GIT_IDLE_TIMEOUT_ENV, "2s"),
            (HTTP_TIMEOUT_ENV, "1m"),
            (REGISTRY_MAX_TAG_LIST_ENV, "1MiB"),
            (REGISTRY_MAX_TAG_PAGES_ENV, "5"),
            (DISCOVERY_CONCURRENCY_ENV, "2"),
        ]))
        .unwrap();
        assert_eq!(set.git.timeouts.idle, Limit::new(Duration::from_secs(2), GIT_IDLE_TIMEOUT_ENV));
        assert_eq!(set.registry.timeouts.total.value, Duration::from_secs(60));
        assert_eq!(set.registry.max_tag_list.value, 1 << 20);
        assert_eq!((set.registry.max_tag_pages.value, set.discovery_concurrency.value), (5, 2));
    }

    #[test]
    fn a_bad_budget_names_its_variable() {
        let error = Config::from_env(&env(&[(GIT_TIMEOUT_ENV, "forever")])).unwrap_err();
        assert!(error.starts_with("LADING_GIT_TIMEOUT=\"forever\": must be a positive duration"), "{error}");
    }

    #[test]
    fn expression_limits_come_from_their_settings() {
        let env = HashMap::from([(EXPRESSION_MAX_OUTPUT_ENV.to_owned(), "64KiB".to_owned())]);
        assert_eq!(Config::from_env(&env).unwrap().expression_limits.max_output_bytes, 64 * 1024);
        let bad = HashMap::from([(EXPRESSION_TIMEOUT_ENV.to_owned(), "soon".to_owned())]);
        assert!(Config::from_env(&bad).unwrap_err().starts_with("LADING_EXPRESSION_TIMEOUT=\"soon\""));
    }
}
