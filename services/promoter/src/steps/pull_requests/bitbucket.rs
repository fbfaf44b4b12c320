//! Bitbucket Cloud's REST API (`https://api.bitbucket.org/2.0`): the pull-request
//! endpoints the steps use. Bitbucket's pull requests have no labels; its answers name a
//! merge commit by a short hash, which is read in full from the commit endpoint.

use serde_json::{Value, json};

use super::api::Api;
use super::{MergeAttempt, NewPullRequest, PullRequest, RepoPath};

/// Most pages of pull requests read when looking for one.
const MAX_PAGES: usize = 20;
const PAGE_SIZE: usize = 50;

/// Bitbucket's merge strategies.
const METHODS: [&str; 6] =
    ["merge_commit", "squash", "fast_forward", "squash_fast_forward", "rebase_fast_forward", "rebase_merge"];

fn repo_path(repo: &RepoPath) -> String {
    format!("/repositories/{}/{}", repo.owner, repo.name)
}

/// The pull request of `body`, its merge commit read in full.
fn pull_request(api: &Api, repo: &RepoPath, body: &Value) -> Result<PullRequest, String> {
    let number = body["id"].as_u64().ok_or("the answer names no pull request id")?;
    let state = body["state"].as_str().unwrap_or_default();
    let merge_commit = match body["merge_commit"]["hash"].as_str().filter(|h| !h.is_empty()) {
        Some(short) if short.len() < 40 => {
            let commit = api.expect("GET", &format!("{}/commit/{short}", repo_path(repo)), None)?;
            Some(commit["hash"].as_str().ok_or("the commit answer names no hash")?.to_owned())
        }
        other => other.map(str::to_owned),
    };
    Ok(PullRequest {
        number,
        url: body["links"]["html"]["href"].as_str().unwrap_or_default().to_owned(),
        open: state == "OPEN",
        merged: state == "MERGED",
        merge_commit,
        // Bitbucket says whether a pull request can merge only by merging it; a draft cannot.
        mergeable: body["draft"].as_bool().filter(|draft| *draft).map(|_| false),
    })
}

pub fn default_branch(api: &Api, repo: &RepoPath) -> Result<Value, String> {
    let body = api.expect("GET", &repo_path(repo), None)?;
    Ok(json!({"default_branch": body["mainbranch"]["name"]}))
}

pub fn find_open(api: &Api, repo: &RepoPath, source: &str, target: &str) -> Result<Option<PullRequest>, String> {
    for page in 1..=MAX_PAGES {
        let path = format!("{}/pullrequests?state=OPEN&page={page}&pagelen={PAGE_SIZE}", repo_path(repo));
        let body = api.expect("GET", &path, None)?;
        let values = body["values"].as_array().map(Vec::as_slice).unwrap_or_default();
        let found = values.iter().find(|pr| {
            pr["source"]["branch"]["name"].as_str() == Some(source)
                && pr["destination"]["branch"]["name"].as_str() == Some(target)
        });
        if let Some(found) = found {
            return pull_request(api, repo, found).map(Some);
        }
        if body["next"].is_null() || values.is_empty() {
            break;
        }
    }
    Ok(None)
}

pub fn open(api: &Api, repo: &RepoPath, new: &NewPullRequest) -> Result<PullRequest, String> {
    if !new.labels.is_empty() {
        tracing::warn!(labels = ?new.labels, "Bitbucket pull requests have no labels; they are left out");
    }
    let mut body = json!({
        "type": "pullrequest",
        "title": new.title,
        "source": {"branch": {"name": new.source}},
        "destination": {"branch": {"name": new.target}},
    });
    if !new.description.is_empty() {
        body["description"] = json!(new.description);
    }
    let created = api.expect("POST", &format!("{}/pullrequests", repo_path(repo)), Some(&body))?;
    pull_request(api, repo, &created)
}

pub fn get(api: &Api, repo: &RepoPath, number: u64) -> Result<PullRequest, String> {
    let body = api.expect("GET", &format!("{}/pullrequests/{number}", repo_path(repo)), None)?;
    pull_request(api, repo, &body)
}

pub fn merge(api: &Api, repo: &RepoPath, number: u64, method: Option<&str>) -> Result<MergeAttempt, String> {
    if let Some(method) = method.filter(|m| !METHODS.contains(m)) {
        return Err(format!("config.mergeMethod: {method:?} is not one of Bitbucket's: {}", METHODS.join(", ")));
    }
    let pr = get(api, repo, number)?;
    if let Some(settled) = pr.settled(&format!("pull request #{number}")) {
        return settled;
    }
    if pr.mergeable == Some(false) {
        return Ok(MergeAttempt::NotReady("it is a draft".to_owned()));
    }
    let mut body = json!({"type": "pullrequestMergeParameters"});
    if let Some(method) = method {
        body["merge_strategy"] = json!(method);
    }
    let answer = api.call("POST", &format!("{}/pullrequests/{number}/merge", repo_path(repo)), Some(&body))?;
    match answer.status {
        200 | 201 => {
            let merged = pull_request(api, repo, &answer.body)?;
            if !merged.merged {
                return Err(format!("pull request #{number} is not merged after merging it"));
            }
            Ok(MergeAttempt::Merged(merged.merge_commit.unwrap_or_default()))
        }
        202 => Err(format!(
            "pull request #{number}: Bitbucket accepted the merge to finish later, which cannot be awaited"
        )),
        400 | 409 => Ok(MergeAttempt::NotReady(format!("status {}: {}", answer.status, answer.message()))),
        status => Err(format!("merging pull request #{number}: status {status}: {}", answer.message())),
    }
}
