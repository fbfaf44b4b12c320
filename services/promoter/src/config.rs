//! Promoter configuration, from an injected map of environment variables.

use std::collections::HashMap;
use std::path::PathBuf;

use lading_runtime::service::ServiceConfig;

use crate::steps::{CommitAuthor, GitCredentials};

/// Where promotion workspaces are created (the system temp dir when unset).
pub const WORK_DIR_ENV: &str = "LADING_WORK_DIR";
pub const GIT_AUTHOR_NAME_ENV: &str = "LADING_GIT_AUTHOR_NAME";
pub const GIT_AUTHOR_EMAIL_ENV: &str = "LADING_GIT_AUTHOR_EMAIL";
/// A YAML or JSON list of `{repoURL, repoURLIsRegex, username, password}` for Git.
pub const GIT_CREDENTIALS_FILE_ENV: &str = "LADING_GIT_CREDENTIALS_FILE";
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
