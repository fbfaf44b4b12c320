//! Kept working trees: after a promotion, each working tree `git-clone` checked out from a
//! branch through the mirrors is put back in a pool per (project, repository, branch), in
//! the replica's mirrors directory, holding only files equal to its HEAD. The next
//! `git-clone` of that branch takes it from the pool, fetches the branch from the remote
//! (unless the tree already holds the remote's head, as after its own push) and moves it
//! to the new head by rewriting only the files it holds that differ; every other file
//! stays lazy (see [`crate::engine::workspace`]), and the index is written when read (see
//! [`super::working_tree`]). A warm promotion then costs what its change costs.
//!
//! Guarantees, and how they hold:
//! - a taken tree is what a fresh clone of the branch gives the steps: HEAD and the branch
//!   are the remote's head, and so is the index once read; the files on disk were
//!   checked to equal the blobs of the tree they were kept with ([`keep_working_trees`]
//!   hashes each one and removes any other, with every symlink, executable or stray
//!   file), then moved along the diff to the new head; local commits of an earlier run
//!   are left behind.
//! - a tree is used by one promotion at a time: it is taken by renaming it out of the pool
//!   into the workspace, which only one taker can do.
//! - trees never cross projects: the pool's key names the project, so what one project's
//!   steps leave in a `.git` reaches only that project's later promotions.
//! - a tree in any doubt (a rebase left midway, a HEAD that is not plain files, a key or
//!   state that does not read) is deleted rather than kept.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use git2::{Oid, Repository};
use sha1::{Digest, Sha1};

use super::{Remotes, git_error};

/// In a kept tree's `.git`: the project, repository and branch it is kept for.
const KEY_FILE: &str = "lading-kept-key";
/// In a kept tree's `.git`: the tree its files were checked against, and those files.
const STATE_FILE: &str = "lading-kept";
/// Idle trees kept per (project, repository, branch); more are deleted.
const IDLE_PER_KEY: usize = 2;

/// What a kept tree is kept for.
pub(super) struct Key<'a> {
    pub project: &'a str,
    pub url: &'a str,
    pub branch: &'a str,
}

impl Key<'_> {
    fn text(&self) -> String {
        format!("{}\n{}\n{}\n", self.project, self.url, self.branch)
    }

    fn pool(&self, mirrors: &Path) -> PathBuf {
        let digest = Sha1::digest(self.text().as_bytes());
        mirrors.join("trees").join(digest.iter().take(10).map(|b| format!("{b:02x}")).collect::<String>())
    }

    /// Marks the working tree of `repo` to be kept for this key after the promotion.
    pub fn mark(&self, repo: &Repository) -> Result<(), String> {
        fs::write(repo.path().join(KEY_FILE), self.text()).map_err(|e| format!("marking the working tree: {e}"))
    }
}

/// A kept tree taken into a promotion's workspace.
pub(super) struct Taken {
    pub repo: Repository,
    /// The tree its files on disk equal (`None`: an unborn branch, no files).
    pub tree: Option<Oid>,
    /// Its files on disk, relative to the working tree.
    pub written: BTreeSet<String>,
}

/// Takes an idle kept tree for `key` into the empty directory `dest`; `None` when there
/// is none (or none that can be used: those are deleted).
pub(super) fn take(mirrors: &Path, key: &Key<'_>, dest: &Path) -> Option<Taken> {
    let pool = key.pool(mirrors);
    for entry in fs::read_dir(&pool).ok()?.flatten() {
        // Renaming it away is the claim: another taker finds it gone.
        if fs::rename(entry.path(), dest).is_err() {
            continue;
        }
        match open_taken(dest, key) {
            Some(taken) => return Some(taken),
            None => {
                let _ = fs::remove_dir_all(dest);
                let _ = fs::create_dir(dest);
            }
        }
    }
    None
}

fn open_taken(dest: &Path, key: &Key<'_>) -> Option<Taken> {
    let repo = Repository::open(dest).ok()?;
    if repo.is_bare() || !same_path(repo.path(), &dest.join(".git")) {
        return None;
    }
    if fs::read_to_string(repo.path().join(KEY_FILE)).ok()? != key.text() {
        return None;
    }
    let state = fs::read_to_string(repo.path().join(STATE_FILE)).ok()?;
    fs::remove_file(repo.path().join(STATE_FILE)).ok()?;
    let mut lines = state.lines();
    let tree = match lines.next()?.strip_prefix("tree ")? {
        "none" => None,
        oid => Some(Oid::from_str(oid).ok()?),
    };
    let written = lines.map(|l| l.strip_prefix("file ").map(str::to_owned)).collect::<Option<BTreeSet<_>>>()?;
    Some(Taken { repo, tree, written })
}

fn same_path(a: &Path, b: &Path) -> bool {
    match (fs::canonicalize(a), fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Fetches `branch` from `url` into the kept tree's `origin/<branch>`; returns its head,
/// `None` when the remote has no such branch.
pub(super) fn fetch_branch(
    repo: &Repository,
    url: &str,
    branch: &str,
    remotes: &Remotes,
) -> Result<Option<Oid>, String> {
    // Each write of the config or a ref creates a file: what holds already is not written.
    let origin = repo.find_remote("origin").ok().and_then(|r| r.url().ok().map(str::to_owned));
    if origin.as_deref() != Some(url) {
        repo.remote_set_url("origin", url).map_err(|e| git_error("pointing origin at the remote", e))?;
    }
    let tracking = format!("refs/remotes/origin/{branch}");
    // The tree holds this branch alone: other branches and tags it was cloned with would
    // be stale, and a branch deleted on the remote must not linger. Its own tracking ref
    // is written again below, or deleted when the remote lacks the branch.
    let local = format!("refs/heads/{branch}");
    let stale: Vec<String> = repo
        .references()
        .map_err(|e| git_error("listing references", e))?
        .flatten()
        .filter_map(|r| r.name().ok().map(str::to_owned))
        .filter(|name| *name != local && *name != tracking)
        .collect();
    for name in stale {
        if let Ok(mut reference) = repo.find_reference(&name) {
            reference.delete().map_err(|e| git_error("forgetting a reference", e))?;
        }
    }
    let wanted = format!("refs/heads/{branch}");
    // A repository on this machine is read directly: its reference, and the objects the
    // tree lacks.
    let budget = remotes.budgets.git.max_transfer.value;
    match lading_remote::local::fetch(repo, url, &wanted, budget).map_err(|e| git_error("fetching", e))? {
        lading_remote::local::DirectFetch::Head(head) => return track(repo, &tracking, head),
        lading_remote::local::DirectFetch::Declined(why) => tracing::debug!(why, "fetching over the transport"),
    }
    let mut remote = repo.find_remote("origin").map_err(|e| git_error("finding origin", e))?;
    let watch = remotes.watch("fetching", url);
    let failed = |e: git2::Error| watch.explain(&e).to_string();
    // One look at the remote's references first: a head this tree already holds (its own
    // last push, mostly) needs no fetch. A commit held is held with its whole history.
    remote.connect_auth(git2::Direction::Fetch, Some(remotes.callbacks(url, &watch)), None).map_err(failed)?;
    let listed = remote.list().map_err(failed)?.iter().find(|head| head.name() == wanted).map(|head| head.oid());
    remote.disconnect().map_err(failed)?;
    watch.check().map_err(|e| e.to_string())?;
    match listed {
        None => return track(repo, &tracking, None),
        Some(head) if repo.find_commit(head).is_ok() => return track(repo, &tracking, Some(head)),
        Some(_) => {}
    }
    let mut fetch = git2::FetchOptions::new();
    fetch.remote_callbacks(remotes.callbacks(url, &watch));
    fetch.download_tags(git2::AutotagOption::None);
    remote.fetch(&[format!("+refs/heads/{branch}:{tracking}")], Some(&mut fetch), None).map_err(failed)?;
    match repo.find_reference(&tracking) {
        Ok(head) => Ok(Some(head.peel_to_commit().map_err(|e| git_error("reading the branch", e))?.id())),
        Err(_) => Ok(None),
    }
}

/// Points the tracking branch `tracking` at `head`, a commit the tree holds (deletes it
/// when the remote lacks the branch); returns `head`.
fn track(repo: &Repository, tracking: &str, head: Option<Oid>) -> Result<Option<Oid>, String> {
    match head {
        Some(head) => set_reference(repo, tracking, head, "lading: the remote's head")
            .map_err(|e| git_error("recording the remote branch", e))?,
        None => {
            if let Ok(mut gone) = repo.find_reference(tracking) {
                gone.delete().map_err(|e| git_error("forgetting a reference", e))?;
            }
        }
    }
    Ok(head)
}

/// Points `name` at `target`, unless it points there already.
pub(super) fn set_reference(repo: &Repository, name: &str, target: Oid, log: &str) -> Result<(), git2::Error> {
    if repo.refname_to_id(name).ok() != Some(target) {
        repo.reference(name, target, true, log)?;
    }
    Ok(())
}

/// Rewrites the files of `taken` that differ between its tree and `target` (a tree;
/// `None`: no files), and removes those `target` lacks; returns the files left on disk.
pub(super) fn move_to(taken: &Taken, workdir: &Path, target: Option<Oid>) -> Result<BTreeSet<String>, String> {
    let repo = &taken.repo;
    let mut written = taken.written.clone();
    if taken.tree == target {
        return Ok(written);
    }
    let new = find_tree(repo, target)?;
    let changes = crate::engine::workspace::tree_diff::tree_changes(repo, taken.tree, target)
        .map_err(|e| git_error("comparing trees", e))?;
    let changed: BTreeSet<String> = changes.into_iter().map(|change| change.path).collect();
    let held: Vec<String> = changed.into_iter().filter(|p| written.contains(p)).collect();
    for path in held {
        let place = workdir.join(&path);
        let entry = new.as_ref().and_then(|tree| tree.get_path(Path::new(&path)).ok());
        match entry.filter(|e| e.filemode() == 0o100644) {
            Some(entry) => {
                let blob = repo.find_blob(entry.id()).map_err(|e| git_error("reading a file", e))?;
                fs::write(&place, blob.content()).map_err(|e| format!("checking out {path:?}: {e}"))?;
            }
            None => {
                fs::remove_file(&place).map_err(|e| format!("checking out {path:?}: {e}"))?;
                written.remove(&path);
                remove_empty_parents(workdir, &place);
            }
        }
    }
    Ok(written)
}

fn find_tree(repo: &Repository, oid: Option<Oid>) -> Result<Option<git2::Tree<'_>>, String> {
    oid.map(|oid| repo.find_tree(oid)).transpose().map_err(|e| git_error("reading a tree", e))
}

/// Removes the directories above `place` that are left empty, up to `top`.
fn remove_empty_parents(top: &Path, place: &Path) {
    let mut dir = place.parent();
    while let Some(d) = dir.filter(|d| *d != top && d.starts_with(top)) {
        if fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

/// Puts every working tree in the promotion workspace `workspace` that `git-clone`
/// marked to be kept back in the pool of `mirrors` (the replica's mirrors directory),
/// with only the files that equal its HEAD. Trees that cannot be kept are left in the
/// workspace, to go with it.
pub fn keep_working_trees(workspace: &Path, mirrors: &Path) {
    let mut pending = vec![workspace.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        let git = dir.join(".git");
        if git.join(KEY_FILE).is_file() && fs::symlink_metadata(&git).is_ok_and(|m| m.is_dir()) {
            if let Err(reason) = keep(&dir, mirrors) {
                tracing::debug!(reason, "a working tree was not kept");
            }
            continue;
        }
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) && entry.file_name() != ".git" {
                pending.push(entry.path());
            }
        }
    }
}

fn keep(dir: &Path, mirrors: &Path) -> Result<(), String> {
    let repo = Repository::open(dir).map_err(|e| git_error("opening", e))?;
    if repo.is_bare() || repo.state() != git2::RepositoryState::Clean || !same_path(repo.path(), &dir.join(".git")) {
        return Err("not a plain working tree at rest".to_owned());
    }
    let key = fs::read_to_string(repo.path().join(KEY_FILE)).map_err(|e| e.to_string())?;
    let mut parts = key.lines();
    let (Some(project), Some(url), Some(branch)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("unreadable key".to_owned());
    };
    let key = Key { project, url, branch };
    let tree = match repo.head() {
        Ok(head) => Some(head.peel_to_tree().map_err(|e| git_error("reading HEAD", e))?),
        Err(e) if e.code() == git2::ErrorCode::UnbornBranch => None,
        Err(e) => return Err(git_error("reading HEAD", e)),
    };
    // The tree the promotion cloned (its lazy state names it) is usually HEAD's parent's:
    // from it, only what the promotion changed is read.
    let cloned = fs::read_to_string(repo.path().join("lading-lazy"))
        .ok()
        .and_then(|state| Oid::from_str(state.lines().next()?.strip_prefix("tree ")?).ok());
    let files = match &tree {
        Some(tree) => crate::engine::workspace::plain_files_of(&repo, tree.id(), cloned)
            .ok_or("HEAD holds more than plain files")?,
        None => Default::default(),
    };
    // Only files equal to HEAD's stay; everything else goes.
    let mut written = BTreeSet::new();
    let mut dirs = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let listing = fs::read_dir(dir.join(&relative)).map_err(|e| e.to_string())?;
        for entry in listing {
            let entry = entry.map_err(|e| e.to_string())?;
            let path = relative.join(entry.file_name());
            if path == Path::new(".git") {
                continue;
            }
            let kind = entry.file_type().map_err(|e| e.to_string())?;
            if kind.is_dir() {
                dirs.push(path.clone());
                pending.push(path);
                continue;
            }
            let name = path.to_str().map(str::to_owned);
            let plain = kind.is_file()
                && entry.metadata().is_ok_and(|m| m.permissions().mode() & 0o111 == 0)
                && name.as_ref().and_then(|n| files.get(n)).is_some_and(|blob| {
                    Oid::hash_file(git2::ObjectType::Blob, dir.join(&path)).is_ok_and(|hashed| hashed == *blob)
                });
            match name {
                Some(name) if plain => {
                    written.insert(name);
                }
                _ => fs::remove_file(dir.join(&path)).map_err(|e| e.to_string())?,
            }
        }
    }
    // Deepest first, so a directory emptied of directories goes too.
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for empty in dirs {
        let _ = fs::remove_dir(dir.join(empty));
    }
    let mut state = match &tree {
        Some(tree) => format!("tree {}\n", tree.id()),
        None => "tree none\n".to_owned(),
    };
    for file in &written {
        state.push_str(&format!("file {file}\n"));
    }
    fs::write(repo.path().join(STATE_FILE), state).map_err(|e| e.to_string())?;
    let _ = fs::remove_file(repo.path().join("lading-lazy"));
    // Each fetch into the tree added a pack.
    lading_remote::packs::housekeep(&repo, "a kept working tree");
    drop(tree);
    drop(repo);
    let pool = key.pool(mirrors);
    fs::create_dir_all(&pool).map_err(|e| e.to_string())?;
    if fs::read_dir(&pool).map_err(|e| e.to_string())?.count() >= IDLE_PER_KEY {
        return Err("the pool of this branch is full".to_owned());
    }
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let slot = pool.join(format!("{nanos:x}-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)));
    fs::rename(dir, &slot).map_err(|e| e.to_string())
}
