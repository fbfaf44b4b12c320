//! Checking out a kept working tree: moved to the remote's head by rewriting only the
//! files that differ (see `steps::kept_trees`).

use super::*;

/// Moves a kept tree, now at `dest`, to the remote's head of `key.branch` (an unborn
/// branch when the remote lacks it and `create`): HEAD, branch and index, and of its
/// files on disk only those that differ. Plain trees stay lazy; others are written in full.
pub(super) fn check_out_kept(
    ctx: &StepContext<'_>,
    at: Field<'_>,
    relative: &Path,
    dest: &Path,
    taken: Taken,
    key: &Key<'_>,
    create: bool,
) -> Result<(), String> {
    let branch = key.branch;
    let head = kept_trees::fetch_branch(&taken.repo, key.url, branch, ctx.remotes)?;
    if head.is_none() && !create {
        return Err(format!("branch {branch:?} does not exist; set create: true to create it"));
    }
    let repo = &taken.repo;
    let local_ref = format!("refs/heads/{branch}");
    let target = match head {
        Some(commit) => {
            let tree = repo.find_commit(commit).map_err(|e| git_error("reading the branch", e))?.tree_id();
            // Each write of a ref or the config creates a file: what holds already stays.
            kept_trees::set_reference(repo, &local_ref, commit, "lading: moved to the remote's head")
                .map_err(|e| git_error("creating the branch", e))?;
            if repo.head().ok().and_then(|h| h.name().ok().map(str::to_owned)).as_deref() != Some(local_ref.as_str()) {
                repo.set_head(&local_ref).map_err(|e| git_error("checking out", e))?;
            }
            let upstream = format!("refs/remotes/origin/{branch}");
            if repo.branch_upstream_name(&local_ref).ok().as_ref().and_then(|u| u.as_str().ok())
                != Some(upstream.as_str())
            {
                repo.find_branch(branch, BranchType::Local)
                    .and_then(|mut b| b.set_upstream(Some(&format!("origin/{branch}"))))
                    .map_err(|e| git_error("tracking the branch", e))?;
            }
            Some(tree)
        }
        None => {
            repo.set_head(&local_ref).map_err(|e| git_error("creating the branch", e))?;
            if let Ok(mut old) = repo.find_reference(&local_ref) {
                old.delete().map_err(|e| git_error("creating the branch", e))?;
            }
            None
        }
    };
    let files = match target {
        Some(tree) => plain_files_of(repo, tree, taken.tree),
        None => Some(Default::default()),
    };
    let Some(files) = files else {
        let mut index = repo.index().map_err(|e| git_error("opening the index", e))?;
        let tree = repo.head().and_then(|h| h.peel_to_tree()).map_err(|e| git_error("reading HEAD", e))?;
        index.read_tree(&tree).map_err(|e| git_error("reading HEAD into the index", e))?;
        drop(index);
        let mut checkout = CheckoutBuilder::new();
        checkout.force().remove_untracked(true);
        repo.checkout_tree(tree.as_object(), Some(&mut checkout)).map_err(|e| git_error("checking out", e))?;
        return super::super::working_tree::index_written(repo);
    };
    let written = kept_trees::move_to(&taken, dest, target)?;
    // The index is HEAD's tree: written when something reads it.
    match target {
        Some(_) => super::super::working_tree::mark_index_stale(repo)?,
        None => {
            let mut index = repo.index().map_err(|e| git_error("opening the index", e))?;
            index.clear().map_err(|e| git_error("clearing the index", e))?;
            index.write().map_err(|e| git_error("writing the index", e))?;
            super::super::working_tree::index_written(repo)?;
        }
    }
    match target {
        Some(tree) => Ok(ctx.workspace.add_lazy_tree(at, relative, taken.repo, tree, files, written)?),
        None => Ok(()),
    }
}
