//! GitLab: `X-Gitlab-Token` carries the secret's `secret-token` as is; `X-Gitlab-Event`
//! names the event. `Push Hook` refreshes subscribers of `repository.git_http_url` and
//! `git_ssh_url` following the pushed `ref` (paths from `commits` unless
//! `total_commits_count` says the list was cut); `Tag Push Hook` those selecting the tag.

use serde::Deserialize;

use super::{PushedCommit, changed_paths, null_as_empty};
use crate::webhook::request::payload;
use crate::webhook::signature::verify_token;
use crate::webhook::{Push, Received, Repository, WebhookError, WebhookRequest};

pub const TOKEN_HEADER: &str = "X-Gitlab-Token";
pub const EVENT_HEADER: &str = "X-Gitlab-Event";

pub fn receive(request: &WebhookRequest<'_>, secret: &str) -> Result<Received, WebhookError> {
    verify_token(request, TOKEN_HEADER, secret)?;
    let tags = match request.header(EVENT_HEADER).unwrap_or_default() {
        "Push Hook" => false,
        "Tag Push Hook" => true,
        "" => return Err(WebhookError::Malformed(format!("the {EVENT_HEADER} header is missing"))),
        other => {
            return Err(WebhookError::Unsupported(format!(
                "GitLab event {} is not supported: Push Hook and Tag Push Hook are",
                crate::excerpt::quoted(other)
            )));
        }
    };
    let event: PushEvent = payload("GitLab push", request.body)?;
    let mut repositories = vec![Repository::git(&event.repository.git_http_url)];
    if !event.repository.git_ssh_url.is_empty() {
        repositories.push(Repository::git(&event.repository.git_ssh_url));
    }
    let changed =
        if tags { None } else { changed_paths(&event.commits, event.commits.len(), event.total_commits_count) };
    Ok(Received::Push(Push { repositories, qualifiers: vec![event.reference], changed_paths: changed }))
}

#[derive(Deserialize)]
struct PushEvent {
    #[serde(rename = "ref")]
    reference: String,
    repository: PushRepository,
    #[serde(default)]
    commits: Vec<PushedCommit>,
    #[serde(default)]
    total_commits_count: Option<usize>,
}

#[derive(Deserialize)]
struct PushRepository {
    git_http_url: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    git_ssh_url: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const PUSH: &str = r#"{
      "object_kind": "push", "event_name": "push",
      "before": "95790bf891e76fee5e1747ab589903a6a1f80f22",
      "after": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
      "ref": "refs/heads/main", "user_username": "jsmith", "project_id": 15,
      "project": {"name": "Diaspora", "git_ssh_url": "git@example.com:mike/diaspora.git",
                  "git_http_url": "http://example.com/mike/diaspora.git"},
      "repository": {"name": "Diaspora", "url": "git@example.com:mike/diaspora.git",
                     "homepage": "http://example.com/mike/diaspora",
                     "git_http_url": "http://example.com/mike/diaspora.git",
                     "git_ssh_url": "git@example.com:mike/diaspora.git"},
      "commits": [{"id": "b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327", "message": "Update Catalan translation",
                   "added": ["CHANGELOG"], "modified": ["app/controller/application.rb"], "removed": []}],
      "total_commits_count": 1
    }"#;

    #[test]
    fn the_token_must_match_and_a_push_names_both_clone_urls() {
        let request = |token: &str| {
            WebhookRequest::new(PUSH.as_bytes())
                .with_header("X-Gitlab-Event", "Push Hook")
                .with_header("X-Gitlab-Token", token)
        };
        let Received::Push(push) = receive(&request("t0ken"), "t0ken").unwrap() else { panic!() };
        assert_eq!(
            push.repositories,
            vec![
                Repository::git("http://example.com/mike/diaspora"),
                Repository::git("ssh://git@example.com/mike/diaspora")
            ]
        );
        assert_eq!(push.changed_paths.unwrap(), vec!["CHANGELOG", "app/controller/application.rb"]);
        assert_eq!(receive(&request("wrong"), "t0ken").unwrap_err().status(), 401);
        let unsigned = WebhookRequest::new(PUSH.as_bytes()).with_header("X-Gitlab-Event", "Push Hook");
        assert_eq!(receive(&unsigned, "t0ken").unwrap_err().status(), 401);
    }
}
