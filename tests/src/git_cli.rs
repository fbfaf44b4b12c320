//! The git CLI doing by hand what a promotion does, in a copy of the same remote, so a
//! test compares the commits both make to the letter.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `script` with `sh` in `dir`, failing the test when it fails.
pub fn sh(dir: &Path, script: &str) {
    let status = Command::new("sh").arg("-c").arg(script).current_dir(dir).status().unwrap();
    assert!(status.success(), "{script}");
}

/// The head of `branch` in the bare repository at `bare`: tree, author, message.
pub fn head_of(bare: &Path, branch: &str) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(bare)
        .args(["log", "-1", "--format=%T%x00%an <%ae>%x00%B", branch])
        .output()
        .unwrap();
    assert!(output.status.success(), "git log in {}", bare.display());
    String::from_utf8(output.stdout).unwrap()
}

/// The bare repository `name` under `root` (as `Repo::create` makes it), and a copy of
/// it, `cli.git`, for the git CLI to do the same work in.
pub fn remote_and_copy(root: &Path, name: &str) -> (PathBuf, PathBuf) {
    let remote = root.join(format!("{name}.git"));
    let copy = root.join("cli.git");
    sh(root, &format!("cp -a '{}' '{}'", remote.display(), copy.display()));
    (remote, copy)
}

/// Clones `main` of `remote` into `root/work`, runs the shell commands `edits` there,
/// commits everything as Lading commits for promotion `promotion`, and pushes.
pub fn commit_as_lading(root: &Path, remote: &Path, work: &str, edits: &str, promotion: &str) {
    commit_and_push(
        root,
        remote,
        work,
        edits,
        &format!(
            "git -c user.name=Lading -c user.email=lading@localhost commit -q -m promote \
               -m 'Lading-Promotion: {promotion}'"
        ),
    );
}

/// Clones `main` of `remote` into `root/work`, runs the shell commands `edits` there,
/// commits everything as a developer upstream would (`Dev`, message `upstream`), and
/// pushes.
pub fn commit_upstream(root: &Path, remote: &Path, work: &str, edits: &str) {
    commit_and_push(
        root,
        remote,
        work,
        edits,
        "git -c user.name=Dev -c user.email=dev@example.com commit -q -m upstream",
    );
}

fn commit_and_push(root: &Path, remote: &Path, work: &str, edits: &str, commit: &str) {
    sh(
        root,
        &format!(
            "set -e; git clone -q --branch main '{remote}' {work}; cd {work}; {edits}; git add -A; {commit}; \
             git push -q origin main",
            remote = remote.display()
        ),
    );
}
