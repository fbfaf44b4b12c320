//! Stages running PromotionTasks and ClusterPromotionTasks end to end.

use std::time::Duration;

use lading_tests::git::Repo;
use lading_tests::sandbox::{Sandbox, quickstart};

const TIMEOUT: Duration = Duration::from_secs(60);

/// The quickstart, with each stage's steps moved into a task of `kind`.
fn with_task(app: &str, gitops: &str, kind: &str) -> String {
    let base = quickstart(app, gitops, "1h");
    let task_namespace = if kind == "PromotionTask" { "\n  namespace: demo" } else { "" };
    let task = format!(
        "---\napiVersion: lading.dev/v1alpha1\nkind: {kind}\nmetadata:\n  name: promote{task_namespace}\nspec:\n  vars:\n  - name: gitopsRepo\n  - name: appRepo\n  steps:\n  - uses: git-clone\n    config:\n      repoURL: ${{{{ vars.gitopsRepo }}}}\n      checkout:\n      - branch: stage/${{{{ ctx.stage }}}}\n        create: true\n        path: ./out\n  - uses: yaml-update\n    config:\n      path: ./out/values.yaml\n      updates:\n      - key: app.commit\n        value: ${{{{ commitFrom(vars.appRepo).ID }}}}\n  - uses: git-commit\n    as: commit\n    config:\n      path: ./out\n      message: promote ${{{{ commitFrom(vars.appRepo).ID }}}}\n  - uses: file-write\n    config:\n      path: ./committed.txt\n      contents: ${{{{ task.outputs.commit.commit }}}}\n  - uses: git-push\n    config:\n      path: ./out\n"
    );
    // Replace each stage's inline steps with one task step.
    let mut out = String::new();
    for document in base.split("\n---\n") {
        if document.contains("kind: Stage") {
            let head = &document[..document.find("  promotionTemplate:").unwrap()];
            out.push_str(head);
            out.push_str(&format!(
                "  promotionTemplate:\n    spec:\n      steps:\n      - task:\n          name: promote\n          kind: {kind}\n        as: deploy\n        vars:\n        - name: gitopsRepo\n          value: {gitops}\n        - name: appRepo\n          value: {app}\n"
            ));
        } else {
            out.push_str(document);
            out.push('\n');
        }
        out.push_str("---\n");
    }
    out + &task[4..]
}

async fn promotes_through_a(kind: &str) {
    let sandbox = Sandbox::start(1).await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let commit = app.commit("app.txt", "v1", "first");
    sandbox.apply(&with_task(&app.url(), &gitops.url(), kind)).await;
    sandbox.wait_current_in("demo", &commit, "uat", TIMEOUT).await;
    for stage in ["test", "uat"] {
        assert!(gitops.show(&format!("stage/{stage}"), "values.yaml").contains(&commit));
        assert_eq!(gitops.log(&format!("stage/{stage}")).len(), 1);
    }
    let (_, stages) = sandbox.get("/api/v1/projects/demo/stages").await;
    let test = stages["items"].as_array().unwrap().iter().find(|s| s["metadata"]["name"] == "test").unwrap().clone();
    let steps = test["status"]["lastPromotion"]["status"]["stepExecutionMetadata"].as_array().unwrap().clone();
    let aliases: Vec<&str> = steps.iter().map(|s| s["alias"].as_str().unwrap()).collect();
    assert_eq!(aliases, vec!["deploy::step-0", "deploy::step-1", "deploy::commit", "deploy::step-3", "deploy::step-4"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stage_promotes_through_a_promotion_task() {
    promotes_through_a("PromotionTask").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stage_promotes_through_a_cluster_promotion_task() {
    promotes_through_a("ClusterPromotionTask").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_missing_task_errors_the_promotion_with_its_name() {
    let sandbox = Sandbox::start(1).await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    app.commit("app.txt", "v1", "first");
    let manifests = with_task(&app.url(), &gitops.url(), "PromotionTask");
    let without_task =
        &manifests[..manifests.rfind("---\napiVersion: lading.dev/v1alpha1\nkind: PromotionTask").unwrap()];
    sandbox.apply(without_task).await;
    let message = lading_tests::wait::until("the promotion to error", TIMEOUT, || async {
        let (_, stages) = sandbox.get("/api/v1/projects/demo/stages").await;
        let test = stages["items"].as_array().and_then(|i| i.iter().find(|s| s["metadata"]["name"] == "test").cloned());
        match test.as_ref().map(|t| &t["status"]["lastPromotion"]["status"]) {
            Some(status) if status["phase"] == "Errored" => {
                Ok(status["message"].as_str().unwrap_or_default().to_owned())
            }
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert_eq!(message, "step 0: PromotionTask \"promote\" not found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn set_freight_alias_renames_freight_and_refuses_taken_aliases() {
    let sandbox = Sandbox::start(1).await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let first = app.commit("app.txt", "v1", "first");
    let push = "      - uses: git-push\n        config:\n          path: ./out\n";
    let manifests = quickstart(&app.url(), &gitops.url(), "1h").replacen(
        push,
        &format!("{push}      - uses: set-freight-alias\n        config:\n          newAlias: release\n"),
        1,
    );
    sandbox.apply(&manifests).await;
    sandbox.wait_current_in("demo", &first, "uat", TIMEOUT).await;
    let freight = sandbox.freight("demo").await;
    assert_eq!(freight[0]["alias"], "release");
    assert_eq!(freight[0]["metadata"]["labels"]["lading.dev/alias"], "release");

    // The next freight wants the same alias in test: the step fails and says why.
    app.commit("app.txt", "v2", "second");
    sandbox.refresh("demo", "app").await;
    let message = lading_tests::wait::until("the second promotion into test to fail", TIMEOUT, || async {
        let (_, stages) = sandbox.get("/api/v1/projects/demo/stages").await;
        let test = stages["items"].as_array().and_then(|i| i.iter().find(|s| s["metadata"]["name"] == "test").cloned());
        let last = test.map(|t| t["status"]["lastPromotion"].clone()).unwrap_or_default();
        if last["status"]["phase"] == "Failed" {
            Ok(last["status"]["message"].as_str().unwrap_or_default().to_owned())
        } else {
            Err(last.to_string())
        }
    })
    .await;
    assert!(message.starts_with("step 4 (set-freight-alias): alias \"release\" belongs to freight"), "{message}");
    let items = sandbox.freight("demo").await;
    let renamed: Vec<&str> = items.iter().map(|f| f["alias"].as_str().unwrap()).collect();
    assert_eq!(renamed.iter().filter(|a| **a == "release").count(), 1, "{renamed:?}");
}
