//! How the verifier runs: the configuration every service has, and the secrets analysis
//! providers read with `${{ secret('name').key }}`.

use std::collections::HashMap;
use std::sync::Arc;

use lading_domain::secrets::Secrets;
use lading_runtime::service::ServiceConfig;

/// Kubernetes Secret manifests (or a map of name → key → value) analysis providers read
/// with `${{ secret('name').key }}`: the same file the promoter's steps read.
pub const SECRETS_FILE_ENV: &str = "LADING_SECRETS_FILE";

#[derive(Debug, Clone)]
pub struct Config {
    pub service: ServiceConfig,
    /// The secrets analysis providers may read (from `LADING_SECRETS_FILE`).
    pub secrets: Arc<Secrets>,
}

impl Config {
    pub fn new(nats_url: impl Into<String>) -> Self {
        Self { service: ServiceConfig::new(nats_url), secrets: Arc::default() }
    }

    /// Reads the common variables and `LADING_SECRETS_FILE` from `env`.
    pub fn from_env(env: &HashMap<String, String>) -> Result<Self, String> {
        let service = ServiceConfig::from_env(env)?;
        let secrets = match env.get(SECRETS_FILE_ENV) {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| format!("{SECRETS_FILE_ENV}={path:?}: {e}"))?;
                Arc::new(Secrets::parse(&text).map_err(|e| format!("{SECRETS_FILE_ENV}={path:?}: {e}"))?)
            }
            None => Arc::default(),
        };
        Ok(Self { service, secrets })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secrets_file_that_does_not_read_is_named_in_the_error() {
        let env = HashMap::from([(SECRETS_FILE_ENV.to_owned(), "/nonexistent/secrets.yaml".to_owned())]);
        let error = Config::from_env(&env).unwrap_err();
        assert!(error.starts_with("LADING_SECRETS_FILE=\"/nonexistent/secrets.yaml\""), "{error}");
    }
}
