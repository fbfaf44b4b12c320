//! Bitbucket Cloud's REST API (`/2.0`) as the pull-request steps use it, answering as
//! Bitbucket documents, over the same bare repositories and pull requests:
//!
//! - `GET /repositories/{workspace}/{slug}`: `mainbranch.name`.
//! - `GET /repositories/{workspace}/{slug}/pullrequests?state=&page=&pagelen=`: a page
//!   `{values, page, pagelen, next}` (`next` only when there is one).
//! - `POST /repositories/{workspace}/{slug}/pullrequests` `{type, title, description,
//!   source.branch.name, destination.branch.name}`: 201; 400 for a missing branch, no
//!   changes, or an open one for the same branches.
//! - `GET /repositories/{workspace}/{slug}/pullrequests/{id}`: `id`, `state` (`OPEN`,
//!   `MERGED`, `DECLINED`), `links.html.href`, `merge_commit.hash` (12 characters, as
//!   Bitbucket abbreviates it), `draft`, `source`, `destination`.
//! - `POST /repositories/{workspace}/{slug}/pullrequests/{id}/merge` `{merge_strategy}`:
//!   merges for real (`merge_commit`, `squash`), 200 with the pull request; 400 when it
//!   cannot be merged (closed, checks pending) or on a conflict.
//! - `GET /repositories/{workspace}/{slug}/commit/{hash}`: the commit, `hash` in full.
//!
//! Every call needs `Authorization: Bearer <token>` (a repository access token); 401
//! otherwise.

use axum::Json;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Hosting, NotMerged, NotOpened, PullRequest, find};

type Params = std::collections::HashMap<String, String>;

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"type": "error", "error": {"message": message}}))).into_response()
}

impl Hosting {
    fn bitbucket_authorized(&self, headers: &HeaderMap, call: String) -> bool {
        self.authorized_by(headers, call, &format!("Bearer {}", self.token))
    }

    fn bitbucket_json(&self, pr: &PullRequest) -> Value {
        let state = match (pr.open, pr.merged) {
            (true, _) => "OPEN",
            (false, true) => "MERGED",
            (false, false) => "DECLINED",
        };
        let short = pr.merge_commit.as_ref().map(|c| json!({"hash": &c[..12]}));
        json!({
            "type": "pullrequest",
            "id": pr.number,
            "title": pr.title,
            "description": pr.body,
            "state": state,
            "draft": false,
            "links": {"html": {"href": format!("{}/{}/{}/pull-requests/{}", self.base_url, pr.owner, pr.repo, pr.number)}},
            "source": {"branch": {"name": pr.head}},
            "destination": {"branch": {"name": pr.base}},
            "merge_commit": short,
        })
    }
}

fn unauthorized() -> Response {
    error(StatusCode::UNAUTHORIZED, "Token is invalid or not supported for this endpoint.")
}

pub(super) async fn repository(
    State(hosting): State<Hosting>,
    UrlPath((workspace, slug)): UrlPath<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !hosting.bitbucket_authorized(&headers, format!("GET /2.0/repositories/{workspace}/{slug}")) {
        return unauthorized();
    }
    let Some(bare) = hosting.bare(&workspace, &slug) else {
        return error(StatusCode::NOT_FOUND, "Repository not found");
    };
    let head = bare.find_reference("HEAD").ok().and_then(|r| r.symbolic_target().ok().flatten().map(str::to_owned));
    let default = head.as_deref().and_then(|h| h.strip_prefix("refs/heads/")).unwrap_or("main").to_owned();
    Json(json!({"type": "repository", "full_name": format!("{workspace}/{slug}"), "mainbranch": {"name": default}}))
        .into_response()
}

pub(super) async fn commit(
    State(hosting): State<Hosting>,
    UrlPath((workspace, slug, hash)): UrlPath<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if !hosting.bitbucket_authorized(&headers, format!("GET /2.0/repositories/{workspace}/{slug}/commit/{hash}")) {
        return unauthorized();
    }
    let Some(bare) = hosting.bare(&workspace, &slug) else {
        return error(StatusCode::NOT_FOUND, "Repository not found");
    };
    match bare.revparse_single(&hash).and_then(|o| o.peel_to_commit()) {
        Ok(commit) => Json(json!({"type": "commit", "hash": commit.id().to_string()})).into_response(),
        Err(_) => error(StatusCode::NOT_FOUND, &format!("Commit not found: {hash}")),
    }
}

pub(super) async fn list(
    State(hosting): State<Hosting>,
    UrlPath((workspace, slug)): UrlPath<(String, String)>,
    Query(query): Query<Params>,
    headers: HeaderMap,
) -> Response {
    if !hosting.bitbucket_authorized(&headers, format!("GET /2.0/repositories/{workspace}/{slug}/pullrequests")) {
        return unauthorized();
    }
    let state = query.get("state").map(String::as_str).unwrap_or("OPEN").to_owned();
    let page: usize = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
    let pagelen: usize = query.get("pagelen").and_then(|p| p.parse().ok()).unwrap_or(10).clamp(1, 50);
    let hosted = hosting.state.lock().unwrap();
    let all: Vec<Value> = hosted
        .pulls
        .iter()
        .filter(|pr| pr.owner == workspace && pr.repo == slug)
        .map(|pr| hosting.bitbucket_json(pr))
        .filter(|pr| pr["state"] == state)
        .collect();
    let more = all.len() > page * pagelen;
    let values: Vec<Value> = all.into_iter().skip((page - 1) * pagelen).take(pagelen).collect();
    let mut answer = json!({"values": values, "page": page, "pagelen": pagelen});
    if more {
        answer["next"] = json!(format!(
            "{}/2.0/repositories/{workspace}/{slug}/pullrequests?state={state}&page={}&pagelen={pagelen}",
            hosting.base_url,
            page + 1
        ));
    }
    Json(answer).into_response()
}

pub(super) async fn create(
    State(hosting): State<Hosting>,
    UrlPath((workspace, slug)): UrlPath<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !hosting.bitbucket_authorized(&headers, format!("POST /2.0/repositories/{workspace}/{slug}/pullrequests")) {
        return unauthorized();
    }
    let source = body["source"]["branch"]["name"].as_str().unwrap_or_default();
    let destination = body["destination"]["branch"]["name"].as_str().unwrap_or_default();
    let title = body["title"].as_str().unwrap_or_default();
    let description = body["description"].as_str().unwrap_or_default();
    match hosting.open_pull((&workspace, &slug), (source, destination), (title, description), Vec::new()) {
        Ok(pr) => (StatusCode::CREATED, Json(hosting.bitbucket_json(&pr))).into_response(),
        Err(NotOpened::NoRepository) => error(StatusCode::NOT_FOUND, "Repository not found"),
        Err(NotOpened::Exists) => {
            error(StatusCode::BAD_REQUEST, "There is already an open pull request for these branches")
        }
        Err(NotOpened::NoBranch) => error(StatusCode::BAD_REQUEST, "source or destination: branch not found"),
        Err(NotOpened::NoChanges) => error(StatusCode::BAD_REQUEST, "There are no changes to be pulled"),
    }
}

pub(super) async fn get_one(
    State(hosting): State<Hosting>,
    UrlPath((workspace, slug, id)): UrlPath<(String, String, u64)>,
    headers: HeaderMap,
) -> Response {
    if !hosting.bitbucket_authorized(&headers, format!("GET /2.0/repositories/{workspace}/{slug}/pullrequests/{id}")) {
        return unauthorized();
    }
    let mut hosted = hosting.state.lock().unwrap();
    match find(&mut hosted, &workspace, &slug, id) {
        Some(i) => Json(hosting.bitbucket_json(&hosted.pulls[i])).into_response(),
        None => error(StatusCode::NOT_FOUND, "Pull request not found"),
    }
}

pub(super) async fn merge(
    State(hosting): State<Hosting>,
    UrlPath((workspace, slug, id)): UrlPath<(String, String, u64)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let call = format!("POST /2.0/repositories/{workspace}/{slug}/pullrequests/{id}/merge");
    if !hosting.bitbucket_authorized(&headers, call) {
        return unauthorized();
    }
    let squash = match body["merge_strategy"].as_str() {
        None | Some("merge_commit") => false,
        Some("squash") => true,
        Some(other) => return error(StatusCode::BAD_REQUEST, &format!("merge_strategy {other} is not allowed here")),
    };
    match hosting.merge_pull_request(&workspace, &slug, id, squash) {
        Ok(pr) => Json(hosting.bitbucket_json(&pr)).into_response(),
        Err(NotMerged::NotFound) => error(StatusCode::NOT_FOUND, "Pull request not found"),
        Err(NotMerged::NotOpen) => error(StatusCode::BAD_REQUEST, "You can't merge a pull request that is not open"),
        Err(NotMerged::NotMergeable) => error(StatusCode::BAD_REQUEST, "Merge checks have not passed"),
        Err(NotMerged::Conflict(reason)) => error(StatusCode::BAD_REQUEST, &reason),
    }
}
