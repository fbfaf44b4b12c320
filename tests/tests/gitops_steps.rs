//! GitOps steps against real repositories and the real `kubectl kustomize`: image and
//! chart edits that change only their lines, rendering, pushing over a concurrent
//! commit, and a pipeline shaped like Kargo's quickstart; Helm's chart dependencies in
//! `helm`.

use std::path::Path;

use lading_domain::Freight;
use lading_domain::spec::PromotionStep;
use lading_promoter::engine::{PromotionError, PromotionOutcome};
use lading_promoter::steps::{GitCredentials, RemoteBudgets};
use lading_tests::chart_repo::{ChartArchives, StreamedChart, helm_dependency_update, push_chart};
use lading_tests::engine_run::EngineRun;
use lading_tests::git::Repo;
use lading_tests::registry::TestRegistry;
use serde_json::json;

#[path = "gitops_steps/helm.rs"]
mod helm;

fn step(uses: &str, config: serde_json::Value) -> PromotionStep {
    PromotionStep { uses: uses.into(), config: Some(config), ..Default::default() }
}

fn freight() -> Freight {
    Freight::from_warehouse("app").with_image("ghcr.io/example/guestbook", "v0.2.0", "sha256:1111").with_chart(
        "oci://ghcr.io/example/charts",
        "redis",
        "19.1.0",
    )
}

fn run(workspace: &Path, promotion: &str, steps: &[PromotionStep]) -> Result<PromotionOutcome, PromotionError> {
    let freight = freight();
    EngineRun { promotion, ..EngineRun::new(&freight) }.run(workspace, steps)
}

const KUSTOMIZATION: &str = "\
# Base for every stage.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- deploy.yaml
images:
  - name: ghcr.io/example/guestbook   # the app
    newTag: v0.1.0
  - name: redis
    newTag: \"7.2\"
";

const DEPLOY: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: guestbook
spec:
  template:
    spec:
      containers:
      - name: app
        image: ghcr.io/example/guestbook
";

#[test]
fn kustomize_set_image_changes_only_the_image_lines() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("kustomization.yaml"), KUSTOMIZATION).unwrap();
    let outcome = run(
        dir.path(),
        "p",
        &[PromotionStep {
            alias: Some("images".into()),
            ..step(
                "kustomize-set-image",
                json!({"path": ".", "images": [
                    {"image": "ghcr.io/example/guestbook"},
                    {"image": "busybox", "tag": "1.36"},
                ]}),
            )
        }],
    )
    .unwrap();
    let after = std::fs::read_to_string(dir.path().join("kustomization.yaml")).unwrap();
    let expected_head = KUSTOMIZATION.replace("newTag: v0.1.0", "newTag: v0.2.0");
    assert!(after.starts_with(&expected_head), "{after}");
    let appended: serde_json::Value = serde_saphyr::from_str(&after).unwrap();
    assert_eq!(appended["images"][2], json!({"name": "busybox", "newTag": "1.36"}), "{after}");
    assert!(outcome.outputs["images"]["commitMessage"].as_str().unwrap().contains("ghcr.io/example/guestbook:v0.2.0"));
    let missing =
        run(dir.path(), "p", &[step("kustomize-set-image", json!({"path": ".", "images": [{"image": "unknown"}]}))])
            .unwrap_err();
    assert!(missing.to_string().contains("the freight has no image \"unknown\""), "{missing}");
}

#[test]
fn kustomize_build_renders_to_a_file_or_one_file_per_resource() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("base")).unwrap();
    std::fs::write(dir.path().join("base/kustomization.yaml"), KUSTOMIZATION).unwrap();
    std::fs::write(dir.path().join("base/deploy.yaml"), DEPLOY).unwrap();
    run(
        dir.path(),
        "p",
        &[
            step("kustomize-build", json!({"path": "base", "outPath": "out/all.yaml"})),
            step("kustomize-build", json!({"path": "base", "outPath": "split"})),
        ],
    )
    .unwrap();
    let all = std::fs::read_to_string(dir.path().join("out/all.yaml")).unwrap();
    assert!(all.contains("image: ghcr.io/example/guestbook:v0.1.0"), "{all}");
    assert!(dir.path().join("split/deployment-guestbook.yaml").is_file());
}

#[test]
fn git_push_rebases_over_a_concurrent_commit() {
    let root = tempfile::tempdir().unwrap();
    let gitops = Repo::create(root.path(), "gitops");
    gitops.commit("README.md", "gitops\n", "start");
    let dir = tempfile::tempdir().unwrap();
    let prepare = [
        step("git-clone", json!({"repoURL": gitops.url(), "checkout": [{"branch": "main", "path": "./out"}]})),
        step("file-write", json!({"path": "./out/test/values.yaml", "contents": "tag: v2\n"})),
        step("git-commit", json!({"path": "./out", "message": "promote to test"})),
    ];
    run(dir.path(), "test.01.aaaaaaa", &prepare).unwrap();
    // Meanwhile another stage pushed to the same branch.
    gitops.commit("uat/values.yaml", "tag: v1\n", "promote to uat");
    let refused = run(dir.path(), "test.01.aaaaaaa", &[step("git-push", json!({"path": "./out", "maxAttempts": 1}))]);
    let refused = refused.unwrap_err().to_string();
    assert!(refused.contains("after 1 attempt"), "{refused}");
    let pushed = run(dir.path(), "test.01.aaaaaaa", &[step("git-push", json!({"path": "./out"}))]).unwrap();
    let log = gitops.log("main");
    assert_eq!(log.len(), 3, "{log:#?}");
    assert_eq!(log[0].id, pushed.commit, "the promotion's (rebased) commit is reported");
    assert!(log[0].message.contains("Lading-Promotion: test.01.aaaaaaa"));
    assert_eq!(gitops.show("main", "uat/values.yaml"), "tag: v1");
    assert_eq!(gitops.show("main", "test/values.yaml"), "tag: v2");
}

#[test]
fn git_push_refuses_to_rebase_over_an_uncommitted_change_to_a_path_the_remote_changed() {
    let root = tempfile::tempdir().unwrap();
    let gitops = Repo::create(root.path(), "gitops");
    gitops.commit("README.md", "gitops\n", "start");
    let dir = tempfile::tempdir().unwrap();
    let prepare = [
        step("git-clone", json!({"repoURL": gitops.url(), "checkout": [{"branch": "main", "path": "./out"}]})),
        step("file-write", json!({"path": "./out/test/values.yaml", "contents": "tag: v2\n"})),
        step("git-commit", json!({"path": "./out", "message": "promote to test"})),
        // Written after the commit: not part of the promotion's commit.
        step("file-write", json!({"path": "./out/README.md", "contents": "edited here\n", "overwrite": true})),
    ];
    run(dir.path(), "test.01.aaaaaaa", &prepare).unwrap();
    gitops.commit("README.md", "edited upstream\n", "another stage");
    let error = run(dir.path(), "test.01.aaaaaaa", &[step("git-push", json!({"path": "./out"}))]).unwrap_err();
    let error = error.to_string();
    assert!(error.contains("moving the working tree to the rebased branch"), "{error}");
    assert_eq!(std::fs::read_to_string(dir.path().join("out/README.md")).unwrap(), "edited here\n");
    assert_eq!(gitops.log("main").len(), 2, "nothing was pushed");
}

#[test]
fn generate_target_branch_pushes_to_a_branch_named_after_the_promotion() {
    let root = tempfile::tempdir().unwrap();
    let gitops = Repo::create(root.path(), "gitops");
    gitops.commit("README.md", "gitops\n", "start");
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(
        dir.path(),
        "uat.01.bbbbbbb",
        &[
            step("git-clone", json!({"repoURL": gitops.url(), "checkout": [{"branch": "main", "path": "./out"}]})),
            step("file-write", json!({"path": "./out/uat.yaml", "contents": "x: 1\n"})),
            step("git-commit", json!({"path": "./out", "message": "for review"})),
            PromotionStep {
                alias: Some("push".into()),
                ..step("git-push", json!({"path": "./out", "generateTargetBranch": true}))
            },
        ],
    )
    .unwrap();
    assert_eq!(outcome.outputs["push"]["branch"], "lading/promotion/uat.01.bbbbbbb");
    assert_eq!(gitops.log("lading/promotion/uat.01.bbbbbbb").len(), 2);
    assert_eq!(gitops.log("main").len(), 1, "main is untouched");
}

#[test]
fn a_quickstart_shaped_pipeline_renders_the_stage_branch() {
    let root = tempfile::tempdir().unwrap();
    let gitops = Repo::create(root.path(), "gitops");
    gitops.commit("base/kustomization.yaml", KUSTOMIZATION, "base");
    gitops.commit("base/deploy.yaml", DEPLOY, "deploy");
    let dir = tempfile::tempdir().unwrap();
    run(
        dir.path(),
        "test.01.ccccccc",
        &[
            step(
                "git-clone",
                json!({"repoURL": gitops.url(), "checkout": [
                    {"branch": "main", "path": "./src"},
                    {"branch": "stage/${{ ctx.stage }}", "create": true, "path": "./out"},
                ]}),
            ),
            step("git-clear", json!({"path": "./out"})),
            step(
                "kustomize-set-image",
                json!({"path": "./src/base", "images": [{"image": "ghcr.io/example/guestbook"}]}),
            ),
            step("kustomize-build", json!({"path": "./src/base", "outPath": "./out/manifests.yaml"})),
            step("git-commit", json!({"path": "./out", "message": "render ${{ ctx.stage }}"})),
            step("git-push", json!({"path": "./out"})),
        ],
    )
    .unwrap();
    let rendered = gitops.show("stage/test", "manifests.yaml");
    assert!(rendered.contains("image: ghcr.io/example/guestbook:v0.2.0"), "{rendered}");
    assert_eq!(gitops.log("stage/test").len(), 1, "an orphan branch with one commit");
    assert_eq!(gitops.log("main").len(), 2, "the source branch is untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clone_and_push_over_authenticated_http_with_configured_credentials() {
    let root = tempfile::tempdir().unwrap();
    let gitops = Repo::create(root.path(), "gitops");
    gitops.commit("README.md", "gitops\n", "start");
    let base = lading_tests::git_http::serve(root.path(), "bot", "s3cret-token").await;
    let url = format!("{base}/gitops.git");
    let steps = vec![
        step("git-clone", json!({"repoURL": url, "checkout": [{"branch": "main", "path": "./out"}]})),
        step("file-write", json!({"path": "./out/values.yaml", "contents": "tag: v2\n"})),
        step("git-commit", json!({"path": "./out", "message": "over http"})),
        step("git-push", json!({"path": "./out"})),
    ];
    let run_with = |credentials: lading_promoter::steps::GitCredentials| {
        let steps = steps.clone();
        tokio::task::spawn_blocking(move || {
            let workspace = tempfile::tempdir().unwrap();
            let freight = freight();
            let run = EngineRun { promotion: "test.01.http", credentials, ..EngineRun::new(&freight) };
            run.run(workspace.path(), &steps).map_err(|e| e.to_string())
        })
    };
    let refused = run_with(Default::default()).await.unwrap().unwrap_err();
    assert!(refused.contains("none are configured"), "{refused}");
    assert!(!refused.contains("s3cret"), "no secret in errors");
    let wrong = lading_promoter::steps::GitCredentials::parse(&format!(
        "- {{repoURL: '{base}', username: bot, password: nope}}"
    ))
    .unwrap();
    let refused = run_with(wrong).await.unwrap().unwrap_err();
    assert!(refused.contains("refused the configured credentials") && !refused.contains("nope"), "{refused}");
    let right = lading_promoter::steps::GitCredentials::parse(&format!(
        "- {{repoURL: '{base}/', username: bot, password: s3cret-token}}"
    ))
    .unwrap();
    run_with(right).await.unwrap().unwrap();
    assert_eq!(gitops.show("main", "values.yaml"), "tag: v2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insecure_skip_tls_verify_clones_and_pushes_where_the_certificate_is_not_trusted() {
    let root = tempfile::tempdir().unwrap();
    let gitops = Repo::create(root.path(), "gitops");
    gitops.commit("README.md", "gitops\n", "start");
    gitops.allow_partial_clones();
    let base = lading_tests::git_http::serve_tls(root.path(), "bot", "s3cret-token").await;
    let url = format!("{base}/gitops.git");
    let credentials = lading_promoter::steps::GitCredentials::parse(&format!(
        "- {{repoURL: '{base}/', username: bot, password: s3cret-token}}"
    ))
    .unwrap();
    // A clone (straight, through the replica's mirrors, or blobless) then a push.
    let run = |clone: serde_json::Value, mirrors: bool, n: usize| {
        let mut clone = clone;
        clone["repoURL"] = json!(url);
        clone["checkout"] = json!([{"branch": "main", "path": "./out"}]);
        let steps = vec![
            step("git-clone", clone),
            step(
                "file-write",
                json!({"path": "./out/values.yaml", "contents": format!("tag: v{n}\n"), "overwrite": true}),
            ),
            step("git-commit", json!({"path": "./out", "message": format!("over https {n}")})),
            step("git-push", json!({"path": "./out"})),
        ];
        let credentials = credentials.clone();
        tokio::task::spawn_blocking(move || {
            let workspace = tempfile::tempdir().unwrap();
            let mirror_dir = tempfile::tempdir().unwrap();
            let freight = freight();
            let promotion = format!("test.01.https{n}");
            let run = EngineRun {
                promotion: &promotion,
                credentials,
                mirrors: mirrors.then_some(mirror_dir.path()),
                ..EngineRun::new(&freight)
            };
            run.run(workspace.path(), &steps).map_err(|e| e.to_string())
        })
    };
    // Without the field, the certificate is checked and refused.
    let refused = run(json!({}), false, 0).await.unwrap().unwrap_err();
    assert!(refused.to_lowercase().contains("certificate"), "{refused}");
    for (n, (clone, mirrors)) in [
        (json!({"insecureSkipTLSVerify": true}), false),
        (json!({"insecureSkipTLSVerify": true}), true),
        (json!({"insecureSkipTLSVerify": true, "blobless": true}), false),
    ]
    .into_iter()
    .enumerate()
    {
        run(clone.clone(), mirrors, n + 1).await.unwrap().unwrap_or_else(|e| panic!("{clone} mirrors {mirrors}: {e}"));
        assert_eq!(gitops.show("main", "values.yaml"), format!("tag: v{}", n + 1), "{clone} mirrors {mirrors}");
    }
}

#[test]
fn clones_through_a_mirror_see_what_the_remote_has_now() {
    let root = tempfile::tempdir().unwrap();
    let gitops = Repo::create(root.path(), "gitops");
    gitops.commit("one.txt", "1", "one");
    let mirrors = root.path().join("mirrors");
    let clone_and_list = |tag: Option<&str>| {
        let workspace = tempfile::tempdir().unwrap();
        let freight = freight();
        let checkout = match tag {
            Some(tag) => json!([{"tag": tag, "path": "./out"}]),
            None => json!([{"path": "./out"}]),
        };
        // A lazy working tree writes its files when a step reads them: this one reads them all.
        let steps = [
            step("git-clone", json!({"repoURL": gitops.url(), "checkout": checkout})),
            step("tar", json!({"inPath": "./out", "outPath": "./out.tar"})),
        ];
        EngineRun { mirrors: Some(&mirrors), ..EngineRun::new(&freight) }.run(workspace.path(), &steps).unwrap();
        let mut files: Vec<String> = std::fs::read_dir(workspace.path().join("out"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|f| f != ".git")
            .collect();
        files.sort();
        let origin = std::process::Command::new("git")
            .args(["remote", "get-url", "origin"])
            .current_dir(workspace.path().join("out"))
            .output()
            .unwrap();
        let origin = String::from_utf8_lossy(&origin.stdout).trim().to_owned();
        (files, origin)
    };
    let (first, origin) = clone_and_list(None);
    assert_eq!(first, vec!["one.txt"]);
    assert_eq!(origin, gitops.url(), "pushes go to the remote, not the mirror");
    gitops.commit("two.txt", "2", "two");
    std::process::Command::new("git").args(["tag", "v1"]).current_dir(root.path().join("gitops.git")).status().unwrap();
    assert_eq!(clone_and_list(None).0, vec!["one.txt", "two.txt"], "the mirror fetched the new commit");
    assert_eq!(clone_and_list(Some("v1")).0, vec!["one.txt", "two.txt"], "and the new tag");
}

#[test]
fn git_clone_from_freight_checks_out_the_freights_commit_of_the_origin_named() {
    let root = tempfile::tempdir().unwrap();
    let app = Repo::create(root.path(), "app");
    let released = app.commit("version.txt", "1", "release");
    let hotfixed = app.commit("version.txt", "1-hotfix", "hotfix");
    app.commit("version.txt", "2-dev", "newer, in no freight");
    // The promoted freight (warehouse `app`) and what the stage holds from `hotfix`.
    let target = Freight::from_warehouse("app").with_commit(&app.url(), &released);
    let hotfix = Freight::from_warehouse("hotfix").with_commit(&app.url(), &hotfixed);
    let clone = |checkout: serde_json::Value, origins: &[Freight]| {
        let workspace = tempfile::tempdir().unwrap();
        let steps = [
            step("git-clone", json!({"repoURL": app.url(), "checkout": [checkout]})),
            step("tar", json!({"inPath": "./out", "outPath": "./out.tar"})),
        ];
        let run = EngineRun { origins: Some(origins), ..EngineRun::new(&target) }.run(workspace.path(), &steps);
        run.map(|outcome| {
            let version = std::fs::read_to_string(workspace.path().join("out/version.txt")).unwrap();
            (version, outcome.outputs.len())
        })
        .map_err(|e| e.to_string())
    };
    let alone = std::slice::from_ref(&target);
    let both = [target.clone(), hotfix.clone()];
    // One origin: the freight's commit, not the branch's head.
    assert_eq!(clone(json!({"fromFreight": true, "path": "./out"}), alone).unwrap().0, "1");
    // fromOrigin picks the warehouse whose freight's commit is checked out (Kargo v1.0).
    let from = |origin: &str| json!({"fromFreight": true, "fromOrigin": {"kind": "Warehouse", "name": origin}, "path": "./out"});
    assert_eq!(clone(from("hotfix"), &both).unwrap().0, "1-hotfix");
    assert_eq!(clone(from("app"), &both).unwrap().0, "1");
    // Two origins with a commit from the repository and none named: refused, saying how.
    let error = clone(json!({"fromFreight": true, "path": "./out"}), &both).unwrap_err();
    assert!(error.contains("config.checkout[0].fromFreight") && error.contains("fromOrigin"), "{error}");
    let error = clone(from("nowhere"), &both).unwrap_err();
    assert!(error.contains("no freight from Warehouse \"nowhere\""), "{error}");
    // fromOrigin alone, or with a branch, is refused.
    let error = clone(json!({"fromOrigin": {"kind": "Warehouse", "name": "app"}, "path": "./out"}), alone).unwrap_err();
    assert!(error.contains("fromOrigin: only with fromFreight"), "{error}");
    let error = clone(json!({"fromFreight": true, "branch": "main", "path": "./out"}), alone).unwrap_err();
    assert!(error.contains("set only one of branch, commit, tag or fromFreight"), "{error}");
}
