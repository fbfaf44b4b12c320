//! Promoter configuration, from an injected map of environment variables.

use std::collections::HashMap;
use std::path::PathBuf;

use lading_domain::expression::{ExpressionLimits, limits};
use lading_domain::limits::{SettingError, parse_size, parse_timeout};
use lading_runtime::service::ServiceConfig;

use crate::steps::commit_signing::{MAX_SIGNING_KEY_BYTES, SigningKey};
use crate::steps::{CommitAuthor, GitCredentials, RemoteBudgets, Remotes};

/// Where promotion workspaces are created (the system temp dir when unset).
pub const WORK_DIR_ENV: &str = "LADING_WORK_DIR";
pub const GIT_AUTHOR_NAME_ENV: &str = "LADING_GIT_AUTHOR_NAME";
pub const GIT_AUTHOR_EMAIL_ENV: &str = "LADING_GIT_AUTHOR_EMAIL";
/// A file holding the ASCII-armored OpenPGP private key (no passphrase) that signs every
/// promotion commit and annotated tag, as Kargo's `GITCLIENT_SIGNING_KEY_PATH`.
pub const GIT_SIGNING_KEY_PATH_ENV: &str = "LADING_GIT_SIGNING_KEY_PATH";
/// The kind of that key: `gpg` (the default and only kind), as Kargo's
/// `GITCLIENT_SIGNING_KEY_TYPE`.
pub const GIT_SIGNING_KEY_TYPE_ENV: &str = "LADING_GIT_SIGNING_KEY_TYPE";
/// A YAML or JSON list of `{repoURL, repoURLIsRegex, username, password}` for Git.
pub const GIT_CREDENTIALS_FILE_ENV: &str = "LADING_GIT_CREDENTIALS_FILE";
/// Git remotes' budget (shared with the warehouse; see [`lading_remote::GitBudget`]).
pub use lading_remote::{GIT_CONNECT_TIMEOUT_ENV, GIT_IDLE_TIMEOUT_ENV, GIT_MAX_TRANSFER_ENV, GIT_TIMEOUT_ENV};
/// `github-push`: `true` replays every commit without its author and committer, so
/// GitHub signs them all, not only those the promoter's key signed (default `false`), as
/// Kargo's `GITHUB_PUSH_VERIFY_UNTRUSTED_COMMITS`.
pub const GITHUB_PUSH_VERIFY_UNTRUSTED_COMMITS_ENV: &str = "LADING_GITHUB_PUSH_VERIFY_UNTRUSTED_COMMITS";
/// `git-push`, `github-push`: how commits the remote branch gained are brought in,
/// `AlwaysRebase` (default), `RebaseOrMerge`, `RebaseOrFail` or `AlwaysMerge`, as Kargo's
/// `GIT_PUSH_INTEGRATION_POLICY`.
pub const GIT_PUSH_INTEGRATION_POLICY_ENV: &str = "LADING_GIT_PUSH_INTEGRATION_POLICY";
/// `http` steps: longest wait for a connection (default 10s).
pub const HTTP_CONNECT_TIMEOUT_ENV: &str = "LADING_HTTP_CONNECT_TIMEOUT";
/// `http` steps: longest wait for the next bytes (default 30s).
pub const HTTP_IDLE_TIMEOUT_ENV: &str = "LADING_HTTP_IDLE_TIMEOUT";
/// `http` steps: longest call of a step that sets no `timeout` (default 10s).
pub const HTTP_STEP_TIMEOUT_ENV: &str = "LADING_HTTP_STEP_TIMEOUT";
/// `http` steps: largest response body (default 4MiB).
pub const HTTP_STEP_MAX_RESPONSE_ENV: &str = "LADING_HTTP_STEP_MAX_RESPONSE_BYTES";
/// `http-download`: largest file downloaded (default 256MiB).
pub const HTTP_DOWNLOAD_MAX_ENV: &str = "LADING_HTTP_DOWNLOAD_MAX_BYTES";
/// Largest layer `oci-download` writes.
pub const OCI_DOWNLOAD_MAX_ENV: &str = "LADING_OCI_DOWNLOAD_MAX_BYTES";
/// Largest artifact (sum of its blobs) `oci-push` copies between repositories.
pub const OCI_PUSH_MAX_ENV: &str = "LADING_OCI_PUSH_MAX_BYTES";
/// `helm-update-chart` / `helm-template`: largest file Helm writes, a downloaded chart
/// archive included (default 100MiB).
pub const HELM_CHART_MAX_ENV: &str = "LADING_HELM_CHART_MAX_BYTES";
/// `helm-update-chart` / `helm-template`: longest one run of Helm, downloads included
/// (default 5m).
pub const HELM_TIMEOUT_ENV: &str = "LADING_HELM_TIMEOUT";
/// `helm-update-chart` / `helm-template`: most memory one run of Helm may map beyond
/// what its runtime holds at start (default 1GiB).
pub const HELM_MEMORY_MAX_ENV: &str = "LADING_HELM_MEMORY_MAX_BYTES";
/// The warehouse's credentials file: its `image` and `helm` entries are the registry
/// credentials of `oci-download` and `oci-push`.
pub const REGISTRY_CREDENTIALS_FILE_ENV: &str = "LADING_CREDENTIALS_FILE";
/// `git-wait-for-pr` and `git-merge-pr` with `wait`: longest wait (default 1h).
pub const PULL_REQUEST_WAIT_ENV: &str = "LADING_PULL_REQUEST_WAIT";
/// `git-wait-for-pr` and `git-merge-pr`: how often to poll when a step sets no
/// `pollInterval` (default 30s and 10s, as in Kargo).
pub const PULL_REQUEST_POLL_ENV: &str = "LADING_PULL_REQUEST_POLL_INTERVAL";
/// Git hosting servers by host, for pull requests on hosts whose provider is not told by
/// their name: `git.example.com=gitlab,127.0.0.1:3000=gitea`.
pub const GIT_PROVIDERS_ENV: &str = "LADING_GIT_PROVIDERS";
/// `argocd-update` / `argocd-wait`: the kubeconfig of the cluster Argo CD runs in (unset:
/// in-cluster, else `KUBECONFIG`, else `~/.kube/config`).
pub const ARGOCD_KUBECONFIG_ENV: &str = "LADING_ARGOCD_KUBECONFIG";
/// `argocd-update` / `argocd-wait`: the namespace of Applications a step names without
/// one (default `argocd`).
pub const ARGOCD_NAMESPACE_ENV: &str = "LADING_ARGOCD_NAMESPACE";
/// `argocd-update` / `argocd-wait`: how often a waiting step reads the Applications
/// again (default 1s).
pub const ARGOCD_POLL_INTERVAL_ENV: &str = "LADING_ARGOCD_POLL_INTERVAL";
/// How often the health of stages whose last promotion updated Argo CD Applications is
/// assessed again (default 10s).
pub const HEALTH_INTERVAL_ENV: &str = "LADING_HEALTH_INTERVAL";
/// See [`HEALTH_INTERVAL_ENV`].
pub const DEFAULT_HEALTH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);
/// How often the work directory is swept of workspaces kept for waiting promotions that
/// ended or waited too long (default 5m; also once at start-up).
pub const KEPT_WORKSPACE_SWEEP_ENV: &str = "LADING_KEPT_WORKSPACE_SWEEP_INTERVAL";
/// See [`KEPT_WORKSPACE_SWEEP_ENV`].
pub const DEFAULT_KEPT_WORKSPACE_SWEEP: std::time::Duration = std::time::Duration::from_secs(300);
/// Step expressions: the longest an evaluation may run (default 100ms).
pub const EXPRESSION_TIMEOUT_ENV: &str = limits::TIMEOUT_ENV;
/// Step expressions: the largest result (default 1MiB).
pub const EXPRESSION_MAX_OUTPUT_ENV: &str = limits::MAX_OUTPUT_ENV;
/// Step expressions: the most bytes of values one evaluation may create (default 16MiB).
pub const EXPRESSION_MAX_ALLOCATED_ENV: &str = limits::MAX_ALLOCATED_ENV;
/// Crash on purpose (abort the process) right after a step, to test recovery:
/// `after-step:<uses>`, e.g. `after-step:git-push`.
pub const FAILPOINT_ENV: &str = "LADING_FAILPOINT";
/// Kubernetes mode: secrets and Git credentials from the project namespaces' Secrets.
pub use lading_secret_source::KUBE_ENV;
/// Kubernetes Secret manifests steps read with `${{ secret('name').key }}` (standalone).
pub use lading_secret_source::SECRETS_FILE_ENV;
/// How many promotions (of different stages) one replica runs at once.
pub const PROMOTIONS_AT_ONCE_ENV: &str = "LADING_PROMOTIONS_AT_ONCE";
/// Enough that stages whose promotions wait on slow remotes leave room for the others;
/// each running promotion takes one thread while its steps run.
pub const DEFAULT_PROMOTIONS_AT_ONCE: usize = 64;

/// How the promoter runs.
#[derive(Debug, Clone)]
pub struct Config {
    pub service: ServiceConfig,
    pub work_dir: Option<PathBuf>,
    /// Who promotion commits are by, unless a step says otherwise.
    pub author: CommitAuthor,
    /// Credentials for the repositories promotions clone and push, and the budgets of
    /// every call a step makes to a remote server.
    pub remotes: Remotes,
    /// What each evaluation of a step's expressions may spend.
    pub expression_limits: ExpressionLimits,
    /// Abort the process right after the step this names (`after-step:<uses>`); for
    /// crash tests only.
    pub failpoint: Option<String>,
    /// How many promotions of different stages run at once on this replica.
    pub promotions_at_once: usize,
    /// Where steps' `secret()` reads (`LADING_SECRETS_FILE`, or in Kubernetes mode the
    /// project's namespace, which then holds the Git credentials too).
    pub secrets: lading_secret_source::SecretSource,
    /// How often stage health is assessed again (see [`crate::health`]).
    pub health_interval: std::time::Duration,
    /// How often kept workspaces are swept (see [`crate::work_dir::sweep_kept`]).
    pub kept_workspace_sweep: std::time::Duration,
}

impl Config {
    pub fn new(nats_url: impl Into<String>) -> Self {
        Self {
            service: ServiceConfig::new(nats_url),
            work_dir: None,
            author: CommitAuthor::default(),
            remotes: Remotes::default(),
            expression_limits: ExpressionLimits::default(),
            failpoint: None,
            promotions_at_once: DEFAULT_PROMOTIONS_AT_ONCE,
            secrets: Default::default(),
            health_interval: DEFAULT_HEALTH_INTERVAL,
            kept_workspace_sweep: DEFAULT_KEPT_WORKSPACE_SWEEP,
        }
    }

    /// Reads the configuration from `env` (the process environment in `main`).
    pub fn from_env(env: &HashMap<String, String>) -> Result<Self, String> {
        let mut config = Config {
            service: ServiceConfig::from_env(env)?,
            work_dir: env.get(WORK_DIR_ENV).map(PathBuf::from),
            author: CommitAuthor::default(),
            failpoint: env.get(FAILPOINT_ENV).cloned(),
            promotions_at_once: match env.get(PROMOTIONS_AT_ONCE_ENV) {
                Some(n) => n.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    format!("{PROMOTIONS_AT_ONCE_ENV}={n:?}: must be a positive number of promotions")
                })?,
                None => DEFAULT_PROMOTIONS_AT_ONCE,
            },
            secrets: lading_secret_source::from_env(env)?,
            remotes: Remotes {
                credentials: GitCredentials::default(),
                budgets: budgets_from_env(env).map_err(|e| e.to_string())?,
                cancel: Default::default(),
                git_providers: match env.get(GIT_PROVIDERS_ENV) {
                    Some(text) => crate::steps::parse_git_providers(text)
                        .map_err(|e| format!("{GIT_PROVIDERS_ENV}={text:?}: {e}"))?,
                    None => Default::default(),
                },
                argocd: argocd_from_env(env)?,
                github_verify_untrusted_commits: match env
                    .get(GITHUB_PUSH_VERIFY_UNTRUSTED_COMMITS_ENV)
                    .map(String::as_str)
                {
                    None | Some("" | "false") => false,
                    Some("true") => true,
                    Some(other) => {
                        return Err(format!(
                            "{GITHUB_PUSH_VERIFY_UNTRUSTED_COMMITS_ENV}={other:?}: must be true or false"
                        ));
                    }
                },
                push_integration_policy: match env.get(GIT_PUSH_INTEGRATION_POLICY_ENV) {
                    None => Default::default(),
                    Some(text) => {
                        text.parse().map_err(|e| format!("{GIT_PUSH_INTEGRATION_POLICY_ENV}={text:?}: {e}"))?
                    }
                },
                insecure_skip_tls_verify: false,
            },
            expression_limits: ExpressionLimits::from_env(env).map_err(|e| e.to_string())?,
            health_interval: match env.get(HEALTH_INTERVAL_ENV) {
                Some(value) => parse_timeout(HEALTH_INTERVAL_ENV, value).map_err(|e| e.to_string())?.value,
                None => DEFAULT_HEALTH_INTERVAL,
            },
            kept_workspace_sweep: match env.get(KEPT_WORKSPACE_SWEEP_ENV) {
                Some(value) => parse_timeout(KEPT_WORKSPACE_SWEEP_ENV, value).map_err(|e| e.to_string())?.value,
                None => DEFAULT_KEPT_WORKSPACE_SWEEP,
            },
        };
        if let Some(path) = env.get(GIT_CREDENTIALS_FILE_ENV) {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{GIT_CREDENTIALS_FILE_ENV}={path:?}: {e}"))?;
            config.remotes.credentials =
                GitCredentials::parse(&text).map_err(|e| format!("{GIT_CREDENTIALS_FILE_ENV}: {e}"))?;
        }
        if let Some(path) = env.get(REGISTRY_CREDENTIALS_FILE_ENV) {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{REGISTRY_CREDENTIALS_FILE_ENV}={path:?}: {e}"))?;
            let registries = lading_domain::credentials::Credentials::parse(&text)
                .map_err(|e| format!("{REGISTRY_CREDENTIALS_FILE_ENV}: {e}"))?;
            config.remotes.credentials.add_registries(registries);
        }
        if let Some(name) = env.get(GIT_AUTHOR_NAME_ENV) {
            config.author.name = name.clone();
        }
        if let Some(email) = env.get(GIT_AUTHOR_EMAIL_ENV) {
            config.author.email = email.clone();
        }
        config.author.signing_key = signing_key_from_env(env)?.map(std::sync::Arc::new);
        if let Some(key) = &config.author.signing_key
            && let Some(identity) = key.identity()
            && (identity.name != config.author.name || identity.email != config.author.email)
        {
            // GitHub and `git log --show-signature` match the signer with the committer.
            tracing::warn!(
                key = key.fingerprint(),
                key_name = identity.name,
                key_email = identity.email,
                author_name = config.author.name,
                author_email = config.author.email,
                "the signing key's identity is not the commit author's ({GIT_AUTHOR_NAME_ENV}, {GIT_AUTHOR_EMAIL_ENV})"
            );
        }
        Ok(config)
    }
}

/// The promoter-wide signing key, read from the file `LADING_GIT_SIGNING_KEY_PATH` names.
fn signing_key_from_env(env: &HashMap<String, String>) -> Result<Option<SigningKey>, String> {
    match env.get(GIT_SIGNING_KEY_TYPE_ENV).map(String::as_str) {
        None | Some("" | "gpg") => {}
        Some(other) => return Err(format!("{GIT_SIGNING_KEY_TYPE_ENV}={other:?}: the only signing key type is gpg")),
    }
    let Some(path) = env.get(GIT_SIGNING_KEY_PATH_ENV).filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let at = |reason: String| format!("{GIT_SIGNING_KEY_PATH_ENV}={path:?}: {reason}");
    let file = std::fs::File::open(path).map_err(|e| at(e.to_string()))?;
    let mut text = String::new();
    // One byte past the limit tells a key too large without reading all of it.
    std::io::Read::read_to_string(&mut std::io::Read::take(file, MAX_SIGNING_KEY_BYTES as u64 + 1), &mut text)
        .map_err(|e| at(format!("not a text file: {e}")))?;
    SigningKey::parse(&text).map(Some).map_err(|e| at(e.to_string()))
}

/// Where the Argo CD steps find Argo CD, from `env`.
fn argocd_from_env(env: &HashMap<String, String>) -> Result<crate::steps::argocd::ArgoCdAccess, String> {
    let mut access = crate::steps::argocd::ArgoCdAccess {
        kubeconfig: env.get(ARGOCD_KUBECONFIG_ENV).filter(|p| !p.is_empty()).map(PathBuf::from),
        ..Default::default()
    };
    if let Some(namespace) = env.get(ARGOCD_NAMESPACE_ENV) {
        lading_domain::names::validate_dns_label(namespace)
            .map_err(|e| format!("{ARGOCD_NAMESPACE_ENV}={namespace:?}: {e}"))?;
        access.namespace = namespace.clone();
    }
    if let Some(value) = env.get(ARGOCD_POLL_INTERVAL_ENV) {
        access.poll = parse_timeout(ARGOCD_POLL_INTERVAL_ENV, value).map_err(|e| e.to_string())?.value;
    }
    Ok(access)
}

/// The default budgets, with what `env` sets instead.
pub fn budgets_from_env(env: &HashMap<String, String>) -> Result<RemoteBudgets, SettingError> {
    let mut budgets = RemoteBudgets { git: lading_remote::GitBudget::from_env(env)?, ..RemoteBudgets::default() };
    let timeouts = [
        (&mut budgets.http.connect, HTTP_CONNECT_TIMEOUT_ENV),
        (&mut budgets.http.idle, HTTP_IDLE_TIMEOUT_ENV),
        (&mut budgets.http.default_timeout, HTTP_STEP_TIMEOUT_ENV),
    ];
    for (limit, setting) in timeouts {
        if let Some(value) = env.get(setting) {
            *limit = parse_timeout(setting, value)?;
        }
    }
    if let Some(value) = env.get(HTTP_STEP_MAX_RESPONSE_ENV) {
        budgets.http.max_response = parse_size(HTTP_STEP_MAX_RESPONSE_ENV, value)?;
    }
    if let Some(value) = env.get(HTTP_DOWNLOAD_MAX_ENV) {
        budgets.http.max_download = parse_size(HTTP_DOWNLOAD_MAX_ENV, value)?;
    }
    if let Some(value) = env.get(OCI_DOWNLOAD_MAX_ENV) {
        budgets.oci.max_download = parse_size(OCI_DOWNLOAD_MAX_ENV, value)?;
    }
    if let Some(value) = env.get(OCI_PUSH_MAX_ENV) {
        budgets.oci.max_push = parse_size(OCI_PUSH_MAX_ENV, value)?;
    }
    if let Some(value) = env.get(HELM_CHART_MAX_ENV) {
        budgets.helm.max_file = parse_size(HELM_CHART_MAX_ENV, value)?;
    }
    if let Some(value) = env.get(HELM_TIMEOUT_ENV) {
        budgets.helm.timeout = parse_timeout(HELM_TIMEOUT_ENV, value)?;
    }
    if let Some(value) = env.get(HELM_MEMORY_MAX_ENV) {
        budgets.helm.max_memory = parse_size(HELM_MEMORY_MAX_ENV, value)?;
    }
    if let Some(value) = env.get(PULL_REQUEST_POLL_ENV) {
        budgets.pull_request_poll = Some(parse_timeout(PULL_REQUEST_POLL_ENV, value)?.value);
    }
    if let Some(value) = env.get(PULL_REQUEST_WAIT_ENV) {
        budgets.pull_request_wait = parse_timeout(PULL_REQUEST_WAIT_ENV, value)?;
    }
    Ok(budgets)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn budgets_default_generously_and_each_setting_overrides_its_limit() {
        assert_eq!(budgets_from_env(&HashMap::new()).unwrap(), RemoteBudgets::default());
        let env = HashMap::from([
            (GIT_IDLE_TIMEOUT_ENV.to_owned(), "1s".to_owned()),
            (HTTP_STEP_MAX_RESPONSE_ENV.to_owned(), "1KiB".to_owned()),
            (HELM_CHART_MAX_ENV.to_owned(), "2KiB".to_owned()),
            (HELM_TIMEOUT_ENV.to_owned(), "30s".to_owned()),
            (HELM_MEMORY_MAX_ENV.to_owned(), "256MiB".to_owned()),
        ]);
        let config = Config::from_env(&env).unwrap();
        let budgets = config.remotes.budgets;
        assert_eq!(budgets.git.timeouts.idle.value, Duration::from_secs(1));
        assert_eq!(budgets.git.timeouts.idle.setting, GIT_IDLE_TIMEOUT_ENV);
        assert_eq!(budgets.http.max_response.value, 1024);
        assert_eq!((budgets.helm.max_file.value, budgets.helm.timeout.value), (2048, Duration::from_secs(30)));
        assert_eq!(budgets.helm.max_memory.value, 256 << 20);
        assert_eq!(budgets.git.timeouts.connect, RemoteBudgets::default().git.timeouts.connect);
    }

    #[test]
    fn a_bad_budget_names_its_variable() {
        let env = HashMap::from([(GIT_TIMEOUT_ENV.to_owned(), "0".to_owned())]);
        assert!(Config::from_env(&env).unwrap_err().starts_with("LADING_GIT_TIMEOUT=\"0\""));
    }

    #[test]
    fn the_push_integration_policy_is_named_as_kargo_names_it_and_rebases_by_default() {
        use lading_domain::push_integration::PushIntegrationPolicy;
        let policy = |env: &HashMap<String, String>| Config::from_env(env).map(|c| c.remotes.push_integration_policy);
        assert_eq!(policy(&HashMap::new()), Ok(PushIntegrationPolicy::AlwaysRebase));
        let merge = HashMap::from([(GIT_PUSH_INTEGRATION_POLICY_ENV.to_owned(), "RebaseOrMerge".to_owned())]);
        assert_eq!(policy(&merge), Ok(PushIntegrationPolicy::RebaseOrMerge));
        let bad = HashMap::from([(GIT_PUSH_INTEGRATION_POLICY_ENV.to_owned(), "merge".to_owned())]);
        assert_eq!(
            policy(&bad).unwrap_err(),
            "LADING_GIT_PUSH_INTEGRATION_POLICY=\"merge\": must be one of AlwaysRebase, RebaseOrMerge, RebaseOrFail, AlwaysMerge"
        );
    }

    #[test]
    fn verifying_untrusted_commits_is_a_boolean_setting_off_by_default() {
        assert!(!Config::from_env(&HashMap::new()).unwrap().remotes.github_verify_untrusted_commits);
        let on = HashMap::from([(GITHUB_PUSH_VERIFY_UNTRUSTED_COMMITS_ENV.to_owned(), "true".to_owned())]);
        assert!(Config::from_env(&on).unwrap().remotes.github_verify_untrusted_commits);
        let bad = HashMap::from([(GITHUB_PUSH_VERIFY_UNTRUSTED_COMMITS_ENV.to_owned(), "yes".to_owned())]);
        assert_eq!(
            Config::from_env(&bad).unwrap_err(),
            "LADING_GITHUB_PUSH_VERIFY_UNTRUSTED_COMMITS=\"yes\": must be true or false"
        );
    }

    #[test]
    fn expression_limits_come_from_their_settings() {
        let env = HashMap::from([(EXPRESSION_TIMEOUT_ENV.to_owned(), "250ms".to_owned())]);
        let config = Config::from_env(&env).unwrap();
        assert_eq!(config.expression_limits.timeout, Duration::from_millis(250));
        let bad = HashMap::from([(EXPRESSION_MAX_ALLOCATED_ENV.to_owned(), "lots".to_owned())]);
        assert!(Config::from_env(&bad).unwrap_err().starts_with("LADING_EXPRESSION_MAX_ALLOCATED_BYTES=\"lots\""));
    }
}
