//! Docker Hub signs nothing: the receiver's hard-to-guess path (derived from the secret's
//! `secret`) is the authentication. A push refreshes subscribers of `repository.repo_name`
//! (an image, or an OCI chart when `push_data.media_type` says Helm) by `push_data.tag`.

use serde::Deserialize;

use super::null_as_empty;
use crate::webhook::push::oci_repositories;
use crate::webhook::request::payload;
use crate::webhook::{Push, Received, WebhookError, WebhookRequest};

pub fn receive(request: &WebhookRequest<'_>) -> Result<Received, WebhookError> {
    let event: PushEvent = payload("Docker Hub", request.body)?;
    Ok(Received::Push(Push {
        repositories: oci_repositories(&event.repository.repo_name, &event.push_data.media_type),
        qualifiers: vec![event.push_data.tag],
        changed_paths: None,
    }))
}

#[derive(Deserialize)]
struct PushEvent {
    push_data: PushData,
    repository: PushRepository,
}

#[derive(Deserialize)]
struct PushData {
    #[serde(default, deserialize_with = "null_as_empty")]
    tag: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    media_type: String,
}

#[derive(Deserialize)]
struct PushRepository {
    repo_name: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::Repository;

    #[test]
    fn a_push_names_the_repository_and_tag() {
        let body = r#"{
          "callback_url": "https://registry.hub.docker.com/u/svendowideit/testhook/hook/2141b5bi5i5b02bec211i4eeih0242eg11000a/",
          "push_data": {"pushed_at": 1417566161, "pusher": "trustedbuilder", "tag": "latest"},
          "repository": {"name": "testhook", "namespace": "svendowideit", "repo_name": "svendowideit/testhook",
                         "repo_url": "https://registry.hub.docker.com/u/svendowideit/testhook/", "status": "Active"}
        }"#;
        let Received::Push(push) = receive(&WebhookRequest::new(body.as_bytes())).unwrap() else { panic!() };
        assert!(push.repositories.contains(&Repository::image("docker.io/svendowideit/testhook")));
        assert_eq!(push.qualifiers, vec!["latest"]);
        let error = receive(&WebhookRequest::new(br#"{"push_data": {}}"#)).unwrap_err();
        assert!(error.to_string().contains("missing field `repository`"), "{error}");
    }
}
