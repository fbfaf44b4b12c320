//! Pack housekeeping for the repositories Lading keeps between operations (Git mirrors,
//! kept working trees). libgit2 writes one pack per fetch that brings something and never
//! repacks, so without housekeeping every later lookup, open and fetch of such a
//! repository pays for each fetch it ever made. Once a repository holds more than
//! [`MAX_PACKS`] packs, [`merge_small_packs`] merges all but the largest into one, as
//! `git gc --auto` does with its pack limit: the cost stays that of the objects fetched
//! since the largest pack, never of the whole repository.
//!
//! Only the repository's own `objects/pack` directory is touched, only regular files
//! named as libgit2 names packs, and never a pack marked `.keep` or `.promisor`. The
//! merged pack is complete before the packs it replaces are removed, so a reader finds
//! every object in one or the other.
//!
//! A push over the local transport (a `file://` URL or a path) writes one pack into the
//! receiving repository too, where git's `receive-pack` would unpack it and run
//! `gc --auto`: [`housekeep_pushed`] keeps such a repository to the same limit.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use git2::{Oid, Repository};

/// Packs a kept repository may hold before its small ones are merged.
pub const MAX_PACKS: usize = 16;

/// What [`merge_small_packs`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Merged {
    /// Packs merged into one.
    pub packs: usize,
    /// Objects in the merged pack.
    pub objects: usize,
}

/// Why packs could not be merged. The repository is left as it was: every pack it held
/// is still there.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("reading the pack directory: {0}")]
    Io(#[from] std::io::Error),
    #[error("pack index {0}: {1}")]
    Index(String, &'static str),
    #[error("writing the merged pack: {0}")]
    Git(#[from] git2::Error),
}

/// One pack on disk: its index, its size.
struct Pack {
    stem: PathBuf,
    bytes: u64,
}

impl Pack {
    fn with(&self, extension: &str) -> PathBuf {
        self.stem.with_extension(extension)
    }
}

/// Merges `repo`'s small packs once it holds more than [`MAX_PACKS`], logging what it did;
/// `what` names the repository in the log. Housekeeping never fails the work it follows:
/// a merge that fails leaves the packs as they were, and is tried again after the next
/// fetch.
pub fn housekeep(repo: &Repository, what: &str) {
    match merge_small_packs(repo, MAX_PACKS) {
        Ok(Some(merged)) => tracing::debug!(what, packs = merged.packs, objects = merged.objects, "merged small packs"),
        Ok(None) => {}
        Err(error) => tracing::warn!(what, %error, "small packs were not merged"),
    }
}

/// The repository a local remote URL names, as libgit2's local transport reads it: the
/// path of a `file://` URL, or a path given as is. `None` for any other URL.
pub fn local_repository(url: &str) -> Option<PathBuf> {
    if url.starts_with('/') {
        return Some(PathBuf::from(url));
    }
    let parsed = url::Url::parse(url).ok().filter(|u| u.scheme() == "file")?;
    parsed.to_file_path().ok()
}

/// After a push to `url`: when it names a local repository, merges its small packs once
/// it holds more than [`MAX_PACKS`] (see [`housekeep`]). Anything else is left alone.
pub fn housekeep_pushed(url: &str) {
    let Some(path) = local_repository(url) else { return };
    // Counted before the repository is opened: most pushes find nothing to do.
    let over = |dir: PathBuf| packs_in(&dir).ok().flatten().is_some_and(|packs| packs.len() > MAX_PACKS);
    if !over(path.join("objects").join("pack")) && !over(path.join(".git").join("objects").join("pack")) {
        return;
    }
    let flags = git2::RepositoryOpenFlags::NO_SEARCH;
    if let Ok(repo) = Repository::open_ext(&path, flags, std::iter::empty::<&Path>()) {
        housekeep(&repo, "a local repository pushed to");
    }
}

/// Merges every pack of `repo` but the largest into one once it holds more than
/// `max_packs`; `None` when there was nothing to do.
pub fn merge_small_packs(repo: &Repository, max_packs: usize) -> Result<Option<Merged>, PackError> {
    let dir = repo.path().join("objects").join("pack");
    let mut packs = match packs_in(&dir)? {
        Some(packs) if packs.len() > max_packs.max(1) => packs,
        _ => return Ok(None),
    };
    packs.sort_by_key(|p| p.bytes);
    packs.pop();
    let mut builder = repo.packbuilder()?;
    for pack in &packs {
        for id in index_names(&pack.with("idx"))? {
            builder.insert_object(id, None)?;
        }
    }
    let objects = builder.object_count();
    builder.write(&dir, 0)?;
    let merged = builder.name().ok().flatten().map(|name| dir.join(format!("pack-{name}")));
    for pack in &packs {
        if merged.as_deref() == Some(pack.stem.as_path()) {
            continue;
        }
        // The index first: a reader that lists packs meanwhile skips this one.
        let _ = fs::remove_file(pack.with("idx"));
        let _ = fs::remove_file(pack.with("pack"));
    }
    repo.odb()?.refresh()?;
    Ok(Some(Merged { packs: packs.len(), objects }))
}

/// The packs in `dir` that may be merged, or `None` when `dir` is not a plain directory.
fn packs_in(dir: &Path) -> Result<Option<Vec<Pack>>, PackError> {
    if !fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
        return Ok(None);
    }
    let mut packs = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(hash) = name.to_str().and_then(|n| n.strip_prefix("pack-")).and_then(|n| n.strip_suffix(".pack"))
        else {
            continue;
        };
        if hash.len() != 40 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        let stem = dir.join(format!("pack-{hash}"));
        let pack = Pack { stem, bytes: 0 };
        let regular = |path: PathBuf| fs::symlink_metadata(path).ok().filter(|m| m.file_type().is_file());
        let (Some(data), Some(_)) = (regular(pack.with("pack")), regular(pack.with("idx"))) else { continue };
        if pack.with("keep").exists() || pack.with("promisor").exists() {
            continue;
        }
        packs.push(Pack { bytes: data.len(), ..pack });
    }
    Ok(Some(packs))
}

/// The object names a version 2 pack index lists (the only version libgit2 writes).
fn index_names(path: &Path) -> Result<Vec<Oid>, PackError> {
    const HEADER: usize = 8;
    const FANOUT: usize = 256 * 4;
    let shown = || path.display().to_string();
    let mut file = fs::File::open(path)?;
    let mut head = vec![0u8; HEADER + FANOUT];
    file.read_exact(&mut head).map_err(|_| PackError::Index(shown(), "shorter than its header"))?;
    if head[..8] != [0xff, b't', b'O', b'c', 0, 0, 0, 2] {
        return Err(PackError::Index(shown(), "not a version 2 pack index"));
    }
    let last = &head[HEADER + FANOUT - 4..];
    let count = u32::from_be_bytes([last[0], last[1], last[2], last[3]]) as usize;
    // A count the file cannot hold is refused before anything is allocated for it.
    let size = file.metadata()?.len();
    if (count as u64).saturating_mul(28) > size {
        return Err(PackError::Index(shown(), "lists more objects than it can hold"));
    }
    let mut names = vec![0u8; count * 20];
    file.read_exact(&mut names).map_err(|_| PackError::Index(shown(), "shorter than its object names"))?;
    names.chunks_exact(20).map(|raw| Oid::from_bytes(raw).map_err(PackError::from)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_git::git;

    /// A mirror that fetched `fetches` times from a source gaining one commit (and an
    /// annotated tag on every third) before each: one pack per fetch.
    fn mirror_after(root: &Path, fetches: usize) -> Repository {
        let source = root.join("source");
        fs::create_dir_all(&source).unwrap();
        git(&source, &["init", "-q"]);
        let mirror = Repository::init_bare(root.join("mirror.git")).unwrap();
        let url = format!("file://{}", source.display());
        for i in 0..fetches {
            fs::write(source.join(format!("file-{}.txt", i % 5)), format!("content {i}\n")).unwrap();
            git(&source, &["add", "-A"]);
            git(&source, &["commit", "-q", "-m", &format!("change {i}")]);
            if i % 3 == 0 {
                git(&source, &["tag", "-a", "-m", "release", &format!("v{i}")]);
            }
            let mut remote = mirror.remote_anonymous(&url).unwrap();
            remote.fetch(&["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"], None, None).unwrap();
        }
        mirror
    }

    fn pack_count(repo: &Repository) -> usize {
        packs_in(&repo.path().join("objects/pack")).unwrap().unwrap().len()
    }

    /// Every object the source holds, as `git` lists them.
    fn objects(dir: &Path) -> Vec<String> {
        let listed = git(dir, &["rev-list", "--objects", "--all"]);
        let mut ids: Vec<String> = listed.lines().map(|l| l.split(' ').next().unwrap().to_owned()).collect();
        let tags = git(dir, &["for-each-ref", "--format=%(objectname)", "refs/tags"]);
        ids.extend(tags.lines().map(str::to_owned));
        ids.sort();
        ids.dedup();
        ids
    }

    #[test]
    fn a_mirror_past_the_limit_keeps_its_largest_pack_and_one_merged_pack_with_every_object() {
        // Given a mirror that fetched 20 times (20 packs),
        let root = tempfile::tempdir().unwrap();
        let mirror = mirror_after(root.path(), 20);
        assert_eq!(pack_count(&mirror), 20);
        // when its small packs are merged at a limit of 16,
        let merged = merge_small_packs(&mirror, 16).unwrap().expect("merged");
        // then 19 packs became one beside the largest,
        assert_eq!(merged.packs, 19);
        assert_eq!(pack_count(&mirror), 2);
        // and every object of the source is still there, readable by this handle and by
        // git, which finds the repository whole.
        for id in objects(&root.path().join("source")) {
            mirror.odb().unwrap().read(Oid::from_str(&id).unwrap()).unwrap_or_else(|e| panic!("{id}: {e}"));
        }
        let mirror_dir = root.path().join("mirror.git");
        git(&mirror_dir, &["fsck", "--strict", "--no-dangling"]);
        assert_eq!(objects(&mirror_dir), objects(&root.path().join("source")));
        // A later fetch still works on top of it.
        let reopened = Repository::open_bare(&mirror_dir).unwrap();
        assert!(reopened.find_reference("refs/tags/v18").is_ok());
    }

    #[test]
    fn a_local_remote_is_a_file_url_or_a_path_and_nothing_else() {
        assert_eq!(local_repository("file:///srv/git/a%20b.git"), Some(PathBuf::from("/srv/git/a b.git")));
        assert_eq!(local_repository("/srv/git/gitops.git"), Some(PathBuf::from("/srv/git/gitops.git")));
        for url in
            ["https://example.com/r.git", "ssh://git@example.com/r.git", "git@example.com:r.git", "file://host/r"]
        {
            assert_eq!(local_repository(url), None, "{url}");
        }
    }

    #[test]
    fn a_repository_within_the_limit_is_left_alone() {
        let root = tempfile::tempdir().unwrap();
        let mirror = mirror_after(root.path(), 5);
        assert_eq!(merge_small_packs(&mirror, 5).unwrap(), None);
        assert_eq!(pack_count(&mirror), 5);
        // One more pack than the limit is merged.
        assert_eq!(merge_small_packs(&mirror, 4).unwrap().map(|m| m.packs), Some(4));
        assert_eq!(pack_count(&mirror), 2);
    }

    #[test]
    fn kept_and_promisor_packs_and_strange_names_are_never_touched() {
        let root = tempfile::tempdir().unwrap();
        let mirror = mirror_after(root.path(), 6);
        let dir = mirror.path().join("objects/pack");
        let mut stems: Vec<PathBuf> = fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "pack"))
            .map(|p| p.with_extension(""))
            .collect();
        stems.sort();
        fs::write(stems[0].with_extension("keep"), "").unwrap();
        fs::write(stems[1].with_extension("promisor"), "").unwrap();
        fs::write(dir.join("pack-not-a-hash.pack"), "x").unwrap();
        fs::write(dir.join("pack-not-a-hash.idx"), "x").unwrap();
        // Four packs may be merged: one is the largest and stays; three become one.
        let merged = merge_small_packs(&mirror, 2).unwrap().expect("merged");
        assert_eq!(merged.packs, 3);
        for kept in [&stems[0], &stems[1]] {
            assert!(kept.with_extension("pack").is_file() && kept.with_extension("idx").is_file());
        }
        assert!(dir.join("pack-not-a-hash.pack").is_file());
        let mirror_dir = root.path().join("mirror.git");
        fs::remove_file(dir.join("pack-not-a-hash.pack")).unwrap();
        fs::remove_file(dir.join("pack-not-a-hash.idx")).unwrap();
        git(&mirror_dir, &["fsck", "--no-dangling"]);
    }

    #[test]
    fn a_damaged_index_fails_the_merge_and_removes_nothing() {
        let root = tempfile::tempdir().unwrap();
        let mirror = mirror_after(root.path(), 4);
        let dir = mirror.path().join("objects/pack");
        let smallest = fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "pack"))
            .min_by_key(|p| fs::metadata(p).unwrap().len())
            .unwrap();
        // An index claiming more objects than its file holds.
        let idx = smallest.with_extension("idx");
        let mut bytes = fs::read(&idx).unwrap();
        let at = 8 + 255 * 4;
        bytes[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        fs::write(&idx, bytes).unwrap();
        let error = merge_small_packs(&mirror, 2).unwrap_err();
        assert!(error.to_string().contains("lists more objects than it can hold"), "{error}");
        assert_eq!(pack_count(&mirror), 4);
    }
}
