//! Gitea's REST API (`/api/v1`, also Forgejo's): the pull-request endpoints the steps use,
//! and the repository's labels, which a new pull request names by id.

use serde_json::{Value, json};

use super::api::Api;
use super::{MergeAttempt, NewPullRequest, PullRequest, RepoPath};

/// Most pages of pull requests or labels read when looking for one.
const MAX_PAGES: usize = 20;
const PAGE_SIZE: usize = 50;

fn pull_request(body: &Value) -> Result<PullRequest, String> {
    let number = body["number"].as_u64().ok_or("the answer names no pull request number")?;
    Ok(PullRequest {
        number,
        url: body["html_url"].as_str().unwrap_or_default().to_owned(),
        open: body["state"].as_str() == Some("open"),
        merged: body["merged"].as_bool().unwrap_or(false),
        merge_commit: body["merge_commit_sha"].as_str().filter(|s| !s.is_empty()).map(str::to_owned),
        mergeable: body["mergeable"].as_bool().map(|m| m && !body["draft"].as_bool().unwrap_or(false)),
    })
}

fn repo_path(repo: &RepoPath) -> String {
    format!("/repos/{}/{}", repo.owner, repo.name)
}

/// Every item of a paged list at `path` (`?state=…` or none), page by page until one
/// comes back short, within [`MAX_PAGES`].
fn each_page(api: &Api, path: &str, mut visit: impl FnMut(&Value) -> bool) -> Result<(), String> {
    let joiner = if path.contains('?') { '&' } else { '?' };
    for page in 1..=MAX_PAGES {
        let body = api.expect("GET", &format!("{path}{joiner}page={page}&limit={PAGE_SIZE}"), None)?;
        let items = body.as_array().map(Vec::as_slice).unwrap_or_default();
        for item in items {
            if visit(item) {
                return Ok(());
            }
        }
        if items.len() < PAGE_SIZE {
            return Ok(());
        }
    }
    Ok(())
}

pub fn default_branch(api: &Api, repo: &RepoPath) -> Result<Value, String> {
    api.expect("GET", &repo_path(repo), None)
}

pub fn find_open(api: &Api, repo: &RepoPath, source: &str, target: &str) -> Result<Option<PullRequest>, String> {
    let mut found = None;
    each_page(api, &format!("{}/pulls?state=open", repo_path(repo)), |pr| {
        let matches = pr["head"]["ref"].as_str() == Some(source) && pr["base"]["ref"].as_str() == Some(target);
        if matches {
            found = Some(pr.clone());
        }
        matches
    })?;
    found.as_ref().map(pull_request).transpose()
}

/// The ids of the repository's labels named `names`; a name the repository lacks is an
/// error, as Gitea takes only ids.
fn label_ids(api: &Api, repo: &RepoPath, names: &[String]) -> Result<Vec<u64>, String> {
    let mut known = std::collections::HashMap::new();
    each_page(api, &format!("{}/labels", repo_path(repo)), |label| {
        if let (Some(name), Some(id)) = (label["name"].as_str(), label["id"].as_u64()) {
            known.insert(name.to_owned(), id);
        }
        false
    })?;
    let mut ids = Vec::new();
    let mut missing = Vec::new();
    for name in names {
        match known.get(name) {
            Some(id) if !ids.contains(id) => ids.push(*id),
            Some(_) => {}
            None => missing.push(name.as_str()),
        }
    }
    if !missing.is_empty() {
        return Err(format!("config.labels: not labels of {}/{}: {}", repo.owner, repo.name, missing.join(", ")));
    }
    Ok(ids)
}

pub fn open(api: &Api, repo: &RepoPath, new: &NewPullRequest) -> Result<PullRequest, String> {
    let labels = if new.labels.is_empty() { Vec::new() } else { label_ids(api, repo, &new.labels)? };
    let body = json!({
        "title": new.title,
        "head": new.source,
        "base": new.target,
        "body": new.description,
        "labels": labels,
    });
    pull_request(&api.expect("POST", &format!("{}/pulls", repo_path(repo)), Some(&body))?)
}

pub fn get(api: &Api, repo: &RepoPath, number: u64) -> Result<PullRequest, String> {
    pull_request(&api.expect("GET", &format!("{}/pulls/{number}", repo_path(repo)), None)?)
}

/// Gitea's merge styles (`Do`).
const METHODS: [&str; 6] = ["merge", "rebase", "rebase-merge", "squash", "fast-forward-only", "manually-merged"];

pub fn merge(api: &Api, repo: &RepoPath, number: u64, method: Option<&str>) -> Result<MergeAttempt, String> {
    let method = method.unwrap_or("merge");
    if !METHODS.contains(&method) {
        return Err(format!("config.mergeMethod: {method:?} is not one of Gitea's: {}", METHODS.join(", ")));
    }
    let pr = get(api, repo, number)?;
    if let Some(settled) = pr.settled(&format!("pull request #{number}")) {
        return settled;
    }
    if pr.mergeable != Some(true) {
        return Ok(MergeAttempt::NotReady("Gitea says it is not mergeable".to_owned()));
    }
    let path = format!("{}/pulls/{number}/merge", repo_path(repo));
    let answer = api.call("POST", &path, Some(&json!({"Do": method})))?;
    match answer.status {
        // Gitea answers the merge with no body: the merge commit is the pull request's.
        200..=299 => Ok(MergeAttempt::Merged(get(api, repo, number)?.merge_commit.unwrap_or_default())),
        405 | 409 => Ok(MergeAttempt::NotReady(format!("status {}: {}", answer.status, answer.message()))),
        status => Err(format!("merging pull request #{number}: status {status}: {}", answer.message())),
    }
}
