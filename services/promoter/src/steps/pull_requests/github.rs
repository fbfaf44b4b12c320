//! GitHub's REST API (github.com and GitHub Enterprise Server, `/api/v3`): the pulls
//! endpoints the pull-request steps use, and issue labels.

use serde_json::{Value, json};

use super::api::Api;
use super::{MergeAttempt, NewPullRequest, PullRequest, RepoPath};

fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn pull_request(body: &Value) -> Result<PullRequest, String> {
    let number = body["number"].as_u64().ok_or("the answer names no pull request number")?;
    Ok(PullRequest {
        number,
        url: body["html_url"].as_str().unwrap_or_default().to_owned(),
        open: body["state"].as_str() == Some("open"),
        merged: body["merged"].as_bool().unwrap_or(false) || body["merged_at"].is_string(),
        merge_commit: body["merge_commit_sha"].as_str().map(str::to_owned),
        mergeable: body["mergeable"].as_bool(),
    })
}

pub fn find_open(api: &Api, repo: &RepoPath, source: &str, target: &str) -> Result<Option<PullRequest>, String> {
    let path = format!(
        "/repos/{}/{}/pulls?state=open&head={}&base={}",
        repo.owner,
        repo.name,
        encode(&format!("{}:{source}", repo.owner)),
        encode(target)
    );
    let body = api.expect("GET", &path, None)?;
    body.as_array().and_then(|list| list.first()).map(pull_request).transpose()
}

pub fn open(api: &Api, repo: &RepoPath, new: &NewPullRequest) -> Result<PullRequest, String> {
    let body = json!({"title": new.title, "head": new.source, "base": new.target, "body": new.description});
    let created = api.expect("POST", &format!("/repos/{}/{}/pulls", repo.owner, repo.name), Some(&body))?;
    let pr = pull_request(&created)?;
    if !new.labels.is_empty() {
        let labels = json!({"labels": new.labels});
        api.expect("POST", &format!("/repos/{}/{}/issues/{}/labels", repo.owner, repo.name, pr.number), Some(&labels))?;
    }
    Ok(pr)
}

pub fn get(api: &Api, repo: &RepoPath, number: u64) -> Result<PullRequest, String> {
    pull_request(&api.expect("GET", &format!("/repos/{}/{}/pulls/{number}", repo.owner, repo.name), None)?)
}

pub fn merge(api: &Api, repo: &RepoPath, number: u64, method: Option<&str>) -> Result<MergeAttempt, String> {
    let method = method.unwrap_or("merge");
    if !matches!(method, "merge" | "rebase" | "squash") {
        return Err(format!("config.mergeMethod: {method:?} is not one of GitHub's: merge, rebase, squash"));
    }
    let pr = get(api, repo, number)?;
    if let Some(settled) = pr.settled(&format!("pull request #{number}")) {
        return settled;
    }
    if pr.mergeable == Some(false) {
        return Ok(MergeAttempt::NotReady("GitHub says it is not mergeable".to_owned()));
    }
    let path = format!("/repos/{}/{}/pulls/{number}/merge", repo.owner, repo.name);
    let answer = api.call("PUT", &path, Some(&json!({"merge_method": method})))?;
    match answer.status {
        200..=299 => Ok(MergeAttempt::Merged(answer.body["sha"].as_str().unwrap_or_default().to_owned())),
        405 | 409 => Ok(MergeAttempt::NotReady(format!("status {}: {}", answer.status, answer.message()))),
        status => Err(format!("merging pull request #{number}: status {status}: {}", answer.message())),
    }
}
