//! The Git working trees that `git-commit` and `git-push` open: the directory is found
//! through the workspace (symlinks resolved beneath it), and the repository libgit2 then
//! opens there — its `.git`, its common directory, its working tree — must be inside the
//! workspace too, so a `.git` file or a `core.worktree` naming a repository elsewhere is
//! refused rather than committed to.
//!
//! A lazy working tree's index is written only when something reads it: `git-clone` and
//! `git-commit` build trees from HEAD's and mark the index stale (`.git/lading-index-stale`,
//! meaning "the index is HEAD's tree, not yet written"); [`fresh_index`] writes it before
//! libgit2 stages, rebases or resets.

use std::fs;
use std::path::Path;

use git2::Repository;

use super::{StepContext, git_error};
use crate::engine::workspace::Field;

/// Opens the working tree at `path` (the step's `field`).
pub(super) fn open(ctx: &StepContext<'_>, field: &str, path: &str) -> Result<Repository, String> {
    let host = ctx.workspace.host_path_as_is(Field::new(field, path), Path::new(path))?;
    let repo =
        Repository::open(&host).map_err(|e| git_error(&format!("{field}: {path:?} is not a git working tree"), e))?;
    let workspace = ctx.workspace;
    let inside = workspace.contains_host_path(repo.path())
        && workspace.contains_host_path(repo.commondir())
        && repo.workdir().is_some_and(|workdir| workspace.contains_host_path(workdir));
    if !inside {
        return Err(format!(
            "{field}: {path:?} is a working tree whose repository is outside the promotion's workspace"
        ));
    }
    Ok(repo)
}

/// In a `.git`: the index is HEAD's tree, not yet written.
const STALE_INDEX: &str = "lading-index-stale";

/// Records that the index of `repo` is HEAD's tree but was not written.
pub(super) fn mark_index_stale(repo: &Repository) -> Result<(), String> {
    fs::write(repo.path().join(STALE_INDEX), "").map_err(|e| format!("marking the index: {e}"))
}

/// Records that the index of `repo` was just written in full.
pub(super) fn index_written(repo: &Repository) -> Result<(), String> {
    match fs::remove_file(repo.path().join(STALE_INDEX)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(format!("marking the index: {e}")),
        _ => Ok(()),
    }
}

/// Writes the index of `repo` from HEAD's tree when it was marked stale.
pub(super) fn fresh_index(repo: &Repository) -> Result<(), String> {
    if !repo.path().join(STALE_INDEX).exists() {
        return Ok(());
    }
    let mut index = repo.index().map_err(|e| git_error("opening the index", e))?;
    match repo.head() {
        Ok(head) => {
            let tree = head.peel_to_tree().map_err(|e| git_error("reading HEAD", e))?;
            index.read_tree(&tree).map_err(|e| git_error("reading HEAD into the index", e))?;
        }
        Err(e) if e.code() == git2::ErrorCode::UnbornBranch => {
            index.clear().map_err(|e| git_error("clearing the index", e))?;
        }
        Err(e) => return Err(git_error("reading HEAD", e)),
    }
    index.write().map_err(|e| git_error("writing the index", e))?;
    index_written(repo)
}
