//! `git-commit`: commits every change in a working tree, with a trailer naming the
//! promotion. When the branch already holds this promotion's commit (a retry after a
//! crash), that commit is returned and nothing new is made. Output: `commit`.
//!
//! The commit is signed as Kargo signs it: by `author.signingKey` when the step sets
//! `author`, else by the repository's key (the `git-clone`'s `author.signingKey` when
//! the clone set an author, else the promoter-wide `LADING_GIT_SIGNING_KEY_PATH`), else
//! not at all (see [`lading_domain::commit_signing::commit_key`]). Without a name or
//! email of its own, the commit takes the clone's author's, else the promoter's.

use std::collections::{BTreeSet, HashSet, VecDeque};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use git2::build::TreeUpdateBuilder;
use git2::{Commit, ErrorCode, FileMode, IndexAddOption, Oid, Repository, Signature};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use lading_domain::commit_signing::{CommitKey, commit_key};

use super::commit_signing::{self, NewCommit, SigningKey};
use super::git_clone::{cone_of, in_cone};
use super::{CommitAuthor, PROMOTION_TRAILER, StepContext, git_error};
use crate::engine::workspace::{Field, plain_config};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Author {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    /// An ASCII-armored OpenPGP private key, without a passphrase.
    #[serde(default, rename = "signingKey")]
    signing_key: Option<KeyText>,
}

/// Key material from a step's config: `Debug` never shows it.
#[derive(Deserialize)]
#[serde(transparent)]
pub struct KeyText(String);

impl KeyText {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for KeyText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyText(***)")
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    path: String,
    message: String,
    #[serde(default)]
    author: Option<Author>,
}

/// How far back to look for this promotion's commit.
const TRAILER_SEARCH_DEPTH: usize = 200;

/// The key that signs this step's commit, checked before anything is staged.
fn signing_key(repository: &CommitAuthor, config: &Config) -> Result<Option<Arc<SigningKey>>, String> {
    let step_key = config.author.as_ref().and_then(|a| a.signing_key.as_ref()).filter(|k| !k.0.trim().is_empty());
    Ok(match commit_key(config.author.is_some(), step_key.is_some(), repository.signing_key.is_some()) {
        CommitKey::Step => {
            let text = step_key.map(|k| k.0.as_str()).unwrap_or_default();
            Some(Arc::new(SigningKey::parse(text).map_err(|e| format!("config.author.signingKey: {e}"))?))
        }
        CommitKey::Repository => repository.signing_key.clone(),
        CommitKey::Unsigned => None,
    })
}

pub fn run(ctx: &StepContext<'_>, config: Config) -> Result<Map<String, Value>, String> {
    let repo = super::working_tree::open(ctx, "config.path", &config.path)?;
    let repository = commit_signing::repository_author(&repo, ctx.author)?;
    let key = signing_key(&repository, &config)?;
    let trailer = format!("{PROMOTION_TRAILER}: {}", ctx.promotion);
    if let Some(existing) = find_commit_with_trailer(&repo, &trailer)? {
        tracing::info!(commit = existing, "this promotion's commit already exists; not committing again");
        return Ok(outputs(&existing));
    }
    // In a sparse checkout, paths outside the cone are absent on purpose: not deletions.
    // In a lazy working tree, files that never appeared are unchanged: not deletions.
    let cone = cone_of(&repo);
    let workdir = repo.workdir().map(std::path::Path::to_path_buf).unwrap_or_default();
    let parent = match repo.head() {
        Ok(head) => Some(head.peel_to_commit().map_err(|e| git_error("reading HEAD", e))?),
        Err(e) if e.code() == ErrorCode::UnbornBranch => None,
        Err(e) => return Err(git_error("reading HEAD", e)),
    };
    // A lazy working tree names the few paths that may have changed: when they are plain
    // files changed or added on HEAD's tree as it was cloned, the new tree is HEAD's with
    // those entries replaced, and the index is left to be written when read.
    let touched = cone.is_none().then(|| ctx.workspace.touched_paths(&workdir)).flatten();
    if let Some(paths) = &touched {
        write_ignore_files(ctx, &config.path, paths)?;
    }
    let cloned = ctx.workspace.lazy_tree(&workdir);
    let updated = match (&touched, &parent, cloned) {
        (Some(paths), Some(parent), Some(cloned)) if parent.tree_id() == cloned => {
            updated_tree(&repo, parent, &workdir, paths)?
        }
        _ => None,
    };
    let tree_id = match updated {
        Some(tree_id) => tree_id,
        None => {
            super::working_tree::fresh_index(&repo)?;
            let mut index = repo.index().map_err(|e| git_error("opening the index", e))?;
            let mut outside_cone = |path: &std::path::Path, _: &[u8]| -> i32 {
                match (&cone, path.to_str()) {
                    (Some(dirs), Some(path)) if !in_cone(dirs, path) => 1,
                    (None, Some(path)) if ctx.workspace.never_written(&workdir, path) => 1,
                    _ => 0,
                }
            };
            // Only the touched paths are staged, against the index; every other path is HEAD's.
            match (&touched, &cone) {
                (Some(paths), _) => stage_paths(&repo, &mut index, &workdir, paths)?,
                (None, Some(dirs)) => stage_cone(&repo, &mut index, dirs)?,
                (None, None) => {
                    let all = ["*"];
                    index
                        .add_all(all, IndexAddOption::DEFAULT, Some(&mut outside_cone))
                        .map_err(|e| git_error("staging changes", e))?;
                    index.update_all(all, Some(&mut outside_cone)).map_err(|e| git_error("staging deletions", e))?;
                }
            }
            index.write().map_err(|e| git_error("writing the index", e))?;
            index.write_tree().map_err(|e| git_error("writing the tree", e))?
        }
    };
    if let Some(parent) = &parent
        && parent.tree_id() == tree_id
    {
        tracing::info!("nothing changed; no commit made");
        return Ok(outputs(&parent.id().to_string()));
    }
    let tree = repo.find_tree(tree_id).map_err(|e| git_error("reading the tree", e))?;
    let (name, email) = match &config.author {
        Some(a) => (
            a.name.clone().unwrap_or_else(|| repository.name.clone()),
            a.email.clone().unwrap_or_else(|| repository.email.clone()),
        ),
        None => (repository.name.clone(), repository.email.clone()),
    };
    let signature = Signature::now(&name, &email).map_err(|e| git_error("config.author", e))?;
    let message = format!("{}\n\n{trailer}\n", config.message.trim_end());
    let parents: Vec<_> = parent.iter().collect();
    let new =
        NewCommit { author: &signature, committer: &signature, message: &message, tree: &tree, parents: &parents };
    let oid = commit_signing::commit(&repo, Some("HEAD"), &new, key.as_deref())?;
    if let Some(key) = &key {
        tracing::info!(commit = %oid, key = key.fingerprint(), "signed the commit");
    }
    remember_new_commit(oid, parent.as_ref().map(Commit::id), &message);
    if updated.is_some() {
        super::working_tree::mark_index_stale(&repo)?;
    }
    Ok(outputs(&oid.to_string()))
}

/// Writes, in a lazy working tree at `path`, the `.gitignore` files HEAD has beside each of
/// `paths` and in the directories above: libgit2 reads ignore rules from the working tree,
/// and a file never written ignores nothing.
fn write_ignore_files(ctx: &StepContext<'_>, path: &str, paths: &[String]) -> Result<(), String> {
    let at = Field::new("config.path", path);
    let dirs: BTreeSet<&Path> = paths.iter().flat_map(|p| Path::new(p).ancestors().skip(1)).collect();
    for dir in dirs {
        ctx.workspace.kind(at, &Path::new(path).join(dir).join(".gitignore"))?;
    }
    Ok(())
}

/// HEAD's tree (`parent`'s, all plain files) with each of `paths` (relative to `workdir`)
/// as it is on disk, when every one is a plain file (regular, not executable, not
/// `.gitattributes`) where HEAD has one or nothing, or is absent where HEAD has nothing;
/// untracked ignored files stay out, as `git add --all` leaves them. `None` when any path
/// is something else (a deletion, a directory, a symlink...): the index stages those.
fn updated_tree(
    repo: &Repository,
    parent: &Commit<'_>,
    workdir: &Path,
    paths: &[String],
) -> Result<Option<Oid>, String> {
    if !plain_config(repo) {
        return Ok(None);
    }
    let head = parent.tree().map_err(|e| git_error("reading HEAD", e))?;
    let mut update = TreeUpdateBuilder::new();
    let mut changed = false;
    // A path may be named twice (it appeared, and it is on disk).
    let paths: BTreeSet<&String> = paths.iter().collect();
    for path in paths {
        let relative = Path::new(path);
        if relative.file_name().is_none_or(|name| name == ".gitattributes") {
            return Ok(None);
        }
        let entry = head.get_path(relative).ok();
        let meta = match std::fs::symlink_metadata(workdir.join(relative)) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && entry.is_none() => continue,
            Err(_) => return Ok(None),
        };
        if !meta.is_file() || meta.permissions().mode() & 0o111 != 0 {
            return Ok(None);
        }
        match &entry {
            Some(entry) if entry.filemode() != 0o100644 => return Ok(None),
            Some(_) => {}
            None => {
                // A new file: under directories HEAD has (or lacks), never under a file.
                let under_file = relative
                    .ancestors()
                    .skip(1)
                    .filter(|a| !a.as_os_str().is_empty())
                    .any(|a| head.get_path(a).is_ok_and(|e| e.kind() != Some(git2::ObjectType::Tree)));
                if under_file {
                    return Ok(None);
                }
                if repo.is_path_ignored(relative).map_err(|e| git_error("staging changes", e))? {
                    continue;
                }
            }
        }
        let content = std::fs::read(workdir.join(relative)).map_err(|e| format!("staging {path:?}: {e}"))?;
        let blob = repo.blob(&content).map_err(|e| git_error("staging changes", e))?;
        if entry.map(|e| e.id()) != Some(blob) {
            update.upsert(relative, blob, FileMode::Blob);
            changed = true;
        }
    }
    if !changed {
        return Ok(Some(head.id()));
    }
    update.create_updated(repo, &head).map(Some).map_err(|e| git_error("writing the tree", e))
}

/// Stages, in a sparse checkout of `dirs`, what changed in the working tree within the
/// cone, as `git add --all` does, reading only the working tree and the index: libgit2's
/// `add_all` loads the blob of every path absent from the working tree (outside the cone,
/// all of them) to tell whether it is binary, which a blobless clone does not hold.
fn stage_cone(repo: &Repository, index: &mut git2::Index, dirs: &[String]) -> Result<(), String> {
    let staging = |e| git_error("staging changes", e);
    let mut options = git2::DiffOptions::new();
    options.include_untracked(true).recurse_untracked_dirs(true).include_typechange(true).skip_binary_check(true);
    let diff = repo.diff_index_to_workdir(Some(index), Some(&mut options)).map_err(staging)?;
    let mut added = Vec::new();
    let mut removed = Vec::new();
    for delta in diff.deltas() {
        let exists = delta.new_file().exists();
        let file = if exists { delta.new_file() } else { delta.old_file() };
        let Some(path) = file.path().map(Path::to_path_buf) else { continue };
        if !path.to_str().is_some_and(|p| in_cone(dirs, p)) {
            continue;
        }
        if exists { added.push(path) } else { removed.push(path) }
    }
    drop(diff);
    for path in removed {
        index.remove_path(&path).map_err(staging)?;
    }
    for path in added {
        index.add_path(&path).map_err(staging)?;
    }
    Ok(())
}

/// Stages what is at each of `paths` (files and directories, relative to `workdir`) as
/// `git add --all` would: a file or symlink there is added (an untracked one unless
/// ignored), a path gone is removed with everything the index holds beneath it.
fn stage_paths(repo: &Repository, index: &mut git2::Index, workdir: &Path, paths: &[String]) -> Result<(), String> {
    let staging = |e| git_error("staging changes", e);
    for path in paths {
        let relative = Path::new(path);
        match std::fs::symlink_metadata(workdir.join(relative)) {
            Ok(meta) if meta.is_dir() => {
                // Files beneath it that are on disk are listed on their own; those the
                // index holds that are gone are removed, and a file it replaced.
                if index.get_path(relative, 0).is_some() {
                    index.remove_path(relative).map_err(staging)?;
                }
                let prefix = format!("{path}/");
                let gone: Vec<String> = index
                    .iter()
                    .filter_map(|entry| String::from_utf8(entry.path).ok())
                    .filter(|p| p.starts_with(&prefix) && std::fs::symlink_metadata(workdir.join(p)).is_err())
                    .collect();
                for gone in gone {
                    index.remove_path(Path::new(&gone)).map_err(staging)?;
                }
            }
            Ok(_) => {
                let tracked = index.get_path(relative, 0).is_some();
                if tracked || !repo.is_path_ignored(relative).map_err(staging)? {
                    index.add_path(relative).map_err(staging)?;
                }
            }
            Err(_) => {
                if index.get_path(relative, 0).is_some() {
                    index.remove_path(relative).map_err(staging)?;
                }
                index.remove_dir(relative, 0).map_err(staging)?;
            }
        }
    }
    Ok(())
}

fn outputs(commit: &str) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("commit".to_owned(), json!(commit));
    out
}

/// Looks for a commit carrying `trailer` in the history of HEAD.
pub(super) fn find_commit_with_trailer(repo: &Repository, trailer: &str) -> Result<Option<String>, String> {
    let head = match repo.head() {
        Ok(head) => head.peel_to_commit().map_err(|e| git_error("reading HEAD", e))?.id(),
        Err(e) if e.code() == ErrorCode::UnbornBranch || e.code() == ErrorCode::NotFound => {
            return Ok(None);
        }
        Err(e) => return Err(git_error("reading HEAD", e)),
    };
    find_commit_with_trailer_from(repo, head, trailer)
}

/// Looks for a commit carrying `trailer` in the history of `tip`.
pub(super) fn find_commit_with_trailer_from(
    repo: &Repository,
    tip: git2::Oid,
    trailer: &str,
) -> Result<Option<String>, String> {
    if trailers_seen(tip).is_some_and(|seen| !seen.contains(trailer)) {
        return Ok(None);
    }
    let mut walk = repo.revwalk().map_err(|e| git_error("walking history", e))?;
    walk.push(tip).map_err(|e| git_error("walking history", e))?;
    let mut seen = HashSet::new();
    for oid in walk.take(TRAILER_SEARCH_DEPTH) {
        let oid = oid.map_err(|e| git_error("walking history", e))?;
        let commit = repo.find_commit(oid).map_err(|e| git_error("reading a commit", e))?;
        let lines = commit.message().map(promotion_trailers).unwrap_or_default();
        if lines.contains(&trailer) {
            return Ok(Some(oid.to_string()));
        }
        seen.extend(lines.into_iter().map(str::to_owned));
    }
    remember_trailers(tip, Arc::new(seen));
    Ok(None)
}

/// The promotion trailer lines of a commit message, trimmed.
fn promotion_trailers(message: &str) -> Vec<&str> {
    message.lines().map(str::trim).filter(|l| l.starts_with(PROMOTION_TRAILER)).collect()
}

/// How many commits' trailers are remembered.
const REMEMBERED_COMMITS: usize = 64;

/// For a commit, every promotion trailer in the [`TRAILER_SEARCH_DEPTH`] commits a search
/// from it reads, or more: a trailer missing there is in none of them, and a search for
/// it reads nothing. A commit id names its whole history, so this holds in every
/// repository. Newest last.
static TRAILERS_SEEN: Mutex<VecDeque<(Oid, Arc<HashSet<String>>)>> = Mutex::new(VecDeque::new());

fn trailers_seen(commit: Oid) -> Option<Arc<HashSet<String>>> {
    let seen = TRAILERS_SEEN.lock().unwrap_or_else(|p| p.into_inner());
    seen.iter().find(|(id, _)| *id == commit).map(|(_, trailers)| trailers.clone())
}

fn remember_trailers(commit: Oid, trailers: Arc<HashSet<String>>) {
    let mut seen = TRAILERS_SEEN.lock().unwrap_or_else(|p| p.into_inner());
    if seen.iter().any(|(id, _)| *id == commit) {
        return;
    }
    if seen.len() >= REMEMBERED_COMMITS {
        seen.pop_front();
    }
    seen.push_back((commit, trailers));
}

/// Remembers the trailers of `commit`, just made with `message` on `parent` (none: a root
/// commit): a search from it reads it, then at most what a search from its parent reads.
fn remember_new_commit(commit: Oid, parent: Option<Oid>, message: &str) {
    let mut trailers = match parent {
        Some(parent) => match trailers_seen(parent) {
            Some(seen) => (*seen).clone(),
            None => return,
        },
        None => HashSet::new(),
    };
    trailers.extend(promotion_trailers(message).into_iter().map(str::to_owned));
    // Grown past what one search reads, the set is dropped: the next search reads the
    // history again and remembers only what it read, so memory stays bounded.
    if trailers.len() > 2 * TRAILER_SEARCH_DEPTH {
        return;
    }
    remember_trailers(commit, Arc::new(trailers));
}

#[cfg(test)]
mod tests {
    use git2::{Oid, Repository, Signature};

    use super::{TRAILER_SEARCH_DEPTH, find_commit_with_trailer_from, remember_new_commit, trailers_seen};

    fn commit(repo: &Repository, parent: Option<Oid>, message: &str) -> Oid {
        let tree = repo.treebuilder(None).unwrap().write().unwrap();
        let tree = repo.find_tree(tree).unwrap();
        let signature = Signature::now("t", "t@t").unwrap();
        let parents: Vec<_> = parent.map(|p| repo.find_commit(p).unwrap()).into_iter().collect();
        let parents: Vec<_> = parents.iter().collect();
        repo.commit(None, &signature, &signature, message, &tree, &parents).unwrap()
    }

    #[test]
    fn a_trailer_is_found_after_its_history_was_searched_without_it() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let mut tip = commit(&repo, None, "first\n\nLading-Promotion: a\n");
        for i in 0..5 {
            tip = commit(&repo, Some(tip), &format!("change {i}"));
        }
        let (wanted, other) = ("Lading-Promotion: b", "Lading-Promotion: a");
        assert_eq!(find_commit_with_trailer_from(&repo, tip, wanted).unwrap(), None);
        assert!(find_commit_with_trailer_from(&repo, tip, other).unwrap().is_some(), "what was seen is searched");
        // Made by this promotion on the searched tip: found from the new commit.
        let own = commit(&repo, Some(tip), "promote\n\nLading-Promotion: b\n");
        remember_new_commit(own, Some(tip), "promote\n\nLading-Promotion: b\n");
        assert_eq!(find_commit_with_trailer_from(&repo, own, wanted).unwrap(), Some(own.to_string()));
        // Made elsewhere (another replica pushed it): found by reading history.
        let elsewhere = commit(&repo, Some(tip), "promote\n\nLading-Promotion: b\n");
        let above = commit(&repo, Some(elsewhere), "later");
        assert_eq!(find_commit_with_trailer_from(&repo, above, wanted).unwrap(), Some(elsewhere.to_string()));
        let other_child = commit(&repo, Some(own), "next");
        remember_new_commit(other_child, Some(own), "next");
        assert_eq!(find_commit_with_trailer_from(&repo, other_child, wanted).unwrap(), Some(own.to_string()));
    }

    #[test]
    fn what_is_remembered_of_a_branch_stays_within_twice_what_a_search_reads() {
        // Given a searched root and a chain of new commits, each with its own trailer,
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let mut tip = commit(&repo, None, "root");
        assert_eq!(find_commit_with_trailer_from(&repo, tip, "Lading-Promotion: none").unwrap(), None);
        let mut remembered = Vec::new();
        for i in 0..2 * TRAILER_SEARCH_DEPTH + 1 {
            let message = format!("promote\n\nLading-Promotion: p{i}\n");
            let next = commit(&repo, Some(tip), &message);
            remember_new_commit(next, Some(tip), &message);
            remembered.push(trailers_seen(next).map_or(0, |seen| seen.len()));
            tip = next;
        }
        // then the set grows one trailer a commit up to twice the search depth, and no further.
        assert_eq!(remembered[2 * TRAILER_SEARCH_DEPTH - 1], 2 * TRAILER_SEARCH_DEPTH);
        assert_eq!(remembered[2 * TRAILER_SEARCH_DEPTH], 0, "past the bound nothing is remembered");
        // and a trailer past the bound is still found by reading the history.
        assert!(
            find_commit_with_trailer_from(&repo, tip, "Lading-Promotion: p0").unwrap().is_none(),
            "beyond the depth"
        );
        let wanted = format!("Lading-Promotion: p{}", 2 * TRAILER_SEARCH_DEPTH);
        assert_eq!(find_commit_with_trailer_from(&repo, tip, &wanted).unwrap(), Some(tip.to_string()));
    }
}
