//! Gitea: `X-Hub-Signature-256` is `sha256=` and the HMAC-SHA256 of the body keyed with
//! the secret's `secret`; `X-Gitea-Event: push` refreshes subscribers of
//! `repository.clone_url` following the pushed `ref` (paths from `commits` unless
//! `total_commits` says the list was cut).

use serde::Deserialize;

use super::{PushedCommit, changed_paths};
use crate::webhook::request::payload;
use crate::webhook::signature::verify_prefixed_hmac;
use crate::webhook::{Push, Received, Repository, WebhookError, WebhookRequest};

pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";
pub const EVENT_HEADER: &str = "X-Gitea-Event";

pub fn receive(request: &WebhookRequest<'_>, secret: &str) -> Result<Received, WebhookError> {
    verify_prefixed_hmac(request, SIGNATURE_HEADER, secret)?;
    match request.header(EVENT_HEADER).unwrap_or_default() {
        "push" => push(request.body),
        "" => Err(WebhookError::Malformed(format!("the {EVENT_HEADER} header is missing"))),
        other => Err(WebhookError::Unsupported(format!(
            "Gitea event {} is not supported: push is",
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
    total_commits: Option<usize>,
}

#[derive(Deserialize)]
struct PushRepository {
    clone_url: String,
}

fn push(body: &[u8]) -> Result<Received, WebhookError> {
    let event: PushEvent = payload("Gitea push", body)?;
    let changed = changed_paths(&event.commits, event.commits.len(), event.total_commits);
    Ok(Received::Push(Push {
        repositories: vec![Repository::git(&event.repository.clone_url)],
        qualifiers: vec![event.reference],
        changed_paths: changed,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::signature::sign;

    #[test]
    fn a_signed_push_names_the_repository_and_ref_and_a_cut_commit_list_no_paths() {
        let body = r#"{"ref": "refs/heads/main", "total_commits": 3,
            "repository": {"clone_url": "https://gitea.example.com/org/app.git"},
            "commits": [{"added": ["a"], "modified": [], "removed": []}]}"#;
        let signature = format!("sha256={}", sign("s", body.as_bytes()).unwrap());
        let request = WebhookRequest::new(body.as_bytes())
            .with_header("X-Gitea-Event", "push")
            .with_header("X-Hub-Signature-256", &signature);
        let Received::Push(push) = receive(&request, "s").unwrap() else { panic!() };
        assert_eq!(push.repositories, vec![Repository::git("https://gitea.example.com/org/app")]);
        assert_eq!(push.changed_paths, None);
        assert_eq!(receive(&request, "t").unwrap_err().status(), 401);
    }
}
