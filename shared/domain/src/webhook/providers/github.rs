//! GitHub: `X-Hub-Signature-256` is `sha256=` and the HMAC-SHA256 of the body keyed with
//! the secret's `secret`; `X-GitHub-Event` names the event. `push` refreshes subscribers
//! of the repository (`repository.clone_url` and `ssh_url`) following the pushed `ref`
//! (paths from `commits` and `head_commit`); `package` and `registry_package` (a
//! container published or updated on GHCR) refresh subscribers of the image (or OCI
//! chart) `package_version.package_url`, by its tag; `ping` answers.

use serde::Deserialize;

use super::{PushedCommit, changed_paths, null_as_empty};
use crate::webhook::push::oci_repositories;
use crate::webhook::request::payload;
use crate::webhook::signature::verify_prefixed_hmac;
use crate::webhook::{Push, Received, Repository, WebhookError, WebhookRequest};

pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";
pub const EVENT_HEADER: &str = "X-GitHub-Event";

/// GitHub lists at most this many commits in a push; with more, paths are not known.
const MAX_LISTED_COMMITS: usize = 2048;

pub fn receive(request: &WebhookRequest<'_>, secret: &str) -> Result<Received, WebhookError> {
    verify_prefixed_hmac(request, SIGNATURE_HEADER, secret)?;
    match request.header(EVENT_HEADER).unwrap_or_default() {
        "ping" => Ok(Received::Ping),
        "push" => push(request.body),
        "package" | "registry_package" => package(request.body),
        "" => Err(WebhookError::Malformed(format!("the {EVENT_HEADER} header is missing"))),
        other => Err(WebhookError::Unsupported(format!(
            "GitHub event {} is not supported: push, package, registry_package and ping are",
            crate::excerpt::quoted(other)
        ))),
    }
}

#[derive(Deserialize)]
struct PushEvent {
    #[serde(rename = "ref")]
    reference: String,
    repository: PushRepository,
    #[serde(default)]
    commits: Vec<PushedCommit>,
    #[serde(default)]
    head_commit: Option<PushedCommit>,
}

#[derive(Deserialize)]
struct PushRepository {
    clone_url: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    ssh_url: String,
}

fn push(body: &[u8]) -> Result<Received, WebhookError> {
    let event: PushEvent = payload("GitHub push", body)?;
    let mut repositories = vec![Repository::git(&event.repository.clone_url)];
    if !event.repository.ssh_url.is_empty() {
        repositories.push(Repository::git(&event.repository.ssh_url));
    }
    let listed = event.commits.len();
    let changed = if listed < MAX_LISTED_COMMITS {
        changed_paths(event.commits.iter().chain(event.head_commit.as_ref()), listed, None)
    } else {
        None
    };
    Ok(Received::Push(Push { repositories, qualifiers: vec![event.reference], changed_paths: changed }))
}

#[derive(Deserialize)]
struct PackageEvent {
    action: String,
    #[serde(alias = "registry_package")]
    package: Option<Package>,
}

#[derive(Deserialize)]
struct Package {
    package_type: String,
    package_version: Option<PackageVersion>,
}

#[derive(Deserialize)]
struct PackageVersion {
    package_url: String,
    #[serde(default)]
    container_metadata: ContainerMetadata,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ContainerMetadata {
    tag: Tag,
    manifest: Manifest,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Tag {
    #[serde(deserialize_with = "null_as_empty")]
    name: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Manifest {
    config: Option<ManifestConfig>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ManifestConfig {
    #[serde(deserialize_with = "null_as_empty")]
    media_type: String,
}

fn package(body: &[u8]) -> Result<Received, WebhookError> {
    let event: PackageEvent = payload("GitHub package", body)?;
    if event.action != "published" && event.action != "updated" {
        return Ok(Received::Ignored(format!("package action {:?} changes nothing to discover", event.action)));
    }
    let package =
        event.package.ok_or_else(|| WebhookError::Malformed("payload field package: is missing".to_owned()))?;
    if package.package_type != "CONTAINER" && package.package_type != "docker" {
        return Ok(Received::Ignored(format!("a {} package is not a container image", package.package_type)));
    }
    let version = package
        .package_version
        .ok_or_else(|| WebhookError::Malformed("payload field package.package_version: is missing".to_owned()))?;
    let media_type = version.container_metadata.manifest.config.map(|c| c.media_type).unwrap_or_default();
    let tag = version.container_metadata.tag.name;
    Ok(Received::Push(Push {
        repositories: oci_repositories(&version.package_url, &media_type),
        qualifiers: vec![tag],
        changed_paths: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::signature::sign;

    pub(crate) const PUSH: &str = r#"{
      "ref": "refs/heads/main",
      "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
      "after": "0000000000000000000000000000000000000000",
      "repository": {
        "id": 186853002, "name": "app", "full_name": "org/app", "private": false,
        "html_url": "https://github.com/org/app",
        "clone_url": "https://github.com/org/app.git",
        "ssh_url": "git@github.com:org/app.git",
        "default_branch": "main"
      },
      "pusher": {"name": "dev", "email": "dev@example.com"},
      "commits": [{"id": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", "message": "Update README.md",
                   "added": [], "removed": [], "modified": ["README.md"]}],
      "head_commit": {"id": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", "added": ["src/new.rs"], "removed": [], "modified": ["README.md"]}
    }"#;

    fn signed<'a>(event: &str, body: &'a str, secret: &str) -> WebhookRequest<'a> {
        WebhookRequest::new(body.as_bytes())
            .with_header("X-GitHub-Event", event)
            .with_header("X-Hub-Signature-256", &format!("sha256={}", sign(secret, body.as_bytes()).unwrap()))
    }

    #[test]
    fn a_signed_push_names_the_repository_its_ref_and_the_changed_paths() {
        let Received::Push(push) = receive(&signed("push", PUSH, "s3cret"), "s3cret").unwrap() else { panic!() };
        assert_eq!(
            push.repositories,
            vec![Repository::git("https://github.com/org/app"), Repository::git("ssh://git@github.com/org/app")]
        );
        assert_eq!(push.qualifiers, vec!["refs/heads/main"]);
        assert_eq!(push.changed_paths, Some(vec!["README.md".to_owned(), "src/new.rs".to_owned()]));
    }

    #[test]
    fn unsigned_and_badly_signed_requests_are_refused_before_the_payload_is_read() {
        let unsigned = WebhookRequest::new(b"not even json").with_header("X-GitHub-Event", "push");
        assert_eq!(receive(&unsigned, "s3cret").unwrap_err().status(), 401);
        assert_eq!(receive(&signed("push", PUSH, "wrong"), "s3cret").unwrap_err().status(), 401);
    }

    #[test]
    fn ping_answers_and_other_events_are_named_unsupported() {
        assert_eq!(receive(&signed("ping", "{}", "s"), "s").unwrap(), Received::Ping);
        let error = receive(&signed("issues", "{}", "s"), "s").unwrap_err();
        assert_eq!(error.status(), 400);
        assert!(error.to_string().contains("\"issues\" is not supported"), "{error}");
    }

    #[test]
    fn a_push_without_its_repository_url_is_named() {
        let body = r#"{"ref": "refs/heads/main", "repository": {"name": "app"}}"#;
        let error = receive(&signed("push", body, "s"), "s").unwrap_err();
        assert!(error.to_string().contains("repository: missing field `clone_url`"), "{error}");
    }

    #[test]
    fn a_published_container_package_names_its_image_and_tag() {
        let body = r#"{
          "action": "published",
          "package": {
            "id": 1, "name": "app", "namespace": "org", "package_type": "CONTAINER",
            "package_version": {
              "id": 2, "version": "sha256:3c4e", "package_url": "ghcr.io/org/app:1.2.3",
              "container_metadata": {
                "tag": {"name": "1.2.3", "digest": "sha256:3c4e"},
                "manifest": {"digest": "sha256:3c4e", "media_type": "application/vnd.oci.image.manifest.v1+json",
                             "config": {"media_type": "application/vnd.oci.image.config.v1+json"}}
              }
            },
            "registry": {"url": "https://ghcr.io/org", "type": "docker"}
          }
        }"#;
        let Received::Push(push) = receive(&signed("package", body, "s"), "s").unwrap() else { panic!() };
        assert_eq!(push.repositories, vec![Repository::image("ghcr.io/org/app")]);
        assert_eq!(push.qualifiers, vec!["1.2.3"]);
        let registry = body.replace("\"package\":", "\"registry_package\":");
        assert!(matches!(receive(&signed("registry_package", &registry, "s"), "s").unwrap(), Received::Push(_)));
        let deleted = body.replace("published", "deleted");
        assert!(matches!(receive(&signed("package", &deleted, "s"), "s").unwrap(), Received::Ignored(_)));
        let npm = body.replace("CONTAINER", "npm");
        assert!(matches!(receive(&signed("package", &npm, "s"), "s").unwrap(), Received::Ignored(_)));
    }
}
