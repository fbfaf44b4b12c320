//! JFrog Artifactory: `X-Jfrog-Event-Auth` is the hex HMAC-SHA256 of the body keyed with
//! the secret's `secret-token`. A `pushed` event of the `docker` domain refreshes
//! subscribers of `<jpd_origin host>/<repo_key>/<data.path without its last two parts>`
//! (`virtualRepoName` replacing `repo_key` when set): an image when `data.image_type` is
//! `docker`, an OCI chart when it is `oci`; by `data.tag`.

use serde::Deserialize;

use crate::webhook::request::payload;
use crate::webhook::signature::verify_bare_hmac;
use crate::webhook::{Push, Received, Repository, WebhookError, WebhookRequest};

pub const SIGNATURE_HEADER: &str = "X-Jfrog-Event-Auth";

pub fn receive(request: &WebhookRequest<'_>, secret: &str, virtual_repo_name: &str) -> Result<Received, WebhookError> {
    verify_bare_hmac(request, SIGNATURE_HEADER, secret)?;
    let event: Event = payload("Artifactory", request.body)?;
    if event.event_type != "pushed" || event.domain != "docker" {
        return Err(WebhookError::Unsupported(format!(
            "Artifactory event {}/{} is not supported: docker/pushed is",
            crate::excerpt::quoted(&event.domain),
            crate::excerpt::quoted(&event.event_type)
        )));
    }
    let host = host_of(&event.origin).ok_or_else(|| {
        WebhookError::Malformed(format!(
            "payload field jpd_origin: {} is not a URL",
            crate::excerpt::quoted(&event.origin)
        ))
    })?;
    let sections: Vec<&str> = event.data.path.split('/').collect();
    if sections.len() < 2 {
        return Err(WebhookError::Malformed(format!(
            "payload field data.path: {} has no image path and tag",
            crate::excerpt::quoted(&event.data.path)
        )));
    }
    let repo = if virtual_repo_name.is_empty() { event.data.repo_key.as_str() } else { virtual_repo_name };
    let mut parts = vec![host, repo];
    parts.extend(&sections[..sections.len() - 2]);
    let url = parts.join("/");
    let repository = match event.data.image_type.as_str() {
        "docker" => Repository::image(&url),
        "oci" => Repository::chart(&url),
        other => {
            return Err(WebhookError::Unsupported(format!(
                "Artifactory image type {} is not supported: docker and oci are",
                crate::excerpt::quoted(other)
            )));
        }
    };
    Ok(Received::Push(Push { repositories: vec![repository], qualifiers: vec![event.data.tag], changed_paths: None }))
}

/// The host (and port) of an absolute URL.
fn host_of(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    (!host.is_empty()).then_some(host)
}

#[derive(Deserialize)]
struct Event {
    domain: String,
    event_type: String,
    data: EventData,
    #[serde(rename = "jpd_origin")]
    origin: String,
}

#[derive(Deserialize)]
struct EventData {
    path: String,
    repo_key: String,
    #[serde(default)]
    image_type: String,
    #[serde(default)]
    tag: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::signature::sign;

    const PUSH: &str = r#"{
      "domain": "docker", "event_type": "pushed",
      "data": {"repo_key": "docker-local", "event_type": "pushed", "path": "my-image/1.0.0/manifest.json",
               "name": "manifest.json", "sha256": "8ae6e1b1…", "size": 1234, "image_name": "my-image",
               "tag": "1.0.0", "platforms": [{"architecture": "amd64", "os": "linux"}], "image_type": "docker"},
      "subscription_key": "kargo", "jpd_origin": "https://example.jfrog.io", "source": "jfrog/user@example.com"
    }"#;

    #[test]
    fn a_signed_push_names_the_image_under_the_origin_and_repository() {
        let request = WebhookRequest::new(PUSH.as_bytes())
            .with_header("X-Jfrog-Event-Auth", &sign("t0ken", PUSH.as_bytes()).unwrap());
        let Received::Push(push) = receive(&request, "t0ken", "").unwrap() else { panic!() };
        assert_eq!(push.repositories, vec![Repository::image("example.jfrog.io/docker-local/my-image")]);
        assert_eq!(push.qualifiers, vec!["1.0.0"]);
        let Received::Push(push) = receive(&request, "t0ken", "docker-virtual").unwrap() else { panic!() };
        assert_eq!(push.repositories, vec![Repository::image("example.jfrog.io/docker-virtual/my-image")]);
        assert_eq!(receive(&request, "other", "").unwrap_err().status(), 401);
    }
}
