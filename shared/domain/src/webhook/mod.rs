//! Webhook receivers' rules, free of I/O: where a receiver listens, how each provider's
//! request is authenticated and read, and which warehouses a push refreshes.
//!
//! # Layout
//!
//! - [`request`]: a received request (headers, query, body) and reading its JSON.
//! - [`error`]: why a request was refused, and the status it is answered with.
//! - [`signature`]: HMAC signatures and shared tokens, compared in constant time.
//! - [`path`]: a receiver's path (Kargo's hash of project, name and secret) and its
//!   status: the receivers that can listen, and those whose secret is missing.
//! - [`push`]: what a provider's request says was pushed.
//! - [`providers`]: one module per provider: authenticate, then read the payload.
//! - [`selection`]: which warehouses a push refreshes.
//! - [`generic`]: the `generic` receiver's actions, expressions and target selection.

pub mod error;
pub mod generic;
pub mod path;
pub mod providers;
pub mod push;
pub mod request;
pub mod selection;
pub mod signature;

pub use error::WebhookError;
pub use path::{ReceiverDetails, ReceiverProblem, receiver_path};
pub use push::{Push, Received, Repository};
pub use request::WebhookRequest;
pub use selection::{WarehouseRef, warehouses_to_refresh};

use crate::spec::{ReceiverKind, WebhookReceiverConfig};

/// Authenticates `request` as `receiver`'s provider signs it, with the receiver's
/// `secret` (the value of its secret's key), then reads what it reports. The `generic`
/// receiver is not read here: its actions decide (see [`generic`]).
pub fn receive(
    receiver: &WebhookReceiverConfig,
    request: &WebhookRequest<'_>,
    secret: &str,
) -> Result<Received, WebhookError> {
    use providers::*;
    let Some(kind) = receiver.kind() else {
        return Err(WebhookError::Unsupported(format!("receiver {:?} names no provider", receiver.name)));
    };
    match kind {
        ReceiverKind::GitHub => github::receive(request, secret),
        ReceiverKind::GitLab => gitlab::receive(request, secret),
        ReceiverKind::Bitbucket => bitbucket::receive(request, secret),
        ReceiverKind::Gitea => gitea::receive(request, secret),
        ReceiverKind::DockerHub => dockerhub::receive(request),
        ReceiverKind::Quay => quay::receive(request),
        ReceiverKind::Harbor => harbor::receive(request, secret),
        ReceiverKind::Artifactory => {
            let virtual_repo = receiver.artifactory.as_ref().map(|a| a.virtual_repo_name.as_str()).unwrap_or_default();
            artifactory::receive(request, secret, virtual_repo)
        }
        ReceiverKind::Generic => Err(WebhookError::Unsupported("a generic receiver runs its actions".to_owned())),
    }
}

/// Lowercase hexadecimal.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
