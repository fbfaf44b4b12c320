//! Kargo's timing rules with real services: a verification does not start while a
//! promotion of its stage runs, and a verdict for freight that a later promotion
//! replaced is `Aborted` and marks nothing verified.

use lading_events::Event;
use lading_tests::gate::Gate;
use lading_tests::git::Repo;
use lading_tests::sandbox::{Sandbox, SandboxOptions};
use lading_tests::wait;
use lading_tests::web_answer::WebAnswer;

use super::takeover::ServiceProcess;
use super::{HEALTH, OK, TIMEOUT, events, finished_verification, freight_name, pipeline, web_template};

/// The promotions whose verification started, in log order.
async fn started_verifications(sandbox: &Sandbox) -> Vec<String> {
    events(sandbox)
        .await
        .into_iter()
        .filter_map(|e| match e {
            Event::VerificationStarted(s) => Some(s.promotion),
            _ => None,
        })
        .collect()
}

/// The `verifier` consumer's state once a verifier made it: (deliveries so far, counting
/// redeliveries; deliveries not yet settled; messages not yet delivered).
async fn verifier_consumer(sandbox: &Sandbox) -> Result<(u64, usize, u64), String> {
    let bus = sandbox.nats.bus("test").await;
    let stream = bus.jetstream().get_stream(lading_bus::names::EVENTS_STREAM).await.map_err(|e| e.to_string())?;
    let mut consumer: async_nats::jetstream::consumer::PullConsumer =
        stream.get_consumer(lading_verifier::CONSUMER).await.map_err(|e| e.to_string())?;
    let info = consumer.info().await.map_err(|e| e.to_string())?;
    Ok((info.delivered.consumer_sequence, info.num_ack_pending, info.num_pending))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_verification_waits_while_a_promotion_runs_and_never_starts_for_freight_it_replaced() {
    let sandbox =
        Sandbox::start_with_options(SandboxOptions { with_verifier: false, ..SandboxOptions::default() }).await;
    let web = WebAnswer::start(OK).await;
    let gate = Gate::start().await;
    gate.set_open(true);
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let first = app.commit("app.txt", "v1", "first");
    let manifests = pipeline(&app.url(), &gitops.url(), HEALTH, Some(gate.base()));
    sandbox.apply(&format!("{manifests}\n{}", web_template(web.url(), ""))).await;
    // Given the first freight promoted into test (no verifier runs yet),
    sandbox.wait_current_in("demo", &first, "test", TIMEOUT).await;
    // and the second freight's promotion running, held at the gate,
    gate.set_open(false);
    let second = app.commit("app.txt", "v2", "second");
    sandbox.refresh("demo", "app").await;
    gate.wait_for_waiting(1, TIMEOUT).await;
    // when a verifier starts and handles the first promotion's success,
    let _verifier = ServiceProcess::verifier(&sandbox, "v0");
    let started = wait::until("the verifier to handle the first promotion's success", TIMEOUT, || async {
        let (delivered, _, _) = verifier_consumer(&sandbox).await?;
        let started = started_verifications(&sandbox).await;
        // Delivered twice: the first handling put it back rather than settling it.
        if delivered >= 2 || !started.is_empty() { Ok(started) } else { Err(format!("{delivered} deliveries")) }
    })
    .await;
    // then no verification starts while the promotion runs,
    assert!(started.is_empty(), "a verification started while a promotion ran: {started:?}");
    assert_eq!(web.calls(), 0);
    // and once it succeeded, only the freight it brought is verified.
    gate.set_open(true);
    sandbox.wait_verified_in("demo", &second, "test", TIMEOUT).await;
    wait::until("the verifier to settle every promotion", TIMEOUT, || async {
        let (_, unsettled, pending) = verifier_consumer(&sandbox).await?;
        if unsettled == 0 && pending == 0 { Ok(()) } else { Err(format!("{unsettled} unsettled, {pending} pending")) }
    })
    .await;
    let freight = sandbox.freight("demo").await;
    let events = events(&sandbox).await;
    let started: Vec<&str> = events
        .iter()
        .filter_map(|e| match e {
            Event::VerificationStarted(s) => Some(s.freight_id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(started, [freight_name(&freight, &second).as_str().unwrap()], "one verification, of the second");
    let first_name = freight_name(&freight, &first);
    let verified_first = events.iter().any(
        |e| matches!(e, Event::FreightVerified(v) if v.stage == "test" && v.freight_id == first_name.as_str().unwrap()),
    );
    assert!(!verified_first, "the replaced freight was marked verified in test");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_verdict_for_freight_a_later_promotion_replaced_is_aborted_and_verifies_nothing() {
    let sandbox = Sandbox::start(1).await;
    let web = WebAnswer::start(OK).await;
    web.hold();
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let first = app.commit("app.txt", "v1", "first");
    let manifests = pipeline(&app.url(), &gitops.url(), HEALTH, None);
    sandbox.apply(&format!("{manifests}\n{}", web_template(web.url(), ""))).await;
    // Given the first freight's verification measuring (its call held),
    sandbox.wait_current_in("demo", &first, "test", TIMEOUT).await;
    web.wait_for_held(1, TIMEOUT).await;
    // when a second freight replaces it in test before the measurement answers "ok",
    let second = app.commit("app.txt", "v2", "second");
    sandbox.refresh("demo", "app").await;
    sandbox.wait_current_in("demo", &second, "test", TIMEOUT).await;
    web.release();
    // then the first verification ends Aborted, naming why,
    let first_verification = finished_verification(&sandbox, &first, "test").await;
    assert_eq!(first_verification["phase"], "Aborted", "{first_verification}");
    let message = first_verification["message"].as_str().unwrap();
    assert!(message.contains("no longer current"), "{message}");
    assert_eq!(first_verification["metrics"][0]["measurements"][0]["phase"], "Successful", "{first_verification}");
    // and the first freight is never verified in test, while the second is.
    sandbox.wait_verified_in("demo", &second, "test", TIMEOUT).await;
    let freight = sandbox.freight("demo").await;
    let first_freight = freight.iter().find(|f| f["commits"][0]["id"] == first.as_str()).unwrap();
    assert!(first_freight["status"]["verifiedIn"].get("test").is_none(), "{first_freight}");
    let first_name = freight_name(&freight, &first);
    let verified_first = events(&sandbox).await.into_iter().any(
        |e| matches!(e, Event::FreightVerified(v) if v.stage == "test" && v.freight_id == first_name.as_str().unwrap()),
    );
    assert!(!verified_first, "the replaced freight was marked verified in test");
}
