//! GitLab's REST API (`/api/v4`): the merge-request endpoints the pull-request steps use.

use serde_json::{Value, json};

use super::api::Api;
use super::{MergeAttempt, NewPullRequest, PullRequest, RepoPath};

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn project(repo: &RepoPath) -> String {
    format!("/projects/{}", encode(&format!("{}/{}", repo.owner, repo.name)))
}

fn merge_request(body: &Value) -> Result<PullRequest, String> {
    let number = body["iid"].as_u64().ok_or("the answer names no merge request iid")?;
    let state = body["state"].as_str().unwrap_or_default();
    let merged = state == "merged";
    Ok(PullRequest {
        number,
        url: body["web_url"].as_str().unwrap_or_default().to_owned(),
        open: state == "opened" || state == "locked",
        merged,
        // A merge commit; else the squashed commit; else (a fast-forward merge, which
        // leaves both null) the source's head, which the target branch now is.
        merge_commit: body["merge_commit_sha"]
            .as_str()
            .or_else(|| body["squash_commit_sha"].as_str())
            .or_else(|| if merged { body["sha"].as_str() } else { None })
            .map(str::to_owned),
        mergeable: body["detailed_merge_status"].as_str().map(|s| s == "mergeable"),
    })
}

pub fn find_open(api: &Api, repo: &RepoPath, source: &str, target: &str) -> Result<Option<PullRequest>, String> {
    let path = format!(
        "{}/merge_requests?state=opened&source_branch={}&target_branch={}",
        project(repo),
        encode(source),
        encode(target)
    );
    let body = api.expect("GET", &path, None)?;
    body.as_array().and_then(|list| list.first()).map(merge_request).transpose()
}

pub fn open(api: &Api, repo: &RepoPath, new: &NewPullRequest) -> Result<PullRequest, String> {
    let body = json!({
        "source_branch": new.source,
        "target_branch": new.target,
        "title": new.title,
        "description": new.description,
        "labels": new.labels.join(","),
    });
    merge_request(&api.expect("POST", &format!("{}/merge_requests", project(repo)), Some(&body))?)
}

pub fn get(api: &Api, repo: &RepoPath, number: u64) -> Result<PullRequest, String> {
    merge_request(&api.expect("GET", &format!("{}/merge_requests/{number}", project(repo)), None)?)
}

pub fn merge(api: &Api, repo: &RepoPath, number: u64, method: Option<&str>) -> Result<MergeAttempt, String> {
    let squash = match method {
        None => None,
        Some("merge") => Some(false),
        Some("squash") => Some(true),
        Some(other) => return Err(format!("config.mergeMethod: {other:?} is not one of GitLab's: merge, squash")),
    };
    let pr = get(api, repo, number)?;
    if let Some(settled) = pr.settled(&format!("merge request !{number}")) {
        return settled;
    }
    let body = match squash {
        Some(squash) => json!({"squash": squash}),
        None => json!({}),
    };
    let answer = api.call("PUT", &format!("{}/merge_requests/{number}/merge", project(repo)), Some(&body))?;
    match answer.status {
        200..=299 => {
            let merged = merge_request(&answer.body)?;
            Ok(MergeAttempt::Merged(merged.merge_commit.unwrap_or_default()))
        }
        405 | 406 | 409 | 422 => Ok(MergeAttempt::NotReady(format!("status {}: {}", answer.status, answer.message()))),
        status => Err(format!("merging merge request !{number}: status {status}: {}", answer.message())),
    }
}
