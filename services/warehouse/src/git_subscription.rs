//! Git subscriptions: the newest commit on a branch, read from a local bare mirror that
//! is fetched (only the watched branch) on each discovery.

use std::path::{Path, PathBuf};

use git2::{Direction, FetchOptions, Repository};
use lading_domain::GitCommit;
use lading_domain::spec::GitSubscription;
use sha1::{Digest, Sha1};

/// The mirror directory for a repository URL.
pub fn mirror_dir(cache_dir: &Path, repo_url: &str) -> PathBuf {
    let digest = Sha1::digest(repo_url.as_bytes());
    let name: String = digest.iter().take(10).map(|b| format!("{b:02x}")).collect();
    cache_dir.join("git").join(name)
}

fn describe(error: &git2::Error) -> String {
    error.message().to_owned()
}

/// Fetches the subscription's branch and returns its newest commit. Blocking.
pub fn newest_commit(cache_dir: &Path, subscription: &GitSubscription) -> Result<GitCommit, String> {
    let url = &subscription.repo_url;
    let dir = mirror_dir(cache_dir, url);
    let repo = match Repository::open_bare(&dir) {
        Ok(repo) => repo,
        Err(_) => {
            std::fs::create_dir_all(&dir).map_err(|e| format!("creating the mirror: {e}"))?;
            Repository::init_bare(&dir).map_err(|e| format!("creating the mirror: {}", describe(&e)))?
        }
    };
    let mut remote = repo.remote_anonymous(url).map_err(|e| format!("invalid repository URL: {}", describe(&e)))?;
    let branch = if subscription.branch.is_empty() {
        remote.connect(Direction::Fetch).map_err(|e| format!("cannot reach the repository: {}", describe(&e)))?;
        let default =
            remote.default_branch().map_err(|e| format!("the repository has no default branch: {}", describe(&e)))?;
        let default = default.as_str().unwrap_or_default().trim_start_matches("refs/heads/").to_owned();
        remote.disconnect().map_err(|e| describe(&e))?;
        default
    } else {
        subscription.branch.clone()
    };
    let local_ref = format!("refs/heads/{branch}");
    let mut options = FetchOptions::new();
    options.download_tags(git2::AutotagOption::None);
    remote
        .fetch(&[format!("+refs/heads/{branch}:{local_ref}")], Some(&mut options), None)
        .map_err(|e| format!("fetching branch {branch:?}: {}", describe(&e)))?;
    let oid = repo.refname_to_id(&local_ref).map_err(|_| format!("branch {branch:?} not found"))?;
    let commit = repo.find_commit(oid).map_err(|e| describe(&e))?;
    let person =
        |s: git2::Signature<'_>| format!("{} <{}>", s.name().unwrap_or_default(), s.email().unwrap_or_default());
    Ok(GitCommit {
        repo_url: url.clone(),
        id: oid.to_string(),
        branch,
        tag: String::new(),
        message: commit.summary().ok().flatten().unwrap_or_default().to_owned(),
        author: person(commit.author()),
        committer: person(commit.committer()),
        subscription_name: String::new(),
    })
}
