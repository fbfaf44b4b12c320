//! Why a registry or chart repository call failed.

use lading_domain::digest::DigestError;
use lading_domain::paging::PagingError;
use lading_remote::RemoteError;

/// A registry call that failed. Every kind is a source error: recorded in the
/// warehouse's status, never a crash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// The network call failed, timed out, or its answer was too large.
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error("repository {0} not found")]
    NotFound(String),
    /// An answer with a status other than the one expected.
    #[error("{what}: the registry answered {status}")]
    Status { what: String, status: u16 },
    /// An answer that could not be read (not JSON, not UTF-8).
    #[error("{what}: unreadable answer: {reason}")]
    Unreadable { what: String, reason: String },
    #[error("{0}: the registry gave no Docker-Content-Digest")]
    MissingDigest(String),
    /// A malformed digest, or content that does not match its digest.
    #[error("{what}: {source}")]
    Digest { what: String, source: DigestError },
    /// The tag list's `Link` pages loop, repeat, or are too many.
    #[error("listing tags of {repository}: {source}")]
    Paging { repository: String, source: PagingError },
    /// Authentication failed or is unsupported.
    #[error("{0}")]
    Auth(String),
}

/// A registry call's result.
pub type Result<T, E = RegistryError> = std::result::Result<T, E>;
