//! Bringing a moved remote branch's commits into the local one before a push again: a
//! rebase or a merge, as the push integration policy says, and moving the working tree
//! to the result on the paths that changed.

use git2::{Repository, Signature};
use lading_domain::push_integration::{Integration, SignatureStatus, integration, rebase_unsafe_because};

use super::super::{Remotes, git_error};
use crate::engine::workspace::tree_diff::tree_changes;

/// What fetching the remote branch found.
pub(in crate::steps) enum Rebased {
    /// The local commits were replayed on top of the remote branch: push again.
    OnTop,
    /// The remote branch already holds this promotion's commit (another run of the same
    /// promotion pushed it): the local branch now is the remote's, nothing to push.
    AlreadyPushed,
}

/// Fetches origin's branch `target` into its tracking ref, which it names.
pub(in crate::steps) fn fetch_remote_branch(
    repo: &Repository,
    target: &str,
    remotes: &Remotes,
) -> Result<String, String> {
    let mut remote = repo.find_remote("origin").map_err(|e| git_error("finding origin", e))?;
    let url = remote.url().unwrap_or_default().to_owned();
    let watch = remotes.watch("fetching", &url);
    let tracking = format!("refs/remotes/origin/{target}");
    let refspec = format!("+refs/heads/{target}:{tracking}");
    if super::super::partial_clone::is_partial(repo) {
        // A blobless clone fetches through the git CLI, then gets the blobs a rebase onto
        // the remote branch reads, in one batch.
        super::super::partial_clone::fetch_without_blobs(repo, &url, &[&refspec], remotes)?;
        let upstream = repo.refname_to_id(&tracking).map_err(|e| git_error("reading the remote branch", e))?;
        let blobs = super::super::partial_clone::blobs_for_rebase(repo, upstream)?;
        super::super::partial_clone::fetch_missing(repo, &url, blobs, remotes)?;
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
pub(in crate::steps) fn integrate_remote(
    repo: &Repository,
    branch: &str,
    target: &str,
    committer: &Signature<'_>,
    key: Option<&super::super::commit_signing::SigningKey>,
    remotes: &Remotes,
    trailer: &str,
) -> Result<Rebased, String> {
    // The working tree moves from the index's tree: it is written in full first.
    super::super::working_tree::fresh_index(repo)?;
    let tracking = fetch_remote_branch(repo, target, remotes)?;
    let upstream = repo.find_reference(&tracking).map_err(|e| git_error("reading the remote branch", e))?;
    let upstream_tip = upstream.peel_to_commit().map_err(|e| git_error("reading the remote branch", e))?;
    if super::super::git_commit::find_commit_with_trailer_from(repo, upstream_tip.id(), trailer)?.is_some() {
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
    if repo.graph_descendant_of(upstream_tip.id(), local_tip).unwrap_or(false) {
        // The local branch has no commit of its own: it takes the remote's, as a
        // fast-forward, whatever the policy (a merge would only record that nothing was made).
        move_branch(repo, branch, upstream_tip.id(), Overwrite::No)?;
        return Ok(Rebased::OnTop);
    }
    match repo.merge_base(local_tip, upstream_tip.id()) {
        Ok(_) => {}
        // As git refuses to merge unrelated histories: the branch was replaced since the
        // clone, and a rebase would replay the clone's whole history onto it.
        Err(e) if e.code() == git2::ErrorCode::NotFound => {
            return Err(format!(
                "the remote branch {target} shares no history with the local branch (it was replaced since the \
                 clone); refusing to bring in unrelated histories"
            ));
        }
        Err(e) => return Err(git_error("finding where the branches parted", e)),
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
        super::super::commit_signing::sign_commits_since(repo, branch, upstream_tip.id(), key)?;
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
    key: Option<&super::super::commit_signing::SigningKey>,
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
            Ok(_) if key.is_some_and(|key| super::super::commit_signing::signed_by(repo, id, key)) => {
                SignatureStatus::Trusted
            }
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
    key: Option<&super::super::commit_signing::SigningKey>,
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
    let new = super::super::commit_signing::NewCommit {
        author: committer,
        committer,
        message: &message,
        tree: &tree,
        parents: &parents,
    };
    let merged = super::super::commit_signing::commit(repo, None, &new, key)?;
    move_branch(repo, branch, merged, Overwrite::No)
}

/// Whether [`move_branch`] overwrites changes of the working tree not yet committed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(in crate::steps) enum Overwrite {
    Yes,
    No,
}

/// Moves `branch` (checked out in `repo`) to `to`: writes, of the paths that differ
/// between HEAD's tree and `to`'s, those a sparse checkout has in its cone (all of them
/// otherwise), refusing to overwrite an uncommitted change unless `overwrite`; then the
/// branch, and the index from `to`'s tree in full, so the paths outside the cone stay
/// committed as they are.
pub(in crate::steps) fn move_branch(
    repo: &Repository,
    branch: &str,
    to: git2::Oid,
    overwrite: Overwrite,
) -> Result<(), String> {
    let moving = |e| git_error("moving the working tree to the rebased branch", e);
    let from = repo.head().and_then(|h| h.peel_to_tree()).map_err(moving)?;
    let tree = repo.find_commit(to).and_then(|c| c.tree()).map_err(moving)?;
    let cone = super::super::git_clone::cone_of(repo);
    let paths: Vec<String> = tree_changes(repo, Some(from.id()), Some(tree.id()))
        .map_err(moving)?
        .into_iter()
        .map(|change| change.path)
        .filter(|path| cone.as_deref().is_none_or(|dirs| super::super::git_clone::in_cone(dirs, path)))
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
    super::super::working_tree::index_written(repo)
}
