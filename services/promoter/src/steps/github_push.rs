//! `github-push`: Kargo's drop-in replacement for `git-push` that lands the working
//! tree's commits on GitHub through its REST API, so GitHub creates the commits itself.
//!
//! As Kargo does it, each attempt: integrates the remote branch's new commits (as
//! `git-push` does, by the push integration policy: a rebase by default, or a merge,
//! whose merge commit is replayed with both parents; none with `force`), force-pushes the local branch to a staging ref
//! no branch list shows (`refs/lading/staging/<promotion>`), asks GitHub to compare the
//! target branch with it (`GET compare/{base}...{head}`, whose status and merge base
//! alone are used), replays each local commit after the merge base, parents first
//! (`POST git/commits`, at most [`MAX_REPLAYED_COMMITS`]), checks the last one holds the
//! local tree, and moves the branch to it (`PATCH git/refs/heads/…`, or `POST git/refs`
//! for a new branch). A branch that moved meanwhile (GitHub's 422 "not a fast forward",
//! or a compare that says `behind`/`diverged`) starts a new attempt after a pause, up to
//! `maxAttempts` (default 10, at most 100); a rebase or merge conflict fails the step. The
//! staging ref is deleted at the end, and the local branch is reset to what GitHub
//! holds, whose commits have new IDs.
//!
//! Attribution follows Kargo's trust rule
//! ([`lading_domain::commit_signing::replay_attribution`]): a commit the repository's
//! key signed (the `git-clone`'s `author.signingKey` when the clone set an author, else
//! the promoter-wide `LADING_GIT_SIGNING_KEY_PATH`) is replayed without author and committer,
//! so GitHub makes it as the authenticated App or user and signs it (verified), with a
//! `Co-authored-by` trailer when its author is not the key's identity; any other commit
//! (unsigned, or signed by a step's own key) keeps its author and committer, unless
//! `LADING_GITHUB_PUSH_VERIFY_UNTRUSTED_COMMITS` has every commit verified. Outputs are `git-push`'s: `branch`, `commit`,
//! `commitURL`, `repoURL`, `changedFiles`, `changes`. Every API call keeps to the `http`
//! step's budget; the Git push of the staging ref to the Git budget. Every push and
//! every call that changes GitHub first asks the promotion's effect guard; only moving
//! the branch is the point of no return ([`Effect::Push`]).

use git2::{Repository, Signature};
use lading_domain::commit_signing::{Attribution, Person, replay_attribution, with_co_author};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::git_push::{
    Overwrite, Pushed, PushedCommit, Rebased, branch_and_target, fetch_remote_branch, integrate_remote, move_branch,
    outputs, push_once,
};
use super::pull_requests::RepoPath;
use super::pull_requests::api::Api;
use super::{StepContext, git_error};
use crate::engine::Effect;

const DEFAULT_MAX_ATTEMPTS: u32 = 10;
/// Most commits one push replays (Kargo's default `GITHUB_PUSH_MAX_REVISIONS`).
pub const MAX_REPLAYED_COMMITS: usize = 10;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    path: String,
    #[serde(default)]
    target_branch: Option<String>,
    #[serde(default)]
    generate_target_branch: bool,
    #[serde(default)]
    force: bool,
    #[serde(default)]
    max_attempts: Option<u32>,
    #[serde(default, rename = "insecureSkipTLSVerify")]
    insecure_skip_tls_verify: bool,
}

/// Where and how one push goes.
struct Push<'a> {
    ctx: &'a StepContext<'a>,
    repo: &'a Repository,
    /// The repository's author and key: the clone's, else the promoter's.
    author: &'a super::CommitAuthor,
    api: &'a Api,
    github: &'a RepoPath,
    /// The local branch.
    branch: &'a str,
    /// The remote branch.
    target: &'a str,
    force: bool,
    staging: &'a str,
}

/// How one attempt ended.
enum Attempt {
    Done,
    /// The target branch moved meanwhile: integrate and try again.
    Moved(String),
}

impl Push<'_> {
    /// `refs/heads/<branch>` as GitHub's paths name it, each segment percent-encoded.
    fn heads(branch: &str) -> String {
        let segments: Vec<String> = branch
            .split('/')
            .map(|s| percent_encoding::utf8_percent_encode(s, super::http::QUERY_COMPONENT).to_string())
            .collect();
        format!("heads/{}", segments.join("/"))
    }

    fn repos(&self) -> String {
        format!("/repos/{}/{}", self.github.owner, self.github.name)
    }

    /// The commit `ref` (e.g. `heads/main`) points at, `None` when GitHub has no such ref.
    fn reference(&self, reference: &str) -> Result<Option<String>, String> {
        let answer = self.api.call("GET", &format!("{}/git/ref/{reference}", self.repos()), None)?;
        match answer.status {
            404 => Ok(None),
            200..=299 => object_id(&answer.body["object"]["sha"], &format!("the commit of ref {reference}")).map(Some),
            status => Err(refused("reading ref", reference, status, &answer.message())),
        }
    }

    fn attempt(&self) -> Result<Attempt, String> {
        let target_ref = Self::heads(self.target);
        let target_exists = self.reference(&target_ref)?.is_some();
        let trailer = format!("{}: {}", super::PROMOTION_TRAILER, self.ctx.promotion);
        if target_exists && self.force {
            // A forced push would replace this promotion's commit pushed by an earlier run.
            let tracking = fetch_remote_branch(self.repo, self.target, self.ctx.remotes)?;
            let tip = self.repo.refname_to_id(&tracking).map_err(|e| git_error("reading the remote branch", e))?;
            if super::git_commit::find_commit_with_trailer_from(self.repo, tip, &trailer)?.is_some() {
                tracing::info!(
                    target = self.target,
                    "the remote already holds this promotion's commit; not pushing again"
                );
                return Ok(Attempt::Done);
            }
        }
        if target_exists && !self.force {
            // The commits the remote branch has and the local one lacks come first.
            self.ctx.workspace.materialize_all()?;
            let committer =
                Signature::now(&self.author.name, &self.author.email).map_err(|e| git_error("committer", e))?;
            match integrate_remote(
                self.repo,
                self.branch,
                self.target,
                &committer,
                self.author.signing_key.as_deref(),
                self.ctx.remotes,
                &trailer,
            )? {
                Rebased::OnTop => {}
                Rebased::AlreadyPushed => return Ok(Attempt::Done),
            }
        }
        // Every object of the local branch reaches GitHub under a ref no branch list shows
        // (`push_once` asks the effect guard first; not the point of no return, which is
        // moving the branch).
        let refspec = format!("+refs/heads/{}:{}", self.branch, self.staging);
        if let Pushed::Behind(reason) = push_once(self.ctx, self.repo, &refspec, self.ctx.remotes, Effect::Call)? {
            return Err(format!("the remote rejected the staging ref: {reason}"));
        }
        let head = self
            .repo
            .refname_to_id(&format!("refs/heads/{}", self.branch))
            .map_err(|e| git_error("reading the branch", e))?
            .to_string();
        // The base: the target branch, or for a new branch the one checked out.
        let (base, create) = match self.reference(&target_ref)? {
            Some(tip) => (tip, false),
            None => match self.reference(&Self::heads(self.branch))? {
                Some(tip) => (tip, true),
                None => {
                    return Err(format!(
                        "neither {} nor {} exists on GitHub to compare the push with",
                        self.target, self.branch
                    ));
                }
            },
        };
        let path = format!("{}/compare/{base}...{head}?per_page=1", self.repos());
        let comparison = self.api.expect("GET", &path, None)?;
        let status = comparison["status"].as_str().unwrap_or_default();
        // A new branch is made wherever the local branch leads, as a forced push would.
        match (status, self.force || create) {
            // Nothing to push; a new branch is still made, at the same commit.
            ("identical", _) if !create => return Ok(Attempt::Done),
            ("identical" | "ahead", _) | ("behind" | "diverged", true) => {}
            ("behind", false) => {
                return Ok(Attempt::Moved(format!("{} is ahead of the local branch", self.target)));
            }
            ("diverged", false) => {
                return Ok(Attempt::Moved(format!("{} and the local branch have diverged", self.target)));
            }
            (other, _) => return Err(format!("GitHub compared {base}...{head} with an unknown status {other:?}")),
        }
        // Only the status and the merge base come from GitHub's answer: the commits to
        // replay, their order, trees, messages and authors are the local branch's.
        let merge_base = object_id(&comparison["merge_base_commit"]["sha"], "the comparison's merge base")?;
        let commits = self.commits_to_replay(&head, &merge_base)?;
        if commits.len() > MAX_REPLAYED_COMMITS {
            return Err(format!(
                "{} commits to push, more than the {MAX_REPLAYED_COMMITS} github-push replays at once",
                commits.len()
            ));
        }
        let tip = self.replay(&commits, &merge_base, &head)?;
        self.move_target(&tip, create)
    }

    /// The local commits reachable from `head` and not from `merge_base`, parents first.
    fn commits_to_replay(&self, head: &str, merge_base: &str) -> Result<Vec<git2::Oid>, String> {
        let oid = |sha: &str| git2::Oid::from_str(sha).map_err(|e| git_error("reading a commit id", e));
        let (head, merge_base) = (oid(head)?, oid(merge_base)?);
        if merge_base != head && !self.repo.graph_descendant_of(head, merge_base).unwrap_or(false) {
            return Err(format!("GitHub's merge base {merge_base} is not an ancestor of the local branch"));
        }
        let mut walk = self.repo.revwalk().map_err(|e| git_error("listing the commits to push", e))?;
        walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)
            .map_err(|e| git_error("listing the commits to push", e))?;
        walk.push(head).map_err(|e| git_error("listing the commits to push", e))?;
        walk.hide(merge_base).map_err(|e| git_error("listing the commits to push", e))?;
        walk.collect::<Result<Vec<_>, _>>().map_err(|e| git_error("listing the commits to push", e))
    }

    /// Creates each local commit again through the API, parents mapped to the commits
    /// made before them; the last one made (`merge_base` when there is none), checked to
    /// hold the tree of the local `head`.
    fn replay(&self, commits: &[git2::Oid], merge_base: &str, head: &str) -> Result<String, String> {
        let mut replayed: std::collections::HashMap<git2::Oid, String> = std::collections::HashMap::new();
        let mut last = merge_base.to_owned();
        let mut last_tree: Option<String> = None;
        for (index, id) in commits.iter().enumerate() {
            let commit = self.repo.find_commit(*id).map_err(|e| git_error("reading a commit to push", e))?;
            // Parents outside the replayed ones are already on GitHub (behind the merge base).
            let parents: Vec<String> =
                commit.parent_ids().map(|p| replayed.get(&p).cloned().unwrap_or_else(|| p.to_string())).collect();
            let message = commit.message().map_err(|_| format!("commit {id}'s message is not UTF-8"))?;
            let body = match self.attribution(&commit) {
                Attribution::Original => json!({
                    "message": message,
                    "tree": commit.tree_id().to_string(),
                    "parents": parents,
                    "author": person(&commit.author())?,
                    "committer": person(&commit.committer())?,
                }),
                Attribution::Withheld { co_author } => json!({
                    "message": co_author.map_or_else(|| message.to_owned(), |c| with_co_author(message, &c)),
                    "tree": commit.tree_id().to_string(),
                    "parents": parents,
                }),
            };
            // A commit no branch holds yet: GitHub shows nothing new until the branch moves.
            self.ctx.effects.before_effect(Effect::Call)?;
            let created = self.api.expect("POST", &format!("{}/git/commits", self.repos()), Some(&body))?;
            let sha = object_id(&created["sha"], &format!("the commit {} made", index + 1))?;
            tracing::debug!(original = %id, replayed = sha, "replayed a commit through GitHub's API");
            last_tree = created["tree"]["sha"].as_str().map(str::to_owned);
            replayed.insert(*id, sha.clone());
            last = sha;
        }
        // What the branch is moved to holds exactly the local branch's files.
        let expected = self
            .repo
            .find_commit(git2::Oid::from_str(head).map_err(|e| git_error("reading the branch", e))?)
            .map_err(|e| git_error("reading the branch", e))?
            .tree_id()
            .to_string();
        let landed = match last_tree {
            Some(tree) => tree,
            None if last == head => expected.clone(),
            None => return Err(format!("GitHub's commit {last} names no tree to check against the local branch")),
        };
        if landed != expected {
            return Err(format!(
                "the commit GitHub made ({last}) holds tree {landed}, not the local branch's {expected}; the branch is not moved"
            ));
        }
        Ok(last)
    }

    /// How `commit` is replayed: trusted when the repository's key signed it (the clone's
    /// author's, else the promoter-wide one), as Kargo trusts the key of the clone's home.
    fn attribution(&self, commit: &git2::Commit<'_>) -> Attribution {
        let key = self.author.signing_key.as_deref();
        let trusted = key.is_some_and(|key| super::commit_signing::signed_by(self.repo, commit.id(), key));
        let author = commit.author();
        let author = Person {
            name: String::from_utf8_lossy(author.name_bytes()).into_owned(),
            email: String::from_utf8_lossy(author.email_bytes()).into_owned(),
        };
        let verify_untrusted = self.ctx.remotes.github_verify_untrusted_commits;
        let attribution =
            replay_attribution(trusted, verify_untrusted, &author, key.and_then(|k| k.identity()).as_ref());
        tracing::debug!(commit = %commit.id(), trusted, "attribution of a replayed commit");
        attribution
    }

    /// Points the target branch at `tip`; a branch that moved meanwhile is [`Attempt::Moved`].
    fn move_target(&self, tip: &str, create: bool) -> Result<Attempt, String> {
        self.ctx.effects.before_effect(Effect::Push)?;
        let answer = if create {
            let body = json!({"ref": format!("refs/heads/{}", self.target), "sha": tip});
            self.api.call("POST", &format!("{}/git/refs", self.repos()), Some(&body))?
        } else {
            let body = json!({"sha": tip, "force": self.force});
            self.api.call("PATCH", &format!("{}/git/refs/{}", self.repos(), Self::heads(self.target)), Some(&body))?
        };
        match answer.status {
            200..=299 => Ok(Attempt::Done),
            422 => Ok(Attempt::Moved(format!("GitHub refused to move {}: {}", self.target, answer.message()))),
            status => Err(refused("moving branch", self.target, status, &answer.message())),
        }
    }

    /// Deletes the staging ref; a failure is only logged.
    fn clean_up(&self) {
        if self.ctx.effects.before_effect(Effect::Call).is_err() {
            return;
        }
        let reference = self.staging.trim_start_matches("refs/");
        match self.api.call("DELETE", &format!("{}/git/refs/{reference}", self.repos()), None) {
            Ok(answer) if answer.ok() || answer.status == 404 || answer.status == 422 => {}
            Ok(answer) => tracing::warn!(status = answer.status, "the staging ref could not be deleted"),
            Err(error) => tracing::warn!(error, "the staging ref could not be deleted"),
        }
    }
}

/// The pause after failed attempt `attempt` (from 1), as Kargo's: 1 s growing ×1.5 an
/// attempt, capped at 30 s, with up to a tenth either way of jitter (`jitter` in 0..1).
pub fn backoff(attempt: u32, jitter: f64) -> std::time::Duration {
    let base = (1.5f64.powi(attempt.saturating_sub(1).min(20) as i32)).min(30.0);
    let jittered = base * (0.9 + 0.2 * jitter.clamp(0.0, 1.0));
    std::time::Duration::from_secs_f64(jittered.min(30.0))
}

/// A number in 0..1 that differs between replicas pausing at the same moment.
fn jitter() -> f64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().subsec_nanos();
    f64::from(nanos) / 1e9
}

/// A Git object id (40 or 64 hex digits) from GitHub's answer, refused otherwise.
fn object_id(value: &Value, what: &str) -> Result<String, String> {
    match value.as_str() {
        Some(sha) if matches!(sha.len(), 40 | 64) && sha.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(sha.to_ascii_lowercase())
        }
        Some(other) => Err(format!(
            "GitHub's answer names {what} as {:?}, not a commit id",
            lading_domain::excerpt::shortened(other, 80)
        )),
        None => Err(format!("GitHub's answer names no {what}")),
    }
}

/// A commit's author or committer as GitHub's API takes it: name, email, RFC 3339 date.
fn person(signature: &Signature<'_>) -> Result<Value, String> {
    let when = signature.when();
    let offset = chrono::FixedOffset::east_opt(when.offset_minutes() * 60)
        .ok_or_else(|| "a commit's time zone is out of range".to_owned())?;
    let date = chrono::DateTime::from_timestamp(when.seconds(), 0)
        .ok_or_else(|| "a commit's date is out of range".to_owned())?
        .with_timezone(&offset);
    Ok(json!({
        "name": String::from_utf8_lossy(signature.name_bytes()),
        "email": String::from_utf8_lossy(signature.email_bytes()),
        "date": date.to_rfc3339(),
    }))
}

fn refused(doing: &str, reference: &str, status: u16, message: &str) -> String {
    match message {
        "" => format!("GitHub refused {doing} {reference}: status {status}"),
        message => format!("GitHub refused {doing} {reference}: status {status}: {message}"),
    }
}

/// Fetches `target` and moves the local `branch` to it, as `git reset --hard` but within
/// the cone of a sparse checkout (see [`move_branch`]): the commits GitHub made.
fn take_remote_branch(ctx: &StepContext<'_>, repo: &Repository, branch: &str, target: &str) -> Result<String, String> {
    let tracking = fetch_remote_branch(repo, target, ctx.remotes)?;
    let tip = repo
        .find_reference(&tracking)
        .and_then(|r| r.peel_to_commit())
        .map_err(|e| git_error("reading the pushed branch", e))?;
    ctx.workspace.materialize_all()?;
    super::working_tree::fresh_index(repo)?;
    move_branch(repo, branch, tip.id(), Overwrite::Yes)?;
    Ok(tip.id().to_string())
}

pub fn run(ctx: &StepContext<'_>, config: Config) -> Result<Map<String, Value>, String> {
    let configured_target = config.target_branch.filter(|t| !t.is_empty());
    if config.generate_target_branch && configured_target.is_some() {
        return Err("config.targetBranch: set either targetBranch or generateTargetBranch, not both".to_owned());
    }
    if let Some(target) = &configured_target
        && !git2::Reference::is_valid_name(&format!("refs/heads/{target}"))
    {
        return Err(format!("config.targetBranch: {target:?} is not a valid branch name"));
    }
    let repo = super::working_tree::open(ctx, "config.path", &config.path)?;
    // A clone made without certificate checks fetches and pushes without them.
    let remotes = ctx.remotes.for_repository(&repo);
    let ctx = &StepContext { remotes: &remotes, ..*ctx };
    let (branch, target) = branch_and_target(ctx, &repo, configured_target, config.generate_target_branch)?;
    // A generated branch belongs to this promotion alone: it is forced, as Kargo does.
    let force = config.generate_target_branch || config.force;
    let origin = repo
        .find_remote("origin")
        .map_err(|e| git_error("finding origin", e))?
        .url()
        .map_err(|_| "origin's URL is not UTF-8".to_owned())?
        .to_owned();
    let (github, api) = super::pull_requests::github_api(ctx, &origin, config.insecure_skip_tls_verify)?;
    let staging = format!("refs/lading/staging/{}", ctx.promotion);
    let author = super::commit_signing::repository_author(&repo, ctx.author)?;
    let push = Push {
        ctx,
        repo: &repo,
        author: &author,
        api: &api,
        github: &github,
        branch: &branch,
        target: &target,
        force,
        staging: &staging,
    };
    let most = u32::try_from(lading_domain::spec::step_schemas::MAX_ATTEMPTS_LIMIT).unwrap_or(u32::MAX);
    let max_attempts = config.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS).clamp(1, most);
    let mut attempt = 1;
    let pushed = loop {
        if ctx.remotes.cancel.is_cancelled() {
            break Err("the push was cancelled: the promotion was stopped".to_owned());
        }
        match push.attempt() {
            Ok(Attempt::Done) => break Ok(()),
            Ok(Attempt::Moved(reason)) if attempt < max_attempts => {
                let pause = backoff(attempt, jitter());
                tracing::info!(attempt, reason, ?pause, "the remote branch moved on; integrating and pushing again");
                // A stopped promotion wakes the pause at once.
                if !ctx.remotes.cancel.sleep(pause) {
                    break Err("the push was cancelled: the promotion was stopped".to_owned());
                }
                attempt += 1;
            }
            Ok(Attempt::Moved(reason)) => break Err(format!("the push failed after {attempt} attempt(s): {reason}")),
            Err(error) => break Err(error),
        }
    };
    push.clean_up();
    pushed?;
    let tip = take_remote_branch(ctx, &repo, &branch, &target)?;
    // This promotion's commit as GitHub made it (found again on a resume), else the tip.
    let trailer = format!("{}: {}", super::PROMOTION_TRAILER, ctx.promotion);
    let commit = match super::git_commit::find_commit_with_trailer(&repo, &trailer)? {
        Some(own) => PushedCommit::Own(own),
        None => PushedCommit::Other(tip),
    };
    Ok(outputs(&repo, Some(&origin), &target, &commit))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::backoff;

    #[test]
    fn the_pause_grows_by_half_from_a_second_up_to_thirty_seconds() {
        assert_eq!(backoff(1, 0.5), Duration::from_secs(1));
        assert_eq!(backoff(2, 0.5), Duration::from_millis(1500));
        assert_eq!(backoff(3, 0.5), Duration::from_millis(2250));
        assert_eq!(backoff(99, 0.5), Duration::from_secs(30));
        assert_eq!(backoff(99, 1.0), Duration::from_secs(30), "jitter stays under the cap");
        assert_eq!(backoff(1, 0.0), Duration::from_millis(900));
        assert_eq!(backoff(1, 1.0), Duration::from_millis(1100));
    }
}
