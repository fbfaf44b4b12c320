//! `git-push`: pushes the working tree's branch to `origin` (or to `targetBranch`, or to
//! a branch named after the promotion with `generateTargetBranch`). When the remote moved
//! on meanwhile (another stage pushed), the remote's commits are brought in as the push
//! integration policy says (a rebase of the local commits onto them by default, or a
//! merge; see [`lading_domain::push_integration`]) and the push is tried again, up to
//! `maxAttempts` (default 10). Outputs: `branch`, `commit`,
//! `repoURL` (origin without user info), `commitURL` (its page, for an https Git host),
//! `changedFiles` and `changes` (the files the commit changed against its first parent,
//! at most 50, with lines added and removed). Pushes and fetches keep to the Git budget
//! (connect, idle and total timeouts; a size budget).

use std::cell::RefCell;

use git2::{PushOptions, RemoteCallbacks, Repository, Signature};
use lading_domain::push_integration::{Integration, SignatureStatus, integration, rebase_unsafe_because};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Remotes, StepContext, git_error};
use crate::engine::Effect;
use crate::engine::workspace::tree_diff::{self, Change, tree_changes};

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
    let refspec = format!("+refs/heads/{target}:{tracking}");
    if super::partial_clone::is_partial(repo) {
        // A blobless clone fetches through the git CLI, then gets the blobs a rebase onto
        // the remote branch reads, in one batch.
        super::partial_clone::fetch_without_blobs(repo, &url, &[&refspec], remotes)?;
        let upstream = repo.refname_to_id(&tracking).map_err(|e| git_error("reading the remote branch", e))?;
        let blobs = super::partial_clone::blobs_for_rebase(repo, upstream)?;
        super::partial_clone::fetch_missing(repo, &url, blobs, remotes)?;
        return Ok(tracking);
    }
    let mut fetch = git2::FetchOptions::new();
    fetch.remote_callbacks(remotes.callbacks(&url, &watch));
    remote.fetch(&[refspec], Some(&mut fetch), None).map_err(|e| watch.explain(&e).to_string())?;
    Ok(tracking)
}

/// Fetches `target` and, unless the remote already has this promotion's commit, brings
/// its commits into the local branch as the push integration policy says: replays the
/// local branch's own commits on top of it, signed by `key` when there is one (the
/// repository's key, as Kargo's rebase signs with its own), or merges it (see
/// [`merge_remote`]), or refuses.
///
/// The rebase runs in memory, reading objects only: a working tree that lacks files on
/// purpose (those outside the cone of a sparse checkout) is not read as deleting them.
/// The working tree then follows the new tip on the paths that changed (see
/// [`move_branch`]).
pub(super) fn integrate_remote(
    repo: &Repository,
    branch: &str,
    target: &str,
    committer: &Signature<'_>,
    key: Option<&super::commit_signing::SigningKey>,
    remotes: &Remotes,
    trailer: &str,
) -> Result<Rebased, String> {
    // The working tree moves from the index's tree: it is written in full first.
    super::working_tree::fresh_index(repo)?;
    let tracking = fetch_remote_branch(repo, target, remotes)?;
    let upstream = repo.find_reference(&tracking).map_err(|e| git_error("reading the remote branch", e))?;
    let upstream_tip = upstream.peel_to_commit().map_err(|e| git_error("reading the remote branch", e))?;
    if super::git_commit::find_commit_with_trailer_from(repo, upstream_tip.id(), trailer)?.is_some() {
        tracing::info!(target, "the remote already holds this promotion's commit; not pushing again");
        // As `git reset --hard`: what the working tree held of this promotion is the remote's now.
        move_branch(repo, branch, upstream_tip.id(), Overwrite::Yes)?;
        return Ok(Rebased::AlreadyPushed);
    }
    let local_tip =
        repo.refname_to_id(&format!("refs/heads/{branch}")).map_err(|e| git_error("reading the branch", e))?;
    if local_tip == upstream_tip.id() || repo.graph_descendant_of(local_tip, upstream_tip.id()).unwrap_or(false) {
        // The local branch holds the remote's commits already: nothing to replay.
        return Ok(Rebased::OnTop);
    }
    // How the remote's commits come in: the push integration policy, from what a rebase
    // would make of the signatures of the local commits it replays.
    let policy = remotes.push_integration_policy;
    let replayed = if policy.reads_signatures() {
        replayed_signatures(repo, local_tip, upstream_tip.id(), key)?
    } else {
        Vec::new()
    };
    let statuses: Vec<SignatureStatus> = replayed.iter().map(|(_, status)| *status).collect();
    match integration(policy, key.is_some(), &statuses) {
        Integration::Rebase => {}
        Integration::Merge => {
            merge_remote(repo, branch, target, local_tip, &upstream_tip, committer, key, trailer)?;
            return Ok(Rebased::OnTop);
        }
        Integration::Refuse { unsafe_commit } => {
            let (id, status) = replayed[unsafe_commit];
            let reason = rebase_unsafe_because(key.is_some(), status).unwrap_or_default();
            return Err(format!(
                "the remote branch {target} has commits the local branch lacks, and the push integration \
                 policy {policy} allows neither a merge nor rebasing commit {id}: {reason}"
            ));
        }
    }
    let upstream =
        repo.reference_to_annotated_commit(&upstream).map_err(|e| git_error("reading the remote branch", e))?;
    let local = repo.find_reference(&format!("refs/heads/{branch}")).map_err(|e| git_error("reading the branch", e))?;
    let local = repo.reference_to_annotated_commit(&local).map_err(|e| git_error("reading the branch", e))?;
    let mut options = git2::RebaseOptions::new();
    options.inmemory(true);
    let mut rebase =
        repo.rebase(Some(&local), Some(&upstream), None, Some(&mut options)).map_err(|e| git_error("rebasing", e))?;
    // The last commit replayed; the remote's tip while none is.
    let mut tip = upstream_tip.id();
    while let Some(operation) = rebase.next() {
        operation.map_err(|e| git_error("rebasing", e))?;
        let conflicted = rebase.inmemory_index().map(|i| i.has_conflicts()).unwrap_or(true);
        if conflicted {
            let _ = rebase.abort();
            return Err(format!("the remote branch {target} changed the same lines; rebase conflict"));
        }
        match rebase.commit(None, committer, None) {
            Ok(id) => tip = id,
            // The remote already has an identical change: nothing left to replay.
            Err(e) if e.code() == git2::ErrorCode::Applied => {}
            Err(e) => return Err(git_error("rebasing", e)),
        }
    }
    rebase.finish(Some(committer)).map_err(|e| git_error("rebasing", e))?;
    move_branch(repo, branch, tip, Overwrite::No)?;
    if let Some(key) = key {
        super::commit_signing::sign_commits_since(repo, branch, upstream_tip.id(), key)?;
    }
    Ok(Rebased::OnTop)
}

/// The local commits a rebase onto `upstream` would replay (those of `local` it lacks),
/// oldest first, each with what signs it: the repository's `key`, another key (or a
/// signature that does not verify), or nothing.
fn replayed_signatures(
    repo: &Repository,
    local: git2::Oid,
    upstream: git2::Oid,
    key: Option<&super::commit_signing::SigningKey>,
) -> Result<Vec<(git2::Oid, SignatureStatus)>, String> {
    let walking = |e| git_error("listing the commits a rebase would replay", e);
    let mut walk = repo.revwalk().map_err(walking)?;
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE).map_err(walking)?;
    walk.push(local).map_err(walking)?;
    walk.hide(upstream).map_err(walking)?;
    let mut replayed = Vec::new();
    for id in walk {
        let id = id.map_err(walking)?;
        let status = match repo.extract_signature(&id, None) {
            Err(e) if e.code() == git2::ErrorCode::NotFound => SignatureStatus::Unsigned,
            Err(e) => return Err(git_error(&format!("reading the signature of commit {id}"), e)),
            Ok(_) if key.is_some_and(|key| super::commit_signing::signed_by(repo, id, key)) => SignatureStatus::Trusted,
            Ok(_) => SignatureStatus::Untrusted,
        };
        replayed.push((id, status));
    }
    Ok(replayed)
}

/// Merges the remote branch's tip into the local branch, as `git pull --no-rebase`: a
/// merge commit of both, by the repository's author, signed by `key` when there is one,
/// carrying the promotion's `trailer` (a run of the promotion again finds it pushed). The
/// working tree then follows it on the paths that changed (see [`move_branch`]).
#[allow(clippy::too_many_arguments)]
fn merge_remote(
    repo: &Repository,
    branch: &str,
    target: &str,
    local_tip: git2::Oid,
    upstream_tip: &git2::Commit<'_>,
    committer: &Signature<'_>,
    key: Option<&super::commit_signing::SigningKey>,
    trailer: &str,
) -> Result<(), String> {
    let merging = |e| git_error("merging the remote branch", e);
    let local = repo.find_commit(local_tip).map_err(merging)?;
    let mut index = repo.merge_commits(&local, upstream_tip, None).map_err(merging)?;
    if index.has_conflicts() {
        return Err(format!("the remote branch {target} changed the same lines; merge conflict"));
    }
    let tree = index.write_tree_to(repo).and_then(|id| repo.find_tree(id)).map_err(merging)?;
    let origin = repo.find_remote("origin").ok().and_then(|r| r.url().ok().map(lading_domain::redact::redact_url));
    let of = origin.map(|url| format!(" of {url}")).unwrap_or_default();
    let message = format!("Merge branch '{target}'{of} into {branch}\n\n{trailer}\n");
    let parents = [&local, upstream_tip];
    let new = super::commit_signing::NewCommit {
        author: committer,
        committer,
        message: &message,
        tree: &tree,
        parents: &parents,
    };
    let merged = super::commit_signing::commit(repo, None, &new, key)?;
    move_branch(repo, branch, merged, Overwrite::No)
}

/// Whether [`move_branch`] overwrites changes of the working tree not yet committed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Overwrite {
    Yes,
    No,
}

/// Moves `branch` (checked out in `repo`) to `to`: writes, of the paths that differ
/// between HEAD's tree and `to`'s, those a sparse checkout has in its cone (all of them
/// otherwise), refusing to overwrite an uncommitted change unless `overwrite`; then the
/// branch, and the index from `to`'s tree in full, so the paths outside the cone stay
/// committed as they are.
pub(super) fn move_branch(repo: &Repository, branch: &str, to: git2::Oid, overwrite: Overwrite) -> Result<(), String> {
    let moving = |e| git_error("moving the working tree to the rebased branch", e);
    let from = repo.head().and_then(|h| h.peel_to_tree()).map_err(moving)?;
    let tree = repo.find_commit(to).and_then(|c| c.tree()).map_err(moving)?;
    let cone = super::git_clone::cone_of(repo);
    let paths: Vec<String> = tree_changes(repo, Some(from.id()), Some(tree.id()))
        .map_err(moving)?
        .into_iter()
        .map(|change| change.path)
        .filter(|path| cone.as_deref().is_none_or(|dirs| super::git_clone::in_cone(dirs, path)))
        .collect();
    if !paths.is_empty() {
        // Against HEAD's tree, before the branch moves: only these paths are compared or written.
        let mut checkout = git2::build::CheckoutBuilder::new();
        match overwrite {
            Overwrite::Yes => checkout.force(),
            Overwrite::No => checkout.safe(),
        };
        checkout.disable_pathspec_match(true).update_index(false);
        for path in &paths {
            checkout.path(path);
        }
        repo.checkout_tree(tree.as_object(), Some(&mut checkout)).map_err(moving)?;
    }
    repo.reference(&format!("refs/heads/{branch}"), to, true, "rebase: onto the remote branch").map_err(moving)?;
    let mut index = repo.index().map_err(|e| git_error("opening the index", e))?;
    index.read_tree(&tree).map_err(|e| git_error("reading the rebased tree into the index", e))?;
    index.write().map_err(|e| git_error("writing the index", e))?;
    super::working_tree::index_written(repo)
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
    // A tag that moves is refused, never rebased.
    if let Pushed::Behind(reason) =
        push_once(ctx, repo, &format!("{reference}:{reference}"), ctx.remotes, Effect::Push)?
    {
        return Err(format!("the remote rejected the tag: {reason}"));
    }
    let mut out = Map::new();
    out.insert("tag".to_owned(), json!(tag));
    out.insert("commit".to_owned(), json!(commit));
    Ok(out)
}

pub fn run(ctx: &StepContext<'_>, config: Config) -> Result<Map<String, Value>, String> {
    let repo = super::working_tree::open(ctx, "config.path", &config.path)?;
    // A clone made without certificate checks is pushed without them.
    let remotes = ctx.remotes.for_repository(&repo);
    let ctx = &StepContext { remotes: &remotes, ..*ctx };
    if let Some(tag) = config.tag.as_deref().filter(|t| !t.is_empty()) {
        if config.target_branch.is_some() || config.generate_target_branch {
            return Err("config.tag: push either a tag or a branch (targetBranch, generateTargetBranch)".to_owned());
        }
        return push_tag(ctx, &repo, tag);
    }
    let (branch, target) = branch_and_target(ctx, &repo, config.target_branch, config.generate_target_branch)?;
    let author = super::commit_signing::repository_author(&repo, ctx.author)?;
    let committer = Signature::now(&author.name, &author.email).map_err(|e| git_error("committer", e))?;
    let max_attempts = config.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS).max(1);
    let trailer = format!("{}: {}", super::PROMOTION_TRAILER, ctx.promotion);
    let mut attempt = 1;
    loop {
        match push_once(ctx, &repo, &format!("refs/heads/{branch}:refs/heads/{target}"), ctx.remotes, Effect::Push)? {
            Pushed::Done => break,
            Pushed::Behind(reason) if attempt < max_attempts && !config.generate_target_branch => {
                tracing::info!(attempt, reason, "remote moved on; bringing its commits in and pushing again");
                // A rebase checks files out itself: the working tree and its index are
                // written in full first.
                ctx.workspace.materialize_all()?;
                match integrate_remote(
                    &repo,
                    &branch,
                    &target,
                    &committer,
                    author.signing_key.as_deref(),
                    ctx.remotes,
                    &trailer,
                )? {
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
    let origin = repo.find_remote("origin").ok().and_then(|r| r.url().ok().map(str::to_owned));
    Ok(outputs(&repo, origin.as_deref(), &target, &commit))
}

/// The branch checked out in `repo`, and the remote branch pushing it goes to: one named
/// after the promotion with `generate`, else `target` when set, else the same branch.
pub(super) fn branch_and_target(
    ctx: &StepContext<'_>,
    repo: &Repository,
    target: Option<String>,
    generate: bool,
) -> Result<(String, String), String> {
    let head = repo.head().map_err(|e| git_error("nothing to push", e))?;
    if !head.is_branch() {
        return Err("HEAD is detached; check out a branch to push".to_owned());
    }
    let branch = head.shorthand().map_err(|_| "the branch name is not UTF-8".to_owned())?.to_owned();
    let target = match target.filter(|t| !t.is_empty()) {
        _ if generate => format!("lading/promotion/{}", ctx.promotion),
        Some(target) => target,
        None => branch.clone(),
    };
    Ok((branch, target))
}

/// The outputs of a push of `commit` to `branch` of `origin` (a URL, given without its
/// user info): `branch`, `commit`, `repoURL`, `commitURL`, `changedFiles`, `changes`.
pub(super) fn outputs(repo: &Repository, origin: Option<&str>, branch: &str, commit: &str) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("branch".to_owned(), json!(branch));
    if let Some(url) = origin.map(lading_domain::redact::redact_url) {
        if let Some(page) = lading_domain::commit_url::commit_url(&url, commit) {
            out.insert("commitURL".to_owned(), json!(page));
        }
        out.insert("repoURL".to_owned(), json!(url));
    }
    // What the commit changed is for people to read: a diff that cannot be made is left out.
    match changes(repo, commit) {
        Ok((count, listed)) => {
            out.insert("changedFiles".to_owned(), json!(count));
            out.insert("changes".to_owned(), Value::Array(listed));
        }
        Err(e) => tracing::warn!(commit, error = %e, "the pushed commit's changes could not be listed"),
    }
    out.insert("commit".to_owned(), json!(commit));
    out
}

/// How many files `commit` changed against its first parent (against nothing for a root
/// commit), and the first [`CHANGES_LISTED`] with the lines each added and removed. Reads
/// objects only, never the work tree; only the subtrees that differ are read.
pub(super) fn changes(repo: &Repository, commit: &str) -> Result<(usize, Vec<Value>), git2::Error> {
    let commit = repo.find_commit(git2::Oid::from_str(commit)?)?;
    let tree = commit.tree()?;
    let parent = match commit.parent(0) {
        Ok(parent) => Some(parent.tree()?),
        Err(_) => None,
    };
    let changed = tree_changes(repo, parent.as_ref().map(git2::Tree::id), Some(tree.id()))?;
    let listed = &changed[..changed.len().min(CHANGES_LISTED)];
    let stats = match blob_line_stats(repo, parent.as_ref(), &tree, listed)? {
        Some(stats) => stats,
        None => diff_line_stats(repo, parent.as_ref(), &tree)?,
    };
    let listed = listed
        .iter()
        .zip(stats)
        .map(|(change, (added, removed))| json!({"path": change.path, "added": added, "removed": removed}))
        .collect();
    Ok((changed.len(), listed))
}

/// Lines added and removed in each of `listed`, diffing their blobs, when no
/// `.gitattributes` can apply to them (none in the repository's `info`, none beside them
/// or above them in either tree or on disk) and each is a file or a symlink: the same
/// figures libgit2's diff gives, without reading the index it looks for attributes in.
/// `None` otherwise.
fn blob_line_stats(
    repo: &Repository,
    parent: Option<&git2::Tree<'_>>,
    tree: &git2::Tree<'_>,
    listed: &[Change],
) -> Result<Option<Vec<(usize, usize)>>, git2::Error> {
    if repo.path().join("info").join("attributes").exists() {
        return Ok(None);
    }
    let blob = |entry: Option<tree_diff::Entry>| entry.is_none_or(|e| matches!(e.mode & 0o170000, 0o100000 | 0o120000));
    let workdir = repo.workdir();
    for change in listed {
        if !blob(change.old) || !blob(change.new) {
            return Ok(None);
        }
        for dir in std::path::Path::new(&change.path).ancestors().skip(1) {
            let attributes = dir.join(".gitattributes");
            let in_tree = |t: Option<&git2::Tree<'_>>| t.is_some_and(|t| t.get_path(&attributes).is_ok());
            if in_tree(parent) || in_tree(Some(tree)) || workdir.is_some_and(|w| w.join(&attributes).exists()) {
                return Ok(None);
            }
        }
    }
    // libgit2 still reads the user's and the system's attribute files; its index, where it
    // would find no `.gitattributes` for these paths, is left empty in this handle.
    let view = Repository::open(repo.path())?;
    view.set_index(&mut git2::Index::new()?)?;
    let mut stats = Vec::with_capacity(listed.len());
    for change in listed {
        let path = std::path::Path::new(&change.path);
        let load = |entry: Option<tree_diff::Entry>| entry.map(|e| view.find_blob(e.id)).transpose();
        let (old, new) = (load(change.old)?, load(change.new)?);
        // A blob against the other side's content; an added file is diffed against nothing
        // the other way round, its removed lines being the lines it adds.
        let (blob, other, reversed) = match (&old, &new) {
            (Some(old), new) => (old, new.as_ref().map_or(&[][..], git2::Blob::content), false),
            (None, Some(new)) => (new, &[][..], true),
            (None, None) => {
                stats.push((0, 0));
                continue;
            }
        };
        let patch = git2::Patch::from_blob_and_buffer(blob, Some(path), other, Some(path), None)?;
        let (_, added, removed) = patch.line_stats()?;
        stats.push(if reversed { (removed, added) } else { (added, removed) });
    }
    Ok(Some(stats))
}

/// Lines added and removed in each of the first [`CHANGES_LISTED`] files libgit2's diff
/// of `parent` and `tree` lists (the order of [`tree_changes`]).
fn diff_line_stats(
    repo: &Repository,
    parent: Option<&git2::Tree<'_>>,
    tree: &git2::Tree<'_>,
) -> Result<Vec<(usize, usize)>, git2::Error> {
    let diff = repo.diff_tree_to_tree(parent, Some(tree), None)?;
    let mut stats = Vec::new();
    for index in 0..diff.deltas().len().min(CHANGES_LISTED) {
        let (added, removed) = match git2::Patch::from_diff(&diff, index)? {
            Some(patch) => {
                let (_, added, removed) = patch.line_stats()?;
                (added, removed)
            }
            None => (0, 0),
        };
        stats.push((added, removed));
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use git2::Repository;
    use serde_json::{Value, json};

    use super::{CHANGES_LISTED, changes};
    use crate::engine::workspace::tree_diff::tests::git;

    fn write(dir: &Path, path: &str, content: &[u8]) {
        let place = dir.join(path);
        std::fs::create_dir_all(place.parent().unwrap()).unwrap();
        std::fs::write(place, content).unwrap();
    }

    /// What libgit2's whole diff of the commit against its parent says.
    fn by_libgit2(repo: &Repository, commit: &str) -> (usize, Vec<Value>) {
        let commit = repo.find_commit(git2::Oid::from_str(commit).unwrap()).unwrap();
        let parent = commit.parent(0).ok().map(|p| p.tree().unwrap());
        let diff = repo.diff_tree_to_tree(parent.as_ref(), Some(&commit.tree().unwrap()), None).unwrap();
        let listed = (0..diff.deltas().len().min(CHANGES_LISTED))
            .map(|i| {
                let delta = diff.get_delta(i).unwrap();
                let path = delta.new_file().path().or(delta.old_file().path()).unwrap().to_str().unwrap().to_owned();
                let (_, added, removed) = git2::Patch::from_diff(&diff, i).unwrap().unwrap().line_stats().unwrap();
                json!({"path": path, "added": added, "removed": removed})
            })
            .collect();
        (diff.deltas().len(), listed)
    }

    /// Two commits with additions, deletions, edits, a binary file, a symlink, a mode
    /// change and `extra` on top of it; `changes` must say what libgit2's diff says.
    fn compare(extra: &[(&str, &[u8])], files: usize) {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        git(d, &["init", "-q"]);
        for i in 0..files {
            write(d, &format!("dir{}/file{i}.yaml", i % 7), format!("a: {i}\nb: x\n").as_bytes());
        }
        write(d, "gone.txt", b"one\ntwo\n");
        write(d, "image.bin", b"\0\x01\x02\nline\n");
        write(d, "run.sh", b"echo\n");
        std::os::unix::fs::symlink("gone.txt", d.join("link")).unwrap();
        git(d, &["add", "-A"]);
        git(d, &["commit", "-q", "-m", "one"]);
        for i in (0..files).step_by(3) {
            write(d, &format!("dir{}/file{i}.yaml", i % 7), format!("a: {i}\nb: y\nc: z\n").as_bytes());
        }
        std::fs::remove_file(d.join("gone.txt")).unwrap();
        write(d, "image.bin", b"\0\x01\x03\nline\nmore\n");
        write(d, "new/added.txt", b"1\n2\n3\n");
        std::fs::remove_file(d.join("link")).unwrap();
        std::os::unix::fs::symlink("run.sh", d.join("link")).unwrap();
        for (path, content) in extra {
            write(d, path, content);
        }
        git(d, &["add", "-A"]);
        git(d, &["update-index", "--chmod=+x", "run.sh"]);
        git(d, &["commit", "-q", "-m", "two"]);
        // As in a lazy working tree: the attributes are committed, not on disk.
        for (path, _) in extra {
            std::fs::remove_file(d.join(path)).unwrap();
        }
        let repo = Repository::open(d).unwrap();
        // libgit2 reads attributes from the index, HEAD's: older commits are compared
        // only when there are none.
        let commits = if extra.is_empty() { &["HEAD", "HEAD~1"][..] } else { &["HEAD"][..] };
        for commit in commits.iter().map(|c| git(d, &["rev-parse", c])) {
            assert_eq!(changes(&repo, &commit).unwrap(), by_libgit2(&repo, &commit), "commit {commit}");
        }
    }

    #[test]
    fn the_changes_listed_are_those_libgit2s_diff_lists() {
        compare(&[], 20);
    }

    #[test]
    fn more_changed_files_than_listed_are_counted_and_the_first_listed() {
        compare(&[], 400);
    }

    #[test]
    fn a_file_attributes_mark_binary_counts_no_lines_as_libgit2_says() {
        compare(&[(".gitattributes", b"*.yaml binary\n")], 20);
        compare(&[("dir1/.gitattributes", b"*.yaml -diff\n")], 20);
    }
}
