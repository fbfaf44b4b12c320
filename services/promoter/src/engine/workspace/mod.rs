//! A promotion's workspace: the one directory its steps may read and write. Every path a
//! step names is opened relative to a handle on that directory, and the kernel resolves
//! it — every `..`, every symlink, at every component, at the moment of the access —
//! without ever leaving it. A path that would leave is refused, whatever the repository
//! holds: a symlink to an outside file or directory, one that dangles towards a path
//! that does not exist yet, an absolute path, `..` past the top.
//!
//! # Why cap-std
//!
//! Checking a path and then using it leaves a window in which the path can change, and
//! string checks cannot see where symlinks lead. Confinement therefore has to happen in
//! the same system call as the access. [`cap_std::fs::Dir`] does exactly that: on Linux
//! it opens with `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`, and where that call
//! is missing it walks the path one component at a time with `openat(O_NOFOLLOW)`,
//! resolving symlinks itself beneath the directory. It is maintained by the Bytecode
//! Alliance and underlies Wasmtime's WASI file system sandbox, so it is built and tested
//! for hostile paths. Calling `openat2` by hand would mean writing that fallback and every
//! derived operation (create, remove, copy, canonicalize, symlink) again.
//!
//! # What goes through it
//!
//! Every step's file access. Programs that need a host path (libgit2, kustomize) get
//! [`Workspace::host_path`], the workspace's own directory with every symlink already
//! resolved beneath it, and the steps check what those programs may read on their own
//! (a repository's `.git`, a kustomization's bases). Messages name paths as the step's
//! config wrote them, relative to the workspace; [`Workspace::relativize`] rewrites host
//! paths that other programs put in their messages.

pub mod archive;
mod lazy;
mod tree_copy;
pub mod tree_diff;

use lazy::Scope;
pub use lazy::{Files, plain_config, plain_files, plain_files_of};

use std::io;
use std::path::{Component, Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::Dir;

/// Why a workspace access was refused or failed. Each names the step's config field and
/// the path as the config wrote it; none names where a symlink led, or the host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkspaceError {
    #[error("{field}: {path:?} leads outside the promotion's workspace")]
    Outside { field: String, path: String },
    #[error("{field}: {path:?} does not exist")]
    NotFound { field: String, path: String },
    #[error("{field}: {path:?} is not a directory")]
    NotADirectory { field: String, path: String },
    #[error("{field}: {path:?} holds the symlink {link:?}, which leads outside the promotion's workspace")]
    SymlinkOutside { field: String, path: String, link: String },
    #[error("{field}: {path:?} holds {entry:?}, which is neither a file, a directory nor a symlink")]
    SpecialFile { field: String, path: String, entry: String },
    #[error("{field}: {path:?} is the whole workspace")]
    WholeWorkspace { field: String, path: String },
    #[error("{field}: {path:?} is inside {source_field} {source_path:?}")]
    CopyIntoItself { field: String, path: String, source_field: String, source_path: String },
    #[error("{field}: {action} {path:?}: {reason}")]
    Io { field: String, path: String, action: &'static str, reason: String },
    #[error("{field}: {path:?} is larger than {limit} bytes")]
    TooLarge { field: String, path: String, limit: u64 },
    #[error("the promotion's workspace cannot be opened: {0}")]
    Open(String),
}

impl From<WorkspaceError> for String {
    fn from(error: WorkspaceError) -> String {
        error.to_string()
    }
}

/// What a path names, after following symlinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Directory,
    /// A device, FIFO or socket.
    Other,
}

/// Whether `error` is cap-std refusing a path that leads out of its directory (or the
/// kernel's `EXDEV` for the same, should it surface as is).
fn is_escape(error: &io::Error) -> bool {
    const EXDEV: i32 = 18;
    (error.kind() == io::ErrorKind::PermissionDenied && error.raw_os_error().is_none())
        || error.raw_os_error() == Some(EXDEV)
}

/// The step field and path an access is for, to name them in errors.
#[derive(Debug, Clone, Copy)]
pub struct Field<'a> {
    pub field: &'a str,
    pub path: &'a str,
}

impl<'a> Field<'a> {
    pub fn new(field: &'a str, path: &'a str) -> Self {
        Self { field, path }
    }

    fn error(self, action: &'static str, error: io::Error) -> WorkspaceError {
        let (field, path) = (self.field.to_owned(), self.path.to_owned());
        if is_escape(&error) {
            WorkspaceError::Outside { field, path }
        } else if error.kind() == io::ErrorKind::NotFound {
            WorkspaceError::NotFound { field, path }
        } else if error.kind() == io::ErrorKind::NotADirectory {
            WorkspaceError::NotADirectory { field, path }
        } else {
            // An I/O error's text is the system's (no path, no content).
            WorkspaceError::Io { field, path, action, reason: error.to_string() }
        }
    }
}

/// A promotion's workspace, open for its steps.
#[derive(Debug)]
pub struct Workspace {
    root: Dir,
    /// The workspace's directory on the host, every symlink resolved.
    host_root: PathBuf,
    /// The directory as the promoter named it (may differ from `host_root` by symlinks).
    given_root: PathBuf,
    /// Git working trees whose files appear when first opened; see [`lazy`].
    lazy: lazy::LazyTrees,
}

impl Workspace {
    /// Opens the directory `path` as a workspace.
    pub fn open(path: &Path) -> Result<Self, WorkspaceError> {
        let root = Dir::open_ambient_dir(path, ambient_authority()).map_err(|e| WorkspaceError::Open(e.to_string()))?;
        let host_root = std::fs::canonicalize(path).map_err(|e| WorkspaceError::Open(e.to_string()))?;
        let workspace = Self { root, host_root, given_root: path.to_path_buf(), lazy: Default::default() };
        workspace.load_lazy_trees();
        Ok(workspace)
    }

    /// What `path` names, following symlinks; `None` when nothing is there.
    pub fn kind(&self, at: Field<'_>, path: &Path) -> Result<Option<EntryKind>, WorkspaceError> {
        self.prepare(path, Scope::Entry)?;
        match self.root.metadata(path) {
            Ok(meta) if meta.is_dir() => Ok(Some(EntryKind::Directory)),
            Ok(meta) if meta.is_file() => Ok(Some(EntryKind::File)),
            Ok(_) => Ok(Some(EntryKind::Other)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(at.error("reading", e)),
        }
    }

    /// The text of the file at `path`.
    pub fn read(&self, at: Field<'_>, path: &Path) -> Result<String, WorkspaceError> {
        self.prepare(path, Scope::Entry)?;
        self.root.read_to_string(path).map_err(|e| at.error("reading", e))
    }

    /// The bytes of the file at `path`, refused when it holds more than `limit` bytes
    /// (read no further than that).
    pub fn read_bounded(&self, at: Field<'_>, path: &Path, limit: u64) -> Result<Vec<u8>, WorkspaceError> {
        self.prepare(path, Scope::Entry)?;
        use std::io::Read as _;
        let file = self.root.open(path).map_err(|e| at.error("reading", e))?;
        let mut bytes = Vec::new();
        file.take(limit + 1).read_to_end(&mut bytes).map_err(|e| at.error("reading", e))?;
        if bytes.len() as u64 > limit {
            return Err(WorkspaceError::TooLarge { field: at.field.to_owned(), path: at.path.to_owned(), limit });
        }
        Ok(bytes)
    }

    /// Opens the file at `path` to write, creating its directories; with `overwrite`
    /// false an existing file is refused.
    pub fn create_file(
        &self,
        at: Field<'_>,
        path: &Path,
        overwrite: bool,
    ) -> Result<cap_std::fs::File, WorkspaceError> {
        self.prepare(path, Scope::Entry)?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            self.create_dir_all(at, parent)?;
        }
        let mut options = cap_std::fs::OpenOptions::new();
        options.write(true);
        if overwrite {
            options.create(true).truncate(true);
        } else {
            options.create_new(true);
        }
        self.root.open_with(path, &options).map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                WorkspaceError::Io {
                    field: at.field.to_owned(),
                    path: at.path.to_owned(),
                    action: "writing",
                    reason: "it exists already (set allowOverwrite to replace it)".to_owned(),
                }
            } else {
                at.error("writing", e)
            }
        })
    }

    /// Renames the file `from` to `to` (replacing a file there).
    pub fn rename(&self, at: Field<'_>, from: &Path, to: &Path) -> Result<(), WorkspaceError> {
        self.prepare(from, Scope::Tree)?;
        self.prepare(to, Scope::Tree)?;
        self.root.rename(from, &self.root, to).map_err(|e| at.error("renaming", e))
    }

    /// The text of the file at `path`, or `None` when there is none (a dangling symlink
    /// inside the workspace counts as none; one that leads outside is refused).
    pub fn read_if_exists(&self, at: Field<'_>, path: &Path) -> Result<Option<String>, WorkspaceError> {
        self.prepare(path, Scope::Entry)?;
        match self.root.read_to_string(path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(at.error("reading", e)),
        }
    }

    /// Writes `contents` to the file at `path`, creating it and its directories.
    pub fn write(&self, at: Field<'_>, path: &Path, contents: impl AsRef<[u8]>) -> Result<(), WorkspaceError> {
        self.prepare(path, Scope::Entry)?;
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            self.create_dir_all(at, parent)?;
        }
        self.root.write(path, contents).map_err(|e| at.error("writing", e))
    }

    /// Creates the directory `path` and its parents, one component at a time, each
    /// resolved beneath the workspace (a symlink on the way is followed, and refused when
    /// it leads outside).
    pub fn create_dir_all(&self, at: Field<'_>, path: &Path) -> Result<(), WorkspaceError> {
        self.prepare(path, Scope::Entry)?;
        let mut prefix = PathBuf::new();
        for component in path.components() {
            prefix.push(component);
            match self.root.metadata(&prefix) {
                Ok(meta) if meta.is_dir() => continue,
                Ok(_) => {
                    return Err(WorkspaceError::NotADirectory { field: at.field.to_owned(), path: at.path.to_owned() });
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(at.error("creating", e)),
            }
            if let Err(e) = self.root.create_dir(&prefix) {
                // A symlink there (dangling) says where it leads when it is looked up.
                return Err(match self.root.metadata(&prefix) {
                    Err(lookup) if is_escape(&lookup) => at.error("creating", lookup),
                    _ => at.error("creating", e),
                });
            }
        }
        Ok(())
    }

    /// Every entry of the workspace, as workspace-relative paths, parents before their
    /// children; symlinks are listed, never followed.
    pub fn all_paths(&self, at: Field<'_>) -> Result<Vec<PathBuf>, WorkspaceError> {
        let mut paths = Vec::new();
        let mut pending = vec![PathBuf::new()];
        while let Some(dir) = pending.pop() {
            let listing = if dir.as_os_str().is_empty() { self.root.entries() } else { self.root.read_dir(&dir) };
            for item in listing.map_err(|e| at.error("listing", e))? {
                let item = item.map_err(|e| at.error("listing", e))?;
                let path = dir.join(item.file_name());
                if item.file_type().map_err(|e| at.error("listing", e))?.is_dir() {
                    pending.push(path.clone());
                }
                paths.push(path);
            }
        }
        paths.sort();
        Ok(paths)
    }

    /// Whether the directory `path` holds nothing.
    pub fn is_empty_dir(&self, at: Field<'_>, path: &Path) -> Result<bool, WorkspaceError> {
        self.prepare(path, Scope::Tree)?;
        let mut entries = self.root.read_dir(path).map_err(|e| at.error("listing", e))?;
        Ok(entries.next().is_none())
    }

    /// `path` relative to the workspace with every symlink resolved; it must exist.
    pub fn canonical(&self, at: Field<'_>, path: &Path) -> Result<PathBuf, WorkspaceError> {
        self.prepare(path, Scope::Entry)?;
        self.root.canonicalize(path).map_err(|e| at.error("resolving", e))
    }

    /// Removes the file, symlink or directory tree at `path` (a symlink itself, not what
    /// it points to). `Ok(false)` when nothing was there.
    pub fn remove(&self, at: Field<'_>, path: &Path) -> Result<bool, WorkspaceError> {
        self.prepare(path, Scope::Tree)?;
        // A path ending in `.` or `..` names a directory by where it leads.
        let resolved;
        let path = if path.file_name().is_none() {
            resolved = match self.root.canonicalize(path) {
                Ok(resolved) => resolved,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(at.error("deleting", e)),
            };
            if resolved == Path::new(".") {
                return Err(WorkspaceError::WholeWorkspace { field: at.field.to_owned(), path: at.path.to_owned() });
            }
            resolved.as_path()
        } else {
            path
        };
        let meta = match self.root.symlink_metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(at.error("deleting", e)),
        };
        let removed = if meta.is_dir() { self.root.remove_dir_all(path) } else { self.root.remove_file(path) };
        removed.map_err(|e| at.error("deleting", e))?;
        Ok(true)
    }

    /// Removes everything in the directory `path` but the entries named in `keep`.
    pub fn clear_dir(&self, at: Field<'_>, path: &Path, keep: &[&str]) -> Result<(), WorkspaceError> {
        self.prepare(path, Scope::Tree)?;
        let dir = self.root.open_dir(path).map_err(|e| at.error("opening", e))?;
        for entry in dir.entries().map_err(|e| at.error("listing", e))? {
            let entry = entry.map_err(|e| at.error("listing", e))?;
            let name = entry.file_name();
            if keep.iter().any(|k| name == *k) {
                continue;
            }
            let file_type = entry.file_type().map_err(|e| at.error("clearing", e))?;
            let removed = if file_type.is_dir() { dir.remove_dir_all(&name) } else { dir.remove_file(&name) };
            removed.map_err(|e| at.error("clearing", e))?;
        }
        Ok(())
    }

    /// Checks the directory tree at `path` (workspace-relative, resolved) as `copy` does
    /// its source: a symlink leading outside, or a device, FIFO or socket, refuses it.
    pub fn check_tree(&self, at: Field<'_>, path: &Path) -> Result<(), WorkspaceError> {
        self.prepare(path, Scope::Tree)?;
        tree_copy::walk(self, at, path).map(|_| ())
    }

    /// Copies the file or directory tree at `from` to `to`; see [`tree_copy`].
    pub fn copy(&self, from: Field<'_>, to: Field<'_>) -> Result<(), WorkspaceError> {
        self.prepare(Path::new(from.path), Scope::Tree)?;
        self.prepare(Path::new(to.path), Scope::Tree)?;
        tree_copy::copy(self, from, to)
    }

    /// The host path of `path`, which must exist, with every symlink resolved beneath the
    /// workspace: what a program that takes paths (libgit2, kustomize) is given.
    pub fn host_path(&self, at: Field<'_>, path: &Path) -> Result<PathBuf, WorkspaceError> {
        self.materialize_all()?;
        self.host_path_as_is(at, path)
    }

    /// [`Workspace::host_path`] without writing lazy working trees first: for libgit2
    /// opening a repository whose steps know which files they touch (`git-commit`,
    /// `git-push`, `git-clone`).
    pub fn host_path_as_is(&self, at: Field<'_>, path: &Path) -> Result<PathBuf, WorkspaceError> {
        let canonical = self.canonical(at, path)?;
        Ok(if canonical == Path::new(".") { self.host_root.clone() } else { self.host_root.join(canonical) })
    }

    /// The workspace's directory on the host.
    pub fn host_root(&self) -> &Path {
        &self.host_root
    }

    /// Whether the host path `path` (as another program reports it) is inside the
    /// workspace once its symlinks are resolved.
    pub fn contains_host_path(&self, path: &Path) -> bool {
        std::fs::canonicalize(path).is_ok_and(|real| real.starts_with(&self.host_root))
    }

    /// `message` naming workspace-relative paths where it named the workspace's host
    /// directory (as libgit2 and kustomize do in their messages).
    pub fn relativize(&self, message: &str) -> String {
        let mut message = message.to_owned();
        for root in [&self.host_root, &self.given_root] {
            message = lading_domain::host_paths::relativize(&message, &root.to_string_lossy(), ".");
        }
        message
    }

    /// Whether a symlink in the directory `dir` (workspace-relative, resolved) with
    /// target `target` leads to a place inside the workspace: its target is relative,
    /// the part of it that exists resolves beneath the workspace, and the part that does
    /// not exist yet only descends.
    pub fn link_leads_inside(&self, dir: &Path, target: &Path) -> bool {
        if self.materialize_all().is_err() {
            return false;
        }
        if target.has_root() {
            return false;
        }
        let components: Vec<Component<'_>> = target.components().collect();
        for existing in (0..=components.len()).rev() {
            let prefix: PathBuf = components[..existing].iter().collect();
            match self.root.canonicalize(dir.join(prefix)) {
                Ok(_) => return components[existing..].iter().all(|c| matches!(c, Component::Normal(_))),
                Err(e) if is_escape(&e) => return false,
                Err(_) => {}
            }
        }
        false
    }

    fn dir(&self) -> &Dir {
        &self.root
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        self.save_lazy_trees();
    }
}

#[cfg(test)]
mod tests;
