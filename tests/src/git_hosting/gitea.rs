//! Gitea's REST API (`/api/v1`) as the pull-request steps use it, answering as Gitea
//! documents, over the same bare repositories and pull requests as the GitHub side:
//!
//! - `GET /repos/{owner}/{repo}`: `default_branch`.
//! - `GET /repos/{owner}/{repo}/labels?page=&limit=`: the repository's labels, `infra`
//!   (id 11) and `needs-review` (id 12), paged.
//! - `GET /repos/{owner}/{repo}/pulls?state=&page=&limit=`: a page of pull requests.
//! - `POST /repos/{owner}/{repo}/pulls` `{title, head, base, body, labels: [ids]}`: 201;
//!   409 when an open one exists for the same branches; 422 for a missing branch or an
//!   unknown label id.
//! - `GET /repos/{owner}/{repo}/pulls/{index}`: `number`, `html_url`, `state`, `merged`,
//!   `merge_commit_sha`, `mergeable`, `draft`, `head.ref`, `base.ref`, `labels`.
//! - `POST /repos/{owner}/{repo}/pulls/{index}/merge` `{Do}`: merges for real (`merge`, or
//!   `squash`), 200 with no body; 405 when it cannot be merged (closed, checks
//!   pending), 409 on a conflict.
//!
//! Every call needs `Authorization: token <token>`; 401 otherwise.

use axum::Json;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Hosting, NotMerged, NotOpened, PullRequest, error, find};

const LABELS: [(u64, &str); 2] = [(11, "infra"), (12, "needs-review")];

type Params = std::collections::HashMap<String, String>;

impl Hosting {
    fn gitea_authorized(&self, headers: &HeaderMap, call: String) -> bool {
        self.authorized_by(headers, call, &format!("token {}", self.token))
    }

    fn gitea_json(&self, pr: &PullRequest) -> Value {
        let labels: Vec<Value> = LABELS
            .iter()
            .filter(|(_, name)| pr.labels.iter().any(|l| l == name))
            .map(|(id, name)| json!({"id": id, "name": name}))
            .collect();
        json!({
            "number": pr.number,
            "html_url": format!("{}/{}/{}/pulls/{}", self.base_url, pr.owner, pr.repo, pr.number),
            "state": if pr.open { "open" } else { "closed" },
            "merged": pr.merged,
            "merge_commit_sha": pr.merge_commit,
            "mergeable": pr.open && pr.mergeable,
            "draft": false,
            "title": pr.title,
            "body": pr.body,
            "head": {"ref": pr.head},
            "base": {"ref": pr.base},
            "labels": labels,
        })
    }
}

/// `items` of page `page` (from 1) of `limit` each.
fn page_of(items: Vec<Value>, query: &Params) -> Value {
    let page: usize = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
    let limit: usize = query.get("limit").and_then(|p| p.parse().ok()).unwrap_or(30).clamp(1, 50);
    Value::Array(items.into_iter().skip((page - 1) * limit).take(limit).collect())
}

fn unauthorized() -> Response {
    error(StatusCode::UNAUTHORIZED, "token is required")
}

pub(super) async fn repository(
    State(hosting): State<Hosting>,
    UrlPath((owner, repo)): UrlPath<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !hosting.gitea_authorized(&headers, format!("GET /api/v1/repos/{owner}/{repo}")) {
        return unauthorized();
    }
    let Some(bare) = hosting.bare(&owner, &repo) else {
        return error(StatusCode::NOT_FOUND, "The target couldn't be found.");
    };
    let head = bare.find_reference("HEAD").ok().and_then(|r| r.symbolic_target().ok().flatten().map(str::to_owned));
    let default = head.as_deref().and_then(|h| h.strip_prefix("refs/heads/")).unwrap_or("main").to_owned();
    Json(json!({"name": repo, "full_name": format!("{owner}/{repo}"), "default_branch": default})).into_response()
}

pub(super) async fn labels(
    State(hosting): State<Hosting>,
    UrlPath((owner, repo)): UrlPath<(String, String)>,
    Query(query): Query<Params>,
    headers: HeaderMap,
) -> Response {
    if !hosting.gitea_authorized(&headers, format!("GET /api/v1/repos/{owner}/{repo}/labels")) {
        return unauthorized();
    }
    let all = LABELS.iter().map(|(id, name)| json!({"id": id, "name": name})).collect();
    Json(page_of(all, &query)).into_response()
}

pub(super) async fn list(
    State(hosting): State<Hosting>,
    UrlPath((owner, repo)): UrlPath<(String, String)>,
    Query(query): Query<Params>,
    headers: HeaderMap,
) -> Response {
    if !hosting.gitea_authorized(&headers, format!("GET /api/v1/repos/{owner}/{repo}/pulls")) {
        return unauthorized();
    }
    let state = query.get("state").map(String::as_str).unwrap_or("open").to_owned();
    let hosted = hosting.state.lock().unwrap();
    let all = hosted
        .pulls
        .iter()
        .filter(|pr| pr.owner == owner && pr.repo == repo)
        .filter(|pr| match state.as_str() {
            "open" => pr.open,
            "closed" => !pr.open,
            _ => true,
        })
        .map(|pr| hosting.gitea_json(pr))
        .collect();
    Json(page_of(all, &query)).into_response()
}

pub(super) async fn create(
    State(hosting): State<Hosting>,
    UrlPath((owner, repo)): UrlPath<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !hosting.gitea_authorized(&headers, format!("POST /api/v1/repos/{owner}/{repo}/pulls")) {
        return unauthorized();
    }
    let mut labels = Vec::new();
    for id in body["labels"].as_array().into_iter().flatten() {
        match LABELS.iter().find(|(known, _)| Some(*known) == id.as_u64()) {
            Some((_, name)) => labels.push((*name).to_owned()),
            None => return error(StatusCode::UNPROCESSABLE_ENTITY, &format!("label {id} does not exist")),
        }
    }
    let text = |key: &str| body[key].as_str().unwrap_or_default().to_owned();
    match hosting.open_pull((&owner, &repo), (&text("head"), &text("base")), (&text("title"), &text("body")), labels) {
        Ok(pr) => (StatusCode::CREATED, Json(hosting.gitea_json(&pr))).into_response(),
        Err(NotOpened::NoRepository) => error(StatusCode::NOT_FOUND, "The target couldn't be found."),
        Err(NotOpened::Exists) => error(StatusCode::CONFLICT, "pull request already exists for these targets"),
        Err(NotOpened::NoBranch | NotOpened::NoChanges) => {
            error(StatusCode::UNPROCESSABLE_ENTITY, "head or base branch does not exist or has no changes")
        }
    }
}

pub(super) async fn get_one(
    State(hosting): State<Hosting>,
    UrlPath((owner, repo, number)): UrlPath<(String, String, u64)>,
    headers: HeaderMap,
) -> Response {
    if !hosting.gitea_authorized(&headers, format!("GET /api/v1/repos/{owner}/{repo}/pulls/{number}")) {
        return unauthorized();
    }
    let mut hosted = hosting.state.lock().unwrap();
    match find(&mut hosted, &owner, &repo, number) {
        Some(i) => Json(hosting.gitea_json(&hosted.pulls[i])).into_response(),
        None => error(StatusCode::NOT_FOUND, "The target couldn't be found."),
    }
}

pub(super) async fn merge(
    State(hosting): State<Hosting>,
    UrlPath((owner, repo, number)): UrlPath<(String, String, u64)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !hosting.gitea_authorized(&headers, format!("POST /api/v1/repos/{owner}/{repo}/pulls/{number}/merge")) {
        return unauthorized();
    }
    let squash = match body["Do"].as_str() {
        Some("merge") => false,
        Some("squash") => true,
        other => return error(StatusCode::UNPROCESSABLE_ENTITY, &format!("Do {other:?} is not allowed here")),
    };
    match hosting.merge_pull_request(&owner, &repo, number, squash) {
        Ok(_) => StatusCode::OK.into_response(),
        Err(NotMerged::NotFound) => error(StatusCode::NOT_FOUND, "The target couldn't be found."),
        Err(NotMerged::NotOpen | NotMerged::NotMergeable) => {
            error(StatusCode::METHOD_NOT_ALLOWED, "Please try again later")
        }
        Err(NotMerged::Conflict(reason)) => error(StatusCode::CONFLICT, &reason),
    }
}
