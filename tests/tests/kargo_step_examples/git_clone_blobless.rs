//! `git-clone` with `blobless: true` (a partial clone, as `git clone --filter=blob:none`),
//! against real bare repositories that honour filters, over `file://` and smart HTTP with
//! Basic authentication: a promotion pushes the same tree as a full clone's; the clone
//! holds the blobs of its checkout (or its cone) and no others; `git-push` rebases onto a
//! remote that moved, also from a sparse checkout; credentials stay out of errors;
//! symlinks stay confined.

use lading_promoter::engine::{StepObserver, Stop};
use std::time::Duration;

use lading_domain::limits::Limit;
use lading_promoter::steps::{GitCredentials, RemoteBudgets};
use lading_remote::git::{GIT_MAX_TRANSFER_ENV, GIT_TIMEOUT_ENV};

use super::*;

/// A GitOps repository that serves partial clones: `values.yaml` at its second version
/// (the first one only in history), an older file since removed, and two apps.
fn gitops_repo(root: &Path, name: &str) -> Repo {
    let repo = Repo::create(root, name);
    repo.allow_partial_clones();
    repo.commit("values.yaml", "image:\n  tag: v0.0.1\n", "first");
    repo.commit("apps/a/config.yaml", "app: a\n", "app a");
    repo.commit("apps/b/config.yaml", "app: b\n", "app b");
    repo.commit("old.txt", "only in history\n", "an old file");
    repo.remove("old.txt");
    repo.commit("values.yaml", "image:\n  tag: v0.0.2\n", "second");
    repo
}

/// Clone (`extra` added to the git-clone config), yaml-update, commit, push.
fn promotion(url: &str, extra: &str) -> String {
    format!(
        "steps:\n- uses: git-clone\n  config:\n    repoURL: {url}\n{extra}    checkout:\n    - branch: main\n      path: ./out\n- uses: yaml-update\n  config:\n    path: ./out/values.yaml\n    updates:\n    - key: image.tag\n      value: v1.0.0\n- uses: git-commit\n  config:\n    path: ./out\n    message: promote\n- uses: git-push\n  config:\n    path: ./out\n"
    )
}

/// Whether the object store of the working tree at `dir` holds `id`.
fn holds(dir: &Path, id: &str) -> bool {
    let repo = git2::Repository::open(dir).unwrap();
    repo.odb().unwrap().exists(git2::Oid::from_str(id).unwrap())
}

fn blob_id(content: &str) -> String {
    git2::Oid::hash_object(git2::ObjectType::Blob, content.as_bytes()).unwrap().to_string()
}

#[test]
fn a_blobless_promotion_pushes_the_tree_a_full_clone_pushes_and_fetches_no_history_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let full = gitops_repo(dir.path(), "full");
    let partial = gitops_repo(dir.path(), "partial");
    let freight = Freight::from_warehouse("app").with_commit(&full.url(), &full.rev("main"));

    let workspace = tempfile::tempdir().unwrap();
    run_with(EngineRun::new(&freight), workspace.path(), &promotion(&full.url(), "")).unwrap();
    // With the replica's mirrors too: a blobless clone goes by none of them.
    let mirrors = tempfile::tempdir().unwrap();
    let workspace = tempfile::tempdir().unwrap();
    let run = EngineRun { mirrors: Some(mirrors.path()), ..EngineRun::new(&freight) };
    run_with(run, workspace.path(), &promotion(&partial.url(), "    blobless: true\n")).unwrap();
    assert_eq!(std::fs::read_dir(mirrors.path()).unwrap().count(), 0, "a mirror was made");

    assert_eq!(partial.rev("main^{tree}"), full.rev("main^{tree}"), "the same tree was pushed");
    assert_eq!(partial.show("main", "values.yaml"), "image:\n  tag: v1.0.0");
    let out = workspace.path().join("out");
    // The clone is partial: blobs only in history were never fetched, those of the
    // checked-out tree were.
    assert!(!holds(&out, &blob_id("image:\n  tag: v0.0.1\n")), "the first values.yaml was fetched");
    assert!(!holds(&out, &blob_id("only in history\n")), "a removed file was fetched");
    assert!(holds(&out, &blob_id("image:\n  tag: v0.0.2\n")));
    assert!(holds(&out, &blob_id("app: b\n")));
    // The commits and trees of history are there.
    assert!(holds(&out, &partial.rev("main~2^{tree}")));
}

/// Runs `action` once, before step `index`.
struct Before<F: FnMut()> {
    index: usize,
    action: Option<F>,
}

impl<F: FnMut()> StepObserver for Before<F> {
    fn before_step(&mut self, index: usize) -> Result<(), Stop> {
        if index == self.index
            && let Some(mut action) = self.action.take()
        {
            action();
        }
        Ok(())
    }
}

#[test]
fn git_push_of_a_blobless_clone_rebases_onto_a_remote_that_moved() {
    let dir = tempfile::tempdir().unwrap();
    let gitops = gitops_repo(dir.path(), "gitops");
    let freight = Freight::from_warehouse("app").with_commit(&gitops.url(), &gitops.rev("main"));
    let (vars, steps) = apply(&promotion(&gitops.url(), "    blobless: true\n"));
    let workspace = tempfile::tempdir().unwrap();
    // Another stage pushes between this promotion's commit and its push: a file changed
    // and a file added, whose blobs the clone lacks.
    let mut moved = Before {
        index: 3,
        action: Some(|| {
            gitops.commit("apps/b/config.yaml", "app: b\nreplicas: 2\n", "another stage");
            gitops.commit("apps/c/config.yaml", "app: c\n", "a new app");
        }),
    };
    EngineRun { vars: &vars, ..EngineRun::new(&freight) }.run_observed(workspace.path(), &steps, &mut moved).unwrap();
    let log = gitops.log("main");
    assert_eq!(log[0].message.lines().next(), Some("promote"));
    assert_eq!(log[1].message, "a new app");
    assert_eq!(gitops.show("main", "values.yaml"), "image:\n  tag: v1.0.0");
    assert_eq!(gitops.show("main", "apps/b/config.yaml"), "app: b\nreplicas: 2");
    assert_eq!(gitops.show("main", "apps/c/config.yaml"), "app: c");
    let out = workspace.path().join("out");
    assert_eq!(std::fs::read_to_string(out.join("apps/c/config.yaml")).unwrap(), "app: c\n");
    assert!(!holds(&out, &blob_id("only in history\n")), "the rebase fetched history");
}

#[test]
fn a_sparse_blobless_clone_fetches_only_the_blobs_of_its_cone() {
    let dir = tempfile::tempdir().unwrap();
    let gitops = gitops_repo(dir.path(), "gitops");
    let freight = Freight::from_warehouse("app").with_commit(&gitops.url(), &gitops.rev("main"));
    let template = format!(
        "steps:\n- uses: git-clone\n  config:\n    repoURL: {}\n    blobless: true\n    checkout:\n    - branch: main\n      sparse: [apps/a]\n      path: ./out\n- uses: yaml-update\n  config:\n    path: ./out/apps/a/config.yaml\n    updates:\n    - key: replicas\n      value: 3\n- uses: git-commit\n  config:\n    path: ./out\n    message: promote\n- uses: git-push\n  config:\n    path: ./out\n",
        gitops.url()
    );
    let workspace = tempfile::tempdir().unwrap();
    run_with(EngineRun::new(&freight), workspace.path(), &template).unwrap();
    let out = workspace.path().join("out");
    assert!(holds(&out, &blob_id("app: a\n")), "a blob in the cone");
    assert!(holds(&out, &blob_id("image:\n  tag: v0.0.2\n")), "a blob at the root");
    assert!(!holds(&out, &blob_id("app: b\n")), "a blob outside the cone was fetched");
    assert!(!out.join("apps/b").exists());
    assert_eq!(gitops.show("main", "apps/a/config.yaml"), "app: a\nreplicas: 3");
    assert_eq!(gitops.show("main", "apps/b/config.yaml"), "app: b", "outside the cone stays as it was");
}

#[test]
fn git_push_of_a_sparse_checkout_rebases_onto_a_remote_that_moved_and_keeps_what_is_outside_the_cone() {
    for blobless in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let gitops = gitops_repo(dir.path(), "gitops");
        let freight = Freight::from_warehouse("app").with_commit(&gitops.url(), &gitops.rev("main"));
        let extra = if blobless { "    blobless: true\n" } else { "" };
        let template = format!(
            "steps:\n- uses: git-clone\n  config:\n    repoURL: {}\n{extra}    checkout:\n    - branch: main\n      sparse: [apps/a]\n      path: ./out\n- uses: yaml-update\n  config:\n    path: ./out/apps/a/config.yaml\n    updates:\n    - key: replicas\n      value: 3\n- uses: git-commit\n  config:\n    path: ./out\n    message: promote\n- uses: git-push\n  config:\n    path: ./out\n",
            gitops.url()
        );
        let (vars, steps) = apply(&template);
        let workspace = tempfile::tempdir().unwrap();
        // Another stage pushes between this promotion's commit and its push: outside the
        // cone (a file changed, an app added) and inside it (a root file, a file beside
        // the one this promotion edits).
        let mut moved = Before {
            index: 3,
            action: Some(|| {
                gitops.commit("apps/b/config.yaml", "app: b\nreplicas: 2\n", "another stage");
                gitops.commit("apps/c/config.yaml", "app: c\n", "a new app");
                gitops.commit("values.yaml", "image:\n  tag: v0.0.3\n", "a root file");
                gitops.commit("apps/a/extra.yaml", "extra: 1\n", "beside");
            }),
        };
        let run = EngineRun { vars: &vars, ..EngineRun::new(&freight) };
        let pushed = run.run_observed(workspace.path(), &steps, &mut moved);
        let pushed = pushed.unwrap_or_else(|e| panic!("blobless: {blobless}: {e}"));
        let log = gitops.log("main");
        assert_eq!(log[0].id, pushed.commit, "blobless: {blobless}");
        assert_eq!(log[0].message.lines().next(), Some("promote"));
        assert_eq!(log[1].message, "beside", "the other stage's commits are kept (blobless: {blobless})");
        assert_eq!(gitops.show("main", "apps/a/config.yaml"), "app: a\nreplicas: 3");
        // What the other stage wrote outside the cone is the remote's, not taken as deleted.
        assert_eq!(gitops.show("main", "apps/b/config.yaml"), "app: b\nreplicas: 2", "blobless: {blobless}");
        assert_eq!(gitops.show("main", "apps/c/config.yaml"), "app: c", "blobless: {blobless}");
        assert_eq!(gitops.show("main", "values.yaml"), "image:\n  tag: v0.0.3");
        assert_eq!(gitops.show("main", "apps/a/extra.yaml"), "extra: 1");
        // The working tree follows the pushed branch within its cone and stays sparse.
        let out = workspace.path().join("out");
        assert_eq!(std::fs::read_to_string(out.join("values.yaml")).unwrap(), "image:\n  tag: v0.0.3\n");
        assert_eq!(std::fs::read_to_string(out.join("apps/a/extra.yaml")).unwrap(), "extra: 1\n");
        assert!(!out.join("apps/b").exists(), "outside the cone was written (blobless: {blobless})");
        assert!(!out.join("apps/c").exists(), "outside the cone was written (blobless: {blobless})");
        // The index is the pushed tree, outside the cone too.
        let repo = git2::Repository::open(&out).unwrap();
        let index_tree = repo.index().unwrap().write_tree().unwrap();
        assert_eq!(index_tree.to_string(), gitops.rev("main^{tree}"), "blobless: {blobless}");
    }
}

#[test]
fn git_push_of_a_sparse_checkout_whose_commit_the_remote_holds_takes_the_remote_branch_within_its_cone() {
    let dir = tempfile::tempdir().unwrap();
    let gitops = gitops_repo(dir.path(), "gitops");
    let freight = Freight::from_warehouse("app").with_commit(&gitops.url(), &gitops.rev("main"));
    let template = format!(
        "steps:\n- uses: git-clone\n  config:\n    repoURL: {}\n    checkout:\n    - branch: main\n      sparse: [apps/a]\n      path: ./out\n- uses: yaml-update\n  config:\n    path: ./out/apps/a/config.yaml\n    updates:\n    - key: replicas\n      value: 3\n- uses: git-commit\n  config:\n    path: ./out\n    message: promote\n- uses: git-push\n  config:\n    path: ./out\n",
        gitops.url()
    );
    let (vars, steps) = apply(&template);
    let workspace = tempfile::tempdir().unwrap();
    let out = workspace.path().join("out");
    // An earlier run of this promotion pushed its commit, and another stage pushed after it.
    let mut pushed_before = Before {
        index: 3,
        action: Some(|| {
            let git = |dir: &Path, args: &[&str]| {
                let done = std::process::Command::new("git").arg("-C").arg(dir).args(args).output().unwrap();
                assert!(done.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&done.stderr));
            };
            git(&out, &["push", "-q", "origin", "main"]);
            // The clone `Repo` commits from takes that commit first.
            git(&dir.path().join("gitops-work"), &["pull", "-q", "--ff-only", "origin", "main"]);
            gitops.commit("apps/b/config.yaml", "app: b\nreplicas: 2\n", "another stage");
            gitops.commit("values.yaml", "image:\n  tag: v0.0.3\n", "a root file");
        }),
    };
    let run = EngineRun { vars: &vars, ..EngineRun::new(&freight) };
    let outcome = run.run_observed(workspace.path(), &steps, &mut pushed_before).unwrap();
    let log = gitops.log("main");
    assert_eq!(log.len(), 8, "nothing pushed again: {log:#?}");
    assert_eq!(outcome.commit, log[2].id, "the promotion's commit, pushed earlier, is reported");
    assert_eq!(std::fs::read_to_string(out.join("values.yaml")).unwrap(), "image:\n  tag: v0.0.3\n");
    assert!(!out.join("apps/b").exists(), "outside the cone was written");
    let repo = git2::Repository::open(&out).unwrap();
    assert_eq!(repo.index().unwrap().write_tree().unwrap().to_string(), gitops.rev("main^{tree}"));
}

#[test]
fn a_blobless_clone_over_http_answers_with_its_credential_and_never_shows_it() {
    let root = tempfile::tempdir().unwrap();
    let gitops = gitops_repo(root.path(), "gitops");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let base = runtime.block_on(lading_tests::git_http::serve(root.path(), "bot", "s3cret-token"));
    let url = format!("{base}/gitops.git");
    let freight = Freight::from_warehouse("app").with_commit(&url, &gitops.rev("main"));
    let credentials = |password: &str| {
        GitCredentials::parse(&format!("- {{repoURL: '{base}', username: bot, password: {password}}}")).unwrap()
    };
    let workspace = tempfile::tempdir().unwrap();
    let run = EngineRun { credentials: credentials("s3cret-token"), ..EngineRun::new(&freight) };
    run_with(run, workspace.path(), &promotion(&url, "    blobless: true\n")).unwrap();
    assert_eq!(gitops.show("main", "values.yaml"), "image:\n  tag: v1.0.0");
    assert!(!holds(&workspace.path().join("out"), &blob_id("only in history\n")));
    // No file of the clone holds the credential.
    let config = std::fs::read_to_string(workspace.path().join("out/.git/config")).unwrap();
    assert!(!config.contains("s3cret-token"), "{config}");

    // A redirect is not followed: the credential goes to the remote's host alone.
    let redirector = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let target = base.clone();
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
            let to = format!("{target}{}", uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
            async move { axum::response::Redirect::permanent(&to) }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    });
    let moved = format!("{redirector}/gitops.git");
    let all_hosts = GitCredentials::parse(&format!(
        "- {{repoURL: '{base}', username: bot, password: s3cret-token}}\n- {{repoURL: '{redirector}', username: bot, password: s3cret-token}}"
    ))
    .unwrap();
    let workspace = tempfile::tempdir().unwrap();
    let run = EngineRun { credentials: all_hosts, ..EngineRun::new(&freight) };
    let error = run_with(run, workspace.path(), &promotion(&moved, "    blobless: true\n")).unwrap_err().to_string();
    assert!(error.contains(&format!("fetching {redirector}/gitops.git")) && error.contains("308"), "{error}");

    let workspace = tempfile::tempdir().unwrap();
    let run = EngineRun { credentials: credentials("wr0ng-s3cret"), ..EngineRun::new(&freight) };
    let error = run_with(run, workspace.path(), &promotion(&url, "    blobless: true\n")).unwrap_err().to_string();
    assert!(error.contains("fetching http://127.0.0.1:"), "{error}");
    assert!(!error.contains("wr0ng-s3cret"), "{error}");
}

#[test]
fn a_blobless_clone_keeps_symlinks_inside_the_workspace() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("values.yaml"), "secret: canary\n").unwrap();
    let gitops = gitops_repo(root.path(), "gitops");
    gitops.commit_symlink("escape", outside.path(), "a symlink to an outside directory");
    let freight = Freight::from_warehouse("app").with_commit(&gitops.url(), &gitops.rev("main"));
    let template =
        promotion(&gitops.url(), "    blobless: true\n").replace("./out/values.yaml", "./out/escape/values.yaml");
    let workspace = tempfile::tempdir().unwrap();
    let error = run_with(EngineRun::new(&freight), workspace.path(), &template).unwrap_err().to_string();
    assert!(error.contains("leads outside the promotion's workspace"), "{error}");
    assert!(!error.contains("canary"), "{error}");
    assert_eq!(std::fs::read_to_string(outside.path().join("values.yaml")).unwrap(), "secret: canary\n");
    assert_eq!(gitops.log("main")[0].message, "a symlink to an outside directory", "nothing was pushed");
}

#[test]
fn blobless_must_be_a_boolean() {
    let error = refused("steps:\n- uses: git-clone\n  config:\n    repoURL: r\n    blobless: 'yes'\n");
    assert!(error.contains("config.blobless: must be a boolean"), "{error}");
}

#[test]
fn a_blobless_clone_keeps_to_the_git_budget_and_the_transports_libgit2_speaks() {
    let dir = tempfile::tempdir().unwrap();
    let gitops = gitops_repo(dir.path(), "gitops");
    let freight = Freight::from_warehouse("app").with_commit(&gitops.url(), &gitops.rev("main"));
    let template = promotion(&gitops.url(), "    blobless: true\n");
    let failed = |budgets: RemoteBudgets| {
        let workspace = tempfile::tempdir().unwrap();
        run_with(EngineRun { budgets, ..EngineRun::new(&freight) }, workspace.path(), &template)
            .unwrap_err()
            .to_string()
    };
    let mut short = RemoteBudgets::default();
    short.git.timeouts.total = Limit::new(Duration::ZERO, GIT_TIMEOUT_ENV);
    let error = failed(short);
    assert!(error.contains("fetching file://") && error.contains("(LADING_GIT_TIMEOUT)"), "{error}");
    let mut small = RemoteBudgets::default();
    small.git.max_transfer = Limit::new(100, GIT_MAX_TRANSFER_ENV);
    let error = failed(small);
    assert!(error.contains("larger than 100 B (LADING_GIT_MAX_TRANSFER_BYTES)"), "{error}");
    // ssh (which libgit2 does not speak here) is refused before any connection.
    let workspace = tempfile::tempdir().unwrap();
    let ssh = promotion("ssh://git@127.0.0.1:9/gitops.git", "    blobless: true\n");
    let error = run_with(EngineRun::new(&freight), workspace.path(), &ssh).unwrap_err().to_string();
    assert!(error.contains("transport 'ssh' not allowed"), "{error}");
}

#[test]
fn a_blobless_clone_checks_out_the_default_branch_a_commit_or_a_branch_to_create() {
    let dir = tempfile::tempdir().unwrap();
    let gitops = gitops_repo(dir.path(), "gitops");
    let first = gitops.rev("main~4");
    let freight = Freight::from_warehouse("app").with_commit(&gitops.url(), &first);
    let template = format!(
        "steps:\n- uses: git-clone\n  as: clone\n  config:\n    repoURL: {}\n    blobless: true\n    checkout:\n    - path: ./default\n    - commit: {first}\n      path: ./first\n    - branch: stage/test\n      create: true\n      path: ./stage\n",
        gitops.url()
    );
    let workspace = tempfile::tempdir().unwrap();
    let outcome = run_with(EngineRun::new(&freight), workspace.path(), &template).unwrap();
    assert_eq!(std::fs::read_dir(workspace.path().join("stage")).unwrap().count(), 1, "only .git");
    assert_eq!(
        outcome.outputs["clone"],
        json!({"commits": {"./default": gitops.rev("main"), "./first": first, "./stage": ""}})
    );
    // Each clone holds the blobs of its checkout, and no others.
    assert!(holds(&workspace.path().join("first"), &blob_id("image:\n  tag: v0.0.1\n")));
    assert!(!holds(&workspace.path().join("first"), &blob_id("app: a\n")));
    assert!(holds(&workspace.path().join("default"), &blob_id("app: a\n")));
    assert!(!holds(&workspace.path().join("default"), &blob_id("image:\n  tag: v0.0.1\n")));
}

#[test]
fn kargos_blobless_sparse_example_checks_out_only_the_cones_of_both_checkouts() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Repo::create(dir.path(), "repo");
    repo.allow_partial_clones();
    for (file, content) in [
        ("charts/my-app/values.yaml", "replicas: 1\n"),
        ("configs/common/settings.yaml", "common: true\n"),
        ("configs/prod/settings.yaml", "prod: true\n"),
        ("stages/test/kustomization.yaml", "resources: []\n"),
    ] {
        repo.commit(file, content, &format!("add {file}"));
    }
    let freight = Freight::from_warehouse("app").with_commit(&repo.url(), &repo.rev("main"));
    // Kargo's example, as printed but for the URL.
    let example = format!(
        "vars:\n- name: gitRepo\n  value: {}\nsteps:\n- uses: git-clone\n  config:\n    repoURL: ${{{{ vars.gitRepo }}}}\n    blobless: true\n    checkout:\n    - commit: ${{{{ commitFrom(vars.gitRepo).ID }}}}\n      path: ./src\n      sparse:\n      - charts/my-app\n      - configs/common\n    - branch: stage/${{{{ ctx.stage }}}}\n      create: true\n      path: ./out\n      sparse:\n      - stages/${{{{ ctx.stage }}}}\n# Work with the sparse checkouts...\n- uses: yaml-update\n  config:\n    path: ./src/charts/my-app/values.yaml\n    updates:\n    - key: replicas\n      value: 3\n",
        repo.url()
    );
    let workspace = tempfile::tempdir().unwrap();
    run_with(EngineRun::new(&freight), workspace.path(), &example).unwrap();
    let src = workspace.path().join("src");
    assert_eq!(std::fs::read_to_string(src.join("charts/my-app/values.yaml")).unwrap(), "replicas: 3\n");
    assert!(holds(&src, &blob_id("common: true\n")), "a blob in the cone");
    assert!(!holds(&src, &blob_id("prod: true\n")), "a blob outside the cone was fetched");
    assert!(!src.join("configs/prod").exists());
    assert!(workspace.path().join("out").is_dir());
}
