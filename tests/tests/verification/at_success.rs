//! A stage without verification has its freight verified by the promoter as it records
//! the promotion's success, with no verifier running; a stage with analyses is left to
//! the verifier; a success the promoter did not follow with it is verified by the
//! verifier a while later.

use lading_events::Event;
use lading_tests::git::Repo;
use lading_tests::sandbox::{Sandbox, SandboxOptions, quickstart};
use lading_tests::wait;

use super::{HEALTH, TIMEOUT, events, freight_name, pipeline, web_template};

fn without_verifier() -> SandboxOptions {
    SandboxOptions { with_verifier: false, ..SandboxOptions::default() }
}

/// The stages where the log says the freight whose commit is `commit` was verified, and
/// the promotion each verification follows.
async fn verified_in(sandbox: &Sandbox, commit: &str) -> Vec<(String, String)> {
    let freight = sandbox.freight("demo").await;
    let name = freight_name(&freight, commit);
    events(sandbox)
        .await
        .into_iter()
        .filter_map(|e| match e {
            Event::FreightVerified(v) if v.freight_id == name.as_str().unwrap_or_default() => {
                Some((v.stage, v.promotion))
            }
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stage_without_verification_is_verified_by_the_promoter_with_no_verifier_running() {
    // Given no verifier, and the quickstart's two stages, neither verifying,
    let sandbox = Sandbox::start_with_options(without_verifier()).await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let first = app.commit("app.txt", "v1", "first");
    // when a freight is promoted into test,
    sandbox.apply(&quickstart(&app.url(), &gitops.url(), "1h")).await;
    // then it is verified there and moves on to uat, where it is verified too, once each,
    // after the promotion that brought it.
    sandbox.wait_verified_in("demo", &first, "uat", TIMEOUT).await;
    let verified = verified_in(&sandbox, &first).await;
    let stages: Vec<&str> = verified.iter().map(|(stage, _)| stage.as_str()).collect();
    assert_eq!(stages, ["test", "uat"], "{verified:?}");
    for (stage, promotion) in &verified {
        assert!(promotion.starts_with(&format!("{stage}.")), "verified in {stage} after {promotion}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stage_with_analyses_is_not_verified_by_the_promoter() {
    // Given no verifier, and test verifying with an analysis template,
    let sandbox = Sandbox::start_with_options(without_verifier()).await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let first = app.commit("app.txt", "v1", "first");
    let manifests = pipeline(&app.url(), &gitops.url(), HEALTH, None);
    sandbox.apply(&format!("{manifests}\n{}", web_template("http://127.0.0.1:9", ""))).await;
    // when its promotion into test succeeded and the promoter settled it,
    sandbox.wait_current_in("demo", &first, "test", TIMEOUT).await;
    wait::until("the promoter to settle the promotion", TIMEOUT, || async {
        let bus = sandbox.nats.bus("test").await;
        let stream = bus.jetstream().get_stream(lading_bus::names::EVENTS_STREAM).await.map_err(|e| e.to_string())?;
        let mut consumer: async_nats::jetstream::consumer::PullConsumer =
            stream.get_consumer(lading_promoter::run_queue::CONSUMER).await.map_err(|e| e.to_string())?;
        let info = consumer.info().await.map_err(|e| e.to_string())?;
        let (unsettled, pending) = (info.num_ack_pending, info.num_pending);
        if unsettled == 0 && pending == 0 { Ok(()) } else { Err(format!("{unsettled} unsettled, {pending} pending")) }
    })
    .await;
    // then the freight is not verified in test: that is the verifier's, after its analyses.
    assert_eq!(verified_in(&sandbox, &first).await, Vec::<(String, String)>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_success_the_promoter_did_not_verify_is_verified_by_the_verifier_a_while_later() {
    // Given no promoter, and a success recorded for test (which verifies nothing) as by a
    // promoter that stopped before recording the freight verified,
    let sandbox = Sandbox::start_without_promoter().await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let first = app.commit("app.txt", "v1", "first");
    sandbox.apply(&quickstart(&app.url(), &gitops.url(), "1h")).await;
    let freight = sandbox.wait_for_freight("demo", "the first freight", TIMEOUT).await;
    let freight_id = freight["metadata"]["name"].as_str().unwrap().to_owned();
    let succeeded = lading_events::catalog::PromotionSucceededV1 {
        project: "demo".into(),
        stage: "test".into(),
        promotion: format!("test.01m8yfxx2btdsjbchpbrd5w45w.{}", &freight_id[..7]),
        freight_id,
        commit: String::new(),
        finished_at_ms: lading_events::now_ms(),
    };
    let bus = sandbox.nats.bus("test").await;
    bus.publish(&Event::PromotionSucceeded(succeeded.clone()), &lading_bus::tracing_context::new_root()).await.unwrap();
    // when the verifier looks again,
    // then it records the freight verified in test, after that promotion.
    let verified = wait::until("the verifier to record the freight verified", TIMEOUT, || async {
        let verified = verified_in(&sandbox, &first).await;
        if verified.is_empty() { Err("not yet".to_owned()) } else { Ok(verified) }
    })
    .await;
    assert_eq!(verified, [("test".to_owned(), succeeded.promotion)]);
}
