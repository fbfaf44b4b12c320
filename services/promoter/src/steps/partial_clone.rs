//! Blobless clones (`git-clone`'s `blobless: true`, as `git clone --filter=blob:none`):
//! libgit2 can neither ask a server for a filter nor fetch an object a clone lacks, so
//! the `git` CLI fetches objects — the commits and trees without blobs, then, in one
//! batch, the blobs a checkout or a rebase needs — and libgit2 does all the rest
//! (checkout, commit, push) over the same repository, as for a full clone.
//!
//! The repository is made by libgit2 and marked a partial clone by `git fetch` itself
//! (`remote.origin.promisor`, `remote.origin.partialclonefilter`, format version 1, no
//! `extensions.partialclone`), which libgit2 opens without being told of the extension.
//!
//! The CLI is confined as libgit2's transfers are:
//! - no configuration but this module's: no system or global file (`GIT_CONFIG_NOSYSTEM`,
//!   `GIT_CONFIG_GLOBAL=/dev/null`, an empty temporary `HOME`), and its settings passed in
//!   the environment (`GIT_CONFIG_COUNT`), above the repository's own: no hooks, no
//!   credential helper, no prompt, no background maintenance, no submodule recursion;
//! - only the transports libgit2 speaks here (`file`, `git`, `http`, `https`: never
//!   `ext`, never `ssh`), and no HTTP redirect, so a credential goes to the remote's host
//!   alone;
//! - a credential reaches git only through `GIT_ASKPASS`: a script, holding no secret,
//!   that prints it from the child's environment; never a file, an argument or a URL, and
//!   its error output is scrubbed of it;
//! - the Git budget: the total deadline (the child is killed), the idle timeout over
//!   HTTP (`http.lowSpeedTime`), the size budget (the repository's object store is
//!   measured as it grows, the child killed past the budget), and the promotion's
//!   cancellation;
//! - it only fetches objects: files are written by libgit2, with its checks on paths and
//!   symlinks.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use git2::{ObjectType, Oid, Repository};
use lading_domain::limits::TimeoutKind;
use lading_domain::redact::redact_url;
use lading_remote::RemoteError;

use super::{Remotes, git_error};

/// The field that asks for a blobless clone, named in its errors.
pub(super) const FIELD: &str = "config.blobless";

/// The transports the CLI may use: those libgit2 speaks in Lading.
const PROTOCOLS: [&str; 4] = ["file", "git", "http", "https"];

/// Prints the credential of the child's environment when git asks for it.
const ASKPASS: &str = "#!/bin/sh\ncase \"$1\" in\n[Uu]sername*) printf '%s\\n' \"$LADING_GIT_USERNAME\" ;;\n*) printf '%s\\n' \"$LADING_GIT_PASSWORD\" ;;\nesac\n";

/// How often the size of the object store is measured while git fetches.
const MEASURE_EVERY: Duration = Duration::from_millis(200);

/// Whether `repo` is a partial clone (its `origin` is a promisor remote).
pub(super) fn is_partial(repo: &Repository) -> bool {
    repo.config().ok().and_then(|c| c.get_bool("remote.origin.promisor").ok()).unwrap_or(false)
}

/// Fails, naming the field, when no `git` command runs.
pub fn check_git_available() -> Result<(), String> {
    git_available_on(&std::env::var_os("PATH").unwrap_or_default())
}

/// Fails, naming the field, when no `git` command runs with `path` as `PATH`.
fn git_available_on(path: &std::ffi::OsStr) -> Result<(), String> {
    let ran = Command::new("git").arg("--version").env_clear().env("PATH", path).stdin(Stdio::null()).output();
    match ran {
        Ok(output) if output.status.success() => Ok(()),
        Ok(_) | Err(_) => Err(format!(
            "{FIELD}: a blobless clone needs the git command (Debian's git package) on PATH, and none runs here"
        )),
    }
}

/// Fetches `refspecs` from `origin` (`url`) into `repo`: commits, trees and tags, no
/// blobs.
pub(super) fn fetch_without_blobs(
    repo: &Repository,
    url: &str,
    refspecs: &[&str],
    remotes: &Remotes,
) -> Result<(), String> {
    let mut args = vec!["fetch", "--no-write-fetch-head", "--recurse-submodules=no", "--filter=blob:none", "origin"];
    args.extend_from_slice(refspecs);
    run_git(repo, url, remotes, "fetching", &[], &args, None)
}

/// Fetches, in one batch, those of `blobs` that `repo` lacks, from `origin` (`url`);
/// returns how many. Fails when the remote did not send one of them.
pub(super) fn fetch_missing(
    repo: &Repository,
    url: &str,
    blobs: impl IntoIterator<Item = Oid>,
    remotes: &Remotes,
) -> Result<usize, String> {
    let odb = repo.odb().map_err(|e| git_error("opening the object store", e))?;
    let missing: BTreeSet<Oid> = blobs.into_iter().filter(|id| !odb.exists(*id)).collect();
    if missing.is_empty() {
        return Ok(0);
    }
    let wanted: String = missing.iter().map(|id| format!("{id}\n")).collect();
    run_git(
        repo,
        url,
        remotes,
        "fetching blobs from",
        // What git's own promisor fetch does: ask for these objects, offer nothing.
        &[("fetch.negotiationAlgorithm", "noop")],
        &[
            "fetch",
            "--no-tags",
            "--no-write-fetch-head",
            "--recurse-submodules=no",
            "--filter=blob:none",
            "--stdin",
            "origin",
        ],
        Some(&wanted),
    )?;
    odb.refresh().map_err(|e| git_error("reading the object store", e))?;
    if let Some(lacking) = missing.iter().find(|id| !odb.exists(**id)) {
        return Err(format!("fetching blobs from {}: the remote did not send blob {lacking}", redact_url(url)));
    }
    Ok(missing.len())
}

/// The blobs (files and symlinks) of `tree`, those in the cone of `cone` when given.
pub(super) fn blobs_of_tree(tree: &git2::Tree<'_>, cone: Option<&[String]>) -> Result<Vec<Oid>, String> {
    let mut blobs = Vec::new();
    tree.walk(git2::TreeWalkMode::PreOrder, |root, entry| {
        if entry.kind() == Some(ObjectType::Blob) {
            let path = format!("{root}{}", entry.name().unwrap_or_default());
            if cone.is_none_or(|dirs| super::git_clone::in_cone(dirs, &path)) {
                blobs.push(entry.id());
            }
        }
        git2::TreeWalkResult::Ok
    })
    .map_err(|e| git_error("listing a tree", e))?;
    Ok(blobs)
}

/// The blobs a rebase of HEAD onto `upstream` reads: on both sides of every path the
/// remote changed since the branches parted (every blob of `upstream` when they share no
/// history).
pub(super) fn blobs_for_rebase(repo: &Repository, upstream: Oid) -> Result<Vec<Oid>, String> {
    let upstream = repo.find_commit(upstream).map_err(|e| git_error("reading the remote branch", e))?;
    let head = match repo.head().and_then(|h| h.peel_to_commit()) {
        Ok(head) => head.id(),
        Err(_) => return blobs_of_tree(&upstream.tree().map_err(|e| git_error("reading a tree", e))?, None),
    };
    let Ok(base) = repo.merge_base(head, upstream.id()) else {
        return blobs_of_tree(&upstream.tree().map_err(|e| git_error("reading a tree", e))?, None);
    };
    let base_tree = repo.find_commit(base).map_err(|e| git_error("reading a commit", e))?.tree_id();
    let changes = crate::engine::workspace::tree_diff::tree_changes(repo, Some(base_tree), Some(upstream.tree_id()))
        .map_err(|e| git_error("comparing trees", e))?;
    const SUBMODULE: i32 = 0o160000;
    Ok(changes
        .into_iter()
        .flat_map(|change| [change.old, change.new])
        .flatten()
        .filter(|entry| entry.mode & 0o170000 != SUBMODULE)
        .map(|entry| entry.id)
        .collect())
}

/// Runs `git <args>` on `repo`, confined (see the module's documentation), within the Git
/// budget, with `stdin` as its input.
fn run_git(
    repo: &Repository,
    url: &str,
    remotes: &Remotes,
    doing: &str,
    settings: &[(&str, &str)],
    args: &[&str],
    stdin: Option<&str>,
) -> Result<(), String> {
    let action = format!("{doing} {}", redact_url(url));
    let budget = remotes.budgets.git;
    let home = tempfile::tempdir().map_err(|e| format!("{action}: making git's home: {e}"))?;
    let askpass = home.path().join("askpass");
    fs::write(&askpass, ASKPASS)
        .and_then(|()| fs::set_permissions(&askpass, fs::Permissions::from_mode(0o700)))
        .map_err(|e| format!("{action}: writing git's askpass: {e}"))?;
    let idle = budget.timeouts.idle.value.as_secs().max(1).to_string();
    let mut config: Vec<(String, String)> = vec![
        ("core.hooksPath".into(), "/dev/null".into()),
        ("core.fsmonitor".into(), "false".into()),
        ("credential.helper".into(), String::new()),
        ("protocol.allow".into(), "never".into()),
        ("http.followRedirects".into(), "false".into()),
        ("http.lowSpeedLimit".into(), "1".into()),
        ("http.lowSpeedTime".into(), idle),
        ("gc.auto".into(), "0".into()),
        ("maintenance.auto".into(), "false".into()),
        ("fetch.writeCommitGraph".into(), "false".into()),
        ("fetch.recurseSubmodules".into(), "false".into()),
        ("submodule.recurse".into(), "false".into()),
    ];
    config.extend(PROTOCOLS.iter().map(|p| (format!("protocol.{p}.allow"), "always".to_owned())));
    if remotes.insecure_skip_tls_verify {
        config.push((super::remotes::SSL_VERIFY.into(), "false".into()));
    }
    config.extend(settings.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let mut command = Command::new("git");
    command
        .args(args)
        .current_dir(repo.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_DIR", repo.path())
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", &askpass)
        .env("GIT_NO_REPLACE_OBJECTS", "1")
        .env("LC_ALL", "C")
        .env("GIT_CONFIG_COUNT", config.len().to_string());
    for name in ["SSL_CERT_FILE", "SSL_CERT_DIR"] {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    for (i, (key, value)) in config.iter().enumerate() {
        command.env(format!("GIT_CONFIG_KEY_{i}"), key).env(format!("GIT_CONFIG_VALUE_{i}"), value);
    }
    let credential = remotes.credentials.for_url(url);
    if let Some(credential) = credential {
        command.env("LADING_GIT_USERNAME", &credential.username).env("LADING_GIT_PASSWORD", &credential.password);
    }
    match stdin {
        Some(text) => {
            let input = home.path().join("stdin");
            fs::write(&input, text).map_err(|e| format!("{action}: writing git's input: {e}"))?;
            command.stdin(fs::File::open(&input).map_err(|e| format!("{action}: reading git's input: {e}"))?);
        }
        None => {
            command.stdin(Stdio::null());
        }
    }
    let objects = repo.path().join("objects");
    let before = size_of(&objects);
    let mut measured = Instant::now();
    let max = budget.max_transfer;
    let exceeded = std::cell::Cell::new(false);
    let mut watch = || {
        if measured.elapsed() < MEASURE_EVERY {
            return None;
        }
        measured = Instant::now();
        let grown = size_of(&objects).saturating_sub(before);
        exceeded.set(!max.allows(grown));
        exceeded.get().then(|| std::io::Error::other("past the size budget"))
    };
    let deadline = Instant::now() + budget.timeouts.total.value;
    let ran = super::child_process::output_watched(&mut command, &remotes.cancel, Some(deadline), &mut watch);
    let output = match ran {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(format!(
                "{FIELD}: a blobless clone needs the git command (Debian's git package) on PATH, and none runs here"
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
            return Err(RemoteError::Cancelled { action }.to_string());
        }
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
            let error = RemoteError::Timeout { action, kind: TimeoutKind::Total, limit: budget.timeouts.total };
            return Err(error.to_string());
        }
        Err(_) if exceeded.get() => return Err(RemoteError::TooLarge { action, limit: max }.to_string()),
        Err(e) => return Err(format!("{action}: running git: {e}")),
    };
    // What arrived between two measures counts too.
    if !max.allows(size_of(&objects).saturating_sub(before)) {
        return Err(RemoteError::TooLarge { action, limit: max }.to_string());
    }
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut message = stderr.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ");
    message = scrub(&message, url, credential.map(|c| c.password.as_str()));
    if message.is_empty() {
        message = format!("git exited with {}", output.status);
    }
    if message.contains("timeout") && message.contains("low speed") {
        let error = RemoteError::Timeout { action, kind: TimeoutKind::Idle, limit: budget.timeouts.idle };
        return Err(error.to_string());
    }
    Err(RemoteError::Failed { action, message }.to_string())
}

/// `message` without the URL's user info or the password, and at most 2,000 characters.
fn scrub(message: &str, url: &str, password: Option<&str>) -> String {
    let mut message = message.replace(url, &redact_url(url));
    if let Some(password) = password.filter(|p| !p.is_empty()) {
        message = message.replace(password, "***");
    }
    if message.len() > 2000 {
        let mut end = 2000;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
    message
}

/// The bytes of the files under `dir`.
fn size_of(dir: &Path) -> u64 {
    let mut total = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            match entry.metadata() {
                Ok(meta) if meta.is_dir() => pending.push(entry.path()),
                Ok(meta) => total += meta.len(),
                Err(_) => {}
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_git_on_path_a_blobless_clone_is_refused_naming_its_field() {
        let empty = tempfile::tempdir().unwrap();
        let error = git_available_on(empty.path().as_os_str()).unwrap_err();
        assert!(error.starts_with("config.blobless: a blobless clone needs the git command"), "{error}");
        git_available_on(&std::env::var_os("PATH").unwrap_or_default()).unwrap();
    }

    #[test]
    fn errors_are_scrubbed_of_user_info_and_password() {
        let url = "https://bot:hunter2@git.example/r.git";
        let said = scrub(&format!("fatal: unable to access '{url}': hunter2 refused"), url, Some("hunter2"));
        assert!(!said.contains("hunter2"), "{said}");
        assert!(said.contains("git.example/r.git"), "{said}");
        assert!(scrub(&"x".repeat(5000), url, None).len() < 2100);
    }
}
