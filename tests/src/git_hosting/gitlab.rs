//! GitLab's REST API (`/api/v4`) as the pull-request steps use it, answering as GitLab
//! documents, over the same bare repositories and merge requests as the GitHub side:
//!
//! - `GET /projects/:id` (`:id` the URL-encoded `owner/name`): `default_branch`.
//! - `GET /projects/:id/merge_requests?state=&source_branch=&target_branch=`: a list.
//! - `POST /projects/:id/merge_requests` `{source_branch, target_branch, title,
//!   description, labels}` (labels comma-separated): 201 with the merge request; 409
//!   when an open one exists for the same branches; 422 for a missing branch.
//! - `GET /projects/:id/merge_requests/:iid`: `iid`, `web_url`, `state` (`opened`,
//!   `closed`, `merged`), `merge_commit_sha`, `squash_commit_sha`, `detailed_merge_status`,
//!   `labels`.
//! - `PUT /projects/:id/merge_requests/:iid` `{state_event: close}`.
//! - `PUT /projects/:id/merge_requests/:iid/merge` `{squash?}`: merges for real (a merge
//!   commit; with `squash`, one squashed commit and no merge commit, as a fast-forward
//!   project does; in a fast-forward project the target branch moves to the source's
//!   head, `merge_commit_sha` stays null and `sha` names that head), 200 with the merge
//!   request; 405 when it cannot be merged (closed,
//!   checks pending), 406 on a conflict.
//!
//! Every call needs `PRIVATE-TOKEN: <token>`; 401 `{"message": "401 Unauthorized"}` otherwise.

use axum::Json;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Hosting, PullRequest, branch_tip, error, find, merge_in_repository};

impl Hosting {
    /// Records the call; whether it carries the token as GitLab wants it.
    fn gitlab_authorized(&self, headers: &HeaderMap, call: String) -> bool {
        let mut hosted = self.state.lock().unwrap();
        hosted.calls.push(call);
        !hosted.api_token_revoked
            && headers.get("private-token").and_then(|v| v.to_str().ok()) == Some(self.token.as_str())
    }

    fn merge_request_json(&self, pr: &PullRequest) -> Value {
        let state = match (pr.open, pr.merged) {
            (true, _) => "opened",
            (false, true) => "merged",
            (false, false) => "closed",
        };
        let status = match (pr.open, pr.mergeable) {
            (false, _) => "not_open",
            (true, true) => "mergeable",
            (true, false) => "ci_still_running",
        };
        // The source branch's head, which a fast-forward merge makes the target's.
        let head = self.bare(&pr.owner, &pr.repo).and_then(|bare| branch_tip(&bare, &pr.head)).map(|id| id.to_string());
        let fast_forwarded = pr.merged && !pr.squashed && head == pr.merge_commit;
        json!({
            "id": 1000 + pr.number,
            "sha": head,
            "iid": pr.number,
            "title": pr.title,
            "description": pr.body,
            "state": state,
            "web_url": format!("{}/{}/{}/-/merge_requests/{}", self.base_url, pr.owner, pr.repo, pr.number),
            "source_branch": pr.head,
            "target_branch": pr.base,
            "labels": pr.labels,
            "merge_commit_sha": if pr.squashed || fast_forwarded { None } else { pr.merge_commit.clone() },
            "squash_commit_sha": if pr.squashed { pr.merge_commit.clone() } else { None },
            "detailed_merge_status": status,
        })
    }
}

/// 401, echoing the credentials received as a careless server might: a client must not
/// show a message from the answer with its own token in it.
fn unauthorized(headers: &HeaderMap) -> Response {
    let sent = headers.get("private-token").and_then(|v| v.to_str().ok()).unwrap_or_default();
    error(StatusCode::UNAUTHORIZED, &format!("401 Unauthorized (PRIVATE-TOKEN {sent})"))
}

/// `owner/name` from the project id.
fn owner_and_name(id: &str) -> Option<(String, String)> {
    id.rsplit_once('/').map(|(owner, name)| (owner.to_owned(), name.to_owned()))
}

pub(super) async fn project(
    State(hosting): State<Hosting>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    if !hosting.gitlab_authorized(&headers, format!("GET /projects/{id}")) {
        return unauthorized(&headers);
    }
    let Some((owner, name)) = owner_and_name(&id) else { return error(StatusCode::NOT_FOUND, "404 Project Not Found") };
    let Some(bare) = hosting.bare(&owner, &name) else { return error(StatusCode::NOT_FOUND, "404 Project Not Found") };
    let head = bare.find_reference("HEAD").ok().and_then(|r| r.symbolic_target().ok().flatten().map(str::to_owned));
    let default = head.as_deref().and_then(|h| h.strip_prefix("refs/heads/")).unwrap_or("main").to_owned();
    Json(json!({"id": 7, "path_with_namespace": id, "default_branch": default})).into_response()
}

pub(super) async fn list(
    State(hosting): State<Hosting>,
    UrlPath(id): UrlPath<String>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if !hosting.gitlab_authorized(&headers, format!("GET /projects/{id}/merge_requests")) {
        return unauthorized(&headers);
    }
    let Some((owner, name)) = owner_and_name(&id) else { return error(StatusCode::NOT_FOUND, "404 Project Not Found") };
    let state = query.get("state").map(String::as_str).unwrap_or("all");
    let hosted = hosting.state.lock().unwrap();
    let list: Vec<Value> = hosted
        .pulls
        .iter()
        .filter(|pr| pr.owner == owner && pr.repo == name)
        .filter(|pr| match state {
            "opened" => pr.open,
            "closed" => !pr.open && !pr.merged,
            "merged" => pr.merged,
            _ => true,
        })
        .filter(|pr| query.get("source_branch").is_none_or(|b| &pr.head == b))
        .filter(|pr| query.get("target_branch").is_none_or(|b| &pr.base == b))
        .map(|pr| hosting.merge_request_json(pr))
        .collect();
    Json(Value::Array(list)).into_response()
}

pub(super) async fn create(
    State(hosting): State<Hosting>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !hosting.gitlab_authorized(&headers, format!("POST /projects/{id}/merge_requests")) {
        return unauthorized(&headers);
    }
    let Some((owner, name)) = owner_and_name(&id) else { return error(StatusCode::NOT_FOUND, "404 Project Not Found") };
    let Some(bare) = hosting.bare(&owner, &name) else { return error(StatusCode::NOT_FOUND, "404 Project Not Found") };
    let (Some(source), Some(target), Some(title)) =
        (body["source_branch"].as_str(), body["target_branch"].as_str(), body["title"].as_str())
    else {
        return error(StatusCode::BAD_REQUEST, "400 Bad request - source_branch, target_branch, title are missing");
    };
    if branch_tip(&bare, source).is_none() || branch_tip(&bare, target).is_none() {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "Source branch or target branch does not exist");
    }
    let mut hosted = hosting.state.lock().unwrap();
    if let Some(open) = hosted
        .pulls
        .iter()
        .find(|pr| pr.open && pr.owner == owner && pr.repo == name && pr.head == source && pr.base == target)
    {
        let message = format!("Another open merge request already exists for this source branch: !{}", open.number);
        return (StatusCode::CONFLICT, Json(json!({"message": [message]}))).into_response();
    }
    let labels = match &body["labels"] {
        Value::String(text) => text.split(',').map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect(),
        Value::Array(list) => list.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    let pr = PullRequest {
        number: hosted.pulls.iter().filter(|pr| pr.owner == owner && pr.repo == name).count() as u64 + 1,
        owner,
        repo: name,
        head: source.to_owned(),
        base: target.to_owned(),
        title: title.to_owned(),
        body: body["description"].as_str().unwrap_or_default().to_owned(),
        labels,
        open: true,
        merged: false,
        merge_commit: None,
        mergeable: true,
        squashed: false,
    };
    let answer = hosting.merge_request_json(&pr);
    hosted.pulls.push(pr);
    (StatusCode::CREATED, Json(answer)).into_response()
}

pub(super) async fn get_one(
    State(hosting): State<Hosting>,
    UrlPath((id, iid)): UrlPath<(String, u64)>,
    headers: HeaderMap,
) -> Response {
    if !hosting.gitlab_authorized(&headers, format!("GET /projects/{id}/merge_requests/{iid}")) {
        return unauthorized(&headers);
    }
    let Some((owner, name)) = owner_and_name(&id) else { return error(StatusCode::NOT_FOUND, "404 Project Not Found") };
    let mut hosted = hosting.state.lock().unwrap();
    match find(&mut hosted, &owner, &name, iid) {
        Some(i) => Json(hosting.merge_request_json(&hosted.pulls[i])).into_response(),
        None => error(StatusCode::NOT_FOUND, "404 Not found"),
    }
}

pub(super) async fn update(
    State(hosting): State<Hosting>,
    UrlPath((id, iid)): UrlPath<(String, u64)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !hosting.gitlab_authorized(&headers, format!("PUT /projects/{id}/merge_requests/{iid}")) {
        return unauthorized(&headers);
    }
    let Some((owner, name)) = owner_and_name(&id) else { return error(StatusCode::NOT_FOUND, "404 Project Not Found") };
    let mut hosted = hosting.state.lock().unwrap();
    let Some(i) = find(&mut hosted, &owner, &name, iid) else { return error(StatusCode::NOT_FOUND, "404 Not found") };
    if body["state_event"].as_str() == Some("close") && !hosted.pulls[i].merged {
        hosted.pulls[i].open = false;
    }
    Json(hosting.merge_request_json(&hosted.pulls[i])).into_response()
}

pub(super) async fn merge(
    State(hosting): State<Hosting>,
    UrlPath((id, iid)): UrlPath<(String, u64)>,
    headers: HeaderMap,
    body: Option<Json<Value>>,
) -> Response {
    if !hosting.gitlab_authorized(&headers, format!("PUT /projects/{id}/merge_requests/{iid}/merge")) {
        return unauthorized(&headers);
    }
    let Some((owner, name)) = owner_and_name(&id) else { return error(StatusCode::NOT_FOUND, "404 Project Not Found") };
    let Some(bare) = hosting.bare(&owner, &name) else { return error(StatusCode::NOT_FOUND, "404 Project Not Found") };
    let squash = body.as_ref().and_then(|b| b["squash"].as_bool()).unwrap_or(false);
    let mut hosted = hosting.state.lock().unwrap();
    let Some(i) = find(&mut hosted, &owner, &name, iid) else { return error(StatusCode::NOT_FOUND, "404 Not found") };
    let pr = hosted.pulls[i].clone();
    if !pr.open || !pr.mergeable {
        return error(StatusCode::METHOD_NOT_ALLOWED, "405 Method Not Allowed");
    }
    let fast_forward = hosted.gitlab_fast_forward && !squash;
    let merged = if fast_forward {
        fast_forward_in_repository(&bare, &pr)
    } else {
        merge_in_repository(&bare, &pr, if squash { "squash" } else { "merge" })
    };
    match merged {
        Ok(commit) => {
            let pr = &mut hosted.pulls[i];
            pr.open = false;
            pr.merged = true;
            pr.squashed = squash;
            pr.merge_commit = Some(commit.to_string());
            Json(hosting.merge_request_json(pr)).into_response()
        }
        Err(_) => error(StatusCode::NOT_ACCEPTABLE, "Branch cannot be merged"),
    }
}

/// Moves the target branch to the source's head when that is a fast-forward.
fn fast_forward_in_repository(bare: &git2::Repository, pr: &PullRequest) -> Result<git2::Oid, String> {
    let base = branch_tip(bare, &pr.base).ok_or("target branch is gone")?;
    let head = branch_tip(bare, &pr.head).ok_or("source branch is gone")?;
    if base != head && !bare.graph_descendant_of(head, base).map_err(|e| e.to_string())? {
        return Err("the source branch must be rebased first".to_owned());
    }
    bare.reference_matching(&format!("refs/heads/{}", pr.base), head, true, base, "fast-forward merge")
        .map_err(|e| e.to_string())?;
    Ok(head)
}
