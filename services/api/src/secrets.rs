//! Where the api reads the secrets webhook receivers authenticate with. [`SecretSource`]
//! is the one question asked (a project's secret, by name, as it is now); standalone
//! Lading answers it from the file `LADING_SECRETS_FILE` names, read at start (the same
//! file and shapes as the promoter's `secret()`); in Kubernetes mode
//! [`crate::kubernetes::secrets`] answers it from the Secrets of the project's namespace.

use std::sync::Arc;

use lading_domain::secrets::{SecretData, Secrets};

/// Secrets by project and name.
pub trait SecretSource: Send + Sync + std::fmt::Debug {
    /// The secret `name` of `project` (or one for every project), if it exists now.
    fn secret(&self, project: &str, name: &str) -> Option<SecretData>;
}

impl SecretSource for Secrets {
    fn secret(&self, project: &str, name: &str) -> Option<SecretData> {
        self.get(project, name).cloned()
    }
}

/// The secrets of the file at `path`; an error names the file and what is wrong, never a
/// value.
pub fn from_file(path: &str) -> Result<Arc<dyn SecretSource>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path:?}: {e}"))?;
    let secrets = Secrets::parse(&text).map_err(|e| format!("{path:?}: {e}"))?;
    Ok(Arc::new(secrets))
}

/// No secrets: every receiver reports its secret missing.
pub fn none() -> Arc<dyn SecretSource> {
    Arc::new(Secrets::default())
}
