//! Lazy Git working trees: `git-clone` writes the index of HEAD and no files; a file
//! appears in the working tree when a step first opens it (or its directory, or anything
//! that lists, copies or packs a directory above it), written from the blob HEAD holds,
//! through the workspace's handle. `git-commit` then stages the files that appeared and
//! treats every path that never did as unchanged, so a promotion costs what it touches,
//! not what the repository holds.
//!
//! Guarantees, and how they hold:
//! - a step sees exactly the files a full checkout would have given it: every workspace
//!   access first writes what it may read ([`Workspace::prepare`]); an access it cannot
//!   place precisely (a path through `..` or a symlink, a program given host paths such
//!   as kustomize, a rebase) writes the whole tree first.
//! - a file is written at most once, before any step touched it: what a step wrote or
//!   deleted is never overwritten by a later materialization.
//! - the commit is the one a full checkout makes: paths that never appeared are, by
//!   construction, unchanged from HEAD, and everything else goes through libgit2's own
//!   staging.
//! - the state outlives the [`Workspace`] value: it is kept in `.git/lading-lazy` of each
//!   lazy working tree when the value is dropped, and read back when the same directory is
//!   opened again (an engine run resumed in the same workspace).
//! - only plain trees go lazy: a tree holding symlinks, executables, submodules or
//!   `.gitattributes` (filters, line endings), or a repository configured to convert line
//!   endings, is checked out in full as before.

use std::collections::{BTreeMap, HashSet};
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use git2::{Oid, Repository};

use super::{Field, Workspace, WorkspaceError};

/// How much of a path an access may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    /// The path itself: a file, or a directory's existence.
    Entry,
    /// Everything beneath the path.
    Tree,
}

/// One lazy working tree.
struct LazyTree {
    /// The working tree, workspace-relative, as plain components.
    dir: PathBuf,
    /// The working tree on the host (canonical), to recognise it from libgit2's side.
    host_dir: PathBuf,
    repo: Repository,
    /// HEAD's tree when the working tree was cloned.
    tree: Oid,
    /// HEAD's files when the tree was cloned: path → blob.
    files: BTreeMap<String, Oid>,
    /// Files written (or refused to be written because a step got there first).
    done: HashSet<String>,
    /// Directories written in full (`""`: the whole tree).
    done_dirs: Vec<String>,
}

impl LazyTree {
    fn is_done(&self, path: &str) -> bool {
        self.done.contains(path)
            || self
                .done_dirs
                .iter()
                .any(|dir| dir.is_empty() || path.strip_prefix(dir.as_str()).is_some_and(|r| r.starts_with('/')))
    }

    fn complete(&self) -> bool {
        self.done_dirs.iter().any(String::is_empty)
    }

    /// Whether HEAD has a directory at `path`.
    fn has_dir(&self, path: &str) -> bool {
        let prefix = format!("{path}/");
        self.files.range(prefix.clone()..).next().is_some_and(|(p, _)| p.starts_with(&prefix))
    }
}

/// The lazy working trees of a workspace.
#[derive(Default)]
pub(super) struct LazyTrees(Mutex<Vec<LazyTree>>);

impl std::fmt::Debug for LazyTrees {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LazyTrees")
    }
}

/// Where a lazy working tree keeps its state between openings of the workspace.
const STATE_FILE: &str = ".git/lading-lazy";

/// Whether the index of `repo` (HEAD's tree, just read) may be checked out lazily, and its
/// files if so.
pub fn plain_files(repo: &Repository, index: &git2::Index) -> Option<BTreeMap<String, Oid>> {
    let config = repo.config().ok()?;
    let autocrlf = config.get_string("core.autocrlf").unwrap_or_default();
    if !matches!(autocrlf.as_str(), "" | "false") || config.get_string("core.eol").is_ok() {
        return None;
    }
    let mut files = BTreeMap::new();
    for entry in index.iter() {
        let path = String::from_utf8(entry.path).ok()?;
        let name = path.rsplit('/').next().unwrap_or(&path);
        // Regular, non-executable files only (0o100644).
        if entry.mode != 0o100644 || name == ".gitattributes" {
            return None;
        }
        files.insert(path, entry.id);
    }
    Some(files)
}

/// HEAD's files of the tree `tree` in `repo`, when they are all plain.
fn files_of(repo: &Repository, tree: Oid) -> Option<BTreeMap<String, Oid>> {
    let mut index = git2::Index::new().ok()?;
    index.read_tree(&repo.find_tree(tree).ok()?).ok()?;
    plain_files(repo, &index)
}

impl Workspace {
    /// Keeps the state of every lazy working tree in its `.git`, for a later opening.
    pub(super) fn save_lazy_trees(&self) {
        let trees = self.lazy.0.lock().unwrap_or_else(|p| p.into_inner());
        for tree in trees.iter() {
            let mut state = format!("tree {}\n", tree.tree);
            for dir in &tree.done_dirs {
                state.push_str(&format!("dir {dir}\n"));
            }
            for file in &tree.done {
                state.push_str(&format!("file {file}\n"));
            }
            if let Err(error) = self.root.write(tree.dir.join(STATE_FILE), state) {
                tracing::warn!(%error, "the state of a lazy working tree could not be kept");
            }
        }
    }

    /// Reads back the lazy working trees an earlier opening of this workspace kept.
    pub(super) fn load_lazy_trees(&self) {
        let mut pending = vec![PathBuf::new()];
        while let Some(dir) = pending.pop() {
            let Ok(entries) = self.root.read_dir(if dir.as_os_str().is_empty() { Path::new(".") } else { &dir }) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
                if !is_dir {
                    continue;
                }
                if name == ".git" {
                    self.load_lazy_tree(&dir);
                } else {
                    pending.push(dir.join(name));
                }
            }
        }
    }

    fn load_lazy_tree(&self, dir: &Path) {
        let Ok(state) = self.root.read_to_string(dir.join(STATE_FILE)) else { return };
        let host_dir = self.host_root.join(dir);
        let Ok(repo) = Repository::open(&host_dir) else { return };
        if !self.contains_host_path(repo.path()) || !self.contains_host_path(repo.commondir()) {
            return;
        }
        let mut lines = state.lines();
        let Some(tree) = lines.next().and_then(|l| l.strip_prefix("tree ")).and_then(|t| Oid::from_str(t).ok()) else {
            return;
        };
        let Some(files) = files_of(&repo, tree) else { return };
        let mut loaded = LazyTree {
            dir: dir.to_path_buf(),
            host_dir,
            repo,
            tree,
            files,
            done: HashSet::new(),
            done_dirs: Vec::new(),
        };
        for line in lines {
            if let Some(path) = line.strip_prefix("dir ") {
                loaded.done_dirs.push(path.to_owned());
            } else if let Some(path) = line.strip_prefix("file ") {
                loaded.done.insert(path.to_owned());
            }
        }
        self.lazy.0.lock().unwrap_or_else(|p| p.into_inner()).push(loaded);
    }

    /// Records the working tree at `dir` (workspace-relative) of `repo` as lazy: its index
    /// holds `files`, of which only `written` are on disk (equal to their blobs).
    pub fn add_lazy_tree(
        &self,
        at: Field<'_>,
        dir: &Path,
        repo: Repository,
        tree: Oid,
        files: BTreeMap<String, Oid>,
        written: impl IntoIterator<Item = String>,
    ) -> Result<(), WorkspaceError> {
        let dir = self.canonical(at, dir)?;
        let host_dir = self.host_root.join(&dir);
        self.lazy.0.lock().unwrap_or_else(|p| p.into_inner()).push(LazyTree {
            dir,
            host_dir,
            repo,
            tree,
            files,
            done: written.into_iter().collect(),
            done_dirs: Vec::new(),
        });
        Ok(())
    }

    /// Whether `path` (relative to the working tree at `workdir`, a host path) is a file
    /// of a lazy working tree that never appeared, and so is unchanged from HEAD.
    pub fn never_written(&self, workdir: &Path, path: &str) -> bool {
        let trees = self.lazy.0.lock().unwrap_or_else(|p| p.into_inner());
        trees.iter().any(|tree| {
            same_dir(&tree.host_dir, workdir)
                && !tree.complete()
                && tree.files.contains_key(path)
                && !tree.is_done(path)
        })
    }

    /// The paths a commit of the lazy working tree at `workdir` (a host path) must look
    /// at: every file it holds now and every file that appeared (and may have gone since);
    /// `None` when it is not lazy (or written in full), or when a name would read as a
    /// pattern: then every path is looked at.
    pub fn touched_paths(&self, workdir: &Path) -> Option<Vec<String>> {
        let trees = self.lazy.0.lock().unwrap_or_else(|p| p.into_inner());
        let tree = trees.iter().find(|tree| same_dir(&tree.host_dir, workdir) && !tree.complete())?;
        let mut paths: Vec<String> = tree.done.iter().chain(&tree.done_dirs).cloned().collect();
        let mut pending = vec![PathBuf::new()];
        while let Some(dir) = pending.pop() {
            let listed = self.root.read_dir(tree.dir.join(&dir)).ok()?;
            for entry in listed {
                let entry = entry.ok()?;
                let path = dir.join(entry.file_name());
                if path == Path::new(".git") {
                    continue;
                }
                if entry.file_type().ok()?.is_dir() {
                    pending.push(path);
                } else {
                    paths.push(path.to_str()?.to_owned());
                }
            }
        }
        if paths.iter().any(|p| p.contains(['*', '?', '[', '\\'])) {
            return None;
        }
        Some(paths)
    }

    /// Writes every lazy working tree in full (for programs given host paths, and for
    /// Git operations that check files out themselves).
    pub fn materialize_all(&self) -> Result<(), WorkspaceError> {
        let mut trees = self.lazy.0.lock().unwrap_or_else(|p| p.into_inner());
        for tree in trees.iter_mut() {
            self.write_under(tree, "")?;
        }
        Ok(())
    }

    /// Writes what an access to `path` with `scope` may read, from every lazy working
    /// tree it reaches.
    pub(super) fn prepare(&self, path: &Path, scope: Scope) -> Result<(), WorkspaceError> {
        let mut trees = self.lazy.0.lock().unwrap_or_else(|p| p.into_inner());
        if trees.iter().all(LazyTree::complete) {
            return Ok(());
        }
        let Some(plain) = self.plain_route(path) else {
            // Through `..` or a symlink: where it leads is not known here.
            for tree in trees.iter_mut() {
                self.write_under(tree, "")?;
            }
            return Ok(());
        };
        for tree in trees.iter_mut().filter(|t| !t.complete()) {
            if let Ok(rest) = plain.strip_prefix(&tree.dir) {
                let rest = rest.to_string_lossy().into_owned();
                if rest == ".git" || rest.starts_with(".git/") {
                    continue;
                }
                if tree.files.contains_key(&rest) {
                    self.write_file(tree, &rest)?;
                } else if rest.is_empty() || tree.has_dir(&rest) {
                    match scope {
                        Scope::Tree => self.write_under(tree, &rest)?,
                        Scope::Entry => {
                            let _ = self.root.create_dir_all(tree.dir.join(&rest));
                        }
                    }
                }
            } else if scope == Scope::Tree && tree.dir.starts_with(&plain) {
                self.write_under(tree, "")?;
            }
        }
        Ok(())
    }

    /// `path` as plain components when it names its place without `..`, absolute parts
    /// or symlinks on the way; `None` otherwise.
    fn plain_route(&self, path: &Path) -> Option<PathBuf> {
        let mut plain = PathBuf::new();
        for component in path.components() {
            match component {
                Component::CurDir => {}
                Component::Normal(part) => {
                    plain.push(part);
                    match self.root.symlink_metadata(&plain) {
                        Ok(meta) if meta.file_type().is_symlink() => return None,
                        Ok(_) => {}
                        // Beyond what exists, nothing on disk can redirect it.
                        Err(_) => {
                            let rest: Vec<_> = path.components().collect();
                            return rest.iter().all(|c| matches!(c, Component::Normal(_) | Component::CurDir)).then(
                                || {
                                    rest.iter()
                                        .filter_map(|c| match c {
                                            Component::Normal(p) => Some(*p),
                                            _ => None,
                                        })
                                        .collect()
                                },
                            );
                        }
                    }
                }
                _ => return None,
            }
        }
        Some(plain)
    }

    /// Writes every file of `tree` beneath `dir` (`""`: all of them) that was not written.
    fn write_under(&self, tree: &mut LazyTree, dir: &str) -> Result<(), WorkspaceError> {
        if tree.complete() {
            return Ok(());
        }
        let prefix = if dir.is_empty() { String::new() } else { format!("{dir}/") };
        let paths: Vec<String> = tree
            .files
            .range(prefix.clone()..)
            .map(|(p, _)| p)
            .take_while(|p| p.starts_with(&prefix))
            .cloned()
            .collect();
        for path in paths {
            self.write_file(tree, &path)?;
        }
        let _ = self.root.create_dir_all(tree.dir.join(dir));
        tree.done_dirs.push(dir.to_owned());
        Ok(())
    }

    /// Writes the file `path` of `tree` from HEAD's blob, unless it was written (or a step
    /// put something there) already.
    fn write_file(&self, tree: &mut LazyTree, path: &str) -> Result<(), WorkspaceError> {
        if tree.is_done(path) {
            return Ok(());
        }
        tree.done.insert(path.to_owned());
        let place = tree.dir.join(path);
        let label = place.to_string_lossy().into_owned();
        let at = Field::new("git-clone", &label);
        // A step created something there first: it stays (a checkout would have been
        // replaced by it as well).
        if self.root.symlink_metadata(&place).is_ok() {
            return Ok(());
        }
        let Some(oid) = tree.files.get(path).copied() else { return Ok(()) };
        let blob = tree.repo.find_blob(oid).map_err(|e| WorkspaceError::Io {
            field: at.field.to_owned(),
            path: label.clone(),
            action: "checking out",
            reason: e.message().to_owned(),
        })?;
        if let Some(parent) = place.parent().filter(|p| !p.as_os_str().is_empty()) {
            self.root.create_dir_all(parent).map_err(|e| at.error("checking out", e))?;
        }
        self.root.write(&place, blob.content()).map_err(|e| at.error("checking out", e))
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    a == b || std::fs::canonicalize(b).is_ok_and(|b| b == a)
}
