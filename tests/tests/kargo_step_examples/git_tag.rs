//! Kargo's `git-tag` examples: tags made, pushed and moved.

use super::*;

#[test]
fn git_tag_examples_tag_push_and_move_tags() {
    let dir = tempfile::tempdir().unwrap();
    let (repo, freight) = repo_with(dir.path(), &[("app.yaml", "v: 1\n")]);
    let workspace = tempfile::tempdir().unwrap();
    let clone = format!(
        "steps:\n- uses: git-clone\n  config:\n    repoURL: {}\n    checkout:\n    - branch: main\n      path: ./out\n",
        repo.url()
    );
    // Basic usage: a tag on HEAD.
    let outcome = run_with(
        EngineRun::new(&freight),
        workspace.path(),
        &format!("{clone}- uses: git-tag\n  as: tag\n  config:\n    path: ./out\n    tag: v1.0.0\n"),
    )
    .unwrap();
    let head = repo.log("main")[0].id.clone();
    assert_eq!(outcome.outputs["tag"]["commit"], json!(head));
    // Tagging after a commit, then pushing the tag.
    let workspace = tempfile::tempdir().unwrap();
    let template = format!(
        "{clone}- uses: file-write\n  config:\n    path: ./out/app.yaml\n    contents: \"v: 2\\n\"\n    overwrite: true\n- uses: git-commit\n  as: commit\n  config:\n    path: ./out\n    message: \"Committing changes for release v1.0.0\"\n- uses: git-tag\n  config:\n    path: ./out\n    tag: v1.0.0\n- uses: git-push\n  config:\n    path: ./out\n    tag: v1.0.0\n"
    );
    let outcome = run_with(EngineRun::new(&freight), workspace.path(), &template).unwrap();
    let committed = outcome.commit.clone();
    let remote_tag = std::process::Command::new("git")
        .args(["rev-parse", "refs/tags/v1.0.0^{commit}"])
        .current_dir(dir.path().join("repo.git"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&remote_tag.stdout).trim(), committed, "the pushed tag names the new commit");
    // An existing tag elsewhere is refused without force, and moved with it.
    let retag = "- uses: git-tag\n  config:\n    path: ./out\n    tag: dev-team-a\n";
    let workspace = tempfile::tempdir().unwrap();
    let first = format!(
        "{clone}{retag}- uses: file-write\n  config:\n    path: ./out/app.yaml\n    contents: \"v: 3\\n\"\n    overwrite: true\n- uses: git-commit\n  config:\n    path: ./out\n    message: next\n{retag}"
    );
    let error = run_with(EngineRun::new(&freight), workspace.path(), &first).unwrap_err().to_string();
    assert!(error.contains("config.tag: \"dev-team-a\" already exists on another commit"), "{error}");
    let workspace = tempfile::tempdir().unwrap();
    let forced = format!(
        "{clone}{retag}- uses: file-write\n  config:\n    path: ./out/app.yaml\n    contents: \"v: 3\\n\"\n    overwrite: true\n- uses: git-commit\n  as: c\n  config:\n    path: ./out\n    message: next\n- uses: git-tag\n  as: moved\n  config:\n    path: ./out\n    tag: dev-team-a\n    force: true\n"
    );
    let outcome = run_with(EngineRun::new(&freight), workspace.path(), &forced).unwrap();
    assert_eq!(outcome.outputs["moved"]["commit"], outcome.outputs["c"]["commit"]);
}
