//! Kargo's quickstart, verified: it promotes through `argocd-update`, the stage takes
//! the Application's health, and its verification waits until that is `Healthy`.

use std::time::Duration;

use lading_tests::argocd;
use lading_tests::argocd_quickstart::{Quickstart, QuickstartOptions, condition, health_changes};
use lading_tests::web_answer::WebAnswer;
use serde_json::{Value, json};

use super::TIMEOUT;

/// Deliveries so far of the verifier's deciding consumer (redeliveries counted): each
/// one is the verifier deciding again whether the verification may start.
async fn verifier_deliveries(sandbox: &lading_tests::sandbox::Sandbox) -> Result<u64, String> {
    let bus = sandbox.nats.bus("test").await;
    let stream = bus.jetstream().get_stream(lading_bus::names::EVENTS_STREAM).await.map_err(|e| e.to_string())?;
    let mut consumer: async_nats::jetstream::consumer::PullConsumer =
        stream.get_consumer(lading_verifier::CONSUMER).await.map_err(|e| e.to_string())?;
    Ok(consumer.info().await.map_err(|e| e.to_string())?.delivered.consumer_sequence)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kargo_quickstart_promotes_through_argocd_update_and_the_stage_takes_the_application_health() {
    let web = WebAnswer::start(r#"{"status": "ok"}"#).await;
    let q = Quickstart::start(QuickstartOptions {
        health_interval: Duration::from_millis(200),
        replicas: 1,
        verification_url: Some(web.url()),
    })
    .await;
    let (sandbox, gitops, image) = (&q.sandbox, &q.gitops, &q.image);
    q.promote().await;
    let get_stage = || q.stage();
    let stage = lading_tests::wait::until("the promotion to end", TIMEOUT, || async {
        let test = get_stage().await;
        match test["status"]["lastPromotion"]["status"]["phase"].as_str() {
            Some("Succeeded" | "Failed" | "Errored") => Ok(test),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let last = &stage["status"]["lastPromotion"]["status"];
    assert_eq!(last["phase"], "Succeeded", "{last}");
    let pushed = gitops.log("stage/test")[0].id.clone();
    let rendered = gitops.show("stage/test", "deployment-kargo-demo.yaml");
    assert!(rendered.contains(&format!("{image}:1.29.1")), "{rendered}");
    let app = argocd::read(&q.client, "kargo-demo-test").await;
    assert_eq!(app["status"]["operationState"]["syncResult"]["revision"], pushed.as_str());
    assert_eq!(app["status"]["operationState"]["operation"]["info"][1]["name"], "kargo.akuity.io/promotion");

    // Synced at the pushed commit, Argo CD still says Progressing: so does the stage,
    // from the moment the promotion is seen to succeed.
    let health = &stage["status"]["health"];
    assert_eq!(health["status"], "Progressing", "{health}");
    assert!(
        health["issues"][0].as_str().unwrap().contains("\"kargo-demo-test\" in namespace \"argocd\" is progressing")
    );
    assert_eq!(health["config"][0]["uses"], "argocd-update");
    assert_eq!(health["config"][0]["config"]["apps"][0]["desiredRevisions"], json!([pushed]));
    assert_eq!(health["output"][0]["applicationStatuses"][0]["sync"]["revision"], pushed.as_str());
    let healthy = condition(&stage, "Healthy");
    assert_eq!((healthy["status"].as_str(), healthy["reason"].as_str()), (Some("Unknown"), Some("Progressing")));

    // While Progressing, the verifier decides again and again not to verify.
    let deliveries = lading_tests::wait::until("the verifier to decide twice more", TIMEOUT, || async {
        let test = get_stage().await;
        let verifications = &test["status"]["freightHistory"][0]["verificationHistory"];
        if verifications.is_array() {
            return Ok(verifications.clone());
        }
        match verifier_deliveries(sandbox).await? {
            n if n >= 3 => Ok(Value::Null),
            n => Err(format!("{n} deliveries")),
        }
    })
    .await;
    assert_eq!(deliveries, Value::Null, "a verification started while the stage was Progressing");
    assert_eq!(web.calls(), 0, "the verification's metric was measured while the stage was Progressing");
    assert_eq!(get_stage().await["status"]["health"]["status"], "Progressing");

    // Argo CD says Healthy: the stage is Healthy, and its verification starts and passes.
    q.argo.mark_healthy("kargo-demo-test").await;
    let stage = lading_tests::wait::until("the stage to be Healthy", TIMEOUT, || async {
        let test = get_stage().await;
        match test["status"]["health"]["status"].as_str() {
            Some("Healthy") => Ok(test),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert!(stage["status"]["health"].get("issues").is_none(), "{}", stage["status"]["health"]);
    let healthy = condition(&stage, "Healthy");
    assert_eq!((healthy["status"].as_str(), healthy["reason"].as_str()), (Some("True"), Some("Healthy")));
    let verification = lading_tests::wait::until("the verification to pass", TIMEOUT, || async {
        let test = get_stage().await;
        match test["status"]["freightHistory"][0]["verificationHistory"][0]["phase"].as_str() {
            Some("Successful") => Ok(test),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert_eq!(condition(&verification, "Verified")["status"], "True");
    assert!(web.calls() >= 1);

    // Later the Application degrades: so does the stage.
    q.argo.set_health("kargo-demo-test", "Degraded").await;
    let stage = lading_tests::wait::until("the stage to be Degraded", TIMEOUT, || async {
        let test = get_stage().await;
        match test["status"]["health"]["status"].as_str() {
            Some("Degraded") => Ok(test),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let issues = &stage["status"]["health"]["issues"];
    assert!(issues[0].as_str().unwrap().contains("has health state \"Degraded\""), "{issues}");
    let healthy = condition(&stage, "Healthy");
    assert_eq!((healthy["status"].as_str(), healthy["reason"].as_str()), (Some("False"), Some("Degraded")));
    // Only changes were published, though health was assessed every 200ms.
    assert_eq!(
        health_changes(sandbox).await,
        [(0, "Progressing".to_owned()), (1, "Healthy".to_owned()), (2, "Degraded".to_owned())]
    );
}
