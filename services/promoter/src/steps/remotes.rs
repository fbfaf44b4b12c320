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
    HTTP_CONNECT_TIMEOUT_ENV, HTTP_IDLE_TIMEOUT_ENV, HTTP_STEP_MAX_RESPONSE_ENV, HTTP_STEP_TIMEOUT_ENV,
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
}

/// The budgets of Git transfers and `http` steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteBudgets {
    pub git: GitBudget,
    pub http: HttpStepBudget,
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
            },
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
        watch.watching(self.credentials.callbacks(url))
    }
}
