//! The pull-request steps: `git-open-pr`, `git-wait-for-pr` and `git-merge-pr`, through
//! the Git hosting provider's REST API with the repository's Git credentials (the
//! password is the API token).
//!
//! The provider is `config.provider` (`github`, `gitlab`, `gitea`, `bitbucket`, `azure`),
//! else told by the host ([`lading_domain::git_provider`]: Kargo's hosts, then
//! `LADING_GIT_PROVIDERS` (`host[:port]=provider`), then a host naming its product).
//! GitHub's API is `https://api.github.com` for github.com and `<scheme>://<host>/api/v3`
//! elsewhere (GitHub Enterprise Server); GitLab's is `<scheme>://<host>/api/v4`; Gitea's
//! `<scheme>://<host>/api/v1`; Bitbucket's `https://api.bitbucket.org/2.0` for
//! bitbucket.org and `<scheme>://<host>/2.0` elsewhere; Azure DevOps' is below the
//! repository's project (see [`azure`]).
//!
//! `git-open-pr` first looks for an open pull request from the same source branch to the
//! same target and takes it: a promotion run again after a restart does not open a
//! second one. `git-wait-for-pr` looks every `pollInterval` (at least 1s; default 30s,
//! or `LADING_PULL_REQUEST_POLL_INTERVAL`)
//! until the pull request is merged (output `commit`, the merge commit) or closed (the
//! step fails), for at most `LADING_PULL_REQUEST_WAIT` from when the wait began.
//! `git-merge-pr` merges, and with `wait` looks the same way while the provider says the
//! pull request cannot be merged yet. In the promoter a look that finds no answer parks
//! the run ([`crate::engine::WaitSlot`]), which is resumed at the step later; elsewhere
//! the step polls in place and stops at once when the promotion is cancelled.

pub(crate) mod api;
mod azure;
mod bitbucket;
mod gitea;
mod github;
mod gitlab;

use std::time::{Duration, Instant};

use lading_domain::duration::parse_go_duration;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::StepContext;
use crate::engine::Effect;
use api::Api;

/// The providers the steps speak to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    GitHub,
    GitLab,
    Gitea,
    Bitbucket,
    Azure,
}

/// `owner/name` of a repository on its host (GitLab's groups are part of `owner`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoPath {
    pub scheme: String,
    /// `host[:port]`.
    pub host: String,
    pub owner: String,
    pub name: String,
}

/// A pull (or merge) request as the provider reports it.
#[derive(Debug, Clone)]
pub struct PullRequest {
    pub number: u64,
    pub url: String,
    pub open: bool,
    pub merged: bool,
    pub merge_commit: Option<String>,
    /// `None` while the provider is still working it out.
    pub mergeable: Option<bool>,
}

impl PullRequest {
    /// What merging it finds once it is no longer open: merged already (its merge
    /// commit), or closed unmerged (`what`, e.g. `pull request #3`, says which); `None`
    /// while it is open.
    pub(super) fn settled(&self, what: &str) -> Option<Result<MergeAttempt, String>> {
        if self.merged {
            return Some(Ok(MergeAttempt::Merged(self.merge_commit.clone().unwrap_or_default())));
        }
        (!self.open).then(|| Err(format!("{what} was closed without being merged")))
    }
}

pub struct NewPullRequest {
    pub source: String,
    pub target: String,
    pub title: String,
    pub description: String,
    pub labels: Vec<String>,
}

pub enum MergeAttempt {
    /// Merged, with the merge commit.
    Merged(String),
    /// Not mergeable yet (checks pending, conflicts, …), with the provider's reason.
    NotReady(String),
}

/// Splits `https://host/owner/name.git` (or `git@host:owner/name.git`).
pub fn parse_repo_url(url: &str) -> Result<RepoPath, String> {
    let bad = || format!("config.repoURL: {:?} is not a repository URL", lading_domain::redact::redact_url(url));
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (scheme.to_lowercase(), rest.to_owned()),
        None => match url.split_once(':') {
            Some((host, path)) if !host.contains('/') => ("ssh".to_owned(), format!("{host}/{path}")),
            _ => return Err(bad()),
        },
    };
    let (authority, path) = rest.split_once('/').ok_or_else(bad)?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host).to_lowercase();
    let path = path.trim_end_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    let (owner, name) = path.rsplit_once('/').ok_or_else(bad)?;
    if host.is_empty() || owner.is_empty() || name.is_empty() {
        return Err(bad());
    }
    let scheme = if scheme == "http" { scheme } else { "https".to_owned() };
    let host = if url.contains("://") { host } else { host.split(':').next().unwrap_or_default().to_owned() };
    Ok(RepoPath { scheme, host, owner: owner.to_owned(), name: name.to_owned() })
}

fn provider_named(name: &str) -> Result<Provider, String> {
    match name {
        "github" => Ok(Provider::GitHub),
        "gitlab" => Ok(Provider::GitLab),
        "gitea" => Ok(Provider::Gitea),
        "bitbucket" => Ok(Provider::Bitbucket),
        "azure" => Ok(Provider::Azure),
        other => {
            Err(format!("config.provider: unknown provider {other:?} (one of github, gitlab, gitea, bitbucket, azure)"))
        }
    }
}

/// The provider of `repo`: as configured, else as its host tells
/// ([`lading_domain::git_provider::provider_of`]).
fn provider_of(ctx: &StepContext<'_>, configured: Option<&str>, repo: &RepoPath) -> Result<Provider, String> {
    match lading_domain::git_provider::provider_of(&repo.host, configured, &ctx.remotes.git_providers) {
        Some(name) => provider_named(name),
        None => Err(format!(
            "config.provider: cannot tell the Git hosting provider of {}; set provider, or list the host in {}",
            repo.host,
            crate::config::GIT_PROVIDERS_ENV
        )),
    }
}

/// The REST API of `repo`'s provider, called with `token` (GitHub, Bitbucket: `Bearer`;
/// GitLab: `PRIVATE-TOKEN`; Gitea: `token`; Azure DevOps: `Basic` with an empty user)
/// within the `http` step's budget.
fn api_of(
    ctx: &StepContext<'_>,
    provider: Provider,
    repo: &RepoPath,
    token: Option<String>,
    insecure: bool,
) -> Result<Api, String> {
    let (base, auth) = match provider {
        Provider::GitHub => {
            let base = if repo.host == "github.com" {
                "https://api.github.com".to_owned()
            } else {
                format!("{}://{}/api/v3", repo.scheme, repo.host)
            };
            (base, token.map(|t| ("authorization", format!("Bearer {t}"))))
        }
        Provider::GitLab => (format!("{}://{}/api/v4", repo.scheme, repo.host), token.map(|t| ("private-token", t))),
        Provider::Gitea => {
            (format!("{}://{}/api/v1", repo.scheme, repo.host), token.map(|t| ("authorization", format!("token {t}"))))
        }
        Provider::Bitbucket => {
            let base = if repo.host == "bitbucket.org" {
                "https://api.bitbucket.org/2.0".to_owned()
            } else {
                format!("{}://{}/2.0", repo.scheme, repo.host)
            };
            (base, token.map(|t| ("authorization", format!("Bearer {t}"))))
        }
        Provider::Azure => {
            use base64::Engine;
            let Some(token) = token else {
                return Err(
                    "config.repoURL: Azure DevOps needs a token: no credentials found for the repository".into()
                );
            };
            let basic = base64::engine::general_purpose::STANDARD.encode(format!(":{token}"));
            (azure::base(repo)?, Some(("authorization", format!("Basic {basic}"))))
        }
    };
    Ok(Api::new(base, auth, insecure, ctx.remotes.budgets.http))
}

/// GitHub's API for the repository at `repo_url` (github.com, or GitHub Enterprise
/// Server at the same host), called with the repository's Git token: `github-push`'s.
pub(crate) fn github_api(ctx: &StepContext<'_>, repo_url: &str, insecure: bool) -> Result<(RepoPath, Api), String> {
    let repo = parse_repo_url(repo_url)?;
    let token = ctx.remotes.credentials.for_url(repo_url).map(|c| c.password.clone()).filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(format!(
            "no credentials found for {}; github-push calls GitHub's API with the repository's token",
            lading_domain::redact::redact_url(repo_url)
        ));
    };
    let api = api_of(ctx, Provider::GitHub, &repo, Some(token), insecure)?;
    Ok((repo, api))
}

/// Where the steps reach one repository's provider.
struct Target {
    provider: Provider,
    repo: RepoPath,
    api: Api,
}

impl Target {
    fn new(ctx: &StepContext<'_>, repo_url: &str, provider: Option<&str>, insecure: bool) -> Result<Self, String> {
        let repo = parse_repo_url(repo_url)?;
        let provider = provider_of(ctx, provider, &repo)?;
        let token = ctx.remotes.credentials.for_url(repo_url).map(|c| c.password.clone());
        let api = api_of(ctx, provider, &repo, token, insecure)?;
        Ok(Self { provider, repo, api })
    }

    fn find_open(&self, source: &str, target: &str) -> Result<Option<PullRequest>, String> {
        match self.provider {
            Provider::GitHub => github::find_open(&self.api, &self.repo, source, target),
            Provider::GitLab => gitlab::find_open(&self.api, &self.repo, source, target),
            Provider::Gitea => gitea::find_open(&self.api, &self.repo, source, target),
            Provider::Bitbucket => bitbucket::find_open(&self.api, &self.repo, source, target),
            Provider::Azure => azure::find_open(&self.api, source, target),
        }
    }

    fn open(&self, new: &NewPullRequest) -> Result<PullRequest, String> {
        match self.provider {
            Provider::GitHub => github::open(&self.api, &self.repo, new),
            Provider::GitLab => gitlab::open(&self.api, &self.repo, new),
            Provider::Gitea => gitea::open(&self.api, &self.repo, new),
            Provider::Bitbucket => bitbucket::open(&self.api, &self.repo, new),
            Provider::Azure => azure::open(&self.api, new),
        }
    }

    fn get(&self, number: u64) -> Result<PullRequest, String> {
        match self.provider {
            Provider::GitHub => github::get(&self.api, &self.repo, number),
            Provider::GitLab => gitlab::get(&self.api, &self.repo, number),
            Provider::Gitea => gitea::get(&self.api, &self.repo, number),
            Provider::Bitbucket => bitbucket::get(&self.api, &self.repo, number),
            Provider::Azure => azure::get(&self.api, number),
        }
    }

    fn merge(&self, number: u64, method: Option<&str>) -> Result<MergeAttempt, String> {
        match self.provider {
            Provider::GitHub => github::merge(&self.api, &self.repo, number, method),
            Provider::GitLab => gitlab::merge(&self.api, &self.repo, number, method),
            Provider::Gitea => gitea::merge(&self.api, &self.repo, number, method),
            Provider::Bitbucket => bitbucket::merge(&self.api, &self.repo, number, method),
            Provider::Azure => azure::merge(&self.api, number, method),
        }
    }

    /// The target branch when none is given: the repository's default branch.
    fn default_branch(&self) -> Result<String, String> {
        let body = match self.provider {
            Provider::GitHub => {
                self.api.expect("GET", &format!("/repos/{}/{}", self.repo.owner, self.repo.name), None)?
            }
            Provider::GitLab => {
                let id = format!("{}/{}", self.repo.owner, self.repo.name);
                let id = percent_encoding::utf8_percent_encode(&id, percent_encoding::NON_ALPHANUMERIC);
                self.api.expect("GET", &format!("/projects/{id}"), None)?
            }
            Provider::Gitea => gitea::default_branch(&self.api, &self.repo)?,
            Provider::Bitbucket => bitbucket::default_branch(&self.api, &self.repo)?,
            Provider::Azure => azure::default_branch(&self.api)?,
        };
        body["default_branch"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "the repository names no default branch".into())
    }
}

fn pr_output(pr: &PullRequest) -> Value {
    json!({"id": pr.number, "url": pr.url, "open": pr.open, "merged": pr.merged})
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OpenConfig {
    #[serde(rename = "repoURL")]
    repo_url: String,
    #[serde(default)]
    provider: Option<String>,
    #[serde(default, rename = "insecureSkipTLSVerify")]
    insecure_skip_tls_verify: bool,
    source_branch: String,
    #[serde(default)]
    target_branch: Option<String>,
    /// Kargo's, deprecated and a no-op there too.
    #[serde(default)]
    #[allow(dead_code)]
    create_target_branch: bool,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    labels: Vec<String>,
}

/// `git-open-pr`: outputs `pr.id`, `pr.url`.
pub fn open_pr(ctx: &StepContext<'_>, config: OpenConfig) -> Result<Map<String, Value>, String> {
    if config.source_branch.is_empty() {
        return Err("config.sourceBranch: is required".to_owned());
    }
    let target = Target::new(ctx, &config.repo_url, config.provider.as_deref(), config.insecure_skip_tls_verify)?;
    let target_branch = match config.target_branch.filter(|b| !b.is_empty()) {
        Some(branch) => branch,
        None => target.default_branch()?,
    };
    let pr = match target.find_open(&config.source_branch, &target_branch)? {
        Some(existing) => {
            tracing::info!(pr = existing.number, "a pull request for these branches is open already; taking it");
            existing
        }
        None => {
            ctx.effects.before_effect(Effect::Call)?;
            target.open(&NewPullRequest {
                source: config.source_branch.clone(),
                target: target_branch.clone(),
                title: config.title.unwrap_or_else(|| format!("Promote to {} ({})", ctx.stage, ctx.promotion)),
                description: config.description.unwrap_or_default(),
                labels: config.labels,
            })?
        }
    };
    let mut outputs = Map::new();
    outputs.insert("pr".to_owned(), json!({"id": pr.number, "url": pr.url}));
    Ok(outputs)
}

/// `pollInterval` as given (at least 1s), or the promoter's setting, or `default`.
fn poll_interval(ctx: &StepContext<'_>, text: Option<&str>, default: Duration) -> Result<Duration, String> {
    match text {
        None => Ok(ctx.remotes.budgets.pull_request_poll.unwrap_or(default)),
        Some(text) => {
            Ok(parse_go_duration(text).map_err(|e| format!("config.pollInterval: {e}"))?.max(Duration::from_secs(1)))
        }
    }
}

/// What one look at a pull request found.
enum Look<T> {
    Done(T),
    /// Not yet: what it waits for (`pull request <url>`).
    Waiting(String),
}

/// Looks with `check` until it gives an answer, within the promoter's wait budget
/// counted from when the wait began. Where the run may park ([`StepContext::wait`]),
/// one look that finds no answer parks it, to look again `interval` later in another
/// run; otherwise it polls every `interval` here, and stops when the promotion is
/// cancelled.
fn poll<T>(
    ctx: &StepContext<'_>,
    interval: Duration,
    what: &str,
    mut check: impl FnMut() -> Result<Look<T>, String>,
) -> Result<T, String> {
    let limit = ctx.remotes.budgets.pull_request_wait;
    let too_long = || format!("{what}: still waiting after {:?} ({})", limit.value, limit.setting);
    if let Some(slot) = ctx.wait {
        let now = lading_events::now_ms();
        let since = slot.since_ms.unwrap_or(now);
        return match check()? {
            Look::Done(answer) => Ok(answer),
            Look::Waiting(_) if lading_domain::promotion_wait::wait_over(since, now, interval, limit.value) => {
                Err(too_long())
            }
            Look::Waiting(message) => {
                slot.park(crate::engine::Parked { message, since_ms: since, interval });
                Err(format!("{what}: waiting"))
            }
        };
    }
    let started = Instant::now();
    loop {
        if let Look::Done(answer) = check()? {
            return Ok(answer);
        }
        if started.elapsed() + interval > limit.value {
            return Err(too_long());
        }
        if !ctx.remotes.cancel.sleep(interval) {
            return Err(format!("{what}: the wait was cancelled: the promotion was stopped"));
        }
    }
}

fn pr_number(value: &Value) -> Result<u64, String> {
    match value {
        Value::Number(n) => n.as_u64().filter(|n| *n > 0),
        Value::String(s) => s.trim().parse::<u64>().ok().filter(|n| *n > 0),
        _ => None,
    }
    .ok_or_else(|| format!("config.prNumber: must be a positive integer, got {value}"))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WaitConfig {
    #[serde(rename = "repoURL")]
    repo_url: String,
    #[serde(default)]
    provider: Option<String>,
    #[serde(default, rename = "insecureSkipTLSVerify")]
    insecure_skip_tls_verify: bool,
    pr_number: Value,
    #[serde(default)]
    poll_interval: Option<String>,
}

/// `git-wait-for-pr`: outputs `commit` and `pr.{id,url,open,merged}`.
pub fn wait_for_pr(ctx: &StepContext<'_>, config: WaitConfig) -> Result<Map<String, Value>, String> {
    let number = pr_number(&config.pr_number)?;
    let interval = poll_interval(ctx, config.poll_interval.as_deref(), Duration::from_secs(30))?;
    let target = Target::new(ctx, &config.repo_url, config.provider.as_deref(), config.insecure_skip_tls_verify)?;
    let pr = poll(ctx, interval, &format!("pull request #{number}"), || {
        ctx.effects.before_effect(Effect::Call)?;
        let pr = target.get(number)?;
        Ok(if pr.open { Look::Waiting(format!("pull request {}", pr.url)) } else { Look::Done(pr) })
    })?;
    if !pr.merged {
        return Err(format!("pull request #{number} ({}) was closed without being merged", pr.url));
    }
    let mut outputs = Map::new();
    outputs.insert("commit".to_owned(), json!(pr.merge_commit.clone().unwrap_or_default()));
    outputs.insert("pr".to_owned(), pr_output(&pr));
    Ok(outputs)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MergeConfig {
    #[serde(rename = "repoURL")]
    repo_url: String,
    #[serde(default)]
    provider: Option<String>,
    #[serde(default, rename = "insecureSkipTLSVerify")]
    insecure_skip_tls_verify: bool,
    pr_number: Value,
    #[serde(default)]
    merge_method: Option<String>,
    #[serde(default)]
    wait: bool,
    #[serde(default)]
    poll_interval: Option<String>,
}

/// `git-merge-pr`: output `commit`, the merge commit.
pub fn merge_pr(ctx: &StepContext<'_>, config: MergeConfig) -> Result<Map<String, Value>, String> {
    let number = pr_number(&config.pr_number)?;
    let interval = poll_interval(ctx, config.poll_interval.as_deref(), Duration::from_secs(10))?;
    let target = Target::new(ctx, &config.repo_url, config.provider.as_deref(), config.insecure_skip_tls_verify)?;
    let commit = poll(ctx, interval, &format!("merging pull request #{number}"), || {
        ctx.effects.before_effect(Effect::Call)?;
        match target.merge(number, config.merge_method.as_deref())? {
            MergeAttempt::Merged(commit) => Ok(Look::Done(commit)),
            MergeAttempt::NotReady(reason) if config.wait => {
                tracing::info!(pr = number, reason, "not mergeable yet; waiting");
                Ok(Look::Waiting(format!("pull request #{number}: {reason}")))
            }
            MergeAttempt::NotReady(reason) => Err(format!("pull request #{number} cannot be merged: {reason}")),
        }
    })?;
    let mut outputs = Map::new();
    outputs.insert("commit".to_owned(), json!(commit));
    Ok(outputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_repository_urls_when_parsed_then_host_owner_and_name_are_found() {
        let repo = parse_repo_url("https://github.com/example/repo.git").unwrap();
        assert_eq!(
            (repo.scheme.as_str(), repo.host.as_str(), repo.owner.as_str(), repo.name.as_str()),
            ("https", "github.com", "example", "repo")
        );
        let repo = parse_repo_url("http://user:pw@127.0.0.1:8080/group/sub/app").unwrap();
        assert_eq!(
            (repo.scheme.as_str(), repo.host.as_str(), repo.owner.as_str()),
            ("http", "127.0.0.1:8080", "group/sub")
        );
        let repo = parse_repo_url("git@gitlab.example.com:team/app.git").unwrap();
        assert_eq!(
            (repo.host.as_str(), repo.owner.as_str(), repo.name.as_str()),
            ("gitlab.example.com", "team", "app")
        );
        assert!(parse_repo_url("not a url").is_err());
        assert!(parse_repo_url("https://github.com/just-one").is_err());
    }

    #[test]
    fn given_pr_numbers_when_read_then_only_positive_integers_pass() {
        assert_eq!(pr_number(&json!(42)).unwrap(), 42);
        assert_eq!(pr_number(&json!("7")).unwrap(), 7);
        assert!(pr_number(&json!(0)).is_err());
        assert!(pr_number(&json!(-1)).is_err());
        assert!(pr_number(&json!("x")).is_err());
    }
}
