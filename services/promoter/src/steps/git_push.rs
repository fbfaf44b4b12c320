//! `git-push`: pushes the working tree's branch to `origin` (or to `targetBranch`, or to
//! a branch named after the promotion with `generateTargetBranch`). When the remote moved
//! on meanwhile (another stage pushed), the remote's commits are brought in as the push
//! integration policy says (a rebase of the local commits onto them by default, or a
//! merge; see [`lading_domain::push_integration`]) and the push is tried again, up to
//! `maxAttempts` (default 10). Outputs: `branch`, `commit`,
//! `repoURL` (origin without user info), `commitURL` (its page, for an https Git host),
//! `changedFiles` and `changes` (the files the commit changed against its first parent,
//! or a merge it made against the remote's tip it merged; at most 50, with lines added
//! and removed). Pushes and fetches keep to the Git budget
//! (connect, idle and total timeouts; a size budget).

use std::cell::RefCell;

use git2::{PushOptions, RemoteCallbacks, Repository, Signature};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Remotes, StepContext, git_error};
use crate::engine::Effect;
use crate::engine::workspace::tree_diff::{self, Change, tree_changes};

#[path = "git_push/integrate.rs"]
mod integrate;
pub(super) use integrate::{Overwrite, Rebased, fetch_remote_branch, integrate_remote, move_branch};

const DEFAULT_MAX_ATTEMPTS: u32 = 10;
/// How many changed files the `changes` output lists.
const CHANGES_LISTED: usize = 50;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    path: String,
    #[serde(default)]
    target_branch: Option<String>,
    #[serde(default)]
    generate_target_branch: bool,
    #[serde(default)]
    max_attempts: Option<u32>,
    /// Push this tag instead of a branch.
    #[serde(default)]
    tag: Option<String>,
}

/// What became of one push.
pub(super) enum Pushed {
    Done,
    /// The remote has commits the local branch lacks.
    Behind(String),
}

fn is_non_fast_forward(message: &str) -> bool {
    let message = message.to_lowercase();
    message.contains("non-fast")
        || message.contains("nonfastforward")
        || message.contains("fetch first")
        || message.contains("not present locally")
}

/// Pushes `refspec` to `origin` (`refs/heads/<branch>:<destination>`), asking the effect
/// guard for `effect` first: [`Effect::Push`] for a branch others see, the point of no
/// return; [`Effect::Call`] for a ref nobody reads.
pub(super) fn push_once(
    ctx: &StepContext<'_>,
    repo: &Repository,
    refspec: &str,
    remotes: &Remotes,
    effect: Effect,
) -> Result<Pushed, String> {
    // The fence and the abort claim are checked right before.
    ctx.effects.before_effect(effect)?;
    let mut remote = repo.find_remote("origin").map_err(|e| git_error("finding origin", e))?;
    let url = remote.url().unwrap_or_default().to_owned();
    if let Some(pushed) = push_directly(repo, &remote, &url, refspec, remotes)? {
        return Ok(pushed);
    }
    let watch = remotes.watch("pushing to", &url);
    let rejection = RefCell::new(None);
    let mut callbacks: RemoteCallbacks<'_> = remotes.callbacks(&url, &watch);
    callbacks.push_update_reference(|reference, status| {
        if let Some(message) = status {
            *rejection.borrow_mut() = Some(format!("{reference}: {message}"));
        }
        Ok(())
    });
    let mut options = PushOptions::new();
    options.remote_callbacks(callbacks);
    let pushed = remote.push(&[refspec], Some(&mut options));
    drop(options);
    let rejection = rejection.into_inner();
    match (pushed, rejection) {
        (Ok(()), None) => {
            // A local repository received one more pack: keep it to git's pack limit.
            lading_remote::packs::housekeep_pushed(&url);
            Ok(Pushed::Done)
        }
        (Ok(()), Some(reason)) if is_non_fast_forward(&reason) => Ok(Pushed::Behind(reason)),
        (Ok(()), Some(reason)) => Err(format!("the remote rejected the push: {reason}")),
        (Err(e), _) if is_non_fast_forward(e.message()) => Ok(Pushed::Behind(e.message().to_owned())),
        (Err(e), _) => Err(watch.explain(&e).to_string()),
    }
}

/// Pushes a branch to a bare repository on this machine by copying the objects it lacks
/// ([`lading_remote::local`]), then points `origin`'s tracking branch at it as a push over
/// the transport does. `None` when the transport is to push it (another URL, a tag, a
/// repository with a work tree, a push past the direct push's limits).
fn push_directly(
    repo: &Repository,
    remote: &git2::Remote<'_>,
    url: &str,
    refspec: &str,
    remotes: &Remotes,
) -> Result<Option<Pushed>, String> {
    let Some((source, destination)) = refspec.split_once(':') else { return Ok(None) };
    if !destination.starts_with("refs/heads/") || lading_remote::packs::local_repository(url).is_none() {
        return Ok(None);
    }
    let commit = repo.refname_to_id(source).map_err(|e| git_error("reading the branch to push", e))?;
    let budget = remotes.budgets.git.max_transfer.value;
    let pushed =
        lading_remote::local::push(repo, commit, url, destination, budget).map_err(|e| git_error("pushing", e))?;
    match pushed {
        lading_remote::local::DirectPush::Declined(why) => {
            tracing::debug!(why, "pushing over the local transport");
            Ok(None)
        }
        lading_remote::local::DirectPush::Behind(reason) => Ok(Some(Pushed::Behind(reason))),
        lading_remote::local::DirectPush::Pushed => {
            let fetched = remote.refspecs().filter(|s| s.direction() == git2::Direction::Fetch);
            for tracking in fetched.filter(|s| s.src_matches(destination)).filter_map(|s| s.transform(destination).ok())
            {
                let Ok(tracking) = tracking.as_str() else { continue };
                if repo.refname_to_id(tracking).ok() != Some(commit) {
                    repo.reference(tracking, commit, true, "update by push")
                        .map_err(|e| git_error("recording the pushed branch", e))?;
                }
            }
            Ok(Some(Pushed::Done))
        }
    }
}

/// Pushes the tag `tag` (a tag is never rebased: a remote tag elsewhere refuses it).
fn push_tag(ctx: &StepContext<'_>, repo: &Repository, tag: &str) -> Result<Map<String, Value>, String> {
    let reference = format!("refs/tags/{tag}");
    let commit = repo
        .revparse_single(&reference)
        .and_then(|o| o.peel_to_commit())
        .map_err(|e| git_error(&format!("config.tag: {tag:?}"), e))?
        .id()
        .to_string();
    // A tag that moves is refused, never rebased.
    if let Pushed::Behind(reason) =
        push_once(ctx, repo, &format!("{reference}:{reference}"), ctx.remotes, Effect::Push)?
    {
        return Err(format!("the remote rejected the tag: {reason}"));
    }
    let mut out = Map::new();
    out.insert("tag".to_owned(), json!(tag));
    out.insert("commit".to_owned(), json!(commit));
    Ok(out)
}

pub fn run(ctx: &StepContext<'_>, config: Config) -> Result<Map<String, Value>, String> {
    let repo = super::working_tree::open(ctx, "config.path", &config.path)?;
    // A clone made without certificate checks is pushed without them.
    let remotes = ctx.remotes.for_repository(&repo);
    let ctx = &StepContext { remotes: &remotes, ..*ctx };
    if let Some(tag) = config.tag.as_deref().filter(|t| !t.is_empty()) {
        if config.target_branch.is_some() || config.generate_target_branch {
            return Err("config.tag: push either a tag or a branch (targetBranch, generateTargetBranch)".to_owned());
        }
        return push_tag(ctx, &repo, tag);
    }
    let (branch, target) = branch_and_target(ctx, &repo, config.target_branch, config.generate_target_branch)?;
    let author = super::commit_signing::repository_author(&repo, ctx.author)?;
    let committer = Signature::now(&author.name, &author.email).map_err(|e| git_error("committer", e))?;
    let max_attempts = config.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS).max(1);
    let trailer = format!("{}: {}", super::PROMOTION_TRAILER, ctx.promotion);
    let mut attempt = 1;
    loop {
        match push_once(ctx, &repo, &format!("refs/heads/{branch}:refs/heads/{target}"), ctx.remotes, Effect::Push)? {
            Pushed::Done => break,
            Pushed::Behind(reason) if attempt < max_attempts && !config.generate_target_branch => {
                tracing::info!(attempt, reason, "remote moved on; bringing its commits in and pushing again");
                // A rebase checks files out itself: the working tree and its index are
                // written in full first.
                ctx.workspace.materialize_all()?;
                match integrate_remote(
                    &repo,
                    &branch,
                    &target,
                    &committer,
                    author.signing_key.as_deref(),
                    ctx.remotes,
                    &trailer,
                )? {
                    Rebased::OnTop => attempt += 1,
                    Rebased::AlreadyPushed => break,
                }
            }
            Pushed::Behind(reason) => {
                return Err(format!("the remote rejected the push after {attempt} attempt(s): {reason}"));
            }
        }
    }
    // This promotion's commit (rebased or found again on a resume), else the pushed tip.
    let commit = match super::git_commit::find_commit_with_trailer(&repo, &trailer)? {
        Some(own) => PushedCommit::Own(own),
        None => PushedCommit::Other(
            repo.head().and_then(|h| h.peel_to_commit()).map_err(|e| git_error("reading HEAD", e))?.id().to_string(),
        ),
    };
    let origin = repo.find_remote("origin").ok().and_then(|r| r.url().ok().map(str::to_owned));
    Ok(outputs(&repo, origin.as_deref(), &target, &commit))
}

/// The branch checked out in `repo`, and the remote branch pushing it goes to: one named
/// after the promotion with `generate`, else `target` when set, else the same branch.
pub(super) fn branch_and_target(
    ctx: &StepContext<'_>,
    repo: &Repository,
    target: Option<String>,
    generate: bool,
) -> Result<(String, String), String> {
    let head = repo.head().map_err(|e| git_error("nothing to push", e))?;
    if !head.is_branch() {
        return Err("HEAD is detached; check out a branch to push".to_owned());
    }
    let branch = head.shorthand().map_err(|_| "the branch name is not UTF-8".to_owned())?.to_owned();
    let target = match target.filter(|t| !t.is_empty()) {
        _ if generate => format!("lading/promotion/{}", ctx.promotion),
        Some(target) => target,
        None => branch.clone(),
    };
    Ok((branch, target))
}

/// The commit a push reports.
pub(super) enum PushedCommit {
    /// This promotion's (it carries the promotion's trailer): a commit it made, or the
    /// merge that brought the remote's commits in (its parents the promotion's, then the
    /// remote's tip).
    Own(String),
    /// The tip of the branch, when the promotion made no commit of its own.
    Other(String),
}

/// The outputs of a push of `commit` to `branch` of `origin` (a URL, given without its
/// user info): `branch`, `commit`, `repoURL`, `commitURL`, `changedFiles`, `changes`.
pub(super) fn outputs(
    repo: &Repository,
    origin: Option<&str>,
    branch: &str,
    commit: &PushedCommit,
) -> Map<String, Value> {
    let (commit, own) = match commit {
        PushedCommit::Own(id) => (id.as_str(), true),
        PushedCommit::Other(id) => (id.as_str(), false),
    };
    let mut out = Map::new();
    out.insert("branch".to_owned(), json!(branch));
    if let Some(url) = origin.map(lading_domain::redact::redact_url) {
        if let Some(page) = lading_domain::commit_url::commit_url(&url, commit) {
            out.insert("commitURL".to_owned(), json!(page));
        }
        out.insert("repoURL".to_owned(), json!(url));
    }
    // What the commit changed is for people to read: a diff that cannot be made is left out.
    match changes(repo, commit, own) {
        Ok((count, listed)) => {
            out.insert("changedFiles".to_owned(), json!(count));
            out.insert("changes".to_owned(), Value::Array(listed));
        }
        Err(e) => tracing::warn!(commit, error = %e, "the pushed commit's changes could not be listed"),
    }
    out.insert("commit".to_owned(), json!(commit));
    out
}

/// How many files `commit` changed against its first parent (against nothing for a root
/// commit), and the first [`CHANGES_LISTED`] with the lines each added and removed. A
/// merge the promotion made (`own`) is read against its last parent, the remote's tip it
/// merged: what the push changed on the remote. Reads objects only, never the work tree;
/// only the subtrees that differ are read.
pub(super) fn changes(repo: &Repository, commit: &str, own: bool) -> Result<(usize, Vec<Value>), git2::Error> {
    let commit = repo.find_commit(git2::Oid::from_str(commit)?)?;
    let tree = commit.tree()?;
    let against = if own { commit.parent_count().saturating_sub(1) } else { 0 };
    let parent = match commit.parent(against) {
        Ok(parent) => Some(parent.tree()?),
        Err(_) => None,
    };
    let changed = tree_changes(repo, parent.as_ref().map(git2::Tree::id), Some(tree.id()))?;
    let listed = &changed[..changed.len().min(CHANGES_LISTED)];
    let stats = match blob_line_stats(repo, parent.as_ref(), &tree, listed)? {
        Some(stats) => stats,
        None => diff_line_stats(repo, parent.as_ref(), &tree)?,
    };
    let listed = listed
        .iter()
        .zip(stats)
        .map(|(change, (added, removed))| json!({"path": change.path, "added": added, "removed": removed}))
        .collect();
    Ok((changed.len(), listed))
}

/// Lines added and removed in each of `listed`, diffing their blobs, when no
/// `.gitattributes` can apply to them (none in the repository's `info`, none beside them
/// or above them in either tree or on disk) and each is a file or a symlink: the same
/// figures libgit2's diff gives, without reading the index it looks for attributes in.
/// `None` otherwise.
fn blob_line_stats(
    repo: &Repository,
    parent: Option<&git2::Tree<'_>>,
    tree: &git2::Tree<'_>,
    listed: &[Change],
) -> Result<Option<Vec<(usize, usize)>>, git2::Error> {
    if repo.path().join("info").join("attributes").exists() {
        return Ok(None);
    }
    let blob = |entry: Option<tree_diff::Entry>| entry.is_none_or(|e| matches!(e.mode & 0o170000, 0o100000 | 0o120000));
    let workdir = repo.workdir();
    for change in listed {
        if !blob(change.old) || !blob(change.new) {
            return Ok(None);
        }
        for dir in std::path::Path::new(&change.path).ancestors().skip(1) {
            let attributes = dir.join(".gitattributes");
            let in_tree = |t: Option<&git2::Tree<'_>>| t.is_some_and(|t| t.get_path(&attributes).is_ok());
            if in_tree(parent) || in_tree(Some(tree)) || workdir.is_some_and(|w| w.join(&attributes).exists()) {
                return Ok(None);
            }
        }
    }
    // libgit2 still reads the user's and the system's attribute files; its index, where it
    // would find no `.gitattributes` for these paths, is left empty in this handle.
    let view = Repository::open(repo.path())?;
    view.set_index(&mut git2::Index::new()?)?;
    let mut stats = Vec::with_capacity(listed.len());
    for change in listed {
        let path = std::path::Path::new(&change.path);
        let load = |entry: Option<tree_diff::Entry>| entry.map(|e| view.find_blob(e.id)).transpose();
        let (old, new) = (load(change.old)?, load(change.new)?);
        // A blob against the other side's content; an added file is diffed against nothing
        // the other way round, its removed lines being the lines it adds.
        let (blob, other, reversed) = match (&old, &new) {
            (Some(old), new) => (old, new.as_ref().map_or(&[][..], git2::Blob::content), false),
            (None, Some(new)) => (new, &[][..], true),
            (None, None) => {
                stats.push((0, 0));
                continue;
            }
        };
        let patch = git2::Patch::from_blob_and_buffer(blob, Some(path), other, Some(path), None)?;
        let (_, added, removed) = patch.line_stats()?;
        stats.push(if reversed { (removed, added) } else { (added, removed) });
    }
    Ok(Some(stats))
}

/// Lines added and removed in each of the first [`CHANGES_LISTED`] files libgit2's diff
/// of `parent` and `tree` lists (the order of [`tree_changes`]).
fn diff_line_stats(
    repo: &Repository,
    parent: Option<&git2::Tree<'_>>,
    tree: &git2::Tree<'_>,
) -> Result<Vec<(usize, usize)>, git2::Error> {
    let diff = repo.diff_tree_to_tree(parent, Some(tree), None)?;
    let mut stats = Vec::new();
    for index in 0..diff.deltas().len().min(CHANGES_LISTED) {
        let (added, removed) = match git2::Patch::from_diff(&diff, index)? {
            Some(patch) => {
                let (_, added, removed) = patch.line_stats()?;
                (added, removed)
            }
            None => (0, 0),
        };
        stats.push((added, removed));
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use git2::Repository;
    use serde_json::{Value, json};

    use super::{CHANGES_LISTED, changes};
    use crate::engine::workspace::tree_diff::tests::git;

    fn write(dir: &Path, path: &str, content: &[u8]) {
        let place = dir.join(path);
        std::fs::create_dir_all(place.parent().unwrap()).unwrap();
        std::fs::write(place, content).unwrap();
    }

    /// What libgit2's whole diff of the commit against its parent says.
    fn by_libgit2(repo: &Repository, commit: &str) -> (usize, Vec<Value>) {
        let commit = repo.find_commit(git2::Oid::from_str(commit).unwrap()).unwrap();
        let parent = commit.parent(0).ok().map(|p| p.tree().unwrap());
        let diff = repo.diff_tree_to_tree(parent.as_ref(), Some(&commit.tree().unwrap()), None).unwrap();
        let listed = (0..diff.deltas().len().min(CHANGES_LISTED))
            .map(|i| {
                let delta = diff.get_delta(i).unwrap();
                let path = delta.new_file().path().or(delta.old_file().path()).unwrap().to_str().unwrap().to_owned();
                let (_, added, removed) = git2::Patch::from_diff(&diff, i).unwrap().unwrap().line_stats().unwrap();
                json!({"path": path, "added": added, "removed": removed})
            })
            .collect();
        (diff.deltas().len(), listed)
    }

    /// Two commits with additions, deletions, edits, a binary file, a symlink, a mode
    /// change and `extra` on top of it; `changes` must say what libgit2's diff says.
    fn compare(extra: &[(&str, &[u8])], files: usize) {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        git(d, &["init", "-q"]);
        for i in 0..files {
            write(d, &format!("dir{}/file{i}.yaml", i % 7), format!("a: {i}\nb: x\n").as_bytes());
        }
        write(d, "gone.txt", b"one\ntwo\n");
        write(d, "image.bin", b"\0\x01\x02\nline\n");
        write(d, "run.sh", b"echo\n");
        std::os::unix::fs::symlink("gone.txt", d.join("link")).unwrap();
        git(d, &["add", "-A"]);
        git(d, &["commit", "-q", "-m", "one"]);
        for i in (0..files).step_by(3) {
            write(d, &format!("dir{}/file{i}.yaml", i % 7), format!("a: {i}\nb: y\nc: z\n").as_bytes());
        }
        std::fs::remove_file(d.join("gone.txt")).unwrap();
        write(d, "image.bin", b"\0\x01\x03\nline\nmore\n");
        write(d, "new/added.txt", b"1\n2\n3\n");
        std::fs::remove_file(d.join("link")).unwrap();
        std::os::unix::fs::symlink("run.sh", d.join("link")).unwrap();
        for (path, content) in extra {
            write(d, path, content);
        }
        git(d, &["add", "-A"]);
        git(d, &["update-index", "--chmod=+x", "run.sh"]);
        git(d, &["commit", "-q", "-m", "two"]);
        // As in a lazy working tree: the attributes are committed, not on disk.
        for (path, _) in extra {
            std::fs::remove_file(d.join(path)).unwrap();
        }
        let repo = Repository::open(d).unwrap();
        // libgit2 reads attributes from the index, HEAD's: older commits are compared
        // only when there are none.
        let commits = if extra.is_empty() { &["HEAD", "HEAD~1"][..] } else { &["HEAD"][..] };
        for commit in commits.iter().map(|c| git(d, &["rev-parse", c])) {
            assert_eq!(changes(&repo, &commit, false).unwrap(), by_libgit2(&repo, &commit), "commit {commit}");
        }
    }

    #[test]
    fn the_changes_listed_are_those_libgit2s_diff_lists() {
        compare(&[], 20);
    }

    #[test]
    fn more_changed_files_than_listed_are_counted_and_the_first_listed() {
        compare(&[], 400);
    }

    #[test]
    fn a_file_attributes_mark_binary_counts_no_lines_as_libgit2_says() {
        compare(&[(".gitattributes", b"*.yaml binary\n")], 20);
        compare(&[("dir1/.gitattributes", b"*.yaml -diff\n")], 20);
    }
}
