//! Azure DevOps' Git pull-request API (`api-version=7.1`) as the pull-request steps use
//! it, answering as Azure DevOps documents, below `/{org}/{project}/_apis/git/repositories/{repo}`
//! (the organization is the bare repositories' owner; any project name):
//!
//! - `GET …/{repo}`: `id`, `name`, `defaultBranch` (`refs/heads/…`), `webUrl`.
//! - `GET …/{repo}/pullrequests?searchCriteria.status=&searchCriteria.sourceRefName=&searchCriteria.targetRefName=`:
//!   `{value, count}`.
//! - `POST …/{repo}/pullrequests` `{sourceRefName, targetRefName, title, description,
//!   labels: [{name}]}`: 201; 409 when an active one exists for the same refs; 400 for a
//!   missing branch.
//! - `GET …/{repo}/pullrequests/{id}`: `pullRequestId`, `status` (`active`, `completed`,
//!   `abandoned`), `mergeStatus` (`succeeded`, or `queued` while checks are pending),
//!   `isDraft`, `lastMergeSourceCommit`, `lastMergeCommit` (once completed),
//!   `repository.webUrl`, `labels`.
//! - `PATCH …/{repo}/pullrequests/{id}` `{status: completed, lastMergeSourceCommit,
//!   completionOptions.mergeStrategy}`: completes it for real (`noFastForward`, or
//!   `squash`), 200 with the pull request; 409 when `lastMergeSourceCommit` is not the
//!   source's head, or it cannot be completed (checks pending, a conflict).
//!
//! Every call needs `api-version=7.1` (400 otherwise) and `Authorization: Basic
//! base64(":" + token)`, a personal access token; 401 otherwise.

use axum::Json;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};

use super::{Hosting, NotMerged, NotOpened, PullRequest, branch_tip, find};

type Params = std::collections::HashMap<String, String>;

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"$id": "1", "message": message, "typeKey": "InvalidArgumentValueException"}))).into_response()
}

impl Hosting {
    /// Records the call; `None` when it may go on, else the answer refusing it.
    fn azure_refusal(&self, headers: &HeaderMap, query: &Params, call: String) -> Option<Response> {
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(":{}", self.token));
        if !self.authorized_by(headers, call, &format!("Basic {basic}")) {
            return Some(error(
                StatusCode::UNAUTHORIZED,
                "TF400813: The user is not authorized to access this resource.",
            ));
        }
        if query.get("api-version").map(String::as_str) != Some("7.1") {
            return Some(error(StatusCode::BAD_REQUEST, "No api-version was supplied for the request."));
        }
        None
    }

    fn web_url(&self, org: &str, project: &str, repo: &str) -> String {
        format!("{}/{org}/{project}/_git/{repo}", self.base_url)
    }

    fn azure_json(&self, project: &str, pr: &PullRequest) -> Value {
        let status = match (pr.open, pr.merged) {
            (true, _) => "active",
            (false, true) => "completed",
            (false, false) => "abandoned",
        };
        let head = self.bare(&pr.owner, &pr.repo).and_then(|bare| branch_tip(&bare, &pr.head)).map(|id| id.to_string());
        let labels: Vec<Value> = pr.labels.iter().map(|name| json!({"name": name, "active": true})).collect();
        json!({
            "pullRequestId": pr.number,
            "status": status,
            "mergeStatus": if pr.mergeable || !pr.open { "succeeded" } else { "queued" },
            "isDraft": false,
            "title": pr.title,
            "description": pr.body,
            "sourceRefName": format!("refs/heads/{}", pr.head),
            "targetRefName": format!("refs/heads/{}", pr.base),
            "lastMergeSourceCommit": {"commitId": head},
            "lastMergeCommit": pr.merge_commit.as_ref().map(|id| json!({"commitId": id})),
            "labels": labels,
            "repository": {"name": pr.repo, "webUrl": self.web_url(&pr.owner, project, &pr.repo)},
        })
    }
}

pub(super) async fn repository(
    State(hosting): State<Hosting>,
    UrlPath((org, project, repo)): UrlPath<(String, String, String)>,
    Query(query): Query<Params>,
    headers: HeaderMap,
) -> Response {
    if let Some(refusal) =
        hosting.azure_refusal(&headers, &query, format!("GET /{org}/{project}/_apis/git/repositories/{repo}"))
    {
        return refusal;
    }
    let Some(bare) = hosting.bare(&org, &repo) else {
        return error(StatusCode::NOT_FOUND, "TF401019: repository not found");
    };
    let head = bare.find_reference("HEAD").ok().and_then(|r| r.symbolic_target().ok().flatten().map(str::to_owned));
    Json(json!({
        "id": "5febef5a-833d-4e14-b9c0-14cb638f91e6",
        "name": repo,
        "defaultBranch": head.unwrap_or_else(|| "refs/heads/main".to_owned()),
        "webUrl": hosting.web_url(&org, &project, &repo),
    }))
    .into_response()
}

pub(super) async fn list(
    State(hosting): State<Hosting>,
    UrlPath((org, project, repo)): UrlPath<(String, String, String)>,
    Query(query): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let call = format!("GET /{org}/{project}/_apis/git/repositories/{repo}/pullrequests");
    if let Some(refusal) = hosting.azure_refusal(&headers, &query, call) {
        return refusal;
    }
    let status = query.get("searchCriteria.status").map(String::as_str).unwrap_or("active").to_owned();
    let source = query.get("searchCriteria.sourceRefName").cloned();
    let target = query.get("searchCriteria.targetRefName").cloned();
    let hosted = hosting.state.lock().unwrap();
    let value: Vec<Value> = hosted
        .pulls
        .iter()
        .filter(|pr| pr.owner == org && pr.repo == repo)
        .map(|pr| hosting.azure_json(&project, pr))
        .filter(|pr| status == "all" || pr["status"] == status)
        .filter(|pr| source.as_ref().is_none_or(|s| pr["sourceRefName"] == *s))
        .filter(|pr| target.as_ref().is_none_or(|t| pr["targetRefName"] == *t))
        .collect();
    Json(json!({"count": value.len(), "value": value})).into_response()
}

pub(super) async fn create(
    State(hosting): State<Hosting>,
    UrlPath((org, project, repo)): UrlPath<(String, String, String)>,
    Query(query): Query<Params>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let call = format!("POST /{org}/{project}/_apis/git/repositories/{repo}/pullrequests");
    if let Some(refusal) = hosting.azure_refusal(&headers, &query, call) {
        return refusal;
    }
    let branch =
        |key: &str| body[key].as_str().and_then(|r| r.strip_prefix("refs/heads/")).unwrap_or_default().to_owned();
    let labels = body["labels"].as_array().into_iter().flatten().filter_map(|l| l["name"].as_str()).map(str::to_owned);
    let text = |key: &str| body[key].as_str().unwrap_or_default().to_owned();
    let opened = hosting.open_pull(
        (&org, &repo),
        (&branch("sourceRefName"), &branch("targetRefName")),
        (&text("title"), &text("description")),
        labels.collect(),
    );
    match opened {
        Ok(pr) => (StatusCode::CREATED, Json(hosting.azure_json(&project, &pr))).into_response(),
        Err(NotOpened::NoRepository) => error(StatusCode::NOT_FOUND, "TF401019: repository not found"),
        Err(NotOpened::Exists) => error(
            StatusCode::CONFLICT,
            "TF401179: An active pull request for the source and target branch already exists.",
        ),
        Err(NotOpened::NoBranch | NotOpened::NoChanges) => error(
            StatusCode::BAD_REQUEST,
            "TF401398: The pull request cannot be activated because the source or target branch no longer exists, or the requested refs are not branches",
        ),
    }
}

pub(super) async fn get_one(
    State(hosting): State<Hosting>,
    UrlPath((org, project, repo, id)): UrlPath<(String, String, String, u64)>,
    Query(query): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let call = format!("GET /{org}/{project}/_apis/git/repositories/{repo}/pullrequests/{id}");
    if let Some(refusal) = hosting.azure_refusal(&headers, &query, call) {
        return refusal;
    }
    let mut hosted = hosting.state.lock().unwrap();
    match find(&mut hosted, &org, &repo, id) {
        Some(i) => Json(hosting.azure_json(&project, &hosted.pulls[i])).into_response(),
        None => error(StatusCode::NOT_FOUND, &format!("TF401180: The requested pull request was not found: {id}")),
    }
}

pub(super) async fn complete(
    State(hosting): State<Hosting>,
    UrlPath((org, project, repo, id)): UrlPath<(String, String, String, u64)>,
    Query(query): Query<Params>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let call = format!("PATCH /{org}/{project}/_apis/git/repositories/{repo}/pullrequests/{id}");
    if let Some(refusal) = hosting.azure_refusal(&headers, &query, call) {
        return refusal;
    }
    if body["status"].as_str() != Some("completed") {
        return error(StatusCode::BAD_REQUEST, "only completing a pull request is served here");
    }
    let squash = match body["completionOptions"]["mergeStrategy"].as_str() {
        None | Some("noFastForward") => false,
        Some("squash") => true,
        Some(other) => return error(StatusCode::BAD_REQUEST, &format!("mergeStrategy {other} is not allowed here")),
    };
    let head = {
        let mut hosted = hosting.state.lock().unwrap();
        let Some(i) = find(&mut hosted, &org, &repo, id) else {
            return error(StatusCode::NOT_FOUND, &format!("TF401180: The requested pull request was not found: {id}"));
        };
        let pr = hosted.pulls[i].clone();
        hosting.bare(&pr.owner, &pr.repo).and_then(|bare| branch_tip(&bare, &pr.head)).map(|id| id.to_string())
    };
    if body["lastMergeSourceCommit"]["commitId"].as_str() != head.as_deref() {
        return error(StatusCode::CONFLICT, "TF401181: The pull request cannot be completed: the source branch moved");
    }
    match hosting.merge_pull_request(&org, &repo, id, squash) {
        Ok(pr) => Json(hosting.azure_json(&project, &pr)).into_response(),
        Err(NotMerged::NotFound) => error(StatusCode::NOT_FOUND, "TF401180: The requested pull request was not found"),
        Err(NotMerged::NotOpen) => error(StatusCode::CONFLICT, "TF401181: The pull request is not active"),
        Err(NotMerged::NotMergeable) => error(StatusCode::CONFLICT, "TF401027: policies have not been satisfied"),
        Err(NotMerged::Conflict(reason)) => error(StatusCode::CONFLICT, &reason),
    }
}
