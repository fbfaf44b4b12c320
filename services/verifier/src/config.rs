//! How the verifier runs: the configuration every service has, and the secrets analysis
//! providers read with `${{ secret('name').key }}`.

use std::collections::HashMap;

use lading_runtime::service::ServiceConfig;

/// Kubernetes mode: providers read the project namespaces' Secrets.
pub use lading_secret_source::KUBE_ENV;
/// Kubernetes Secret manifests (or a map of name → key → value) analysis providers read
/// with `${{ secret('name').key }}`: the same file the promoter's steps read (standalone).
pub use lading_secret_source::SECRETS_FILE_ENV;

#[derive(Debug, Clone)]
pub struct Config {
    pub service: ServiceConfig,
    /// Where analysis providers' `secret()` reads (`LADING_SECRETS_FILE`, or in
    /// Kubernetes mode the project's namespace).
    pub secrets: lading_secret_source::SecretSource,
}

impl Config {
    pub fn new(nats_url: impl Into<String>) -> Self {
        Self { service: ServiceConfig::new(nats_url), secrets: Default::default() }
    }

    /// Reads the common variables and `LADING_SECRETS_FILE` from `env`.
    pub fn from_env(env: &HashMap<String, String>) -> Result<Self, String> {
        let service = ServiceConfig::from_env(env)?;
        let secrets = lading_secret_source::from_env(env)?;
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
