//! Quay signs nothing: the receiver's hard-to-guess path (derived from the secret's
//! `secret`) is the authentication. A repository push refreshes subscribers of
//! `docker_url` (an image or an OCI chart) by `updated_tags`.

use serde::Deserialize;

use crate::webhook::request::payload;
use crate::webhook::{Push, Received, Repository, WebhookError, WebhookRequest};

pub fn receive(request: &WebhookRequest<'_>) -> Result<Received, WebhookError> {
    let event: PushEvent = payload("Quay", request.body)?;
    Ok(Received::Push(Push {
        repositories: vec![Repository::image(&event.docker_url), Repository::chart(&event.docker_url)],
        qualifiers: event.updated_tags,
        changed_paths: None,
    }))
}

#[derive(Deserialize)]
struct PushEvent {
    docker_url: String,
    #[serde(default)]
    updated_tags: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_push_names_the_repository_and_updated_tags() {
        let body = r#"{
          "name": "repository", "repository": "mynamespace/repository", "namespace": "mynamespace",
          "docker_url": "quay.io/mynamespace/repository", "homepage": "https://quay.io/repository/mynamespace/repository",
          "updated_tags": ["1.0.0", "latest"]
        }"#;
        let Received::Push(push) = receive(&WebhookRequest::new(body.as_bytes())).unwrap() else { panic!() };
        assert_eq!(push.repositories[0], Repository::image("quay.io/mynamespace/repository"));
        assert_eq!(push.qualifiers, vec!["1.0.0", "latest"]);
    }
}
