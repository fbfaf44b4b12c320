//! `git-push`: pushes the working tree's branch to `origin` (or to `targetBranch`, or to
//! a branch named after the promotion with `generateTargetBranch`). When the remote moved
//! on meanwhile (another stage pushed), the local commits are rebased onto it and the push
//! is tried again, up to `maxAttempts` (default 10). Outputs: `branch`, `commit`,
//! `repoURL` (origin without user info), `commitURL` (its page, for an https Git host),
//! `changedFiles` and `changes` (the files the commit changed against its first parent,
//! at most 50, with lines added and removed). Pushes and fetches keep to the Git budget
//! (connect, idle and total timeouts; a size budget).

use std::cell::RefCell;

use git2::{PushOptions, RemoteCallbacks, Repository, Signature};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Remotes, StepContext, git_error};
use crate::engine::Effect;

const DEFAULT_MAX_ATTEMPTS: u32 = 10;
/// How many changed files the `changes` output lists.
const CHANGES_LISTED: usize = 50;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    path: String,
    #[serde(default)]
    target_branch: Option<String>,
    #[serde(default)]
    generate_target_branch: bool,
    #[serde(default)]
    max_attempts: Option<u32>,
    /// Push this tag instead of a branch.
    #[serde(default)]
    tag: Option<String>,
}

/// What became of one push.
pub(super) enum Pushed {
    Done,
    /// The remote has commits the local branch lacks.
    Behind(String),
}

fn is_non_fast_forward(message: &str) -> bool {
    let message = message.to_lowercase();
    message.contains("non-fast")
        || message.contains("nonfastforward")
        || message.contains("fetch first")
        || message.contains("not present locally")
}

/// Pushes `refspec` to `origin` (`refs/heads/<branch>:<destination>`), asking the effect
/// guard for `effect` first: [`Effect::Push`] for a branch others see, the point of no
/// return; [`Effect::Call`] for a ref nobody reads.
pub(super) fn push_once(
    ctx: &StepContext<'_>,
    repo: &Repository,
    refspec: &str,
    remotes: &Remotes,
    effect: Effect,
) -> Result<Pushed, String> {
    // The fence and the abort claim are checked right before.
    ctx.effects.before_effect(effect)?;
    let mut remote = repo.find_remote("origin").map_err(|e| git_error("finding origin", e))?;
    let url = remote.url().unwrap_or_default().to_owned();
    let watch = remotes.watch("pushing to", &url);
    let rejection = RefCell::new(None);
    let mut callbacks: RemoteCallbacks<'_> = remotes.callbacks(&url, &watch);
    callbacks.push_update_reference(|reference, status| {
        if let Some(message) = status {
            *rejection.borrow_mut() = Some(format!("{reference}: {message}"));
        }
        Ok(())
    });
    let mut options = PushOptions::new();
    options.remote_callbacks(callbacks);
    let pushed = remote.push(&[refspec], Some(&mut options));
    drop(options);
    let rejection = rejection.into_inner();
    match (pushed, rejection) {
        (Ok(()), None) => Ok(Pushed::Done),
        (Ok(()), Some(reason)) if is_non_fast_forward(&reason) => Ok(Pushed::Behind(reason)),
        (Ok(()), Some(reason)) => Err(format!("the remote rejected the push: {reason}")),
        (Err(e), _) if is_non_fast_forward(e.message()) => Ok(Pushed::Behind(e.message().to_owned())),
        (Err(e), _) => Err(watch.explain(&e).to_string()),
    }
}

/// What fetching the remote branch found.
pub(super) enum Rebased {
    /// The local commits were replayed on top of the remote branch: push again.
    OnTop,
    /// The remote branch already holds this promotion's commit (another run of the same
    /// promotion pushed it): the local branch now is the remote's, nothing to push.
    AlreadyPushed,
}

/// Fetches origin's branch `target` into its tracking ref, which it names.
pub(super) fn fetch_remote_branch(repo: &Repository, target: &str, remotes: &Remotes) -> Result<String, String> {
    let mut remote = repo.find_remote("origin").map_err(|e| git_error("finding origin", e))?;
    let url = remote.url().unwrap_or_default().to_owned();
    let watch = remotes.watch("fetching", &url);
    let tracking = format!("refs/remotes/origin/{target}");
    let mut fetch = git2::FetchOptions::new();
    fetch.remote_callbacks(remotes.callbacks(&url, &watch));
    remote
        .fetch(&[format!("+refs/heads/{target}:{tracking}")], Some(&mut fetch), None)
        .map_err(|e| watch.explain(&e).to_string())?;
    Ok(tracking)
}

/// Fetches `target` and replays the local branch's own commits on top of it, unless the
/// remote already has this promotion's commit.
pub(super) fn rebase_onto_remote(
    repo: &Repository,
    branch: &str,
    target: &str,
    committer: &Signature<'_>,
    remotes: &Remotes,
    trailer: &str,
) -> Result<Rebased, String> {
    // A rebase or reset reads the index: it is written in full first.
    super::working_tree::fresh_index(repo)?;
    let tracking = fetch_remote_branch(repo, target, remotes)?;
    let upstream = repo.find_reference(&tracking).map_err(|e| git_error("reading the remote branch", e))?;
    let upstream_tip = upstream.peel_to_commit().map_err(|e| git_error("reading the remote branch", e))?;
    if super::git_commit::find_commit_with_trailer_from(repo, upstream_tip.id(), trailer)?.is_some() {
        tracing::info!(target, "the remote already holds this promotion's commit; not pushing again");
        repo.reset(upstream_tip.as_object(), git2::ResetType::Hard, None)
            .map_err(|e| git_error("taking the remote branch", e))?;
        return Ok(Rebased::AlreadyPushed);
    }
    let local_tip =
        repo.refname_to_id(&format!("refs/heads/{branch}")).map_err(|e| git_error("reading the branch", e))?;
    if local_tip == upstream_tip.id() || repo.graph_descendant_of(local_tip, upstream_tip.id()).unwrap_or(false) {
        // The local branch holds the remote's commits already: nothing to replay.
        return Ok(Rebased::OnTop);
    }
    let upstream =
        repo.reference_to_annotated_commit(&upstream).map_err(|e| git_error("reading the remote branch", e))?;
    let local = repo.find_reference(&format!("refs/heads/{branch}")).map_err(|e| git_error("reading the branch", e))?;
    let local = repo.reference_to_annotated_commit(&local).map_err(|e| git_error("reading the branch", e))?;
    let mut rebase = repo.rebase(Some(&local), Some(&upstream), None, None).map_err(|e| git_error("rebasing", e))?;
    while let Some(operation) = rebase.next() {
        operation.map_err(|e| git_error("rebasing", e))?;
        let conflicted = repo.index().map(|i| i.has_conflicts()).unwrap_or(true);
        if conflicted {
            let _ = rebase.abort();
            return Err(format!("the remote branch {target} changed the same lines; rebase conflict"));
        }
        match rebase.commit(None, committer, None) {
            Ok(_) => {}
            // The remote already has an identical change: nothing left to replay.
            Err(e) if e.code() == git2::ErrorCode::Applied => {}
            Err(e) => return Err(git_error("rebasing", e)),
        }
    }
    rebase.finish(Some(committer)).map_err(|e| git_error("rebasing", e))?;
    Ok(Rebased::OnTop)
}

/// Pushes the tag `tag` (a tag is never rebased: a remote tag elsewhere refuses it).
fn push_tag(ctx: &StepContext<'_>, repo: &Repository, tag: &str) -> Result<Map<String, Value>, String> {
    let reference = format!("refs/tags/{tag}");
    let commit = repo
        .revparse_single(&reference)
        .and_then(|o| o.peel_to_commit())
        .map_err(|e| git_error(&format!("config.tag: {tag:?}"), e))?
        .id()
        .to_string();
    ctx.effects.before_effect(Effect::Push)?;
    let mut remote = repo.find_remote("origin").map_err(|e| git_error("finding origin", e))?;
    let url = remote.url().unwrap_or_default().to_owned();
    let watch = ctx.remotes.watch("pushing to", &url);
    let rejection = RefCell::new(None);
    let mut callbacks: RemoteCallbacks<'_> = ctx.remotes.callbacks(&url, &watch);
    callbacks.push_update_reference(|reference, status| {
        if let Some(message) = status {
            *rejection.borrow_mut() = Some(format!("{reference}: {message}"));
        }
        Ok(())
    });
    let mut options = PushOptions::new();
    options.remote_callbacks(callbacks);
    let pushed = remote.push(&[format!("{reference}:{reference}")], Some(&mut options));
    drop(options);
    match (pushed, rejection.into_inner()) {
        (Ok(()), None) => {}
        (Ok(()), Some(reason)) => return Err(format!("the remote rejected the tag: {reason}")),
        (Err(e), _) => return Err(watch.explain(&e).to_string()),
    }
    let mut out = Map::new();
    out.insert("tag".to_owned(), json!(tag));
    out.insert("commit".to_owned(), json!(commit));
    Ok(out)
}

pub fn run(ctx: &StepContext<'_>, config: Config) -> Result<Map<String, Value>, String> {
    let repo = super::working_tree::open(ctx, "config.path", &config.path)?;
    if let Some(tag) = config.tag.as_deref().filter(|t| !t.is_empty()) {
        if config.target_branch.is_some() || config.generate_target_branch {
            return Err("config.tag: push either a tag or a branch (targetBranch, generateTargetBranch)".to_owned());
        }
        return push_tag(ctx, &repo, tag);
    }
    let head = repo.head().map_err(|e| git_error("nothing to push", e))?;
    if !head.is_branch() {
        return Err("HEAD is detached; check out a branch to push".to_owned());
    }
    let branch = head.shorthand().map_err(|_| "the branch name is not UTF-8".to_owned())?.to_owned();
    drop(head);
    let target = if config.generate_target_branch {
        format!("lading/promotion/{}", ctx.promotion)
    } else {
        config.target_branch.filter(|t| !t.is_empty()).unwrap_or_else(|| branch.clone())
    };
    let committer = Signature::now(&ctx.author.name, &ctx.author.email).map_err(|e| git_error("committer", e))?;
    let max_attempts = config.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS).max(1);
    let trailer = format!("{}: {}", super::PROMOTION_TRAILER, ctx.promotion);
    let mut attempt = 1;
    loop {
        match push_once(ctx, &repo, &format!("refs/heads/{branch}:refs/heads/{target}"), ctx.remotes, Effect::Push)? {
            Pushed::Done => break,
            Pushed::Behind(reason) if attempt < max_attempts && !config.generate_target_branch => {
                tracing::info!(attempt, reason, "remote moved on; rebasing and pushing again");
                // A rebase checks files out itself: the working tree and its index are
                // written in full first.
                ctx.workspace.materialize_all()?;
                match rebase_onto_remote(&repo, &branch, &target, &committer, ctx.remotes, &trailer)? {
                    Rebased::OnTop => attempt += 1,
                    Rebased::AlreadyPushed => break,
                }
            }
            Pushed::Behind(reason) => {
                return Err(format!("the remote rejected the push after {attempt} attempt(s): {reason}"));
            }
        }
    }
    // This promotion's commit (rebased or found again on a resume), else the pushed tip.
    let commit = match super::git_commit::find_commit_with_trailer(&repo, &trailer)? {
        Some(own) => own,
        None => {
            repo.head().and_then(|h| h.peel_to_commit()).map_err(|e| git_error("reading HEAD", e))?.id().to_string()
        }
    };
    let mut out = Map::new();
    out.insert("branch".to_owned(), json!(target));
    let origin = repo.find_remote("origin").ok().and_then(|r| r.url().ok().map(lading_domain::redact::redact_url));
    if let Some(url) = origin {
        if let Some(page) = lading_domain::commit_url::commit_url(&url, &commit) {
            out.insert("commitURL".to_owned(), json!(page));
        }
        out.insert("repoURL".to_owned(), json!(url));
    }
    // What the commit changed is for people to read: a diff that cannot be made is left out.
    match changes(&repo, &commit) {
        Ok((count, listed)) => {
            out.insert("changedFiles".to_owned(), json!(count));
            out.insert("changes".to_owned(), Value::Array(listed));
        }
        Err(e) => tracing::warn!(commit, error = %e, "the pushed commit's changes could not be listed"),
    }
    out.insert("commit".to_owned(), json!(commit));
    Ok(out)
}

/// How many files `commit` changed against its first parent (against nothing for a root
/// commit), and the first [`CHANGES_LISTED`] with the lines each added and removed. Reads
/// objects only, never the work tree.
pub(super) fn changes(repo: &Repository, commit: &str) -> Result<(usize, Vec<Value>), git2::Error> {
    let commit = repo.find_commit(git2::Oid::from_str(commit)?)?;
    let tree = commit.tree()?;
    let parent = match commit.parent(0) {
        Ok(parent) => Some(parent.tree()?),
        Err(_) => None,
    };
    let diff = repo.diff_tree_to_tree(parent.as_ref(), Some(&tree), None)?;
    let count = diff.deltas().len();
    let mut listed = Vec::new();
    for index in 0..count.min(CHANGES_LISTED) {
        let Some(delta) = diff.get_delta(index) else { continue };
        let path = delta.new_file().path().or_else(|| delta.old_file().path());
        let path = path.map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
        let (added, removed) = match git2::Patch::from_diff(&diff, index)? {
            Some(patch) => {
                let (_, added, removed) = patch.line_stats()?;
                (added, removed)
            }
            None => (0, 0),
        };
        listed.push(json!({"path": path, "added": added, "removed": removed}));
    }
    Ok((count, listed))
}
