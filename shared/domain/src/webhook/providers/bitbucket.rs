//! Bitbucket: `X-Hub-Signature` is `sha256=` and the HMAC-SHA256 of the body keyed with
//! the secret's `secret`; `X-Event-Key` names the event. Bitbucket Cloud's `repo:push`
//! refreshes subscribers of `repository.links.html.href` following each pushed branch or
//! tag (`push.changes[].new`); Bitbucket Data Center's `repo:refs_changed` subscribers
//! of `repository.links.clone[].href` following `changes[].ref.id`.

use serde::Deserialize;

use crate::webhook::request::payload;
use crate::webhook::signature::verify_prefixed_hmac;
use crate::webhook::{Push, Received, Repository, WebhookError, WebhookRequest};

pub const SIGNATURE_HEADER: &str = "X-Hub-Signature";
pub const EVENT_HEADER: &str = "X-Event-Key";

pub fn receive(request: &WebhookRequest<'_>, secret: &str) -> Result<Received, WebhookError> {
    verify_prefixed_hmac(request, SIGNATURE_HEADER, secret)?;
    match request.header(EVENT_HEADER).unwrap_or_default() {
        "repo:push" => cloud_push(request.body),
        "repo:refs_changed" => server_push(request.body),
        "" => Err(WebhookError::Malformed(format!("the {EVENT_HEADER} header is missing"))),
        other => Err(WebhookError::Unsupported(format!(
            "Bitbucket event {} is not supported: repo:push and repo:refs_changed are",
            crate::excerpt::quoted(other)
        ))),
    }
}

#[derive(Deserialize)]
struct CloudPush {
    push: CloudChanges,
    repository: CloudRepository,
}

#[derive(Deserialize)]
struct CloudChanges {
    #[serde(default)]
    changes: Vec<CloudChange>,
}

#[derive(Deserialize)]
struct CloudChange {
    /// `null` when a branch or tag was deleted.
    #[serde(default)]
    new: Option<CloudRef>,
}

#[derive(Deserialize)]
struct CloudRef {
    #[serde(rename = "type", default)]
    kind: String,
    name: String,
}

#[derive(Deserialize)]
struct CloudRepository {
    links: CloudLinks,
}

#[derive(Deserialize)]
struct CloudLinks {
    html: Link,
}

#[derive(Deserialize)]
struct Link {
    href: String,
}

fn cloud_push(body: &[u8]) -> Result<Received, WebhookError> {
    let event: CloudPush = payload("Bitbucket repo:push", body)?;
    let qualifiers = event
        .push
        .changes
        .into_iter()
        .filter_map(|change| change.new)
        .filter(|new| !new.name.is_empty())
        .map(
            |new| {
                if new.kind == "tag" { format!("refs/tags/{}", new.name) } else { format!("refs/heads/{}", new.name) }
            },
        )
        .collect();
    Ok(Received::Push(Push {
        repositories: vec![Repository::git(&event.repository.links.html.href)],
        qualifiers,
        changed_paths: None,
    }))
}

#[derive(Deserialize)]
struct ServerPush {
    #[serde(default)]
    changes: Vec<ServerChange>,
    repository: ServerRepository,
}

#[derive(Deserialize)]
struct ServerChange {
    #[serde(rename = "ref")]
    reference: ServerRef,
}

#[derive(Deserialize)]
struct ServerRef {
    id: String,
}

#[derive(Deserialize)]
struct ServerRepository {
    links: ServerLinks,
}

#[derive(Deserialize)]
struct ServerLinks {
    #[serde(default)]
    clone: Vec<Link>,
}

fn server_push(body: &[u8]) -> Result<Received, WebhookError> {
    let event: ServerPush = payload("Bitbucket repo:refs_changed", body)?;
    Ok(Received::Push(Push {
        repositories: event.repository.links.clone.iter().map(|l| Repository::git(&l.href)).collect(),
        qualifiers: event.changes.into_iter().map(|c| c.reference.id).collect(),
        changed_paths: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::signature::sign;

    fn signed<'a>(event: &str, body: &'a str) -> WebhookRequest<'a> {
        WebhookRequest::new(body.as_bytes())
            .with_header("X-Event-Key", event)
            .with_header("X-Hub-Signature", &format!("sha256={}", sign("s", body.as_bytes()).unwrap()))
    }

    #[test]
    fn cloud_and_data_center_pushes_name_the_repository_and_refs() {
        let cloud = r#"{"actor": {"display_name": "Dev"},
            "repository": {"full_name": "org/app", "links": {"html": {"href": "https://bitbucket.org/org/app"}}},
            "push": {"changes": [{"new": {"type": "branch", "name": "main"}}, {"new": {"type": "tag", "name": "v1.0.0"}}, {"new": null}]}}"#;
        let Received::Push(push) = receive(&signed("repo:push", cloud), "s").unwrap() else { panic!() };
        assert_eq!(push.repositories, vec![Repository::git("https://bitbucket.org/org/app.git")]);
        assert_eq!(push.qualifiers, vec!["refs/heads/main", "refs/tags/v1.0.0"]);
        let server = r#"{"eventKey": "repo:refs_changed",
            "repository": {"links": {"clone": [{"href": "ssh://git@bitbucket.example.com:7999/org/app.git", "name": "ssh"},
                                                {"href": "https://bitbucket.example.com/scm/org/app.git", "name": "http"}]}},
            "changes": [{"ref": {"id": "refs/heads/main", "displayId": "main", "type": "BRANCH"}}]}"#;
        let Received::Push(push) = receive(&signed("repo:refs_changed", server), "s").unwrap() else { panic!() };
        assert_eq!(push.repositories.len(), 2);
        assert_eq!(push.qualifiers, vec!["refs/heads/main"]);
        assert_eq!(receive(&signed("repo:push", cloud), "other").unwrap_err().status(), 401);
    }
}
