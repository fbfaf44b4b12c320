//! Where a receiver listens: `/webhooks/<type>/<hash>`, the hash being the SHA-256 of the
//! project, the receiver's name and its secret, concatenated (Kargo's input). The path is
//! hard to guess and changes with the secret; for Docker Hub, Quay and generic receivers,
//! knowing it is the authentication. The receivers of a project whose secret is missing
//! cannot listen: they are reported, not refused, since the secret may arrive later.

use sha2::{Digest, Sha256};

use super::hex;
use super::signature::same_secret;
use crate::secrets::SecretData;
use crate::spec::{ReceiverKind, WebhookReceiverConfig};

/// Where every receiver's path starts.
pub const PATH_PREFIX: &str = "/webhooks";

/// The path of the receiver `name` of `project`, of provider `kind`, with `secret`.
pub fn receiver_path(project: &str, name: &str, kind: ReceiverKind, secret: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(project.as_bytes());
    hash.update(name.as_bytes());
    hash.update(secret.as_bytes());
    format!("{PATH_PREFIX}/{kind}/{}", hex(&hash.finalize()))
}

/// Whether a request's `path` is `expected`, in a time that does not depend on where
/// they differ.
pub fn is_path(expected: &str, path: &str) -> bool {
    same_secret(expected, path)
}

/// A receiver that listens: ProjectConfig `status.webhookReceivers[]`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReceiverDetails {
    pub name: String,
    pub path: String,
    /// The path under the api's external URL.
    pub url: String,
}

/// Why a receiver does not listen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiverProblem {
    /// The secret `secretRef` names does not exist.
    MissingSecret { field: String, secret: String },
    /// The secret exists without the key the provider needs, or with it empty.
    MissingSecretKey { field: String, secret: String, key: String },
}

impl ReceiverProblem {
    /// A Kargo-style condition reason.
    pub fn reason(&self) -> &'static str {
        match self {
            ReceiverProblem::MissingSecret { .. } => "MissingSecret",
            ReceiverProblem::MissingSecretKey { .. } => "MissingSecretKey",
        }
    }

    pub fn message(&self) -> String {
        match self {
            ReceiverProblem::MissingSecret { field, secret } => format!("{field}: secret {secret:?} does not exist"),
            ReceiverProblem::MissingSecretKey { field, secret, key } => {
                format!("{field}: secret {secret:?} has no value for key {key:?}")
            }
        }
    }
}

/// A receiver that can listen, with the secret value it authenticates with.
#[derive(Debug, Clone)]
pub struct Listening<'a> {
    pub receiver: &'a WebhookReceiverConfig,
    pub kind: ReceiverKind,
    pub path: String,
    pub secret: String,
}

/// The receivers of `project` that can listen, and why the others cannot; `secret`
/// finds a secret of the project by name.
pub fn listening<'a, 's>(
    project: &str,
    receivers: &'a [WebhookReceiverConfig],
    secret: impl Fn(&str) -> Option<&'s SecretData>,
) -> (Vec<Listening<'a>>, Vec<ReceiverProblem>) {
    let mut listening = Vec::new();
    let mut problems = Vec::new();
    for (i, receiver) in receivers.iter().enumerate() {
        let Some(kind) = receiver.kind() else { continue };
        let name = receiver.secret_name();
        let field = format!("spec.webhookReceivers[{i}].{kind}.secretRef");
        let Some(data) = secret(name) else {
            problems.push(ReceiverProblem::MissingSecret { field, secret: name.to_owned() });
            continue;
        };
        match data.get(kind.secret_key()).filter(|v| !v.is_empty()) {
            Some(value) => listening.push(Listening {
                receiver,
                kind,
                path: receiver_path(project, &receiver.name, kind, value),
                secret: value.clone(),
            }),
            None => problems.push(ReceiverProblem::MissingSecretKey {
                field,
                secret: name.to_owned(),
                key: kind.secret_key().to_owned(),
            }),
        }
    }
    (listening, problems)
}

/// ProjectConfig `status.webhookReceivers`: each listening receiver's name, path, and URL
/// under `external_url`.
pub fn details(listening: &[Listening<'_>], external_url: &str) -> Vec<ReceiverDetails> {
    let base = external_url.trim_end_matches('/');
    listening
        .iter()
        .map(|l| ReceiverDetails {
            name: l.receiver.name.clone(),
            path: l.path.clone(),
            url: format!("{base}{}", l.path),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::spec::webhook_receiver::{SecretReceiver, SecretRef};

    fn github(name: &str, secret: &str) -> WebhookReceiverConfig {
        WebhookReceiverConfig {
            name: name.to_owned(),
            github: Some(SecretReceiver { secret_ref: SecretRef { name: secret.to_owned() } }),
            ..WebhookReceiverConfig::default()
        }
    }

    #[test]
    fn the_path_hashes_project_name_and_secret_as_kargo_does() {
        // sha256("demo" + "gh" + "s3cret") = sha256("demogh" + "s3cret")
        let expected = hex(&Sha256::digest(b"demoghs3cret"));
        assert_eq!(receiver_path("demo", "gh", ReceiverKind::GitHub, "s3cret"), format!("/webhooks/github/{expected}"));
        assert_ne!(
            receiver_path("demo", "gh", ReceiverKind::GitHub, "s3cret"),
            receiver_path("demo", "gh", ReceiverKind::GitHub, "other")
        );
        assert!(is_path("/webhooks/github/ab", "/webhooks/github/ab"));
        assert!(!is_path("/webhooks/github/ab", "/webhooks/github/ac"));
    }

    #[test]
    fn receivers_without_their_secret_or_its_key_are_reported_not_listening() {
        // Given three receivers: one whose secret exists, one whose secret does not, one
        // whose secret lacks the key,
        let receivers = [github("ok", "gh"), github("later", "not-yet"), github("keyless", "other")];
        let secrets: BTreeMap<&str, SecretData> = [
            ("gh", BTreeMap::from([("secret".to_owned(), "s3cret".to_owned())])),
            ("other", BTreeMap::from([("token".to_owned(), "x".to_owned())])),
        ]
        .into();
        // when the project's receivers are resolved,
        let (listening, problems) = listening("demo", &receivers, |name| secrets.get(name));
        // then the first listens at its path, and the others say why they do not.
        let shown = details(&listening, "https://lading.example.com/");
        assert_eq!(shown.len(), 1);
        assert_eq!(shown[0].url, format!("https://lading.example.com{}", shown[0].path));
        assert_eq!(listening[0].secret, "s3cret");
        assert_eq!(problems[0].reason(), "MissingSecret");
        assert_eq!(
            problems[0].message(),
            "spec.webhookReceivers[1].github.secretRef: secret \"not-yet\" does not exist"
        );
        assert_eq!(problems[1].reason(), "MissingSecretKey");
        assert!(problems[1].message().contains("no value for key \"secret\""));
    }
}
