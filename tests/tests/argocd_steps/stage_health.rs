//! A stage's health, with promotions running through `argocd-update`: a stage refresh
//! assesses it at once, a running promotion makes it `Unknown`, and two promoter
//! replicas publish each change once.

use std::time::Duration;

use lading_tests::argocd_quickstart::{Quickstart, QuickstartOptions, condition, health_changes};
use serde_json::{Value, json};

use super::TIMEOUT;

/// Kargo's quickstart without verification, promoters assessing health every `interval`.
fn options(interval: Duration, replicas: usize) -> QuickstartOptions<'static> {
    QuickstartOptions { health_interval: interval, replicas, verification_url: None }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stage_refresh_assesses_health_at_once_and_a_running_promotion_shows_unknown() {
    use std::sync::atomic::Ordering;
    // Health rounds an hour apart: every change below comes from a promotion or a refresh.
    let q = Quickstart::start(options(Duration::from_secs(3600), 1)).await;
    q.promote().await;
    q.wait_for_last_promotion("Succeeded").await;
    assert_eq!(q.stage().await["status"]["health"]["status"], "Progressing");

    // Argo CD says Healthy; a refresh of the stage assesses it now, not in an hour.
    q.argo.mark_healthy("kargo-demo-test").await;
    let (status, body) = q.sandbox.post_json("/api/v1/projects/kargo-demo/stages/test/refresh", &Value::Null).await;
    assert_eq!(status, 202, "{body}");
    assert!(body["requestId"].as_str().is_some_and(|id| !id.is_empty()), "{body}");
    let stage = q.wait_for_health("Healthy").await;
    assert_eq!(condition(&stage, "Healthy")["status"], "True");
    assert_eq!(health_changes(&q.sandbox).await, [(0, "Progressing".to_owned()), (1, "Healthy".to_owned())]);
    // A stage that does not exist is named in a 404.
    let (status, _) = q.sandbox.post_json("/api/v1/projects/kargo-demo/stages/prod/refresh", &Value::Null).await;
    assert_eq!(status, 404);

    // A second promotion waits in argocd-update (Argo CD does not answer): meanwhile the
    // stage's health is Unknown because of it, as in Kargo.
    q.hold.store(true, Ordering::SeqCst);
    q.promote().await;
    let stage = q.wait_for_health("Unknown").await;
    assert_eq!(
        stage["status"]["health"]["issues"],
        json!(["Cannot assess health because a Promotion is currently in progress"])
    );
    assert_eq!(condition(&stage, "Promoting")["reason"], "ActivePromotion", "{}", stage["status"]["conditions"]);
    let healthy = condition(&stage, "Healthy");
    assert_eq!((healthy["status"].as_str(), healthy["reason"].as_str()), (Some("Unknown"), Some("ActivePromotion")));
    // A refresh while it runs assesses nothing and publishes nothing.
    let (status, _) = q.sandbox.post_json("/api/v1/projects/kargo-demo/stages/test/refresh", &Value::Null).await;
    assert_eq!(status, 202);

    // Argo CD answers: the promotion succeeds and the stage has the health it left.
    q.hold.store(false, Ordering::SeqCst);
    let stage = lading_tests::wait::until("the second promotion to succeed", TIMEOUT, || async {
        let test = q.stage().await;
        let promotions = test["status"]["promotions"].as_array().cloned().unwrap_or_default();
        let succeeded = promotions.iter().filter(|p| p["status"]["phase"] == "Succeeded").count();
        if succeeded == 2 { Ok(test) } else { Err(format!("{succeeded} succeeded")) }
    })
    .await;
    assert_eq!(stage["status"]["health"]["status"], "Progressing", "{}", stage["status"]["health"]);
    let changes = health_changes(&q.sandbox).await;
    assert_eq!(changes.len(), 3, "{changes:?}");
    assert_eq!(changes[2], (0, "Progressing".to_owned()), "the second promotion's first health");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_promoter_replicas_publish_each_health_change_once() {
    // Two promoters assess the stage every 50ms each.
    let q = Quickstart::start(options(Duration::from_millis(50), 2)).await;
    q.promote().await;
    q.wait_for_last_promotion("Succeeded").await;
    // Each change is seen by both replicas (each assesses every 50ms); waiting for the api
    // to show it takes rounds of both, so a replica that published a change again would
    // have done so before the next one is made.
    for health in ["Healthy", "Degraded", "Healthy", "Progressing", "Healthy"] {
        q.argo.set_health("kargo-demo-test", health).await;
        q.wait_for_health(health).await;
    }
    let changes = health_changes(&q.sandbox).await;
    let expected: Vec<(u32, String)> = ["Progressing", "Healthy", "Degraded", "Healthy", "Progressing", "Healthy"]
        .iter()
        .enumerate()
        .map(|(i, s)| (i as u32, s.to_string()))
        .collect();
    assert_eq!(changes, expected, "one event per change, none twice, no flapping back");
}
