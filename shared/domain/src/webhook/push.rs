//! What a provider's request reports: a push of revisions to repositories (with the refs,
//! tags or versions pushed and, for Git, the paths changed), a ping, or an event that
//! asks for nothing. Repository URLs are normalized here as freight IDs normalize them,
//! so a push and a subscription compare equal however each spells the URL.

use crate::url_normalize::{normalize_chart, normalize_git, normalize_image_repo};

/// A repository a push names, normalized.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Repository {
    Git(String),
    Image(String),
    Chart(String),
}

impl Repository {
    /// A Git repository; a URL Lading cannot normalize is kept as written, lowercased.
    pub fn git(url: &str) -> Repository {
        Repository::Git(git_key(url))
    }

    /// An image repository from a reference that may carry a tag or a digest.
    pub fn image(reference: &str) -> Repository {
        Repository::Image(image_key(reference))
    }

    /// An OCI chart repository from a reference that may carry a tag or a digest.
    pub fn chart(reference: &str) -> Repository {
        Repository::Chart(chart_key(reference))
    }

    /// The normalized URL.
    pub fn url(&self) -> &str {
        match self {
            Repository::Git(url) | Repository::Image(url) | Repository::Chart(url) => url,
        }
    }
}

/// A Git URL as subscriptions and pushes are compared.
pub fn git_key(url: &str) -> String {
    normalize_git(url).unwrap_or_else(|_| url.trim().to_lowercase())
}

/// An image repository as subscriptions and pushes are compared: lowercase, without tag
/// or digest, Docker Hub's host and `library/` dropped.
pub fn image_key(reference: &str) -> String {
    normalize_image_repo(&without_tag(&reference.trim().to_lowercase()))
}

/// A chart repository as subscriptions and pushes are compared: `oci://` dropped, then as
/// an image; a classic HTTP repository stays as written, lowercased.
pub fn chart_key(reference: &str) -> String {
    let lower = reference.trim().to_lowercase();
    let stripped = lower.strip_prefix("oci://").unwrap_or(&lower);
    if stripped.contains("://") { normalize_chart(stripped) } else { normalize_chart(&without_tag(stripped)) }
}

/// `host/path:tag` or `host/path@sha256:…` without its tag or digest; a port stays.
fn without_tag(reference: &str) -> String {
    let reference = reference.split_once('@').map_or(reference, |(name, _)| name);
    let reference = reference.strip_suffix(':').unwrap_or(reference);
    let last_slash = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[last_slash..].find(':') {
        Some(colon) => reference[..last_slash + colon].to_owned(),
        None => reference.to_owned(),
    }
}

/// Media types that mean an image, not a chart.
const IMAGE_MEDIA_TYPES: [&str; 5] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
];

/// The repositories an OCI reference may be, given what its media type says (Kargo's
/// rule): a Helm media type means a chart; an image media type an image; anything else
/// (an OCI manifest, nothing) either.
pub fn oci_repositories(reference: &str, media_type: &str) -> Vec<Repository> {
    if media_type.starts_with("application/vnd.cncf.helm") {
        return vec![Repository::chart(reference)];
    }
    if IMAGE_MEDIA_TYPES.contains(&media_type) {
        return vec![Repository::image(reference)];
    }
    vec![Repository::image(reference), Repository::chart(reference)]
}

/// What was pushed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Push {
    /// The repositories pushed to (one repository often has several spellings: HTTPS and
    /// SSH clone URLs, image and chart).
    pub repositories: Vec<Repository>,
    /// Git refs (`refs/heads/main`, `refs/tags/v1.2.0`), image tags or chart versions
    /// pushed; empty when the provider does not say (every subscriber is refreshed).
    pub qualifiers: Vec<String>,
    /// The paths a Git push changed, when the payload lists them all; `None` when it
    /// does not (path filters are not applied then).
    pub changed_paths: Option<Vec<String>>,
}

/// What a provider's request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// Refresh the warehouses this push concerns.
    Push(Push),
    /// The provider checks that the receiver answers (GitHub's `ping`).
    Ping,
    /// An event that changes nothing Lading watches (a package deleted, a Maven
    /// artifact); answered, nothing refreshed. The reason says why.
    Ignored(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_lose_tags_and_digests_but_keep_ports() {
        assert_eq!(image_key("ghcr.io/Example/Repo:latest"), "ghcr.io/example/repo");
        assert_eq!(image_key("ghcr.io/example/repo:"), "ghcr.io/example/repo");
        assert_eq!(image_key("localhost:5000/app@sha256:abcd"), "localhost:5000/app");
        assert_eq!(image_key("localhost:5000/app:1.0"), "localhost:5000/app");
        assert_eq!(image_key("docker.io/library/nginx:1.27"), "nginx");
        assert_eq!(image_key("example/repo"), "example/repo");
        assert_eq!(chart_key("oci://harbor.example.com/charts/my-chart"), "harbor.example.com/charts/my-chart");
        assert_eq!(chart_key("harbor.example.com/charts/my-chart:v1.0.0"), "harbor.example.com/charts/my-chart");
        assert_eq!(chart_key("https://Charts.example.com"), "https://charts.example.com");
        assert_eq!(git_key("git@github.com:Org/App.git"), "ssh://git@github.com/org/app");
    }

    #[test]
    fn media_types_say_image_or_chart_and_anything_else_is_both() {
        let image = oci_repositories("ghcr.io/x/y:1", "application/vnd.docker.container.image.v1+json");
        assert_eq!(image, vec![Repository::Image("ghcr.io/x/y".into())]);
        let chart = oci_repositories("ghcr.io/x/y:1", "application/vnd.cncf.helm.config.v1+json");
        assert_eq!(chart, vec![Repository::Chart("ghcr.io/x/y".into())]);
        assert_eq!(oci_repositories("ghcr.io/x/y", "").len(), 2);
    }
}
