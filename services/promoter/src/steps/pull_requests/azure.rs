//! Azure DevOps' REST API (Git pull requests, `api-version=7.1`) for repositories at
//! `https://dev.azure.com/<org>/<project>/_git/<repo>`, `https://<org>.visualstudio.com/<project>/_git/<repo>`,
//! or an Azure DevOps Server at `<host>/<collection>/<project>/_git/<repo>`. Called with
//! the repository's token as a personal access token (`Basic` with an empty user).

use serde_json::{Value, json};

use super::api::Api;
use super::{MergeAttempt, NewPullRequest, PullRequest, RepoPath};

const VERSION: &str = "api-version=7.1";

/// Azure DevOps' merge strategies.
const METHODS: [&str; 4] = ["noFastForward", "rebase", "rebaseMerge", "squash"];

/// The API's base for `repo`: `<scheme>://<host>/<org>/<project>/_apis/git/repositories/<repo>`
/// (the organization is the host's first label on `visualstudio.com`).
pub fn base(repo: &RepoPath) -> Result<String, String> {
    let bad = || {
        format!(
            "config.repoURL: {}://{}/{}/{} is not an Azure DevOps repository URL (…/<project>/_git/<repo>)",
            repo.scheme, repo.host, repo.owner, repo.name
        )
    };
    let path = repo.owner.strip_suffix("/_git").ok_or_else(bad)?;
    let parts: Vec<&str> = path.split('/').collect();
    let prefix = match parts.as_slice() {
        [project] if repo.host.ends_with(".visualstudio.com") => (*project).to_owned(),
        [org, project] if !repo.host.ends_with(".visualstudio.com") => format!("{org}/{project}"),
        _ => return Err(bad()),
    };
    // The URL's path segments are used as they are written (already percent-encoded).
    Ok(format!("{}://{}/{prefix}/_apis/git/repositories/{}", repo.scheme, repo.host, repo.name))
}

fn pull_request(body: &Value) -> Result<PullRequest, String> {
    let number = body["pullRequestId"].as_u64().ok_or("the answer names no pullRequestId")?;
    let status = body["status"].as_str().unwrap_or_default();
    let web = body["repository"]["webUrl"].as_str().unwrap_or_default();
    let ready = !body["isDraft"].as_bool().unwrap_or(false) && body["mergeStatus"].as_str() == Some("succeeded");
    Ok(PullRequest {
        number,
        url: format!("{web}/pullrequest/{number}"),
        open: status == "active",
        merged: status == "completed",
        merge_commit: body["lastMergeCommit"]["commitId"].as_str().map(str::to_owned),
        mergeable: Some(ready),
    })
}

fn refs_heads(branch: &str) -> String {
    format!("refs/heads/{branch}")
}

pub fn default_branch(api: &Api) -> Result<Value, String> {
    let body = api.expect("GET", &format!("?{VERSION}"), None)?;
    let branch = body["defaultBranch"].as_str().map(|b| b.strip_prefix("refs/heads/").unwrap_or(b));
    Ok(json!({"default_branch": branch}))
}

pub fn find_open(api: &Api, source: &str, target: &str) -> Result<Option<PullRequest>, String> {
    let encode = |s: &str| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
    let path = format!(
        "/pullrequests?searchCriteria.status=active&searchCriteria.sourceRefName={}&searchCriteria.targetRefName={}&{VERSION}",
        encode(&refs_heads(source)),
        encode(&refs_heads(target))
    );
    let body = api.expect("GET", &path, None)?;
    body["value"].as_array().and_then(|list| list.first()).map(pull_request).transpose()
}

pub fn open(api: &Api, new: &NewPullRequest) -> Result<PullRequest, String> {
    let labels: Vec<Value> = new.labels.iter().map(|name| json!({"name": name})).collect();
    let body = json!({
        "sourceRefName": refs_heads(&new.source),
        "targetRefName": refs_heads(&new.target),
        "title": new.title,
        "description": new.description,
        "labels": labels,
    });
    pull_request(&api.expect("POST", &format!("/pullrequests?{VERSION}"), Some(&body))?)
}

fn get_raw(api: &Api, number: u64) -> Result<Value, String> {
    api.expect("GET", &format!("/pullrequests/{number}?{VERSION}"), None)
}

pub fn get(api: &Api, number: u64) -> Result<PullRequest, String> {
    pull_request(&get_raw(api, number)?)
}

/// Completes the pull request (Azure DevOps' merge), with `method` as its merge strategy.
pub fn merge(api: &Api, number: u64, method: Option<&str>) -> Result<MergeAttempt, String> {
    if let Some(method) = method.filter(|m| !METHODS.contains(m)) {
        return Err(format!("config.mergeMethod: {method:?} is not one of Azure DevOps': {}", METHODS.join(", ")));
    }
    let raw = get_raw(api, number)?;
    let pr = pull_request(&raw)?;
    if pr.merged {
        return Ok(MergeAttempt::Merged(pr.merge_commit.unwrap_or_default()));
    }
    if !pr.open {
        return Err(format!("pull request #{number} was abandoned"));
    }
    if pr.mergeable != Some(true) {
        let status = raw["mergeStatus"].as_str().unwrap_or("unknown");
        return Ok(MergeAttempt::NotReady(format!("its merge status is {status}")));
    }
    let mut body = json!({"status": "completed", "lastMergeSourceCommit": raw["lastMergeSourceCommit"]});
    if let Some(method) = method {
        body["completionOptions"] = json!({"mergeStrategy": method});
    }
    let answer = api.call("PATCH", &format!("/pullrequests/{number}?{VERSION}"), Some(&body))?;
    match answer.status {
        200..=299 => {
            // Completion may finish after the answer: the pull request says when it has.
            let done = pull_request(&answer.body).or_else(|_| get(api, number))?;
            let done = if done.merged { done } else { get(api, number)? };
            if done.merged {
                Ok(MergeAttempt::Merged(done.merge_commit.unwrap_or_default()))
            } else {
                Ok(MergeAttempt::NotReady("Azure DevOps is completing it".to_owned()))
            }
        }
        409 => Ok(MergeAttempt::NotReady(format!("status 409: {}", answer.message()))),
        status => Err(format!("completing pull request #{number}: status {status}: {}", answer.message())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_azure_devops_urls_when_read_then_the_api_is_below_the_project() {
        let base_of = |url: &str| base(&super::super::parse_repo_url(url).unwrap());
        assert_eq!(
            base_of("https://dev.azure.com/contoso/Fabrikam%20Web/_git/gitops").unwrap(),
            "https://dev.azure.com/contoso/Fabrikam%20Web/_apis/git/repositories/gitops"
        );
        assert_eq!(
            base_of("https://contoso.visualstudio.com/web/_git/gitops").unwrap(),
            "https://contoso.visualstudio.com/web/_apis/git/repositories/gitops"
        );
        assert_eq!(
            base_of("http://tfs.example.com:8080/DefaultCollection/web/_git/gitops").unwrap(),
            "http://tfs.example.com:8080/DefaultCollection/web/_apis/git/repositories/gitops"
        );
        let error = base_of("https://dev.azure.com/contoso/gitops.git").unwrap_err();
        assert!(error.contains("is not an Azure DevOps repository URL (…/<project>/_git/<repo>)"), "{error}");
    }
}
