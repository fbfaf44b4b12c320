//! Pushing to a bare repository on this machine (a `file://` URL or a path, as the quick
//! start's GitOps repository is) by copying the objects it lacks and moving its reference
//! on the condition that it still names what it named when looked at; fetching one
//! branch from such a repository by reading its reference and copying the objects its
//! head brings.
//!
//! libgit2's local transport opens the receiving repository three times per push, lists
//! its references twice, and writes a pack with its index for the three objects a
//! promotion's commit adds. Copying those objects as loose objects, as git's
//! `receive-pack` keeps small pushes, does the same work without the rest. A push that
//! would copy more than [`MAX_OBJECTS`] objects or [`MAX_BYTES`] bytes (a first push of a
//! whole history), one to a repository with a work tree, and one whose objects are not
//! all at hand here (a shallow or partial clone) is declined, for the transport to do.
//!
//! Loose objects are packed as `git gc --auto` packs them: once the receiving
//! repository's `objects/17` directory holds more than [`LOOSE_IN_SAMPLE`] of them (about
//! 6,700 in all), every loose object goes into one pack ([`pack_loose_objects`]).

use std::collections::HashSet;
use std::fs;
use std::path::Path;

use git2::{ErrorCode, ObjectType, Oid, Repository};

/// Objects a direct push copies at most.
pub const MAX_OBJECTS: usize = 1024;
/// Bytes of object content a direct push copies at most.
pub const MAX_BYTES: usize = 32 << 20;
/// Loose objects in `objects/17` past which the loose objects are packed: git's
/// `gc.auto` (6,700) over the 256 directories, rounded up.
pub const LOOSE_IN_SAMPLE: usize = 27;

/// What became of a direct push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectPush {
    /// The remote's reference names the commit now (or named it already).
    Pushed,
    /// The remote's reference names a commit the pushed one does not descend from: the
    /// remote moved on.
    Behind(String),
    /// Not attempted; push over the transport.
    Declined(&'static str),
}

/// Pushes `commit` to `reference` of the repository `url` names when it is a bare
/// repository on this machine, copying at most `max_bytes` (the Git transfer budget) of
/// object content. `Declined` for any other URL or repository, and for a symbolic
/// reference.
pub fn push(
    from: &Repository,
    commit: Oid,
    url: &str,
    reference: &str,
    max_bytes: u64,
) -> Result<DirectPush, git2::Error> {
    push_within(from, commit, url, reference, Limits { objects: MAX_OBJECTS, bytes: max_bytes })
}

/// How much one direct copy may take.
#[derive(Debug, Clone, Copy)]
struct Limits {
    objects: usize,
    bytes: u64,
}

impl Limits {
    fn fetch(max_bytes: u64) -> Self {
        Limits { objects: MAX_OBJECTS, bytes: max_bytes }
    }
}

fn push_within(
    from: &Repository,
    commit: Oid,
    url: &str,
    reference: &str,
    limits: Limits,
) -> Result<DirectPush, git2::Error> {
    let Some(Source { repo: remote }) = Source::open(url) else {
        return Ok(DirectPush::Declined("not a local repository"));
    };
    if !remote.is_bare() {
        return Ok(DirectPush::Declined("a repository with a work tree"));
    }
    let current = match remote.find_reference(reference) {
        // A conditional write compares a symbolic reference's own value, never its target.
        Ok(found) if found.kind() != Some(git2::ReferenceType::Direct) => {
            return Ok(DirectPush::Declined("a symbolic reference"));
        }
        Ok(found) => Some(found.target().ok_or_else(|| git2::Error::from_str("a reference without a target"))?),
        Err(e) if e.code() == ErrorCode::NotFound => None,
        Err(e) => return Err(e),
    };
    if current == Some(commit) {
        return Ok(DirectPush::Pushed);
    }
    if let Some(current) = current
        && (from.find_commit(current).is_err() || !from.graph_descendant_of(commit, current)?)
    {
        return Ok(DirectPush::Behind(format!("{reference}: cannot push non-fast-forward reference")));
    }
    let into = remote.odb()?;
    let Some(objects) = missing(from, &into, &[commit], limits)? else {
        return Ok(DirectPush::Declined("more objects than a direct push copies, or objects not at hand"));
    };
    write_all(&into, &objects)?;
    let moved = match current {
        Some(current) => remote.reference_matching(reference, commit, true, current, "push"),
        None => remote.reference(reference, commit, false, "push"),
    };
    match moved {
        Ok(_) => {}
        // Another writer moved it (a lock held by one is reported as the lock error).
        Err(e) if matches!(e.code(), ErrorCode::Modified | ErrorCode::Exists) => {
            return Ok(DirectPush::Behind(format!("{reference}: the remote moved on meanwhile (non-fast-forward)")));
        }
        Err(e) => return Err(e),
    }
    housekeep_loose(&remote);
    Ok(DirectPush::Pushed)
}

/// What a direct fetch found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectFetch {
    /// The commit the reference names, now held with everything it reaches; `None` when
    /// the repository has no such reference.
    Head(Option<Oid>),
    /// Not attempted; fetch over the transport.
    Declined(&'static str),
}

/// A repository on this machine that a URL names, read directly.
pub struct Source {
    repo: Repository,
}

impl Source {
    /// The repository `url` names when it is a `file://` URL or a path of a repository.
    pub fn open(url: &str) -> Option<Source> {
        let path = crate::packs::local_repository(url)?;
        let flags = git2::RepositoryOpenFlags::NO_SEARCH;
        Repository::open_ext(&path, flags, std::iter::empty::<&Path>()).ok().map(|repo| Source { repo })
    }

    /// Its branches and tags with what they name (a tag's own object, as a server
    /// advertises it), as `ls-remote` lists them.
    pub fn branches_and_tags(&self) -> Result<Vec<(String, Oid)>, git2::Error> {
        let mut found = Vec::new();
        for reference in self.repo.references()? {
            let reference = reference?;
            let Some(name) =
                reference.name().ok().filter(|n| n.starts_with("refs/heads/") || n.starts_with("refs/tags/"))
            else {
                continue;
            };
            let Some(target) = reference.resolve().ok().and_then(|r| r.target()) else { continue };
            found.push((name.to_owned(), target));
        }
        Ok(found)
    }

    /// The branch its HEAD names (`refs/heads/...`), if any.
    pub fn default_branch(&self) -> Option<String> {
        let head = self.repo.find_reference("HEAD").ok()?;
        head.symbolic_target().ok().flatten().filter(|t| t.starts_with("refs/heads/")).map(str::to_owned)
    }

    /// The commit `reference` names, `None` when there is no such reference.
    pub fn head_of(&self, reference: &str) -> Result<Option<Oid>, git2::Error> {
        match self.repo.find_reference(reference) {
            Ok(found) => Ok(Some(found.resolve()?.peel_to_commit()?.id())),
            Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Copies into `into` the objects reachable from `tips` that it lacks; `false`, with
    /// nothing copied, past [`MAX_OBJECTS`], or past `max_bytes` (the transfer budget a
    /// fetch over the transport keeps to) or [`MAX_BYTES`], or when an object is missing
    /// here.
    pub fn copy_into(&self, into: &Repository, tips: &[Oid], max_bytes: u64) -> Result<bool, git2::Error> {
        let odb = into.odb()?;
        let Some(objects) = missing(&self.repo, &odb, tips, Limits::fetch(max_bytes))? else { return Ok(false) };
        write_all(&odb, &objects)?;
        housekeep_loose(into);
        Ok(true)
    }
}

/// Reads `reference` of the repository `url` names when it is a repository on this
/// machine, and copies into `into` the objects of its commit that `into` lacks.
/// `Declined` for any other URL, and for a fetch past the limits of
/// [`Source::copy_into`].
pub fn fetch(into: &Repository, url: &str, reference: &str, max_bytes: u64) -> Result<DirectFetch, git2::Error> {
    let Some(source) = Source::open(url) else { return Ok(DirectFetch::Declined("not a local repository")) };
    let Some(head) = source.head_of(reference)? else { return Ok(DirectFetch::Head(None)) };
    if into.odb()?.exists(head) || source.copy_into(into, &[head], max_bytes)? {
        return Ok(DirectFetch::Head(Some(head)));
    }
    Ok(DirectFetch::Declined("more objects than a direct fetch copies, or objects not at hand"))
}

/// An object to copy: its type and content.
type Copied = (ObjectType, Vec<u8>);

/// Writes `objects` in their order: each after every object it names, so that a copy
/// cut short (a full disk, a killed process) leaves only objects held with everything
/// they reach, which is what [`missing`] takes a held object to mean.
fn write_all(into: &git2::Odb<'_>, objects: &[Copied]) -> Result<(), git2::Error> {
    for (kind, data) in objects {
        into.write(*kind, data)?;
    }
    Ok(())
}

/// The objects reachable from `tips` that `into` lacks, with their content, each after
/// every object it names (post-order); `None` when they are more than the limits allow
/// (or [`MAX_BYTES`]), or one of them is not in `from`. Sizes are read from the object
/// headers before any content is. An object `into` holds is held with everything it
/// reaches, as every complete repository does.
fn missing(
    from: &Repository,
    into: &git2::Odb<'_>,
    tips: &[Oid],
    limits: Limits,
) -> Result<Option<Vec<Copied>>, git2::Error> {
    let odb = from.odb()?;
    let max_bytes = limits.bytes.min(MAX_BYTES as u64);
    let mut seen = HashSet::new();
    // (object, its content once its children are pushed): a depth-first walk that emits
    // an object once everything above it on the stack (what it names) is emitted.
    let mut stack: Vec<(Oid, Option<Copied>)> = tips.iter().rev().map(|id| (*id, None)).collect();
    let mut found = Vec::new();
    let mut bytes = 0u64;
    let mut copied = 0;
    while let Some((id, content)) = stack.pop() {
        if let Some(content) = content {
            found.push(content);
            continue;
        }
        if !seen.insert(id) || into.exists(id) {
            continue;
        }
        copied += 1;
        if copied > limits.objects {
            return Ok(None);
        }
        let Ok((size, _)) = odb.read_header(id) else { return Ok(None) };
        bytes += size as u64;
        if bytes > max_bytes {
            return Ok(None);
        }
        let Ok(object) = odb.read(id) else { return Ok(None) };
        let kind = object.kind();
        let named: Vec<Oid> = match kind {
            ObjectType::Commit => {
                let commit = from.find_commit(id)?;
                std::iter::once(commit.tree_id()).chain(commit.parent_ids()).collect()
            }
            // A submodule's commit (a gitlink) lives in another repository.
            ObjectType::Tree => {
                from.find_tree(id)?.iter().filter(|e| e.kind() != Some(ObjectType::Commit)).map(|e| e.id()).collect()
            }
            ObjectType::Tag => vec![from.find_tag(id)?.target_id()],
            _ => Vec::new(),
        };
        stack.push((id, Some((kind, object.data().to_vec()))));
        stack.extend(named.into_iter().rev().map(|named| (named, None)));
    }
    Ok(Some(found))
}

/// Packs `repo`'s loose objects once git's estimate says they are too many. Never fails
/// the copy it follows: a failure leaves them loose, to be packed after the next one.
fn housekeep_loose(repo: &Repository) {
    if loose_in_sample(repo.path()) <= LOOSE_IN_SAMPLE {
        return;
    }
    match pack_loose_objects(repo) {
        Ok(packed) => tracing::debug!(packed, "packed the loose objects of a repository copied into"),
        Err(error) => tracing::warn!(%error, "the loose objects of a repository copied into were not packed"),
    }
    // Each packing adds a pack: those are merged past the pack limit, as fetches' are.
    crate::packs::housekeep(repo, "a repository whose loose objects were packed");
}

/// Loose objects in `objects/17` of the repository at `git_dir`: git's sample of how many
/// it holds.
fn loose_in_sample(git_dir: &Path) -> usize {
    fs::read_dir(git_dir.join("objects").join("17")).map_or(0, |entries| entries.flatten().count())
}

/// Packs every loose object of `repo` into one pack and removes the loose copies;
/// returns how many it packed.
pub fn pack_loose_objects(repo: &Repository) -> Result<usize, git2::Error> {
    let objects = repo.path().join("objects");
    let mut loose = Vec::new();
    for prefix in 0..=255u8 {
        let dir = objects.join(format!("{prefix:02x}"));
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(rest) = name.to_str().filter(|n| n.len() == 38 && n.bytes().all(|b| b.is_ascii_hexdigit())) else {
                continue;
            };
            if let Ok(id) = Oid::from_str(&format!("{prefix:02x}{rest}")) {
                loose.push((id, entry.path()));
            }
        }
    }
    if loose.is_empty() {
        return Ok(0);
    }
    let mut builder = repo.packbuilder()?;
    for (id, _) in &loose {
        builder.insert_object(*id, None)?;
    }
    builder.write(&objects.join("pack"), 0)?;
    repo.odb()?.refresh()?;
    // Each loose copy goes only once the pack holding it is readable.
    for (_, path) in &loose {
        let _ = fs::remove_file(path);
    }
    Ok(loose.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_git::git;

    /// A bare remote with one commit on `main`, and a clone of it.
    fn remote_and_clone(root: &Path) -> (String, std::path::PathBuf) {
        let remote = root.join("remote.git");
        fs::create_dir_all(&remote).unwrap();
        git(&remote, &["init", "-q", "--bare"]);
        let seed = root.join("seed");
        fs::create_dir_all(&seed).unwrap();
        git(&seed, &["init", "-q"]);
        fs::create_dir_all(seed.join("env")).unwrap();
        fs::write(seed.join("env/values.yaml"), "image: 1\n").unwrap();
        git(&seed, &["add", "-A"]);
        git(&seed, &["commit", "-q", "-m", "first"]);
        git(&seed, &["push", "-q", remote.to_str().unwrap(), "main"]);
        let clone = root.join("clone");
        git(root, &["clone", "-q", remote.to_str().unwrap(), clone.to_str().unwrap()]);
        (format!("file://{}", remote.display()), clone)
    }

    /// Loose objects in the repository at `dir`, as `git count-objects` counts them.
    fn loose_count(dir: &Path) -> usize {
        let counted = git(dir, &["count-objects", "-v"]);
        let line = counted.lines().find_map(|l| l.strip_prefix("count: ")).expect("a count");
        line.parse().unwrap()
    }

    /// A commit another clone of `url` pushed to `main`.
    fn pushed_by_another_clone(root: &Path, url: &str) -> Oid {
        let other = root.join("other");
        git(root, &["clone", "-q", url, other.to_str().unwrap()]);
        let theirs = commit_change(&other, "image: theirs\n");
        git(&other, &["push", "-q", "origin", "main"]);
        theirs
    }

    fn commit_change(clone: &Path, content: &str) -> Oid {
        fs::write(clone.join("env/values.yaml"), content).unwrap();
        git(clone, &["commit", "-q", "-am", content]);
        Oid::from_str(&git(clone, &["rev-parse", "HEAD"])).unwrap()
    }

    #[test]
    fn a_commit_on_top_of_the_remote_is_pushed_with_only_the_objects_it_adds() {
        // Given a clone with one new commit changing one file in a directory,
        let root = tempfile::tempdir().unwrap();
        let (url, clone) = remote_and_clone(root.path());
        let commit = commit_change(&clone, "image: 2\n");
        let repo = Repository::open(&clone).unwrap();
        let remote = root.path().join("remote.git");
        let before = loose_count(&remote);
        // when it is pushed directly,
        let pushed = push(&repo, commit, &url, "refs/heads/main", u64::MAX).unwrap();
        // then the remote's branch names it, the remote is whole, and it received the
        // commit, two trees and a blob, loose.
        assert_eq!(pushed, DirectPush::Pushed);
        assert_eq!(git(&remote, &["rev-parse", "main"]), commit.to_string());
        git(&remote, &["fsck", "--strict", "--no-dangling"]);
        assert_eq!(loose_count(&remote), before + 4);
        // Pushing it again changes nothing.
        assert_eq!(push(&repo, commit, &url, "refs/heads/main", u64::MAX).unwrap(), DirectPush::Pushed);
    }

    #[test]
    fn a_remote_that_moved_on_is_reported_behind_and_keeps_its_head() {
        let root = tempfile::tempdir().unwrap();
        let (url, clone) = remote_and_clone(root.path());
        // Given another clone that pushed first,
        let theirs = pushed_by_another_clone(root.path(), &url);
        // when a commit made beside it is pushed directly,
        let ours = commit_change(&clone, "image: ours\n");
        let pushed = push(&Repository::open(&clone).unwrap(), ours, &url, "refs/heads/main", u64::MAX).unwrap();
        // then it is behind, and the remote still names theirs.
        assert!(matches!(&pushed, DirectPush::Behind(reason) if reason.contains("non-fast-forward")), "{pushed:?}");
        assert_eq!(git(&root.path().join("remote.git"), &["rev-parse", "main"]), theirs.to_string());
    }

    #[test]
    fn a_new_branch_copies_only_what_the_remote_lacks() {
        let root = tempfile::tempdir().unwrap();
        let (url, clone) = remote_and_clone(root.path());
        git(&clone, &["checkout", "-q", "-b", "stage/uat"]);
        let commit = commit_change(&clone, "image: uat\n");
        let before = loose_count(&root.path().join("remote.git"));
        let pushed = push(&Repository::open(&clone).unwrap(), commit, &url, "refs/heads/stage/uat", u64::MAX).unwrap();
        assert_eq!(pushed, DirectPush::Pushed);
        let remote = root.path().join("remote.git");
        assert_eq!(git(&remote, &["rev-parse", "stage/uat"]), commit.to_string());
        assert_eq!(loose_count(&remote), before + 4);
        git(&remote, &["fsck", "--strict", "--no-dangling"]);
    }

    #[test]
    fn a_history_past_the_limit_is_declined_and_so_are_work_trees_and_servers() {
        let root = tempfile::tempdir().unwrap();
        let (_, clone) = remote_and_clone(root.path());
        // Two commits bring eight objects: past a limit of seven, none are copied.
        commit_change(&clone, "image: 2\n");
        let last = commit_change(&clone, "image: 3\n");
        let repo = Repository::open(&clone).unwrap();
        let remote = Repository::open_bare(root.path().join("remote.git")).unwrap();
        let before = loose_count(&root.path().join("remote.git"));
        let odb = remote.odb().unwrap();
        let within = |objects, bytes| missing(&repo, &odb, &[last], Limits { objects, bytes }).unwrap();
        assert_eq!(within(8, u64::MAX).map(|o| o.len()), Some(8));
        assert!(within(7, u64::MAX).is_none());
        let content: u64 = within(8, u64::MAX).unwrap().iter().map(|(_, data)| data.len() as u64).sum();
        assert!(within(8, content).is_some());
        assert!(within(8, content - 1).is_none());
        // A push past either limit is declined and writes nothing.
        let url = format!("file://{}", root.path().join("remote.git").display());
        for limits in [Limits { objects: 7, bytes: u64::MAX }, Limits { objects: 8, bytes: content - 1 }] {
            let pushed = push_within(&repo, last, &url, "refs/heads/main", limits).unwrap();
            assert!(matches!(pushed, DirectPush::Declined(_)), "{pushed:?}");
        }
        // A repository with a work tree, and a URL of a server.
        let with_tree = format!("file://{}", root.path().join("seed").display());
        assert!(matches!(push(&repo, last, &with_tree, "refs/heads/main", u64::MAX).unwrap(), DirectPush::Declined(_)));
        let server = "https://example.com/gitops.git";
        assert!(matches!(push(&repo, last, server, "refs/heads/main", u64::MAX).unwrap(), DirectPush::Declined(_)));
        assert_eq!(loose_count(&root.path().join("remote.git")), before);
    }

    #[test]
    fn loose_objects_past_gits_estimate_are_packed_by_the_next_push() {
        // Given a remote whose sample directory holds as many loose objects as allowed,
        let root = tempfile::tempdir().unwrap();
        let (url, clone) = remote_and_clone(root.path());
        let remote_dir = root.path().join("remote.git");
        let remote = Repository::open_bare(&remote_dir).unwrap();
        let mut i = 0u64;
        while loose_in_sample(&remote_dir) <= LOOSE_IN_SAMPLE {
            remote.blob(format!("filler {i}\n").as_bytes()).unwrap();
            i += 1;
        }
        let loose = loose_count(&remote_dir);
        // when a push lands,
        let commit = commit_change(&clone, "image: 2\n");
        assert_eq!(
            push(&Repository::open(&clone).unwrap(), commit, &url, "refs/heads/main", u64::MAX).unwrap(),
            DirectPush::Pushed
        );
        // then every loose object, the push's included, went into a pack,
        assert_eq!(loose_count(&remote_dir), 0);
        let in_pack = git(&remote_dir, &["count-objects", "-v"]);
        assert!(in_pack.contains(&format!("in-pack: {}", loose + 4)), "{in_pack} (loose before: {loose})");
        // and the remote is whole.
        assert_eq!(git(&remote_dir, &["rev-parse", "main"]), commit.to_string());
        git(&remote_dir, &["fsck", "--strict"]);
    }

    #[test]
    fn a_branch_is_fetched_with_only_the_objects_the_fetcher_lacks() {
        // Given a clone, and a remote that moved on by one commit,
        let root = tempfile::tempdir().unwrap();
        let (url, clone) = remote_and_clone(root.path());
        let theirs = pushed_by_another_clone(root.path(), &url);
        let repo = Repository::open(&clone).unwrap();
        let before = loose_count(&clone);
        // when the branch is fetched directly,
        let fetched = fetch(&repo, &url, "refs/heads/main", u64::MAX).unwrap();
        // then its head is theirs, held now with the four objects it added,
        assert_eq!(fetched, DirectFetch::Head(Some(theirs)));
        assert_eq!(loose_count(&clone), before + 4);
        repo.find_commit(theirs).unwrap().tree().unwrap();
        git(&clone, &["fsck", "--strict", "--no-dangling"]);
        // a second fetch copies nothing, and a branch the remote lacks has no head.
        assert_eq!(fetch(&repo, &url, "refs/heads/main", u64::MAX).unwrap(), DirectFetch::Head(Some(theirs)));
        assert_eq!(loose_count(&clone), before + 4);
        assert_eq!(fetch(&repo, &url, "refs/heads/stage/prod", u64::MAX).unwrap(), DirectFetch::Head(None));
        assert!(matches!(
            fetch(&repo, "https://example.com/r.git", "refs/heads/main", u64::MAX).unwrap(),
            DirectFetch::Declined(_)
        ));
    }

    #[test]
    fn objects_are_written_after_everything_they_name_merges_and_shared_blobs_included() {
        // Given a clone whose new history has a merge, a blob shared by two directories
        // and a submodule's gitlink,
        let root = tempfile::tempdir().unwrap();
        let (_, clone) = remote_and_clone(root.path());
        git(&clone, &["checkout", "-q", "-b", "side"]);
        fs::create_dir_all(clone.join("a")).unwrap();
        fs::create_dir_all(clone.join("b")).unwrap();
        fs::write(clone.join("a/same.txt"), "shared\n").unwrap();
        fs::write(clone.join("b/same.txt"), "shared\n").unwrap();
        git(&clone, &["add", "-A"]);
        git(&clone, &["commit", "-q", "-m", "side"]);
        git(&clone, &["checkout", "-q", "main"]);
        commit_change(&clone, "image: main\n");
        git(&clone, &["merge", "-q", "--no-edit", "side"]);
        let gitlink = "1111111111111111111111111111111111111111";
        git(&clone, &["update-index", "--add", "--cacheinfo", &format!("160000,{gitlink},vendor/sub")]);
        git(&clone, &["commit", "-q", "-m", "a submodule"]);
        let head = Oid::from_str(&git(&clone, &["rev-parse", "HEAD"])).unwrap();
        let repo = Repository::open(&clone).unwrap();
        let remote = Repository::open_bare(root.path().join("remote.git")).unwrap();
        // when the objects the remote lacks are listed,
        let listed = missing(&repo, &remote.odb().unwrap(), &[head], Limits::fetch(u64::MAX)).unwrap().unwrap();
        let ids: Vec<Oid> = listed.iter().map(|(kind, data)| Oid::hash_object(*kind, data).unwrap()).collect();
        // then each comes after every listed object it names, the gitlink is not listed,
        for (at, id) in ids.iter().enumerate() {
            let object = repo.find_object(*id, None).unwrap();
            let named: Vec<Oid> = match object.kind() {
                Some(ObjectType::Commit) => {
                    let commit = object.as_commit().unwrap();
                    std::iter::once(commit.tree_id()).chain(commit.parent_ids()).collect()
                }
                Some(ObjectType::Tree) => object.as_tree().unwrap().iter().map(|e| e.id()).collect(),
                _ => Vec::new(),
            };
            for named in named.iter().filter(|n| ids.contains(n)) {
                let before = ids.iter().position(|i| i == named).unwrap();
                assert!(before < at, "{id} is listed before {named}, which it names");
            }
        }
        assert!(!ids.contains(&Oid::from_str(gitlink).unwrap()));
        assert_eq!(ids.len(), ids.iter().collect::<HashSet<_>>().len(), "each object once");
        // and a push of them leaves the remote whole.
        let url = format!("file://{}", root.path().join("remote.git").display());
        assert_eq!(push(&repo, head, &url, "refs/heads/main", u64::MAX).unwrap(), DirectPush::Pushed);
        git(&root.path().join("remote.git"), &["fsck", "--strict", "--no-dangling"]);
    }

    #[test]
    fn a_symbolic_reference_is_declined_and_a_held_lock_is_an_error() {
        let root = tempfile::tempdir().unwrap();
        let (url, clone) = remote_and_clone(root.path());
        let commit = commit_change(&clone, "image: 2\n");
        let repo = Repository::open(&clone).unwrap();
        let remote_dir = root.path().join("remote.git");
        git(&remote_dir, &["symbolic-ref", "refs/heads/alias", "refs/heads/main"]);
        let pushed = push(&repo, commit, &url, "refs/heads/alias", u64::MAX).unwrap();
        assert!(matches!(pushed, DirectPush::Declined(_)), "{pushed:?}");
        // A lock another writer holds is its error, not a remote that moved on.
        fs::write(remote_dir.join("refs/heads/main.lock"), "").unwrap();
        let error = push(&repo, commit, &url, "refs/heads/main", u64::MAX).unwrap_err();
        assert_eq!(error.code(), ErrorCode::Locked, "{error}");
        fs::remove_file(remote_dir.join("refs/heads/main.lock")).unwrap();
        assert_eq!(push(&repo, commit, &url, "refs/heads/main", u64::MAX).unwrap(), DirectPush::Pushed);
    }

    #[test]
    fn a_fetch_into_a_repository_past_gits_estimate_packs_its_loose_objects() {
        let root = tempfile::tempdir().unwrap();
        let (url, clone) = remote_and_clone(root.path());
        let theirs = pushed_by_another_clone(root.path(), &url);
        let repo = Repository::open(&clone).unwrap();
        let mut i = 0u64;
        while loose_in_sample(repo.path()) <= LOOSE_IN_SAMPLE {
            repo.blob(format!("filler {i}\n").as_bytes()).unwrap();
            i += 1;
        }
        assert_eq!(fetch(&repo, &url, "refs/heads/main", u64::MAX).unwrap(), DirectFetch::Head(Some(theirs)));
        assert_eq!(loose_count(&clone), 0);
        repo.find_commit(theirs).unwrap().tree().unwrap();
        git(&clone, &["fsck", "--strict", "--no-dangling"]);
    }
}
