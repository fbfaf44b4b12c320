//! Where the promoter, the verifier and the warehouse read secrets: `secret('name')` for
//! steps and analysis providers, and repository credentials.
//!
//! Standalone Lading reads them from the file `LADING_SECRETS_FILE` names, once at start
//! (credentials then come from each service's own credentials file). In Kubernetes mode
//! they are the Secrets of the project's namespace, as Kargo reads them (see
//! [`lading_domain::cluster_secrets`]): listed on demand, only those with the
//! `kargo.akuity.io/cred-type` label, and kept [`CACHE_FOR`] per project, so a Secret
//! made or changed with `kubectl` is used within seconds and a promotion burst asks the
//! apiserver once. A project never reads another project's namespace.
//!
//! Layout: [`SecretSource`] (the one question: what may this project read now) and
//! [`from_env`] (which of the two a service uses).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};
use lading_domain::cluster_secrets::{self, CRED_TYPE_LABEL, LabelledSecret};
use lading_domain::credentials::Credentials;
use lading_domain::secrets::{SecretData, Secrets};

/// The file of secrets (`LADING_SECRETS_FILE`; the same shapes the api reads).
pub const SECRETS_FILE_ENV: &str = "LADING_SECRETS_FILE";
/// Kubernetes mode: `true` or `false`; by default on inside a pod
/// (`KUBERNETES_SERVICE_HOST` set). The api's setting of the same name.
pub const KUBE_ENV: &str = "LADING_KUBE";
/// What this source asks of the apiserver (API group, resource, verb): `k8s/base`'s
/// ClusterRole `lading-secret-reader` grants exactly these (a test checks).
pub const PERMISSIONS: &[(&str, &str, &str)] = &[("", "secrets", "list")];
/// How long a project's Secrets, once listed, are used before they are listed again.
pub const CACHE_FOR: Duration = Duration::from_secs(5);

/// What one project may read now.
#[derive(Debug, Clone, Default)]
pub struct ProjectSecrets {
    /// What `secret('name')` reads.
    pub secrets: Arc<Secrets>,
    /// The project's repository credentials, in Kubernetes mode; `None` standalone,
    /// where each service's credentials file holds them.
    pub credentials: Option<Arc<Credentials>>,
}

/// Why a project's secrets could not be read (transient: the apiserver did not answer
/// or refused).
#[derive(Debug, Clone, thiserror::Error)]
#[error("reading the Secrets of project {project:?} from Kubernetes: {reason}")]
pub struct SecretSourceError {
    pub project: String,
    pub reason: String,
}

/// The file's secrets, or the cluster's.
#[derive(Clone)]
pub struct SecretSource(Arc<Inner>);

enum Inner {
    File(Arc<Secrets>),
    Cluster(Box<Cluster>),
}

struct Cluster {
    /// `None`: in-cluster, else `KUBECONFIG`, else `~/.kube/config`.
    config: Option<kube::Config>,
    client: tokio::sync::OnceCell<kube::Client>,
    cache: Mutex<HashMap<String, (Instant, ProjectSecrets)>>,
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.0 {
            Inner::File(secrets) => f.debug_tuple("SecretSource::File").field(secrets).finish(),
            Inner::Cluster(_) => f.write_str("SecretSource::Kubernetes"),
        }
    }
}

impl Default for SecretSource {
    fn default() -> Self {
        Self::file(Arc::default())
    }
}

impl From<Arc<Secrets>> for SecretSource {
    fn from(secrets: Arc<Secrets>) -> Self {
        Self::file(secrets)
    }
}

impl SecretSource {
    /// Secrets read from a file (or given by a test).
    pub fn file(secrets: Arc<Secrets>) -> Self {
        Self(Arc::new(Inner::File(secrets)))
    }

    /// The Secrets of each project's namespace, on the cluster `config` reaches (`None`:
    /// the one the pod runs in, else `KUBECONFIG`).
    pub fn kubernetes(config: Option<kube::Config>) -> Self {
        Self(Arc::new(Inner::Cluster(Box::new(Cluster {
            config,
            client: tokio::sync::OnceCell::new(),
            cache: Mutex::new(HashMap::new()),
        }))))
    }

    /// Whether secrets come from Kubernetes.
    pub fn is_kubernetes(&self) -> bool {
        matches!(&*self.0, Inner::Cluster(_))
    }

    /// What `project` may read now.
    pub async fn project(&self, project: &str) -> Result<ProjectSecrets, SecretSourceError> {
        match &*self.0 {
            Inner::File(secrets) => Ok(ProjectSecrets { secrets: secrets.clone(), credentials: None }),
            Inner::Cluster(cluster) => cluster.project(project).await,
        }
    }
}

impl Cluster {
    async fn project(&self, project: &str) -> Result<ProjectSecrets, SecretSourceError> {
        let error = |reason: String| SecretSourceError { project: project.to_owned(), reason };
        if let Some((listed, cached)) = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(project)
            && listed.elapsed() < CACHE_FOR
        {
            return Ok(cached.clone());
        }
        // A project's namespace is named after it; a name that is no DNS label has none.
        lading_domain::names::validate_dns_label(project).map_err(|e| error(e.to_string()))?;
        let client = self
            .client
            .get_or_try_init(|| async {
                let _ = rustls::crypto::ring::default_provider().install_default();
                let config = match &self.config {
                    Some(config) => config.clone(),
                    None => kube::Config::infer().await.map_err(|e| e.to_string())?,
                };
                kube::Client::try_from(config).map_err(|e| e.to_string())
            })
            .await
            .map_err(|e: String| error(e))?;
        let api: Api<Secret> = Api::namespaced(client.clone(), project);
        let listed = api
            .list(&ListParams::default().labels(cluster_secrets::LABEL_SELECTOR))
            .await
            .map_err(|e| error(e.to_string()))?;
        let sorted = cluster_secrets::sort(project, listed.items.iter().map(labelled));
        for skipped in &sorted.skipped {
            tracing::warn!(project, problem = skipped.as_str(), "a credential Secret is left out");
        }
        let secrets =
            ProjectSecrets { secrets: Arc::new(sorted.secrets), credentials: Some(Arc::new(sorted.credentials)) };
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(project.to_owned(), (Instant::now(), secrets.clone()));
        Ok(secrets)
    }
}

/// A Secret's keys and values (`data`, decoded; a value that is not UTF-8 is left out).
pub fn secret_data(secret: &Secret) -> SecretData {
    let mut data = SecretData::new();
    for (key, value) in secret.data.iter().flatten() {
        if let Ok(text) = String::from_utf8(value.0.clone()) {
            data.insert(key.clone(), text);
        }
    }
    for (key, value) in secret.string_data.iter().flatten() {
        data.insert(key.clone(), value.clone());
    }
    data
}

/// A Secret's name, label and data.
fn labelled(secret: &Secret) -> LabelledSecret {
    LabelledSecret {
        name: secret.metadata.name.clone().unwrap_or_default(),
        cred_type: secret.metadata.labels.as_ref().and_then(|l| l.get(CRED_TYPE_LABEL)).cloned(),
        data: secret_data(secret),
    }
}

/// The source `env` asks for: in Kubernetes mode (`LADING_KUBE`, on by default in a pod,
/// as for the api) the project namespaces' Secrets; else the file `LADING_SECRETS_FILE`
/// names, if any.
pub fn from_env(env: &HashMap<String, String>) -> Result<SecretSource, String> {
    let kubernetes = match env.get(KUBE_ENV).map(|v| v.trim()) {
        Some("true") => true,
        Some("false") => false,
        Some(other) => return Err(format!("{KUBE_ENV}={other:?}: must be true or false")),
        None => env.get("KUBERNETES_SERVICE_HOST").is_some_and(|h| !h.is_empty()),
    };
    if kubernetes {
        return Ok(SecretSource::kubernetes(None));
    }
    let Some(path) = env.get(SECRETS_FILE_ENV) else {
        return Ok(SecretSource::default());
    };
    let text = std::fs::read_to_string(path).map_err(|e| format!("{SECRETS_FILE_ENV}={path:?}: {e}"))?;
    let secrets = Secrets::parse(&text).map_err(|e| format!("{SECRETS_FILE_ENV}={path:?}: {e}"))?;
    Ok(SecretSource::file(Arc::new(secrets)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn kubernetes_mode_is_the_default_in_a_pod_and_the_file_serves_standalone() {
        let dir = std::env::temp_dir().join(format!("lading-secret-source-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("secrets.yaml");
        std::fs::write(&file, "api:\n  token: t\n").unwrap();
        let path = file.display().to_string();
        assert!(!from_env(&env(&[])).unwrap().is_kubernetes());
        assert!(from_env(&env(&[("KUBERNETES_SERVICE_HOST", "10.0.0.1")])).unwrap().is_kubernetes());
        assert!(
            !from_env(&env(&[("KUBERNETES_SERVICE_HOST", "10.0.0.1"), (KUBE_ENV, "false")])).unwrap().is_kubernetes()
        );
        assert!(from_env(&env(&[(KUBE_ENV, "true")])).unwrap().is_kubernetes());
        assert!(from_env(&env(&[(KUBE_ENV, "true"), (SECRETS_FILE_ENV, &path)])).unwrap().is_kubernetes());
        assert!(!from_env(&env(&[(KUBE_ENV, "false"), (SECRETS_FILE_ENV, &path)])).unwrap().is_kubernetes());
        assert!(from_env(&env(&[(KUBE_ENV, "yes")])).unwrap_err().starts_with("LADING_KUBE=\"yes\""));
        let missing = from_env(&env(&[(SECRETS_FILE_ENV, "/nonexistent/secrets.yaml")])).unwrap_err();
        assert!(missing.starts_with("LADING_SECRETS_FILE=\"/nonexistent/secrets.yaml\""), "{missing}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
