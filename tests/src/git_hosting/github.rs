//! GitHub's REST API (as GitHub Enterprise serves it, under `/api/v3`) as the
//! pull-request steps use it: the endpoints listed in [`super`]'s documentation, with
//! GitHub's status codes. Every call needs `Authorization: Bearer <token>`.

use axum::Json;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Hosting, NotMerged, NotOpened, PullRequest, error, find};

impl Hosting {
    /// Records the call; whether it carries the token.
    pub(super) fn authorized(&self, headers: &HeaderMap, call: String) -> bool {
        let mut hosted = self.state.lock().unwrap();
        hosted.calls.push(call);
        if hosted.api_token_revoked {
            return false;
        }
        let expected = format!("Bearer {}", self.token);
        headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(expected.as_str())
    }

    fn json_of(&self, pr: &PullRequest) -> Value {
        json!({
            "number": pr.number,
            "html_url": format!("{}/{}/{}/pull/{}", self.base_url, pr.owner, pr.repo, pr.number),
            "state": if pr.open { "open" } else { "closed" },
            "merged": pr.merged,
            "merge_commit_sha": pr.merge_commit,
            "mergeable": pr.open.then_some(pr.mergeable),
            "title": pr.title,
            "body": pr.body,
            "head": {"ref": pr.head},
            "base": {"ref": pr.base},
            "labels": pr.labels.iter().map(|l| json!({"name": l})).collect::<Vec<_>>(),
        })
    }
}

/// 401, echoing the credentials received as a careless server might: a client must not
/// show a message from the answer with its own token in it.
pub(super) fn unauthorized(headers: &HeaderMap) -> Response {
    let sent = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    error(StatusCode::UNAUTHORIZED, &format!("Bad credentials (sent: {sent})"))
}

pub(super) async fn repository(
    State(hosting): State<Hosting>,
    UrlPath((owner, repo)): UrlPath<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !hosting.authorized(&headers, format!("GET /repos/{owner}/{repo}")) {
        return unauthorized(&headers);
    }
    let Some(bare) = hosting.bare(&owner, &repo) else { return error(StatusCode::NOT_FOUND, "Not Found") };
    let head = bare.find_reference("HEAD").ok().and_then(|r| r.symbolic_target().ok().flatten().map(str::to_owned));
    let default = head.as_deref().and_then(|h| h.strip_prefix("refs/heads/")).unwrap_or("main").to_owned();
    Json(json!({"name": repo, "full_name": format!("{owner}/{repo}"), "default_branch": default})).into_response()
}

pub(super) async fn list_pulls(
    State(hosting): State<Hosting>,
    UrlPath((owner, repo)): UrlPath<(String, String)>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if !hosting.authorized(&headers, format!("GET /repos/{owner}/{repo}/pulls")) {
        return unauthorized(&headers);
    }
    let state = query.get("state").map(String::as_str).unwrap_or("open");
    let head = query.get("head").map(|h| h.split_once(':').map_or(h.as_str(), |(_, b)| b).to_owned());
    let hosted = hosting.state.lock().unwrap();
    let list: Vec<Value> = hosted
        .pulls
        .iter()
        .filter(|pr| pr.owner == owner && pr.repo == repo)
        .filter(|pr| match state {
            "open" => pr.open,
            "closed" => !pr.open,
            _ => true,
        })
        .filter(|pr| head.as_ref().is_none_or(|h| &pr.head == h))
        .filter(|pr| query.get("base").is_none_or(|b| &pr.base == b))
        .map(|pr| hosting.json_of(pr))
        .collect();
    Json(Value::Array(list)).into_response()
}

pub(super) async fn create_pull(
    State(hosting): State<Hosting>,
    UrlPath((owner, repo)): UrlPath<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !hosting.authorized(&headers, format!("POST /repos/{owner}/{repo}/pulls")) {
        return unauthorized(&headers);
    }
    let (Some(head), Some(base)) = (body["head"].as_str(), body["base"].as_str()) else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed: head and base are required");
    };
    let text = |key: &str| body[key].as_str().unwrap_or_default().to_owned();
    match hosting.open_pull((&owner, &repo), (head, base), (&text("title"), &text("body")), Vec::new()) {
        Ok(pr) => (StatusCode::CREATED, Json(hosting.json_of(&pr))).into_response(),
        Err(NotOpened::NoRepository) => error(StatusCode::NOT_FOUND, "Not Found"),
        Err(NotOpened::NoBranch) => {
            error(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed: head or base does not exist")
        }
        Err(NotOpened::NoChanges) => {
            error(StatusCode::UNPROCESSABLE_ENTITY, &format!("Validation Failed: No commits between {base} and {head}"))
        }
        Err(NotOpened::Exists) => {
            error(StatusCode::UNPROCESSABLE_ENTITY, "Validation Failed: A pull request already exists")
        }
    }
}

pub(super) async fn get_pull(
    State(hosting): State<Hosting>,
    UrlPath((owner, repo, number)): UrlPath<(String, String, u64)>,
    headers: HeaderMap,
) -> Response {
    if !hosting.authorized(&headers, format!("GET /repos/{owner}/{repo}/pulls/{number}")) {
        return unauthorized(&headers);
    }
    let mut hosted = hosting.state.lock().unwrap();
    match find(&mut hosted, &owner, &repo, number) {
        Some(i) => Json(hosting.json_of(&hosted.pulls[i])).into_response(),
        None => error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

pub(super) async fn update_pull(
    State(hosting): State<Hosting>,
    UrlPath((owner, repo, number)): UrlPath<(String, String, u64)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !hosting.authorized(&headers, format!("PATCH /repos/{owner}/{repo}/pulls/{number}")) {
        return unauthorized(&headers);
    }
    let mut hosted = hosting.state.lock().unwrap();
    let Some(i) = find(&mut hosted, &owner, &repo, number) else { return error(StatusCode::NOT_FOUND, "Not Found") };
    if body["state"].as_str() == Some("closed") && !hosted.pulls[i].merged {
        hosted.pulls[i].open = false;
    }
    Json(hosting.json_of(&hosted.pulls[i])).into_response()
}

pub(super) async fn add_labels(
    State(hosting): State<Hosting>,
    UrlPath((owner, repo, number)): UrlPath<(String, String, u64)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !hosting.authorized(&headers, format!("POST /repos/{owner}/{repo}/issues/{number}/labels")) {
        return unauthorized(&headers);
    }
    let mut hosted = hosting.state.lock().unwrap();
    let Some(i) = find(&mut hosted, &owner, &repo, number) else { return error(StatusCode::NOT_FOUND, "Not Found") };
    for label in body["labels"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        if !hosted.pulls[i].labels.iter().any(|l| l == label) {
            hosted.pulls[i].labels.push(label.to_owned());
        }
    }
    let labels: Vec<Value> = hosted.pulls[i].labels.iter().map(|l| json!({"name": l})).collect();
    Json(Value::Array(labels)).into_response()
}

pub(super) async fn merge_pull(
    State(hosting): State<Hosting>,
    UrlPath((owner, repo, number)): UrlPath<(String, String, u64)>,
    headers: HeaderMap,
    body: Option<Json<Value>>,
) -> Response {
    if !hosting.authorized(&headers, format!("PUT /repos/{owner}/{repo}/pulls/{number}/merge")) {
        return unauthorized(&headers);
    }
    let method = body.as_ref().and_then(|b| b["merge_method"].as_str()).unwrap_or("merge").to_owned();
    if !matches!(method.as_str(), "merge" | "squash") {
        return error(StatusCode::UNPROCESSABLE_ENTITY, &format!("merge_method {method} is not allowed here"));
    }
    match hosting.merge_pull_request(&owner, &repo, number, method == "squash") {
        Ok(pr) => {
            let sha = pr.merge_commit.unwrap_or_default();
            Json(json!({"sha": sha, "merged": true, "message": "Pull Request successfully merged"})).into_response()
        }
        Err(NotMerged::NotFound) => error(StatusCode::NOT_FOUND, "Not Found"),
        Err(NotMerged::NotOpen) => error(StatusCode::NOT_FOUND, "Pull Request is not open"),
        Err(NotMerged::NotMergeable) => error(StatusCode::METHOD_NOT_ALLOWED, "Pull Request is not mergeable"),
        Err(NotMerged::Conflict(reason)) => error(StatusCode::METHOD_NOT_ALLOWED, &reason),
    }
}
