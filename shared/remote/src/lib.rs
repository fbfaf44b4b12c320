//! Talking to remote servers within budgets: every call has connect, idle and total
//! timeouts, and every answer a size limit, and an error that ran into one says which
//! and names the setting that chose it. Shared by the warehouse (registries, chart
//! repositories, Git mirrors) and the promoter (Git remotes, the `http` step).
//!
//! # Layout
//!
//! - [`error`]: [`RemoteError`], what went wrong with a remote call.
//! - [`http`]: `ureq` agents with the three timeouts, and bounded body reads.
//! - [`git`]: libgit2's socket timeouts, and a watch over a transfer's size and duration.
//! - [`cancel`]: a flag that stops work in flight (an aborted promotion's transfer).
//! - [`packs`]: pack housekeeping for the repositories kept between operations.
//! - [`local`]: pushing to a bare repository on this machine without a transport.

pub mod cancel;
pub mod error;
pub mod git;
pub mod http;
pub mod local;
pub mod packs;
#[cfg(test)]
mod test_git;

pub use cancel::Cancellation;
pub use error::RemoteError;
pub use git::{GIT_CONNECT_TIMEOUT_ENV, GIT_IDLE_TIMEOUT_ENV, GIT_MAX_TRANSFER_ENV, GIT_TIMEOUT_ENV};
pub use git::{GitBudget, TransferWatch};
