//! Writing a clone's files so that libgit2 never writes through a symlink. libgit2
//! follows a symlink already in the working tree when it writes a path beneath it (a
//! branch whose `dir/file` replaces another branch's `dir -> /elsewhere`), so files are
//! checked out with `core.symlinks` off — each symlink written as a plain file holding
//! its target, so none exists while libgit2 writes — and only then is each made a
//! symlink, through the workspace. `core.symlinks` is turned back on for the steps after.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use git2::Repository;

use super::git_clone::{cone_of, in_cone};
use super::git_error;
use crate::engine::workspace::{Field, Workspace};

/// Git's file mode for a symlink.
const SYMLINK_MODE: u32 = 0o120000;

/// The working tree of a clone at `path` in the workspace (the step's field `at`).
pub(super) struct WorkingTreeFiles<'a> {
    pub workspace: &'a Workspace,
    pub at: Field<'a>,
    pub path: &'a Path,
}

fn set_symlinks(repo: &Repository, on: bool) -> Result<(), String> {
    let mut config = repo.config().map_err(|e| git_error("opening the repository's config", e))?;
    config.set_bool("core.symlinks", on).map_err(|e| git_error("setting core.symlinks", e))
}

impl WorkingTreeFiles<'_> {
    /// Runs `check_out` (which writes files with libgit2) with no symlink in the way,
    /// then makes the repository's symlinks.
    pub(super) fn write(
        &self,
        repo: &Repository,
        check_out: impl FnOnce(&Repository) -> Result<(), String>,
    ) -> Result<(), String> {
        set_symlinks(repo, false)?;
        check_out(repo)?;
        self.make_symlinks(repo)?;
        set_symlinks(repo, true)
    }

    /// Turns each symlink of the index that was checked out (in the cone, when sparse)
    /// from a plain file into a symlink.
    fn make_symlinks(&self, repo: &Repository) -> Result<(), String> {
        let index = repo.index().map_err(|e| git_error("opening the index", e))?;
        let cone = cone_of(repo);
        for entry in index.iter().filter(|entry| entry.mode == SYMLINK_MODE) {
            let name = OsStr::from_bytes(&entry.path);
            if let Some(dirs) = &cone
                && !in_cone(dirs, &name.to_string_lossy())
            {
                continue;
            }
            let blob = repo.find_blob(entry.id).map_err(|e| git_error("reading a symlink", e))?;
            let target = Path::new(OsStr::from_bytes(blob.content()));
            self.workspace.replace_with_symlink(self.at, &self.path.join(name), target)?;
        }
        Ok(())
    }
}
