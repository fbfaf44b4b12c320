//! The Argo CD steps alone, through the step engine: `argocd-update` starts one sync
//! per promotion and fails with Argo CD's message or at its timeout; it refuses an
//! Application that does not authorize the stage; `argocd-wait` waits for health.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lading_domain::Freight;
use lading_domain::spec::PromotionStep;
use lading_promoter::engine::{PromotionError, PromotionOutcome};
use lading_tests::argocd::{self, FakeArgoCd, SyncOutcome};
use lading_tests::engine_run::EngineRun;
use lading_tests::kube::TestKube;
use serde_json::{Value, json};

use super::TIMEOUT;

const REPO: &str = "https://git.example.com/team/gitops.git";

fn step(value: Value) -> PromotionStep {
    serde_json::from_value(value).expect("a step")
}

fn update(app: &str) -> PromotionStep {
    step(json!({"uses": "argocd-update", "config": {"apps": [{"name": app, "sources": [{
        "repoURL": REPO, "desiredRevision": "abc123", "updateTargetRevision": true,
        "kustomize": {"images": [{"repoURL": "nginx", "tag": "1.29.1"}]},
    }]}]}, "retry": {"timeout": "30s"}}))
}

/// Runs `steps` as promotion `p1` of stage `demo:test` on a blocking thread.
async fn run(kube: &TestKube, steps: Vec<PromotionStep>) -> Result<PromotionOutcome, PromotionError> {
    let access = argocd::access(kube);
    tokio::task::spawn_blocking(move || {
        let freight = Freight::from_warehouse("app").with_image("nginx", "1.29.1", "sha256:1111");
        let workspace = tempfile::tempdir().unwrap();
        EngineRun { promotion: "p1", argocd: access, ..EngineRun::new(&freight) }.run(workspace.path(), &steps)
    })
    .await
    .unwrap()
}

fn authorized() -> Value {
    json!({"kargo.akuity.io/authorized-stage": "demo:test"})
}

async fn cluster() -> (TestKube, kube::Client, FakeArgoCd) {
    let (kube, client) = argocd::start_cluster().await;
    let argo = FakeArgoCd::start(
        client.clone(),
        Arc::new(|name: &str| match name {
            "failing" => SyncOutcome::Fail("one or more objects failed to apply: deployments.apps is forbidden".into()),
            "stuck" => SyncOutcome::Ignore,
            _ => SyncOutcome::Succeed,
        }),
        Arc::new(|target: &str| target.to_owned()),
    );
    (kube, client, argo)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn argocd_update_syncs_the_application_and_argocd_wait_waits_for_its_health() {
    let (kube, client, argo) = cluster().await;
    argocd::create_application(&client, "guestbook", authorized(), REPO, "stage/test").await;

    let outcome = run(&kube, vec![update("guestbook")]).await.expect("the sync succeeds");
    let operation = argo.wait_for_operation("guestbook", TIMEOUT).await;
    assert_eq!(operation["info"][1], json!({"name": "kargo.akuity.io/promotion", "value": "p1"}));
    assert_eq!(operation["initiatedBy"]["username"], "lading-promoter");
    let app = argocd::read(&client, "guestbook").await;
    assert_eq!(app["spec"]["source"]["targetRevision"], "abc123");
    assert_eq!(app["spec"]["source"]["kustomize"]["images"], json!(["nginx:1.29.1"]));
    assert_eq!(app["status"]["operationState"]["phase"], "Succeeded");
    assert_eq!(outcome.commit, "");

    // Run again (a retried promotion): the finished sync is found, not started twice.
    run(&kube, vec![update("guestbook")]).await.expect("the retry finds its sync");
    assert_eq!(argo.operations.lock().unwrap().len(), 1, "one sync for one promotion");

    // argocd-wait: not ready while Progressing; ready once Healthy.
    let wait =
        step(json!({"uses": "argocd-wait", "config": {"apps": [{"name": "guestbook"}]}, "retry": {"timeout": "1s"}}));
    let error = run(&kube, vec![wait.clone()]).await.unwrap_err().to_string();
    assert!(error.contains("still not done after 1s"), "{error}");
    argo.mark_healthy("guestbook").await;
    let outcome = run(
        &kube,
        vec![step(json!({"uses": "argocd-wait", "as": "wait", "config": {"apps": [{"name": "guestbook"}]}}))],
    )
    .await
    .expect("healthy and synced");
    assert_eq!(outcome.outputs["wait"]["apps"], json!([{"name": "guestbook", "namespace": "argocd"}]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn argocd_update_refuses_unauthorized_apps_fails_with_a_failed_sync_and_stops_at_its_timeout() {
    let (kube, client, _argo) = cluster().await;
    argocd::create_application(
        &client,
        "elsewhere",
        json!({"kargo.akuity.io/authorized-stage": "demo:uat"}),
        REPO,
        "main",
    )
    .await;
    argocd::create_application(&client, "failing", json!({"lading.dev/authorized-stage": "demo:test"}), REPO, "main")
        .await;
    argocd::create_application(&client, "stuck", authorized(), REPO, "main").await;

    // Not authorized for demo:test: refused, and left as it was.
    let error = run(&kube, vec![update("elsewhere")]).await.unwrap_err().to_string();
    assert!(
        error.contains("config.apps[0]: Argo CD Application \"elsewhere\" in namespace \"argocd\" does not authorize stage test of project demo"),
        "{error}"
    );
    let app = argocd::read(&client, "elsewhere").await;
    assert!(app.get("operation").is_none_or(Value::is_null), "no sync was asked for: {app}");
    assert_eq!(app["spec"]["source"]["targetRevision"], "main");

    // Argo CD reports the sync Failed: the step fails with its message.
    let error = run(&kube, vec![update("failing")]).await.unwrap_err().to_string();
    assert!(error.contains("failed to sync: one or more objects failed to apply"), "{error}");

    // Argo CD never answers: the step ends at its retry.timeout, not before.
    let mut stuck = update("stuck");
    stuck.retry = serde_json::from_value(json!({"timeout": "2s"})).unwrap();
    let started = Instant::now();
    let error = run(&kube, vec![stuck]).await.unwrap_err().to_string();
    let took = started.elapsed();
    assert!(error.contains("waiting for Argo CD Application \"stuck\""), "{error}");
    assert!(error.contains("still not done after 2s (the step's retry.timeout)"), "{error}");
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(10), "took {took:?}");
}
