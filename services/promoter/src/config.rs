//! Promoter configuration, from an injected map of environment variables.

use std::collections::HashMap;
use std::path::PathBuf;

use lading_domain::expression::ExpressionLimits;
use lading_domain::expression::limits;
use lading_runtime::service::ServiceConfig;

use crate::steps::{CommitAuthor, GitCredentials};

/// Where promotion workspaces are created (the system temp dir when unset).
pub const WORK_DIR_ENV: &str = "LADING_WORK_DIR";
pub const GIT_AUTHOR_NAME_ENV: &str = "LADING_GIT_AUTHOR_NAME";
pub const GIT_AUTHOR_EMAIL_ENV: &str = "LADING_GIT_AUTHOR_EMAIL";
/// A YAML or JSON list of `{repoURL, repoURLIsRegex, username, password}` for Git.
pub const GIT_CREDENTIALS_FILE_ENV: &str = "LADING_GIT_CREDENTIALS_FILE";
/// Step expressions: the longest an evaluation may run (default 100ms).
pub const EXPRESSION_TIMEOUT_ENV: &str = limits::TIMEOUT_ENV;
/// Step expressions: the largest result (default 1MiB).
pub const EXPRESSION_MAX_OUTPUT_ENV: &str = limits::MAX_OUTPUT_ENV;
/// Step expressions: the most bytes of values one evaluation may create (default 16MiB).
pub const EXPRESSION_MAX_ALLOCATED_ENV: &str = limits::MAX_ALLOCATED_ENV;
/// Crash on purpose (abort the process) right after a step, to test recovery:
/// `after-step:<uses>`, e.g. `after-step:git-push`.
pub const FAILPOINT_ENV: &str = "LADING_FAILPOINT";

/// How the promoter runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub service: ServiceConfig,
    pub work_dir: Option<PathBuf>,
    /// Who promotion commits are by, unless a step says otherwise.
    pub author: CommitAuthor,
    /// Credentials for the repositories promotions clone and push.
    pub git_credentials: GitCredentials,
    /// What each evaluation of a step's expressions may spend.
    pub expression_limits: ExpressionLimits,
    /// Abort the process right after the step this names (`after-step:<uses>`); for
    /// crash tests only.
    pub failpoint: Option<String>,
}

impl Config {
    pub fn new(nats_url: impl Into<String>) -> Self {
        Self {
            service: ServiceConfig::new(nats_url),
            work_dir: None,
            author: CommitAuthor::default(),
            git_credentials: GitCredentials::default(),
            expression_limits: ExpressionLimits::default(),
            failpoint: None,
        }
    }

    /// Reads the configuration from `env` (the process environment in `main`).
    pub fn from_env(env: &HashMap<String, String>) -> Result<Self, String> {
        let mut config = Config {
            service: ServiceConfig::from_env(env)?,
            work_dir: env.get(WORK_DIR_ENV).map(PathBuf::from),
            author: CommitAuthor::default(),
            failpoint: env.get(FAILPOINT_ENV).cloned(),
            git_credentials: GitCredentials::default(),
            expression_limits: ExpressionLimits::from_env(env).map_err(|e| e.to_string())?,
        };
        if let Some(path) = env.get(GIT_CREDENTIALS_FILE_ENV) {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{GIT_CREDENTIALS_FILE_ENV}={path:?}: {e}"))?;
            config.git_credentials =
                GitCredentials::parse(&text).map_err(|e| format!("{GIT_CREDENTIALS_FILE_ENV}: {e}"))?;
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn expression_limits_come_from_their_settings() {
        let env = HashMap::from([(EXPRESSION_TIMEOUT_ENV.to_owned(), "250ms".to_owned())]);
        let config = Config::from_env(&env).unwrap();
        assert_eq!(config.expression_limits.timeout, Duration::from_millis(250));
        let bad = HashMap::from([(EXPRESSION_MAX_ALLOCATED_ENV.to_owned(), "lots".to_owned())]);
        assert!(Config::from_env(&bad).unwrap_err().starts_with("LADING_EXPRESSION_MAX_ALLOCATED_BYTES=\"lots\""));
    }
}
