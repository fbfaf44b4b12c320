//! Spec changes are decided like events: a stage added after its freight exists, or a
//! policy turned on later, is auto-promoted without waiting for newer freight.

use std::time::{Duration, Instant};

use lading_tests::git::Repo;
use lading_tests::sandbox::{Sandbox, quickstart};

const TIMEOUT: Duration = Duration::from_secs(60);

fn late_stage(gitops: &str, app: &str, auto: bool) -> String {
    format!(
        r#"apiVersion: lading.dev/v1alpha1
kind: ProjectConfig
metadata:
  name: demo
  namespace: demo
spec:
  promotionPolicies:
  - stageSelector: {{name: test}}
    autoPromotionEnabled: true
  - stageSelector: {{name: uat}}
    autoPromotionEnabled: true
  - stageSelector: {{name: late}}
    autoPromotionEnabled: {auto}
---
apiVersion: lading.dev/v1alpha1
kind: Stage
metadata:
  name: late
  namespace: demo
spec:
  requestedFreight:
  - origin: {{kind: Warehouse, name: app}}
    sources: {{direct: true}}
  promotionTemplate:
    spec:
      steps:
      - uses: git-clone
        config:
          repoURL: {gitops}
          checkout: [{{branch: stage/late, create: true, path: ./out}}]
      - uses: yaml-update
        config:
          path: ./out/values.yaml
          updates: [{{key: app.commit, value: "${{{{ commitFrom('{app}').ID }}}}"}}]
      - uses: git-commit
        config: {{path: ./out, message: late}}
      - uses: git-push
        config: {{path: ./out}}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stage_created_after_its_freight_exists_is_promoted_at_once() {
    let sandbox = Sandbox::start(1).await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let commit = app.commit("app.txt", "v1", "first");
    sandbox.apply(&quickstart(&app.url(), &gitops.url(), "1h")).await;
    // The last event the pipeline makes: nothing after it would decide again.
    sandbox.wait_verified_in("demo", &commit, "uat", TIMEOUT).await;

    // Given freight that exists already, when a stage taking it is applied,
    let applied = Instant::now();
    sandbox.apply(&late_stage(&gitops.url(), &app.url(), true)).await;
    // then it is promoted without newer freight appearing.
    sandbox.wait_current_in("demo", &commit, "late", TIMEOUT).await;
    eprintln!("late stage promoted {} ms after it was applied", applied.elapsed().as_millis());
    assert!(gitops.show("stage/late", "values.yaml").contains(&commit));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn turning_auto_promotion_on_later_promotes_the_newest_available_freight() {
    let sandbox = Sandbox::start(1).await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let commit = app.commit("app.txt", "v1", "first");
    sandbox.apply(&quickstart(&app.url(), &gitops.url(), "1h")).await;
    // Given a stage whose policy is off while its freight appears,
    sandbox.apply(&late_stage(&gitops.url(), &app.url(), false)).await;
    sandbox.wait_current_in("demo", &commit, "uat", TIMEOUT).await;
    let (_, stages) = sandbox.get("/api/v1/projects/demo/stages").await;
    let late = stages["items"].as_array().unwrap().iter().find(|s| s["metadata"]["name"] == "late").unwrap().clone();
    assert!(late["status"].get("currentFreight").is_none(), "off means not promoted: {late}");
    // when the policy is turned on, then the freight is promoted.
    sandbox.apply(&late_stage(&gitops.url(), &app.url(), true)).await;
    sandbox.wait_current_in("demo", &commit, "late", TIMEOUT).await;
}
