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

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use git2::{Oid, Repository};

use super::tree_diff::{Change, tree_changes};
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
    files: Files,
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

/// A tree's plain files, path → blob, shared between the trees that hold them.
pub type Files = Arc<BTreeMap<String, Oid>>;

/// How many trees' files are remembered (each a few hundred KB for 5,000 files).
const REMEMBERED_TREES: usize = 8;

/// Trees whose files were found plain, newest last. A tree id names its content, so what
/// was found for it holds in every repository.
static REMEMBERED: Mutex<VecDeque<(Oid, Files)>> = Mutex::new(VecDeque::new());

fn remembered(tree: Oid) -> Option<Files> {
    let trees = REMEMBERED.lock().unwrap_or_else(|p| p.into_inner());
    trees.iter().find(|(id, _)| *id == tree).map(|(_, files)| files.clone())
}

fn remember(tree: Oid, files: &Files) {
    let mut trees = REMEMBERED.lock().unwrap_or_else(|p| p.into_inner());
    if trees.iter().any(|(id, _)| *id == tree) {
        return;
    }
    if trees.len() >= REMEMBERED_TREES {
        trees.pop_front();
    }
    trees.push_back((tree, files.clone()));
}

/// `base` changed by `changes`, when every file they add or change is plain.
fn changed_files(base: &BTreeMap<String, Oid>, changes: &[Change]) -> Option<BTreeMap<String, Oid>> {
    let mut files = base.clone();
    for change in changes {
        if change.old.is_some() {
            files.remove(&change.path);
        }
        if let Some(new) = change.new {
            if !plain_entry(&change.path, u32::try_from(new.mode).ok()?) {
                return None;
            }
            files.insert(change.path.clone(), new.id);
        }
    }
    Some(files)
}

/// Whether `repo` checks files out as their blobs and adds them as they are: no
/// line-ending conversion, no attributes of its own.
pub fn plain_config(repo: &Repository) -> bool {
    let Ok(config) = repo.config() else { return false };
    let autocrlf = config.get_string("core.autocrlf").unwrap_or_default();
    matches!(autocrlf.as_str(), "" | "false")
        && config.get_string("core.eol").is_err()
        && !repo.path().join("info").join("attributes").exists()
}

/// Whether a file at `path` with `mode` may be checked out lazily.
fn plain_entry(path: &str, mode: u32) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    // Regular, non-executable files only (0o100644).
    mode == 0o100644 && name != ".gitattributes"
}

/// Whether the index of `repo` (the tree `tree`, just read) may be checked out lazily,
/// and its files if so.
pub fn plain_files(repo: &Repository, tree: Oid, index: &git2::Index) -> Option<Files> {
    if !plain_config(repo) {
        return None;
    }
    if let Some(files) = remembered(tree) {
        return Some(files);
    }
    let mut files = BTreeMap::new();
    for entry in index.iter() {
        let path = String::from_utf8(entry.path).ok()?;
        if !plain_entry(&path, entry.mode) {
            return None;
        }
        files.insert(path, entry.id);
    }
    let files = Arc::new(files);
    remember(tree, &files);
    Some(files)
}

/// The files of the tree `tree` in `repo` when they are all plain (see [`plain_files`]).
/// From `near`, a tree whose files were found before, only the difference is read.
pub fn plain_files_of(repo: &Repository, tree: Oid, near: Option<Oid>) -> Option<Files> {
    if !plain_config(repo) {
        return None;
    }
    if let Some(files) = remembered(tree) {
        return Some(files);
    }
    // A tree this repository lacks (or a diff that fails) is read in full instead.
    let by_diff = near.and_then(|near| Some((near, remembered(near)?))).and_then(|(near, base)| {
        let changes = tree_changes(repo, Some(near), Some(tree)).ok()?;
        Some(changed_files(&base, &changes))
    });
    let files = match by_diff {
        Some(files) => files?,
        None => {
            let mut index = git2::Index::new().ok()?;
            index.read_tree(&repo.find_tree(tree).ok()?).ok()?;
            return plain_files(repo, tree, &index);
        }
    };
    let files = Arc::new(files);
    remember(tree, &files);
    Some(files)
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
        let Some(files) = plain_files_of(&repo, tree, None) else { return };
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
        files: Files,
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

    /// The tree a lazy working tree at `workdir` (a host path) was cloned at, while some
    /// of its files never appeared; `None` otherwise.
    pub fn lazy_tree(&self, workdir: &Path) -> Option<Oid> {
        let trees = self.lazy.0.lock().unwrap_or_else(|p| p.into_inner());
        trees.iter().find(|tree| same_dir(&tree.host_dir, workdir) && !tree.complete()).map(|tree| tree.tree)
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
