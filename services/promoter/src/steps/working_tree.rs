//! The Git working trees that `git-commit` and `git-push` open: the directory is found
//! through the workspace (symlinks resolved beneath it), and the repository libgit2 then
//! opens there — its `.git`, its common directory, its working tree — must be inside the
//! workspace too, so a `.git` file or a `core.worktree` naming a repository elsewhere is
//! refused rather than committed to.

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
