//! Bare Git repositories on disk, and commits made with the real `git` CLI.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A bare repository and a working clone used to commit to it.
pub struct Repo {
    bare: PathBuf,
    work: PathBuf,
}

fn git(dir: &Path, args: &[&str]) -> String {
    git_at(dir, args, None)
}

/// Runs git in `dir` as the test's developer; what it wrote, byte for byte, once it
/// succeeded.
pub fn git_bytes(dir: &Path, args: &[&str]) -> Vec<u8> {
    run(dir, args, None)
}

/// Runs git with author, committer and tagger dates set to `date` (RFC 2822 or ISO 8601).
fn git_at(dir: &Path, args: &[&str], date: Option<&str>) -> String {
    String::from_utf8_lossy(&run(dir, args, date)).trim().to_owned()
}

fn run(dir: &Path, args: &[&str], date: Option<&str>) -> Vec<u8> {
    let mut command = Command::new("git");
    if let Some(date) = date {
        command.env("GIT_AUTHOR_DATE", date).env("GIT_COMMITTER_DATE", date);
    }
    let output = command
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Dev")
        .env("GIT_AUTHOR_EMAIL", "dev@example.com")
        .env("GIT_COMMITTER_NAME", "Dev")
        .env("GIT_COMMITTER_EMAIL", "dev@example.com")
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}

/// A commit as the test reads it back.
#[derive(Debug, Clone)]
pub struct LoggedCommit {
    pub id: String,
    pub message: String,
}

impl Repo {
    /// Creates an empty bare repository `name` under `root`, default branch `main`.
    pub fn create(root: &Path, name: &str) -> Repo {
        let bare = root.join(format!("{name}.git"));
        let work = root.join(format!("{name}-work"));
        std::fs::create_dir_all(&bare).unwrap();
        git(&bare, &["init", "--quiet", "--bare", "--initial-branch=main"]);
        std::fs::create_dir_all(&work).unwrap();
        git(&work, &["init", "--quiet", "--initial-branch=main"]);
        git(&work, &["remote", "add", "origin", bare.to_str().unwrap()]);
        Repo { bare, work }
    }

    pub fn url(&self) -> String {
        format!("file://{}", self.bare.display())
    }

    /// Writes `file` and commits it on `main`; returns the commit ID.
    pub fn commit(&self, file: &str, content: &str, message: &str) -> String {
        let path = self.work.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
        git(&self.work, &["add", "--all"]);
        git(&self.work, &["commit", "--quiet", "-m", message]);
        git(&self.work, &["push", "--quiet", "origin", "main"]);
        git(&self.work, &["rev-parse", "HEAD"])
    }

    /// Adds the repository at `url` as a submodule at `path` and commits it on `main`;
    /// returns the commit ID.
    pub fn add_submodule(&self, url: &str, path: &str) -> String {
        git(&self.work, &["-c", "protocol.file.allow=always", "submodule", "add", "--quiet", url, path]);
        git(&self.work, &["commit", "--quiet", "-m", &format!("add submodule {path}")]);
        git(&self.work, &["push", "--quiet", "origin", "main"]);
        git(&self.work, &["rev-parse", "HEAD"])
    }

    /// Commits on `main` a symlink `link` pointing at `target` (which need not exist);
    /// returns the commit ID.
    pub fn commit_symlink(&self, link: &str, target: &Path, message: &str) -> String {
        let path = self.work.join(link);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(&path).unwrap(),
            Ok(_) => std::fs::remove_file(&path).unwrap(),
            Err(_) => {}
        }
        std::os::unix::fs::symlink(target, path).unwrap();
        git(&self.work, &["add", "--all"]);
        git(&self.work, &["commit", "--quiet", "-m", message]);
        git(&self.work, &["push", "--quiet", "origin", "main"]);
        git(&self.work, &["rev-parse", "HEAD"])
    }

    /// Removes `path` (a file or a symlink) from the working clone, uncommitted: the next
    /// commit records its removal.
    pub fn remove(&self, path: &str) {
        std::fs::remove_file(self.work.join(path)).unwrap();
    }

    /// Every object of the bare repository (commits, trees, blobs of every branch), as
    /// text: what a test searches for things that must not have been pushed.
    pub fn all_objects(&self) -> String {
        let output = Command::new("git")
            .args(["cat-file", "--batch-all-objects", "--batch"])
            .current_dir(&self.bare)
            .output()
            .expect("git runs");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Writes `file` and commits it on `main` at `date`; returns the commit ID.
    pub fn commit_at(&self, file: &str, content: &str, message: &str, date: &str) -> String {
        let path = self.work.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
        git(&self.work, &["add", "--all"]);
        git_at(&self.work, &["commit", "--quiet", "-m", message], Some(date));
        git(&self.work, &["push", "--quiet", "origin", "main"]);
        git(&self.work, &["rev-parse", "HEAD"])
    }

    /// Tags `main`'s tip as `name` (annotated with `message` when given, dated `date`)
    /// and pushes the tag.
    pub fn tag(&self, name: &str, message: Option<&str>, date: &str) {
        match message {
            Some(message) => git_at(&self.work, &["tag", "-a", name, "-m", message], Some(date)),
            None => git_at(&self.work, &["tag", name], Some(date)),
        };
        git(&self.work, &["push", "--quiet", "origin", name]);
    }

    /// Creates `branch` at `main`'s tip and pushes it.
    pub fn branch(&self, branch: &str) {
        git(&self.work, &["push", "--quiet", "origin", &format!("main:refs/heads/{branch}")]);
    }

    /// The commits on `branch` of the bare repository, newest first (empty if absent).
    pub fn log(&self, branch: &str) -> Vec<LoggedCommit> {
        let exists = Command::new("git")
            .args(["rev-parse", "--verify", "--quiet", &format!("refs/heads/{branch}")])
            .current_dir(&self.bare)
            .output()
            .unwrap();
        if !exists.status.success() {
            return Vec::new();
        }
        let text = git(&self.bare, &["log", "--format=%H%x00%B%x01", branch]);
        text.split('\u{1}')
            .filter(|entry| !entry.trim().is_empty())
            .map(|entry| {
                let (id, message) = entry.trim_start().split_once('\0').unwrap();
                LoggedCommit { id: id.to_owned(), message: message.trim().to_owned() }
            })
            .collect()
    }

    /// A file's content at the tip of `branch`.
    /// How many parents `commit` has (2 for a merge commit).
    pub fn parent_count(&self, commit: &str) -> usize {
        git(&self.bare, &["rev-list", "--parents", "-n", "1", commit]).split_whitespace().count() - 1
    }

    /// Lets clones ask for a filter (`--filter=blob:none`) and for single objects, as
    /// GitHub and GitLab do: what a partial clone needs of its server.
    pub fn allow_partial_clones(&self) {
        git(&self.bare, &["config", "uploadpack.allowFilter", "true"]);
        git(&self.bare, &["config", "uploadpack.allowAnySHA1InWant", "true"]);
    }

    /// The object ID `rev` names in the bare repository (`main^{tree}`, `main~1:file`).
    pub fn rev(&self, rev: &str) -> String {
        git(&self.bare, &["rev-parse", rev])
    }

    pub fn show(&self, branch: &str, file: &str) -> String {
        git(&self.bare, &["show", &format!("{branch}:{file}")])
    }
}
