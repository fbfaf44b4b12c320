//! A promotion step reaches only its workspace, whatever the GitOps repository holds:
//! each test pushes an attack to a real bare repository (symlinks to outside files,
//! directories and paths that do not exist yet), runs real steps through the step engine,
//! and checks that the canary outside was neither written nor read into Git or errors,
//! and that errors name the step's field but no host path and no file contents.

use std::path::Path;

use lading_domain::Freight;
use lading_domain::spec::PromotionStep;
use lading_tests::canary::{Canary, climbing_path};
use lading_tests::engine_run::EngineRun;
use lading_tests::git::Repo;
use serde_json::{Value, json};

fn step(uses: &str, config: Value) -> PromotionStep {
    PromotionStep { uses: uses.into(), config: Some(config), ..Default::default() }
}

fn freight() -> Freight {
    Freight::from_warehouse("app").with_image("ghcr.io/example/guestbook", "v0.2.0", "sha256:1111").with_chart(
        "oci://ghcr.io/example/charts",
        "redis",
        "19.1.0",
    )
}

/// Runs `steps` in `workspace`; returns the error's text (empty on success).
fn run(workspace: &Path, steps: &[PromotionStep]) -> String {
    let freight = freight();
    let engine = EngineRun { promotion: "test.01.attack", ..EngineRun::new(&freight) };
    match engine.run(workspace, steps) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    }
}

/// Clones `repo`'s `main` into `./out`.
fn clone(repo: &Repo) -> PromotionStep {
    step("git-clone", json!({"repoURL": repo.url(), "checkout": [{"branch": "main", "path": "./out"}]}))
}

fn commit_and_push() -> [PromotionStep; 2] {
    [step("git-commit", json!({"path": "./out", "message": "attack"})), step("git-push", json!({"path": "./out"}))]
}

/// Asserts `error` refuses `field`'s path as leading outside, and names no host path.
fn assert_refused(error: &str, field_and_path: &str, workspace: &Path, canary: &Canary) {
    let expected = format!("{field_and_path} leads outside the promotion's workspace");
    assert!(error.contains(&expected), "expected {expected:?} in: {error}");
    assert_no_host_path(error, workspace, canary);
}

fn assert_no_host_path(error: &str, workspace: &Path, canary: &Canary) {
    let real = workspace.canonicalize().unwrap();
    for host in [workspace, real.as_path(), canary.dir()] {
        assert!(!error.contains(&*host.to_string_lossy()), "{error} names the host path {}", host.display());
    }
    canary.assert_not_in("an error", error);
}

fn gitops_repo(root: &Path) -> Repo {
    let gitops = Repo::create(root, "gitops");
    gitops.commit("README.md", "gitops\n", "start");
    gitops
}

#[test]
fn yaml_update_onto_a_dangling_symlink_creates_nothing_outside() {
    let root = tempfile::tempdir().unwrap();
    let canary = Canary::new();
    let gitops = gitops_repo(root.path());
    gitops.commit_symlink("values.yaml", &canary.missing("created-by-promotion.yaml"), "absolute, dangling");
    let workspace = tempfile::tempdir().unwrap();
    let relative = climbing_path(&workspace.path().join("out"), &canary.missing("created-relative.yaml"));
    gitops.commit_symlink("relative.yaml", Path::new(&relative), "relative, dangling");
    gitops.commit_symlink("canary.yaml", &canary.credentials(), "to an existing outside file");
    for file in ["values.yaml", "relative.yaml", "canary.yaml"] {
        let workspace = tempfile::tempdir().unwrap();
        let path = format!("./out/{file}");
        let update = step("yaml-update", json!({"path": path, "updates": [{"key": "password", "value": "x"}]}));
        let [commit, push] = commit_and_push();
        let error = run(workspace.path(), &[clone(&gitops), update, commit, push]);
        assert_refused(&error, &format!("config.path: {path:?}"), workspace.path(), &canary);
    }
    canary.assert_untouched();
    assert_eq!(gitops.log("main").len(), 4, "nothing was pushed");
    canary.assert_not_in("the repository", &gitops.all_objects());
}

#[test]
fn file_write_and_copy_onto_dangling_symlinks_create_nothing_outside() {
    let root = tempfile::tempdir().unwrap();
    let canary = Canary::new();
    let gitops = gitops_repo(root.path());
    gitops.commit_symlink("dangling", &canary.missing("written.txt"), "dangling");
    gitops.commit_symlink("dir/dangling", &canary.missing("copied.txt"), "dangling in a directory");
    let attacks = [
        ("config.path: \"./out/dangling\"", step("file-write", json!({"path": "./out/dangling", "contents": "x"}))),
        (
            "config.outPath: \"./out/dangling\"",
            step("copy", json!({"inPath": "./out/README.md", "outPath": "./out/dangling"})),
        ),
        ("config.outPath: \"./out/dir\"", step("file-write", json!({"path": "./out/src/dangling", "contents": "y"}))),
    ];
    for (i, (expected, attack)) in attacks.into_iter().enumerate() {
        let workspace = tempfile::tempdir().unwrap();
        let mut steps = vec![clone(&gitops), attack];
        if i == 2 {
            // A directory copied onto one holding a dangling symlink of the same name.
            steps.push(step("copy", json!({"inPath": "./out/src", "outPath": "./out/dir"})));
        }
        let error = run(workspace.path(), &steps);
        assert_refused(&error, expected, workspace.path(), &canary);
    }
    canary.assert_untouched();
}

#[test]
fn copying_a_directory_through_a_symlink_to_an_outside_directory_overwrites_nothing() {
    let root = tempfile::tempdir().unwrap();
    let canary = Canary::new();
    let gitops = gitops_repo(root.path());
    gitops.commit_symlink("dst/escape", canary.dir(), "a symlink to an outside directory");
    gitops.commit("src/escape/credentials", "password: overwritten\n", "what would overwrite it");
    let workspace = tempfile::tempdir().unwrap();
    let copy = step("copy", json!({"inPath": "./out/src", "outPath": "./out/dst"}));
    let error = run(workspace.path(), &[clone(&gitops), copy]);
    assert_refused(&error, "config.outPath: \"./out/dst\"", workspace.path(), &canary);
    canary.assert_untouched();
}

#[test]
fn kustomize_set_image_and_helm_update_chart_edit_no_file_through_a_symlink() {
    let root = tempfile::tempdir().unwrap();
    let mut canary = Canary::new();
    let kustomization = canary.plant(
        "kustomization.yaml",
        &format!("# {}\nimages:\n- name: ghcr.io/example/guestbook\n  newTag: v0.1.0\n", canary.secret),
    );
    let chart = canary.plant(
        "Chart.yaml",
        &format!(
            "# {}\nname: x\ndependencies:\n- name: redis\n  version: 18.0.0\n  repository: oci://ghcr.io/example/charts\n",
            canary.secret
        ),
    );
    let gitops = gitops_repo(root.path());
    gitops.commit_symlink("k/kustomization.yaml", &kustomization, "kustomization elsewhere");
    gitops.commit_symlink("c/Chart.yaml", &chart, "chart elsewhere");
    let attacks = [
        (
            "config.path: \"./out/k/kustomization.yaml\"",
            step("kustomize-set-image", json!({"path": "./out/k", "images": [{"image": "ghcr.io/example/guestbook"}]})),
        ),
        (
            "config.path: \"./out/c/Chart.yaml\"",
            step(
                "helm-update-chart",
                json!({"path": "./out/c", "charts": [{"repository": "oci://ghcr.io/example/charts", "name": "redis"}]}),
            ),
        ),
    ];
    for (expected, attack) in attacks {
        let workspace = tempfile::tempdir().unwrap();
        let error = run(workspace.path(), &[clone(&gitops), attack]);
        assert_refused(&error, expected, workspace.path(), &canary);
    }
    canary.assert_untouched();
}

const DEPLOY: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: guestbook
";

#[test]
fn kustomize_build_names_output_files_from_sanitized_kinds_only() {
    let canary = Canary::new();
    let workspace = tempfile::tempdir().unwrap();
    let base = workspace.path().join("base");
    std::fs::create_dir_all(&base).unwrap();
    let out = workspace.path().join("rendered");
    let climbing = climbing_path(&out, &canary.dir().join("relative"));
    let absolute = canary.dir().join("absolute");
    let hostile = format!(
        "apiVersion: v1\nkind: {climbing}\nmetadata:\n  name: x\n---\napiVersion: v1\nkind: {}\nmetadata:\n  name: y\n",
        absolute.display()
    );
    std::fs::write(base.join("hostile.yaml"), hostile).unwrap();
    std::fs::write(base.join("deploy.yaml"), DEPLOY).unwrap();
    std::fs::write(base.join("kustomization.yaml"), "resources:\n- deploy.yaml\n- hostile.yaml\n").unwrap();
    let error = run(workspace.path(), &[step("kustomize-build", json!({"path": "base", "outPath": "rendered"}))]);
    assert_eq!(error, "", "the step renders");
    canary.assert_untouched();
    let mut files: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    files.sort();
    assert_eq!(files.len(), 3, "{files:?}");
    assert!(files.contains(&"deployment-guestbook.yaml".to_owned()), "{files:?}");
    for file in &files {
        assert!(!file.contains("..") && !file.starts_with('.') && file.ends_with(".yaml"), "{file}");
    }
    let mut outside: Vec<_> = std::fs::read_dir(workspace.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    outside.sort();
    assert_eq!(outside, vec!["base", "rendered"], "nothing written beside the output directory");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copying_links_to_environ_credentials_and_the_nats_log_pushes_none_of_them() {
    let nats = lading_tests::nats::TestNats::start().await;
    let nats_log = nats.log_path();
    let nats_log_text = std::fs::read_to_string(&nats_log).unwrap();
    let logged = nats_log_text.lines().next().unwrap().to_owned();
    let root = tempfile::tempdir().unwrap();
    let canary = Canary::new();
    let gitops = gitops_repo(root.path());
    gitops.commit_symlink("leak/environ", Path::new("/proc/self/environ"), "environ");
    gitops.commit_symlink("leak/credentials", &canary.credentials(), "credentials");
    gitops.commit_symlink("leak/nats.log", &nats_log, "the NATS log");
    gitops.commit_symlink("leak/outside-dir", canary.dir(), "a directory");
    gitops.commit("leak/plain.txt", "harmless\n", "a plain file");
    let workspace = tempfile::tempdir().unwrap();
    let steps = vec![
        clone(&gitops),
        step(
            "git-clone",
            json!({"repoURL": gitops.url(), "checkout": [{"branch": "stage/test", "create": true, "path": "./stage"}]}),
        ),
        step("copy", json!({"inPath": "./out/leak", "outPath": "./stage/leak"})),
        step("git-commit", json!({"path": "./stage", "message": "leak"})),
        step("git-push", json!({"path": "./stage"})),
    ];
    let path = workspace.path().to_path_buf();
    let error = tokio::task::spawn_blocking(move || run(&path, &steps)).await.unwrap();
    assert!(error.contains("config.inPath: \"./out/leak\" holds the symlink"), "{error}");
    assert!(error.contains("which leads outside the promotion's workspace"), "{error}");
    assert_no_host_path(&error, workspace.path(), &canary);
    assert!(gitops.log("stage/test").is_empty(), "nothing was pushed");
    let objects = gitops.all_objects();
    canary.assert_not_in("the repository", &objects);
    assert!(!objects.contains(&logged), "the NATS log reached the repository");
    assert!(!objects.contains("PATH="), "the environment reached the repository");
    canary.assert_untouched();
}

/// A kustomization in `workspace/overlay` with `kustomization`, a base outside the
/// workspace holding the canary's secret, and what `kustomize-build` made of it.
struct OutsideBase {
    canary: Canary,
    workspace: tempfile::TempDir,
}

impl OutsideBase {
    fn new() -> OutsideBase {
        let mut canary = Canary::new();
        canary.plant("base/kustomization.yaml", "resources:\n- configmap.yaml\n");
        canary.plant(
            "base/configmap.yaml",
            &format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leak\ndata:\n  s: {}\n", canary.secret),
        );
        let workspace = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(workspace.path().join("overlay")).unwrap();
        std::fs::write(workspace.path().join("overlay/deploy.yaml"), DEPLOY).unwrap();
        OutsideBase { canary, workspace }
    }

    fn build(&self, kustomization: &str) -> String {
        std::fs::write(self.workspace.path().join("overlay/kustomization.yaml"), kustomization).unwrap();
        let build = step("kustomize-build", json!({"path": "overlay", "outPath": "out/all.yaml"}));
        let error = run(self.workspace.path(), &[build]);
        assert!(!self.workspace.path().join("out/all.yaml").exists(), "nothing was rendered");
        assert_no_host_path(&error, self.workspace.path(), &self.canary);
        self.canary.assert_untouched();
        error
    }
}

#[test]
fn kustomize_build_refuses_bases_and_files_outside_the_workspace() {
    let attack = OutsideBase::new();
    let overlay = attack.workspace.path().join("overlay");
    let climbing = climbing_path(&overlay, &attack.canary.dir().join("base"));
    let error = attack.build(&format!("resources:\n- deploy.yaml\n- {climbing}\n"));
    assert!(
        error.contains("config.path: \"overlay\" renders overlay/kustomization.yaml, whose resources[1] leads outside the promotion's workspace"),
        "{error}"
    );

    std::os::unix::fs::symlink(attack.canary.dir().join("base"), overlay.join("linked-base")).unwrap();
    let error = attack.build("resources:\n- deploy.yaml\n- linked-base\n");
    assert!(error.contains("whose resources[1] leads outside the promotion's workspace"), "{error}");

    std::os::unix::fs::symlink(attack.canary.credentials(), overlay.join("patch.yaml")).unwrap();
    let error = attack.build("resources:\n- deploy.yaml\npatches:\n- path: patch.yaml\n");
    assert!(error.contains("whose patches[0].path leads outside the promotion's workspace"), "{error}");

    let error = attack.build(&format!(
        "resources:\n- deploy.yaml\nconfigMapGenerator:\n- name: c\n  files:\n  - {}\n",
        attack.canary.credentials().display()
    ));
    assert!(error.contains("whose configMapGenerator[0].files[0] leads outside"), "{error}");

    // A base inside the workspace that itself reaches out is refused as well.
    std::fs::create_dir_all(attack.workspace.path().join("inner")).unwrap();
    std::fs::write(attack.workspace.path().join("inner/kustomization.yaml"), "resources:\n- ../overlay/linked-base\n")
        .unwrap();
    let error = attack.build("resources:\n- ../inner\n");
    assert!(error.contains("renders inner/kustomization.yaml, whose resources[0] leads outside"), "{error}");

    let error = attack.build("resources:\n- https://example.com/remote/base\n");
    assert!(error.contains("whose resources[0] is not in the promotion's workspace"), "{error}");
}

#[test]
fn errors_quote_no_file_contents_and_no_host_paths() {
    let canary = Canary::new();
    let workspace = tempfile::tempdir().unwrap();
    let secret = &canary.secret;
    let write = |name: &str, text: &str| {
        let path = workspace.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("bad.yaml", &format!("a: [unclosed {secret}\n"));
    write("scalar.yaml", &format!("{secret}\n"));
    write("duplicate.yaml", &format!("a:\n  b: old\n  b: {secret}\n"));
    write("bad.json", &format!("{{\"a\": {secret}}}\n"));
    write("bad.toml", &format!("a = {secret}\n"));
    write("k/kustomization.yaml", &format!("images: [{secret}\n"));
    write("c/Chart.yaml", &format!("dependencies: {{{secret}\n"));
    write("broken/kustomization.yaml", &format!("resources:\n- missing.yaml\nnamePrefix: [{secret}]\n"));
    write("plain/file", "x");
    let update = |uses: &str, path: &str| step(uses, json!({"path": path, "updates": [{"key": "a.b", "value": 1}]}));
    let failing = [
        update("yaml-update", "bad.yaml"),
        update("yaml-update", "scalar.yaml"),
        update("yaml-update", "duplicate.yaml"),
        update("json-update", "bad.json"),
        update("toml-update", "bad.toml"),
        step("kustomize-set-image", json!({"path": "k", "images": [{"image": "x", "tag": "1"}]})),
        step("helm-update-chart", json!({"path": "c", "charts": [{"repository": "r", "name": "n", "version": "1"}]})),
        step("kustomize-build", json!({"path": "broken", "outPath": "out.yaml"})),
        step("git-commit", json!({"path": "plain", "message": "m"})),
        step("git-push", json!({"path": "plain"})),
        step("git-clone", json!({"repoURL": "file:///nonexistent/repo.git", "checkout": [{"path": "plain"}]})),
        step("git-clear", json!({"path": "plain"})),
        step("delete", json!({"path": "missing", "strict": true})),
    ];
    for attack in failing {
        let uses = attack.uses.clone();
        let error = run(workspace.path(), &[attack]);
        assert!(!error.is_empty(), "{uses} fails");
        assert_no_host_path(&error, workspace.path(), &canary);
    }
}

#[test]
fn git_steps_open_no_repository_and_clone_into_no_directory_outside() {
    let root = tempfile::tempdir().unwrap();
    let canary = Canary::new();
    let gitops = gitops_repo(root.path());
    gitops.commit_symlink("escape", canary.dir(), "a symlink to an outside directory");
    let elsewhere = Repo::create(root.path(), "elsewhere");
    elsewhere.commit("file", "x", "outside repository");

    let workspace = tempfile::tempdir().unwrap();
    let into_link = step(
        "git-clone",
        json!({"repoURL": gitops.url(), "checkout": [{"branch": "main", "path": "./out/escape/clone"}]}),
    );
    let error = run(workspace.path(), &[clone(&gitops), into_link]);
    assert_refused(&error, "config.checkout[0].path: \"./out/escape/clone\"", workspace.path(), &canary);

    let workspace = tempfile::tempdir().unwrap();
    let commit_there = step("git-commit", json!({"path": "./out/escape", "message": "m"}));
    let error = run(workspace.path(), &[clone(&gitops), commit_there]);
    assert_refused(&error, "config.path: \"./out/escape\"", workspace.path(), &canary);

    // A `.git` file naming a repository elsewhere.
    let workspace = tempfile::tempdir().unwrap();
    let gitdir = format!("gitdir: {}\n", root.path().join("elsewhere-work/.git").display());
    let steps = [
        step("file-write", json!({"path": "./fake/.git", "contents": gitdir})),
        step("file-write", json!({"path": "./fake/new.txt", "contents": "y"})),
        step("git-commit", json!({"path": "./fake", "message": "into the outside repository"})),
    ];
    let error = run(workspace.path(), &steps);
    assert!(
        error.contains(
            "config.path: \"./fake\" is a working tree whose repository is outside the promotion's workspace"
        ),
        "{error}"
    );
    assert_no_host_path(&error, workspace.path(), &canary);
    assert_eq!(elsewhere.log("main").len(), 1);
    canary.assert_untouched();
}

#[test]
fn checking_out_a_branch_over_a_symlinked_directory_writes_nothing_outside() {
    let root = tempfile::tempdir().unwrap();
    let canary = Canary::new();
    let gitops = gitops_repo(root.path());
    gitops.commit("escape/credentials", "password: overwritten\n", "a directory on the other branch");
    gitops.branch("other");
    gitops.commit_symlink("escape", canary.dir(), "the same path as a symlink on main");
    let workspace = tempfile::tempdir().unwrap();
    let checkout =
        step("git-clone", json!({"repoURL": gitops.url(), "checkout": [{"branch": "other", "path": "./out"}]}));
    // A lazy working tree writes its files when a step reads them: this one reads them all.
    let read_all = step("tar", json!({"inPath": "./out", "outPath": "./out.tar"}));
    let error = run(workspace.path(), &[checkout, read_all]);
    assert_eq!(error, "", "the branch is checked out");
    let written = workspace.path().join("out/escape/credentials");
    assert_eq!(std::fs::read_to_string(written).unwrap(), "password: overwritten\n");
    canary.assert_untouched();
}

#[test]
fn rebasing_onto_a_remote_that_turns_a_symlink_into_a_directory_writes_nothing_outside() {
    let root = tempfile::tempdir().unwrap();
    let canary = Canary::new();
    let gitops = gitops_repo(root.path());
    gitops.commit_symlink("escape", canary.dir(), "a symlink to an outside directory");
    let workspace = tempfile::tempdir().unwrap();
    let prepare = [
        clone(&gitops),
        step("file-write", json!({"path": "./out/values.yaml", "contents": "tag: v2\n"})),
        step("git-commit", json!({"path": "./out", "message": "promote"})),
    ];
    assert_eq!(run(workspace.path(), &prepare), "");
    // Meanwhile the remote replaced the symlink with a directory of the same name.
    gitops.remove("escape");
    gitops.commit("escape/credentials", "password: overwritten\n", "a directory where the symlink was");
    let error = run(workspace.path(), &[step("git-push", json!({"path": "./out"}))]);
    assert_eq!(error, "", "the promotion is rebased and pushed");
    assert_eq!(gitops.show("main", "values.yaml"), "tag: v2");
    canary.assert_untouched();
}

/// Runs git in `dir` with `input` on stdin; its stdout, trimmed.
fn git(dir: &Path, args: &[&str], input: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Dev")
        .env("GIT_AUTHOR_EMAIL", "dev@example.com")
        .env("GIT_COMMITTER_NAME", "Dev")
        .env("GIT_COMMITTER_EMAIL", "dev@example.com")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "git {args:?}");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[test]
fn a_tree_naming_one_path_as_both_a_symlink_and_a_directory_writes_nothing_outside() {
    let root = tempfile::tempdir().unwrap();
    let canary = Canary::new();
    let gitops = gitops_repo(root.path());
    // A malformed tree (git fsck would refuse it; a push does not check): `escape` is a
    // symlink to the canary directory and also a directory holding `credentials`.
    let work = root.path().join("malformed");
    std::fs::create_dir_all(work.join("d")).unwrap();
    std::fs::write(work.join("d/credentials"), "password: overwritten\n").unwrap();
    git(&work, &["init", "--quiet"], "");
    git(&work, &["add", "--all"], "");
    git(&work, &["commit", "--quiet", "-m", "d"], "");
    let directory = git(&work, &["rev-parse", "HEAD:d"], "");
    let link = git(&work, &["hash-object", "-w", "--stdin"], &canary.dir().to_string_lossy());
    let tree = git(&work, &["mktree"], &format!("120000 blob {link}\tescape\n040000 tree {directory}\tescape\n"));
    let commit = git(&work, &["commit-tree", &tree, "-m", "malformed"], "");
    git(&work, &["push", "--quiet", &gitops.url(), &format!("{commit}:refs/heads/malformed")], "");
    let workspace = tempfile::tempdir().unwrap();
    let checkout =
        step("git-clone", json!({"repoURL": gitops.url(), "checkout": [{"branch": "malformed", "path": "./out"}]}));
    let error = run(workspace.path(), &[checkout]);
    assert_no_host_path(&error, workspace.path(), &canary);
    canary.assert_untouched();
}

/// The promoter as its own process, its log written to `log`.
struct PromoterProcess(std::process::Child);

impl Drop for PromoterProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_quickstart_stage_refuses_a_values_file_symlinked_to_a_path_that_does_not_exist_yet() {
    use std::time::Duration;

    use lading_tests::sandbox::{Sandbox, quickstart};

    let sandbox = Sandbox::start_without_promoter().await;
    let canary = Canary::new();
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    app.commit("app.txt", "v1", "first");
    gitops.commit_symlink("values.yaml", &canary.missing("created-by-promotion.yaml"), "a trap");
    gitops.branch("stage/test");
    let work_dir = sandbox.dir.path().join("work-attacked");
    let log_path = sandbox.dir.path().join("promoter.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let _promoter = PromoterProcess(
        std::process::Command::new(env!("CARGO_BIN_EXE_promoter-process"))
            .env("LADING_NATS_URL", sandbox.nats.url())
            .env("LADING_REPLICA", "attacked")
            .env("LADING_WORK_DIR", &work_dir)
            .env("RUST_LOG", "info")
            .env_remove("LADING_FAILPOINT")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("the promoter process starts"),
    );
    sandbox.apply(&quickstart(&app.url(), &gitops.url(), "1h")).await;

    let message = lading_tests::wait::until("the promotion into test to fail", Duration::from_secs(90), || async {
        let (_, stages) = sandbox.get("/api/v1/projects/demo/stages").await;
        let test = stages["items"].as_array().and_then(|i| i.iter().find(|s| s["metadata"]["name"] == "test").cloned());
        let last = test.map(|t| t["status"]["lastPromotion"].clone()).unwrap_or_default();
        match last["status"]["phase"].as_str() {
            Some("Failed") => Ok(last["status"]["message"].as_str().unwrap_or_default().to_owned()),
            Some("Succeeded") => panic!("the promotion succeeded: {last}"),
            _ => Err(last.to_string()),
        }
    })
    .await;
    assert_eq!(
        message,
        "step 1 (yaml-update): config.path: \"./out/values.yaml\" leads outside the promotion's workspace"
    );
    canary.assert_untouched();
    assert_eq!(gitops.log("stage/test").len(), 1, "nothing was pushed");
    canary.assert_not_in("the repository", &gitops.all_objects());
    let (_, stages) = sandbox.get("/api/v1/projects/demo/stages").await;
    let status = stages.to_string();
    canary.assert_not_in("the stages' status", &status);
    assert!(!status.contains(&*work_dir.to_string_lossy()), "the workspace's host path is in the status: {status}");
    let logs = lading_tests::wait::until("the failure in the promoter's log", Duration::from_secs(10), || async {
        let logs = std::fs::read_to_string(&log_path).unwrap_or_default();
        if logs.contains("promotion failed") { Ok(logs) } else { Err(logs) }
    })
    .await;
    canary.assert_not_in("the promoter's log", &logs);
    assert!(!logs.contains(&*canary.dir().to_string_lossy()), "the log names where the symlink led: {logs}");
}

#[test]
fn helm_update_chart_packs_no_file_dependency_outside_the_workspace() {
    let mut canary = Canary::new();
    canary.plant("Chart.yaml", &format!("apiVersion: v2\nname: secret\nversion: 1.0.0\n# {}\n", canary.secret));
    let workspace = tempfile::tempdir().unwrap();
    let chart = workspace.path().join("chart");
    std::fs::create_dir_all(&chart).unwrap();
    std::os::unix::fs::symlink(canary.dir(), workspace.path().join("shared")).unwrap();
    // A dependency inside the workspace whose values lead outside.
    let lib = workspace.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::write(lib.join("Chart.yaml"), "apiVersion: v2\nname: secret\nversion: 1.0.0\n").unwrap();
    std::os::unix::fs::symlink(canary.dir().join("Chart.yaml"), lib.join("values.yaml")).unwrap();
    let climbing = climbing_path(&chart, canary.dir());
    for (repository, expected) in [
        (format!("file://{climbing}"), "leads outside the workspace"),
        ("file://../shared".to_owned(), "leads outside the promotion's workspace"),
        ("file://../lib".to_owned(), "holds the symlink \"values.yaml\", which leads outside"),
    ] {
        std::fs::write(
            chart.join("Chart.yaml"),
            format!("apiVersion: v2\nname: c\nversion: 0.1.0\ndependencies:\n- name: secret\n  version: 1.0.0\n  repository: {repository}\n"),
        )
        .unwrap();
        let update = step(
            "helm-update-chart",
            json!({"path": "chart", "charts": [{"repository": repository, "name": "secret", "version": "1.0.0"}]}),
        );
        let error = run(workspace.path(), &[update]);
        assert!(error.contains("Chart.yaml: dependencies[0] (secret)") && error.contains(expected), "{error}");
        assert_no_host_path(&error, workspace.path(), &canary);
        assert!(!chart.join("charts").exists(), "nothing was packed");
    }
    canary.assert_untouched();
}
