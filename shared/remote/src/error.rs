//! What went wrong with a remote call, with the action it was doing (`GET <url>`,
//! `fetching <url>`, URLs redacted) so the message stands on its own.

use std::time::Duration;

use lading_domain::limits::{Limit, TimeoutKind, describe_timeout};

/// A remote call that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteError {
    /// A timeout ran out: `fetching https://host/repo: no data for 30s (LADING_GIT_IDLE_TIMEOUT)`.
    #[error("{action}: {}", describe_timeout(*.kind, *.limit))]
    Timeout { action: String, kind: TimeoutKind, limit: Limit<Duration> },
    /// The answer was larger than allowed; it was not read whole.
    #[error("{action}: the answer is larger than {limit}")]
    TooLarge { action: String, limit: Limit<u64> },
    /// The transport failed otherwise (refused connection, TLS, protocol).
    #[error("{action}: {message}")]
    Failed { action: String, message: String },
}

impl RemoteError {
    /// Whether a timeout ran out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, RemoteError::Timeout { .. })
    }
}
