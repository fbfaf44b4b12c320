//! Git transfers within budgets, on libgit2.
//!
//! - Connect and idle timeouts are libgit2's socket timeouts. libgit2 keeps them in
//!   process-wide options, so [`apply_socket_timeouts`] sets them for every transfer of
//!   the process; services that share a process read them from the same settings.
//! - The total deadline and the size budget are checked by a [`TransferWatch`] from
//!   libgit2's progress callbacks, which cancel the transfer when either is spent, and
//!   between the calls of one operation (listing refs, then fetching).

use std::ffi::c_int;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lading_domain::limits::{Limit, SettingError, TimeoutKind, Timeouts, parse_size, parse_timeout};

use crate::RemoteError;

/// Git remotes: longest wait for a connection (default 10s).
pub const GIT_CONNECT_TIMEOUT_ENV: &str = "LADING_GIT_CONNECT_TIMEOUT";
/// Git remotes: longest wait for the next bytes (default 30s).
pub const GIT_IDLE_TIMEOUT_ENV: &str = "LADING_GIT_IDLE_TIMEOUT";
/// Git remotes: longest operation: a mirror's sync, a fetch, a push (default 10m).
pub const GIT_TIMEOUT_ENV: &str = "LADING_GIT_TIMEOUT";
/// Git remotes: most bytes one fetch may receive (default 2GiB).
pub const GIT_MAX_TRANSFER_ENV: &str = "LADING_GIT_MAX_TRANSFER_BYTES";

/// What one Git operation (a sync, a fetch, a push) may cost. The warehouse and the
/// promoter read it from the same settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GitBudget {
    pub timeouts: Timeouts,
    /// Most bytes received in one operation.
    pub max_transfer: Limit<u64>,
}

impl Default for GitBudget {
    fn default() -> Self {
        let seconds = |value, setting| Limit::new(Duration::from_secs(value), setting);
        Self {
            timeouts: Timeouts {
                connect: seconds(10, GIT_CONNECT_TIMEOUT_ENV),
                idle: seconds(30, GIT_IDLE_TIMEOUT_ENV),
                total: seconds(600, GIT_TIMEOUT_ENV),
            },
            max_transfer: Limit::new(2 << 30, GIT_MAX_TRANSFER_ENV),
        }
    }
}

impl GitBudget {
    /// The defaults, with what `env` sets instead.
    pub fn from_env(env: &std::collections::HashMap<String, String>) -> Result<Self, SettingError> {
        let mut budget = GitBudget::default();
        for (limit, setting) in [
            (&mut budget.timeouts.connect, GIT_CONNECT_TIMEOUT_ENV),
            (&mut budget.timeouts.idle, GIT_IDLE_TIMEOUT_ENV),
            (&mut budget.timeouts.total, GIT_TIMEOUT_ENV),
        ] {
            if let Some(value) = env.get(setting) {
                *limit = parse_timeout(setting, value)?;
            }
        }
        if let Some(value) = env.get(GIT_MAX_TRANSFER_ENV) {
            budget.max_transfer = parse_size(GIT_MAX_TRANSFER_ENV, value)?;
        }
        Ok(budget)
    }
}

fn millis(duration: Duration) -> c_int {
    c_int::try_from(duration.as_millis()).unwrap_or(c_int::MAX)
}

/// Sets libgit2's connect timeout and its timeout for each socket read or write, for
/// every Git transfer of this process.
pub fn apply_socket_timeouts(timeouts: &Timeouts) {
    static APPLYING: Mutex<()> = Mutex::new(());
    let _one_at_a_time = APPLYING.lock().unwrap_or_else(|p| p.into_inner());
    // SAFETY: each option is one C `int` that libgit2 copies when it opens a socket;
    // writes are serialized here, and a socket opened meanwhile gets the old or the new
    // value, both valid timeouts.
    unsafe {
        let _ = git2::opts::set_server_connect_timeout_in_milliseconds(millis(timeouts.connect.value));
        let _ = git2::opts::set_server_timeout_in_milliseconds(millis(timeouts.idle.value));
    }
}

/// Watches one Git operation doing `action` (e.g. `fetching <redacted url>`): cancels
/// it from libgit2's callbacks when its total deadline passes or it received more than
/// its size budget, and explains how it failed.
#[derive(Debug, Clone)]
pub struct TransferWatch {
    action: String,
    budget: GitBudget,
    deadline: Instant,
    stopped: Arc<Mutex<Option<RemoteError>>>,
    cancel: Option<crate::Cancellation>,
}

impl TransferWatch {
    /// Starts the operation's clock, with libgit2's socket timeouts set to the budget's.
    pub fn start(action: impl Into<String>, budget: GitBudget) -> Self {
        apply_socket_timeouts(&budget.timeouts);
        Self {
            action: action.into(),
            budget,
            deadline: Instant::now() + budget.timeouts.total.value,
            stopped: Arc::default(),
            cancel: None,
        }
    }

    /// The same watch, also stopping the transfer once `cancel` is set.
    pub fn cancelled_by(mut self, cancel: &crate::Cancellation) -> Self {
        self.cancel = Some(cancel.clone());
        self
    }

    pub fn action(&self) -> &str {
        &self.action
    }

    /// Fails once the total deadline has passed or the work was cancelled.
    pub fn check(&self) -> Result<(), RemoteError> {
        if self.cancel.as_ref().is_some_and(crate::Cancellation::is_cancelled) {
            return Err(RemoteError::Cancelled { action: self.action.clone() });
        }
        if Instant::now() < self.deadline {
            return Ok(());
        }
        Err(RemoteError::Timeout {
            action: self.action.clone(),
            kind: TimeoutKind::Total,
            limit: self.budget.timeouts.total,
        })
    }

    /// Fails once `received` bytes pass the size budget, or the deadline has passed.
    fn check_transfer(&self, received: u64) -> Result<(), RemoteError> {
        if !self.budget.max_transfer.allows(received) {
            return Err(RemoteError::TooLarge { action: self.action.clone(), limit: self.budget.max_transfer });
        }
        self.check()
    }

    /// Records why the transfer is cancelled; false tells libgit2 to stop.
    fn keep_going(&self, verdict: Result<(), RemoteError>) -> bool {
        match verdict {
            Ok(()) => true,
            Err(error) => {
                self.stopped.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(error);
                false
            }
        }
    }

    /// Adds the checks to `callbacks` (their credential callback stays as it is).
    pub fn watch(&self, callbacks: &mut git2::RemoteCallbacks<'_>) {
        let transfer = self.clone();
        callbacks.transfer_progress(move |progress| {
            transfer.keep_going(transfer.check_transfer(progress.received_bytes() as u64))
        });
        let sideband = self.clone();
        callbacks.sideband_progress(move |_| sideband.keep_going(sideband.check()));
        let push = self.clone();
        callbacks.push_negotiation(move |_| {
            if push.keep_going(push.check()) { Ok(()) } else { Err(git2::Error::from_str("the deadline passed")) }
        });
    }

    /// `callbacks` with the checks added.
    pub fn watching<'a>(&self, mut callbacks: git2::RemoteCallbacks<'a>) -> git2::RemoteCallbacks<'a> {
        self.watch(&mut callbacks);
        callbacks
    }

    /// Explains a failed libgit2 call: the budget that cancelled it, libgit2's own
    /// connect or idle timeout, or what libgit2 said.
    pub fn explain(&self, error: &git2::Error) -> RemoteError {
        if let Some(stopped) = self.stopped.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return stopped;
        }
        let message = error.message();
        if error.code() == git2::ErrorCode::Timeout || message.contains("timed out") {
            let kind = if message.contains("failed to connect") { TimeoutKind::Connect } else { TimeoutKind::Idle };
            return RemoteError::Timeout { action: self.action.clone(), kind, limit: self.budget.timeouts.of(kind) };
        }
        RemoteError::Failed { action: self.action.clone(), message: message.to_owned() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(total: Duration, max: u64) -> GitBudget {
        GitBudget {
            timeouts: Timeouts {
                connect: Limit::new(Duration::from_secs(10), "LADING_GIT_CONNECT_TIMEOUT"),
                idle: Limit::new(Duration::from_secs(30), "LADING_GIT_IDLE_TIMEOUT"),
                total: Limit::new(total, "LADING_GIT_TIMEOUT"),
            },
            max_transfer: Limit::new(max, "LADING_GIT_MAX_TRANSFER_BYTES"),
        }
    }

    #[test]
    fn libgit2_timeouts_are_explained_with_their_settings() {
        let watch = TransferWatch::start("fetching https://h/r", budget(Duration::from_secs(60), 100));
        let idle =
            git2::Error::new(git2::ErrorCode::Timeout, git2::ErrorClass::Net, "could not read from socket: timed out");
        assert_eq!(watch.explain(&idle).to_string(), "fetching https://h/r: no data for 30s (LADING_GIT_IDLE_TIMEOUT)");
        let connect = git2::Error::new(
            git2::ErrorCode::GenericError,
            git2::ErrorClass::Net,
            "failed to connect to h: Operation timed out",
        );
        assert_eq!(
            watch.explain(&connect).to_string(),
            "fetching https://h/r: no connection within 10s (LADING_GIT_CONNECT_TIMEOUT)"
        );
        let other = git2::Error::from_str("unexpected http status code: 404");
        assert_eq!(watch.explain(&other).to_string(), "fetching https://h/r: unexpected http status code: 404");
    }

    #[test]
    fn a_transfer_past_its_budget_or_deadline_is_stopped_and_explained() {
        let watch = TransferWatch::start("fetching https://h/r", budget(Duration::from_secs(60), 100));
        assert!(watch.keep_going(watch.check_transfer(100)));
        assert!(!watch.keep_going(watch.check_transfer(101)));
        let cancelled = git2::Error::from_str("transfer cancelled by the callback");
        assert_eq!(
            watch.explain(&cancelled).to_string(),
            "fetching https://h/r: the answer is larger than 100 B (LADING_GIT_MAX_TRANSFER_BYTES)"
        );
        let late = TransferWatch::start("pushing https://h/r", budget(Duration::ZERO, 100));
        assert!(!late.keep_going(late.check()));
        assert_eq!(
            late.explain(&cancelled).to_string(),
            "pushing https://h/r: not finished within 0ms (LADING_GIT_TIMEOUT)"
        );
    }
}
