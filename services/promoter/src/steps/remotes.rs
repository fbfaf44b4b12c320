//! How promotion steps reach remote servers: the Git credentials they answer a
//! server's challenge with, and the budgets every Git transfer and `http` call keeps to
//! (connect, idle and total timeouts; size limits), so a remote that hangs or floods
//! fails its step with a clear error instead of holding the stage.

use std::time::Duration;

use lading_domain::limits::{Limit, Timeouts};
use lading_domain::redact::redact_url;
use lading_remote::{Cancellation, GitBudget, TransferWatch};

use super::GitCredentials;
use crate::config::{
    HTTP_CONNECT_TIMEOUT_ENV, HTTP_DOWNLOAD_MAX_ENV, HTTP_IDLE_TIMEOUT_ENV, HTTP_STEP_MAX_RESPONSE_ENV,
    HTTP_STEP_TIMEOUT_ENV, PULL_REQUEST_WAIT_ENV,
};

/// Credentials and budgets for the remote servers steps call, and the flag that stops
/// calls in flight when the promotion is aborted or its turn lost.
#[derive(Debug, Clone, Default)]
pub struct Remotes {
    pub credentials: GitCredentials,
    pub budgets: RemoteBudgets,
    /// Set by the runner; every Git transfer, `http` call and child process of the run
    /// stops soon after.
    pub cancel: Cancellation,
    /// Git hosting providers by `host[:port]` (`LADING_GIT_PROVIDERS`), for the
    /// pull-request steps on hosts whose name does not tell.
    pub git_providers: std::collections::BTreeMap<String, String>,
    /// Where `argocd-update` and `argocd-wait` find Argo CD.
    pub argocd: super::argocd::ArgoCdAccess,
    /// `github-push` replays every commit without its author, trusted or not, for GitHub
    /// to sign (`LADING_GITHUB_PUSH_VERIFY_UNTRUSTED_COMMITS`, Kargo's
    /// `GITHUB_PUSH_VERIFY_UNTRUSTED_COMMITS`).
    pub github_verify_untrusted_commits: bool,
    /// How `git-push` and `github-push` bring in commits the remote branch gained
    /// (`LADING_GIT_PUSH_INTEGRATION_POLICY`, Kargo's `GIT_PUSH_INTEGRATION_POLICY`).
    pub push_integration_policy: lading_domain::push_integration::PushIntegrationPolicy,
    /// Git servers' certificates are not verified: a `git-clone` with
    /// `insecureSkipTLSVerify`, which its clone keeps (`http.sslVerify = false` in its
    /// `.git/config`) for the steps after it (see [`Remotes::for_repository`]).
    pub insecure_skip_tls_verify: bool,
}

/// Reads `host[:port]=provider` pairs separated by commas.
pub fn parse_git_providers(text: &str) -> Result<std::collections::BTreeMap<String, String>, String> {
    let mut providers = std::collections::BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (host, provider) = pair.split_once('=').ok_or_else(|| format!("{pair:?} must be host=provider"))?;
        if !lading_domain::spec::step_configs::GIT_PROVIDERS.contains(&provider.trim()) {
            return Err(format!(
                "{pair:?}: provider must be one of {}",
                lading_domain::spec::step_configs::GIT_PROVIDERS.join(", ")
            ));
        }
        providers.insert(host.trim().to_lowercase(), provider.trim().to_owned());
    }
    Ok(providers)
}

/// The budgets of Git transfers and `http` steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteBudgets {
    pub git: GitBudget,
    pub http: HttpStepBudget,
    /// Longest a `git-wait-for-pr` or waiting `git-merge-pr` step waits.
    pub pull_request_wait: Limit<Duration>,
    /// How often those steps poll when their config sets no `pollInterval` (`None`:
    /// Kargo's defaults, 30s for `git-wait-for-pr` and 10s for `git-merge-pr`).
    pub pull_request_poll: Option<Duration>,
    /// What unpacking one archive (`untar`) may write.
    pub unpack: crate::engine::workspace::archive::UnpackBudget,
    /// What `oci-download` and `oci-push` may move.
    pub oci: super::oci::OciBudget,
    /// What one run of Helm's library (`helm-update-chart`, `helm-template`) may cost.
    pub helm: super::helm_library::HelmBudget,
}

/// What an `http` step's call may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpStepBudget {
    pub connect: Limit<Duration>,
    pub idle: Limit<Duration>,
    /// The whole call, when the step sets no `timeout`.
    pub default_timeout: Limit<Duration>,
    /// Largest response body.
    pub max_response: Limit<u64>,
    /// Largest file `http-download` writes.
    pub max_download: Limit<u64>,
}

impl HttpStepBudget {
    /// The timeouts of a call whose total is `total`.
    pub fn timeouts(&self, total: Limit<Duration>) -> Timeouts {
        Timeouts { connect: self.connect, idle: self.idle, total }
    }
}

const fn seconds(value: u64, setting: &'static str) -> Limit<Duration> {
    Limit::new(Duration::from_secs(value), setting)
}

impl Default for RemoteBudgets {
    fn default() -> Self {
        Self {
            git: GitBudget::default(),
            http: HttpStepBudget {
                connect: seconds(10, HTTP_CONNECT_TIMEOUT_ENV),
                idle: seconds(30, HTTP_IDLE_TIMEOUT_ENV),
                default_timeout: seconds(10, HTTP_STEP_TIMEOUT_ENV),
                max_response: Limit::new(4 << 20, HTTP_STEP_MAX_RESPONSE_ENV),
                max_download: Limit::new(256 << 20, HTTP_DOWNLOAD_MAX_ENV),
            },
            pull_request_wait: seconds(3600, PULL_REQUEST_WAIT_ENV),
            pull_request_poll: None,
            unpack: Default::default(),
            oci: Default::default(),
            helm: Default::default(),
        }
    }
}

impl Remotes {
    /// A watch over one Git operation, `doing` (e.g. `fetching`) `url`.
    pub fn watch(&self, doing: &str, url: &str) -> TransferWatch {
        TransferWatch::start(format!("{doing} {}", redact_url(url)), self.budgets.git).cancelled_by(&self.cancel)
    }

    /// Callbacks for a transfer with `url`: credentials when the server asks, and the
    /// checks of `watch`.
    pub fn callbacks(&self, url: &str, watch: &TransferWatch) -> git2::RemoteCallbacks<'static> {
        let mut callbacks = watch.watching(self.credentials.callbacks(url));
        if self.insecure_skip_tls_verify {
            callbacks.certificate_check(|_, _| Ok(git2::CertificateCheckStatus::CertificateOk));
        }
        callbacks
    }

    /// These remotes for the Git transfers of `repo`: without certificate checks when
    /// its clone was made with `insecureSkipTLSVerify` (its own `.git/config` says
    /// `http.sslVerify = false`; the user's and the system's are not read).
    pub fn for_repository(&self, repo: &git2::Repository) -> std::borrow::Cow<'_, Remotes> {
        let insecure = repo
            .config()
            .and_then(|c| c.open_level(git2::ConfigLevel::Local))
            .and_then(|local| local.get_bool(SSL_VERIFY))
            .is_ok_and(|verify| !verify);
        if insecure && !self.insecure_skip_tls_verify {
            std::borrow::Cow::Owned(Remotes { insecure_skip_tls_verify: true, ..self.clone() })
        } else {
            std::borrow::Cow::Borrowed(self)
        }
    }
}

/// The Git setting a clone made with `insecureSkipTLSVerify` holds as `false`.
pub const SSL_VERIFY: &str = "http.sslVerify";

/// Records in `repo`'s own config whether its transfers skip certificate checks
/// (`insecure`), or clears an earlier record.
pub fn record_insecure(repo: &git2::Repository, insecure: bool) -> Result<(), String> {
    let mut config = repo
        .config()
        .and_then(|c| c.open_level(git2::ConfigLevel::Local))
        .map_err(|e| super::git_error("opening the clone's config", e))?;
    if insecure {
        config.set_bool(SSL_VERIFY, false).map_err(|e| super::git_error("recording insecureSkipTLSVerify", e))
    } else {
        match config.remove(SSL_VERIFY) {
            Err(e) if e.code() != git2::ErrorCode::NotFound => {
                Err(super::git_error("clearing insecureSkipTLSVerify", e))
            }
            _ => Ok(()),
        }
    }
}
