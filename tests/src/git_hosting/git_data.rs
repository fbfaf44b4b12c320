//! GitHub's Git Database and compare endpoints, as `github-push` uses them, writing real
//! objects into the bare repository and answering with GitHub's documented statuses:
//!
//! - `GET /repos/{owner}/{repo}/git/ref/{ref}`: `{ref, object: {sha, type}}`, 404 when absent.
//! - `GET /repos/{owner}/{repo}/compare/{base}...{head}`: `status` (`identical`, `ahead`,
//!   `behind`, `diverged`), `ahead_by`, `behind_by`, `total_commits`,
//!   `merge_base_commit.sha`, and `commits` (oldest first) with `sha`,
//!   `commit.{message, tree.sha, author, committer}` and `parents[].sha`; 404 for an
//!   unknown commit.
//! - `POST /repos/{owner}/{repo}/git/commits` `{message, tree, parents, author?, committer?}`:
//!   201 with the new commit; without `author` GitHub attributes it to the token's owner
//!   and signs it (`verification.verified`); 422 for an unknown tree or parent.
//! - `POST /repos/{owner}/{repo}/git/refs` `{ref, sha}`: 201; 422 when it exists.
//! - `PATCH /repos/{owner}/{repo}/git/refs/{ref}` `{sha, force}`: 200; 422 "Update is not
//!   a fast forward" unless `force`, or when the ref does not exist.
//! - `DELETE /repos/{owner}/{repo}/git/refs/{ref}`: 204; 422 when it does not exist.

use axum::Json;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Hosting, error};

fn date_of(time: git2::Time) -> String {
    chrono::DateTime::from_timestamp(time.seconds(), 0).unwrap_or_default().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn person(signature: &git2::Signature<'_>) -> Value {
    json!({
        "name": signature.name().unwrap_or_default(),
        "email": signature.email().unwrap_or_default(),
        "date": date_of(signature.when()),
    })
}

fn commit_json(commit: &git2::Commit<'_>) -> Value {
    json!({
        "sha": commit.id().to_string(),
        "commit": {
            "message": commit.message().unwrap_or_default(),
            "tree": {"sha": commit.tree_id().to_string()},
            "author": person(&commit.author()),
            "committer": person(&commit.committer()),
        },
        "parents": commit.parent_ids().map(|p| json!({"sha": p.to_string()})).collect::<Vec<_>>(),
    })
}

/// A signature from GitHub's `{name, email, date}`.
fn signature_of(value: &Value) -> Option<git2::Signature<'static>> {
    let (name, email) = (value["name"].as_str()?, value["email"].as_str()?);
    match value["date"].as_str().and_then(|d| chrono::DateTime::parse_from_rfc3339(d).ok()) {
        Some(date) => git2::Signature::new(name, email, &git2::Time::new(date.timestamp(), 0)).ok(),
        None => git2::Signature::now(name, email).ok(),
    }
}

fn resolve(bare: &git2::Repository, name: &str) -> Option<git2::Oid> {
    bare.revparse_single(name).ok().and_then(|o| o.peel_to_commit().ok()).map(|c| c.id())
}

pub(super) async fn get_ref(
    State(hosting): State<Hosting>,
    UrlPath((owner, repo, reference)): UrlPath<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if !hosting.authorized(&headers, format!("GET /repos/{owner}/{repo}/git/ref/{reference}")) {
        return super::github::unauthorized(&headers);
    }
    let Some(bare) = hosting.bare(&owner, &repo) else { return error(StatusCode::NOT_FOUND, "Not Found") };
    let full = format!("refs/{reference}");
    match bare.find_reference(&full).ok().and_then(|r| r.target()) {
        Some(sha) => Json(json!({"ref": full, "object": {"sha": sha.to_string(), "type": "commit"}})).into_response(),
        None => error(StatusCode::NOT_FOUND, "Not Found"),
    }
}

pub(super) async fn compare(
    State(hosting): State<Hosting>,
    UrlPath((owner, repo, basehead)): UrlPath<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if !hosting.authorized(&headers, format!("GET /repos/{owner}/{repo}/compare/{basehead}")) {
        return super::github::unauthorized(&headers);
    }
    let Some(bare) = hosting.bare(&owner, &repo) else { return error(StatusCode::NOT_FOUND, "Not Found") };
    let Some((base, head)) = basehead.split_once("...") else { return error(StatusCode::NOT_FOUND, "Not Found") };
    let (Some(base), Some(head)) = (resolve(&bare, base), resolve(&bare, head)) else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    let Ok(merge_base) = bare.merge_base(base, head) else { return error(StatusCode::NOT_FOUND, "No common ancestor") };
    let only = |from: git2::Oid, hide: git2::Oid| -> Vec<git2::Oid> {
        let mut walk = bare.revwalk().unwrap();
        walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE).unwrap();
        walk.push(from).unwrap();
        walk.hide(hide).unwrap();
        walk.filter_map(Result::ok).collect()
    };
    let (ahead, behind) = (only(head, base), only(base, head));
    let status = match (ahead.len(), behind.len()) {
        (0, 0) => "identical",
        (_, 0) => "ahead",
        (0, _) => "behind",
        _ => "diverged",
    };
    let commits: Vec<Value> =
        ahead.iter().filter_map(|id| bare.find_commit(*id).ok()).map(|c| commit_json(&c)).collect();
    let mut answer = json!({
        "status": status,
        "ahead_by": ahead.len(),
        "behind_by": behind.len(),
        "total_commits": ahead.len(),
        "merge_base_commit": {"sha": merge_base.to_string()},
        "commits": commits,
    });
    let rewrite = hosting.state.lock().unwrap().compare_rewrite.clone();
    if let Some(rewrite) = rewrite {
        rewrite(&mut answer);
    }
    Json(answer).into_response()
}

pub(super) async fn create_commit(
    State(hosting): State<Hosting>,
    UrlPath((owner, repo)): UrlPath<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !hosting.authorized(&headers, format!("POST /repos/{owner}/{repo}/git/commits")) {
        return super::github::unauthorized(&headers);
    }
    let Some(bare) = hosting.bare(&owner, &repo) else { return error(StatusCode::NOT_FOUND, "Not Found") };
    let tree = body["tree"].as_str().and_then(|t| git2::Oid::from_str(t).ok()).and_then(|t| bare.find_tree(t).ok());
    let Some(tree) = tree else { return error(StatusCode::UNPROCESSABLE_ENTITY, "Tree SHA does not exist") };
    let mut parents = Vec::new();
    for parent in body["parents"].as_array().into_iter().flatten() {
        match parent.as_str().and_then(|p| git2::Oid::from_str(p).ok()).and_then(|p| bare.find_commit(p).ok()) {
            Some(commit) => parents.push(commit),
            None => {
                return error(StatusCode::UNPROCESSABLE_ENTITY, "Parent SHA does not exist or is not a commit object");
            }
        }
    }
    // Without an author, GitHub makes the commit as the token's owner and signs it.
    let verified = body["author"].is_null() && body["committer"].is_null();
    let robot = git2::Signature::now("lading-robot[bot]", "robot@users.noreply.github.com").unwrap();
    let author = signature_of(&body["author"]).unwrap_or_else(|| robot.clone());
    let committer = signature_of(&body["committer"]).unwrap_or_else(|| author.clone());
    let message = body["message"].as_str().unwrap_or_default();
    let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
    let id = match bare.commit(None, &author, &committer, message, &tree, &parents) {
        Ok(id) => id,
        Err(e) => return error(StatusCode::UNPROCESSABLE_ENTITY, e.message()),
    };
    hosting.state.lock().unwrap().commits_created += 1;
    let commit = bare.find_commit(id).unwrap();
    let mut answer = commit_json(&commit);
    answer["tree"] = json!({"sha": commit.tree_id().to_string()});
    answer["verification"] = json!({"verified": verified, "reason": if verified { "valid" } else { "unsigned" }});
    (StatusCode::CREATED, Json(answer)).into_response()
}

pub(super) async fn create_ref(
    State(hosting): State<Hosting>,
    UrlPath((owner, repo)): UrlPath<(String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !hosting.authorized(&headers, format!("POST /repos/{owner}/{repo}/git/refs")) {
        return super::github::unauthorized(&headers);
    }
    let Some(bare) = hosting.bare(&owner, &repo) else { return error(StatusCode::NOT_FOUND, "Not Found") };
    let (Some(name), Some(sha)) = (body["ref"].as_str(), body["sha"].as_str()) else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "Invalid request: ref and sha are required");
    };
    if !name.starts_with("refs/") || name.matches('/').count() < 2 {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "Reference name must start with 'refs/' and have two slashes");
    }
    let Some(id) = git2::Oid::from_str(sha).ok().filter(|id| bare.find_commit(*id).is_ok()) else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "Object does not exist");
    };
    if bare.find_reference(name).is_ok() {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "Reference already exists");
    }
    match bare.reference(name, id, false, "create ref through the API") {
        Ok(_) => {
            (StatusCode::CREATED, Json(json!({"ref": name, "object": {"sha": sha, "type": "commit"}}))).into_response()
        }
        Err(e) => error(StatusCode::UNPROCESSABLE_ENTITY, e.message()),
    }
}

pub(super) async fn update_ref(
    State(hosting): State<Hosting>,
    UrlPath((owner, repo, reference)): UrlPath<(String, String, String)>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !hosting.authorized(&headers, format!("PATCH /repos/{owner}/{repo}/git/refs/{reference}")) {
        return super::github::unauthorized(&headers);
    }
    let Some(bare) = hosting.bare(&owner, &repo) else { return error(StatusCode::NOT_FOUND, "Not Found") };
    let full = format!("refs/{reference}");
    // Another writer moves the branch first, when the test asked for it.
    let concurrent = hosting.state.lock().unwrap().move_before_update.remove(&full);
    if let Some((file, content)) = concurrent {
        super::commit_on(&bare, &full, &file, &content);
    }
    let Some(current) = bare.find_reference(&full).ok().and_then(|r| r.target()) else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "Reference does not exist");
    };
    let Some(id) =
        body["sha"].as_str().and_then(|s| git2::Oid::from_str(s).ok()).filter(|id| bare.find_commit(*id).is_ok())
    else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "Object does not exist");
    };
    let force = body["force"].as_bool().unwrap_or(false);
    let fast_forward = id == current || bare.graph_descendant_of(id, current).unwrap_or(false);
    if !force && !fast_forward {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "Update is not a fast forward");
    }
    match bare.reference_matching(&full, id, true, current, "update ref through the API") {
        Ok(_) => Json(json!({"ref": full, "object": {"sha": id.to_string(), "type": "commit"}})).into_response(),
        Err(e) => error(StatusCode::UNPROCESSABLE_ENTITY, e.message()),
    }
}

pub(super) async fn delete_ref(
    State(hosting): State<Hosting>,
    UrlPath((owner, repo, reference)): UrlPath<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if !hosting.authorized(&headers, format!("DELETE /repos/{owner}/{repo}/git/refs/{reference}")) {
        return super::github::unauthorized(&headers);
    }
    let Some(bare) = hosting.bare(&owner, &repo) else { return error(StatusCode::NOT_FOUND, "Not Found") };
    match bare.find_reference(&format!("refs/{reference}")) {
        Ok(mut found) => match found.delete() {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(e) => error(StatusCode::UNPROCESSABLE_ENTITY, e.message()),
        },
        Err(_) => error(StatusCode::UNPROCESSABLE_ENTITY, "Reference does not exist"),
    }
}
