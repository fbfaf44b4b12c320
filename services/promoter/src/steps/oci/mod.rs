//! The OCI registry steps, `oci-download` and `oci-push`, through the `oci-client` crate
//! (the OCI distribution protocol: token and basic auth, chunked blob uploads, digests
//! checked on every blob read).
//!
//! - References as Kargo takes them: `registry/repository:tag` or `…@sha256:<hex>`; an
//!   `oci://` prefix marks a Helm chart and picks the `helm` credential, otherwise the
//!   `image` one (the credentials file's entries, as the warehouse matches them).
//! - Plain HTTP for registries on loopback (Docker's convention), HTTPS otherwise;
//!   `insecureSkipTLSVerify` accepts any certificate.
//! - Sizes are bounded before a byte is moved: `oci-download` refuses a layer larger than
//!   `LADING_OCI_DOWNLOAD_MAX_BYTES`, `oci-push` an artifact whose blobs add up to more
//!   than `LADING_OCI_PUSH_MAX_BYTES`; a registry sending more than it announced is cut off.
//! - Every call watches the promotion's cancellation, and its budget's timeouts.

pub mod download;
pub mod push;

use std::future::Future;
use std::time::Duration;

use lading_domain::credentials::CredentialType;
use lading_domain::limits::Limit;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

use super::StepContext;
use crate::config::{OCI_DOWNLOAD_MAX_ENV, OCI_PUSH_MAX_ENV};

/// Manifests and indexes the steps read (OCI's and Docker's).
pub const MANIFEST_TYPES: [&str; 4] = [
    oci_client::manifest::OCI_IMAGE_MEDIA_TYPE,
    oci_client::manifest::OCI_IMAGE_INDEX_MEDIA_TYPE,
    oci_client::manifest::IMAGE_MANIFEST_MEDIA_TYPE,
    oci_client::manifest::IMAGE_MANIFEST_LIST_MEDIA_TYPE,
];

/// The largest manifest or index read.
const MAX_MANIFEST_BYTES: usize = 4 << 20;

/// What the OCI steps may move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OciBudget {
    /// Largest layer `oci-download` writes (Kargo's limit: 100 MiB).
    pub max_download: Limit<u64>,
    /// Largest sum of blobs `oci-push` copies between repositories (Kargo's: 1 GiB).
    pub max_push: Limit<u64>,
    /// Longest one step's registry calls may take, in all.
    pub timeout: Duration,
}

impl Default for OciBudget {
    fn default() -> Self {
        Self {
            max_download: Limit::new(100 << 20, OCI_DOWNLOAD_MAX_ENV),
            max_push: Limit::new(1 << 30, OCI_PUSH_MAX_ENV),
            timeout: Duration::from_secs(600),
        }
    }
}

/// A reference as a step names it, parsed.
pub struct ArtifactRef {
    /// As written, without `oci://`.
    pub text: String,
    pub reference: Reference,
    pub kind: CredentialType,
}

impl ArtifactRef {
    pub fn parse(field: &str, text: &str) -> Result<Self, String> {
        let (kind, bare) = match text.strip_prefix("oci://") {
            Some(rest) => (CredentialType::Helm, rest),
            None => (CredentialType::Image, text),
        };
        let reference: Reference =
            bare.parse().map_err(|e| format!("{field}: {text:?} is not an OCI reference: {e}"))?;
        Ok(Self { text: bare.to_owned(), reference, kind })
    }

    /// The registry host, as written (`127.0.0.1:5000`, `ghcr.io`).
    pub fn registry(&self) -> &str {
        self.reference.registry()
    }

    /// The same repository (and registry) as `other`.
    pub fn same_repository(&self, other: &ArtifactRef) -> bool {
        self.reference.resolve_registry() == other.reference.resolve_registry()
            && self.reference.repository() == other.reference.repository()
    }
}

/// Whether `registry` is on loopback, where registries speak plain HTTP.
pub fn is_loopback(registry: &str) -> bool {
    let host = match registry.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => registry,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A client for `refs`' registries.
pub fn client(ctx: &StepContext<'_>, refs: &[&ArtifactRef], insecure_skip_tls_verify: bool) -> Client {
    // reqwest is built without a TLS provider of its own: use the process's (ring).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let plain: Vec<String> = refs.iter().map(|r| r.registry().to_owned()).filter(|r| is_loopback(r)).collect();
    let http = ctx.remotes.budgets.http;
    Client::new(ClientConfig {
        protocol: ClientProtocol::HttpsExcept(plain),
        accept_invalid_certificates: insecure_skip_tls_verify,
        connect_timeout: Some(http.connect.value),
        read_timeout: Some(http.idle.value),
        user_agent: concat!("lading/", env!("CARGO_PKG_VERSION")),
        ..ClientConfig::default()
    })
}

/// The credential for `artifact` (basic auth, answered to the registry's challenge).
pub fn auth(ctx: &StepContext<'_>, artifact: &ArtifactRef) -> RegistryAuth {
    match ctx.remotes.credentials.registry(artifact.kind, &artifact.text) {
        Some(c) => RegistryAuth::Basic(c.username.clone(), c.password.clone()),
        None => RegistryAuth::Anonymous,
    }
}

/// Runs `work` to its end on a runtime of its own (steps run on a blocking thread),
/// unless the promotion is stopped or the budget's timeout passes first.
pub fn block_on<T>(
    ctx: &StepContext<'_>,
    action: &str,
    work: impl Future<Output = Result<T, String>>,
) -> Result<T, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("{action}: starting a runtime: {e}"))?;
    let cancel = ctx.remotes.cancel.clone();
    let timeout = ctx.timeout.unwrap_or(ctx.remotes.budgets.oci.timeout);
    runtime.block_on(async {
        let cancelled = async {
            while !cancel.is_cancelled() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        tokio::select! {
            result = tokio::time::timeout(timeout, work) => {
                result.unwrap_or_else(|_| Err(format!("{action}: took longer than {}s", timeout.as_secs())))
            }
            () = cancelled => Err(format!("{action}: cancelled: the promotion was stopped")),
        }
    })
}

/// A registry's error, without anything the client quoted of a credential.
pub fn explain(action: &str, error: oci_client::errors::OciDistributionError) -> String {
    format!("{action}: {error}")
}

/// `(bytes, digest)` of the manifest or index `reference` names, at most
/// [`MAX_MANIFEST_BYTES`].
pub async fn manifest(
    client: &Client,
    reference: &Reference,
    auth: &RegistryAuth,
    action: &str,
) -> Result<(bytes::Bytes, String), String> {
    let (bytes, digest) =
        client.pull_manifest_raw(reference, auth, &MANIFEST_TYPES).await.map_err(|e| explain(action, e))?;
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(format!("{action}: the manifest is larger than {MAX_MANIFEST_BYTES} bytes"));
    }
    Ok((bytes, digest))
}

/// Whether a manifest (as JSON) is an index of manifests.
pub fn is_index(manifest: &serde_json::Value) -> bool {
    let media_type = manifest.get("mediaType").and_then(serde_json::Value::as_str).unwrap_or_default();
    media_type == oci_client::manifest::OCI_IMAGE_INDEX_MEDIA_TYPE
        || media_type == oci_client::manifest::IMAGE_MANIFEST_LIST_MEDIA_TYPE
        || (media_type.is_empty() && manifest.get("manifests").is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_registries_when_checked_for_loopback_then_only_loopback_hosts_are() {
        for loopback in ["127.0.0.1:5000", "localhost:5000", "localhost", "[::1]:5000", "127.0.0.2"] {
            assert!(is_loopback(loopback), "{loopback}");
        }
        for remote in ["ghcr.io", "registry.example.com:5000", "10.0.0.1:5000", "localhost.example.com"] {
            assert!(!is_loopback(remote), "{remote}");
        }
    }

    #[test]
    fn given_references_when_parsed_then_oci_prefix_picks_helm_credentials() {
        let chart = ArtifactRef::parse("config.imageRef", "oci://127.0.0.1:5000/charts/app:1.0.0").unwrap();
        assert_eq!(chart.kind, CredentialType::Helm);
        assert_eq!(chart.text, "127.0.0.1:5000/charts/app:1.0.0");
        assert_eq!(chart.reference.repository(), "charts/app");
        let image = ArtifactRef::parse(
            "config.srcRef",
            "ghcr.io/org/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        )
        .unwrap();
        assert_eq!(image.kind, CredentialType::Image);
        let error = ArtifactRef::parse("config.destRef", "UPPER/Case:tag").err().unwrap();
        assert!(error.starts_with("config.destRef: \"UPPER/Case:tag\" is not an OCI reference"), "{error}");
    }
}
