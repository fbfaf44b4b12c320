//! Harbor: the `Authorization` header carries the secret's `auth-header` as is (the "auth
//! header" set when registering the webhook). A `PUSH_ARTIFACT` event refreshes
//! subscribers of the first `event_data.resources[].resource_url` (an image or an OCI
//! chart) by the resources' tags.

use serde::Deserialize;

use super::null_as_empty;
use crate::webhook::request::payload;
use crate::webhook::signature::verify_token;
use crate::webhook::{Push, Received, Repository, WebhookError, WebhookRequest};

pub const AUTH_HEADER: &str = "Authorization";
const PUSH_ARTIFACT: &str = "PUSH_ARTIFACT";

pub fn receive(request: &WebhookRequest<'_>, secret: &str) -> Result<Received, WebhookError> {
    verify_token(request, AUTH_HEADER, secret)?;
    let event: Event = payload("Harbor", request.body)?;
    if event.kind != PUSH_ARTIFACT {
        return Err(WebhookError::Unsupported(format!(
            "Harbor event {} is not supported: {PUSH_ARTIFACT} is",
            crate::excerpt::quoted(&event.kind)
        )));
    }
    let first = event.event_data.resources.first().ok_or_else(|| {
        WebhookError::Malformed("payload field event_data.resources: lists no pushed artifact".to_owned())
    })?;
    Ok(Received::Push(Push {
        repositories: vec![Repository::image(&first.resource_url), Repository::chart(&first.resource_url)],
        qualifiers: event.event_data.resources.iter().map(|r| r.tag.clone()).collect(),
        changed_paths: None,
    }))
}

#[derive(Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    event_data: EventData,
}

#[derive(Deserialize)]
struct EventData {
    #[serde(default)]
    resources: Vec<Resource>,
}

#[derive(Deserialize)]
struct Resource {
    #[serde(default, deserialize_with = "null_as_empty")]
    tag: String,
    resource_url: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const PUSH: &str = r#"{
      "type": "PUSH_ARTIFACT", "occur_at": 1680501893, "operator": "harbor-jobservice",
      "event_data": {
        "resources": [{"digest": "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4",
                       "tag": "v1.0.0", "resource_url": "harbor.example.com/library/alpine:v1.0.0"}],
        "repository": {"date_created": 1680501893, "name": "alpine", "namespace": "library",
                       "repo_full_name": "library/alpine", "repo_type": "private"}
      }
    }"#;

    #[test]
    fn the_authorization_header_must_match_and_a_push_names_repository_and_tags() {
        let request = WebhookRequest::new(PUSH.as_bytes()).with_header("Authorization", "Basic aGFyYm9y");
        let Received::Push(push) = receive(&request, "Basic aGFyYm9y").unwrap() else { panic!() };
        assert_eq!(push.repositories[0], Repository::image("harbor.example.com/library/alpine"));
        assert_eq!(push.qualifiers, vec!["v1.0.0"]);
        assert_eq!(receive(&request, "Basic b3RoZXI=").unwrap_err().status(), 401);
        let deleted = PUSH.replace("PUSH_ARTIFACT", "DELETE_ARTIFACT");
        let request = WebhookRequest::new(deleted.as_bytes()).with_header("Authorization", "Basic aGFyYm9y");
        assert_eq!(receive(&request, "Basic aGFyYm9y").unwrap_err().status(), 400);
    }
}
