//! Services run on their own: health, readiness and metrics endpoints, and one trace
//! followed through every hop of a promotion.

use std::time::Duration;

use lading_bus::names::{DISCOVERY_STREAM, EVENTS_STREAM};
use lading_events::TraceContext;
use lading_runtime::{Readiness, Shutdown};
use lading_tests::git::Repo;
use lading_tests::nats::TestNats;
use lading_tests::sandbox::{Sandbox, quickstart};
use lading_tests::wait;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standalone_service_serves_health_readiness_and_metrics() {
    let nats = TestNats::start().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut config = lading_verifier::Config::new(nats.url());
    config.service.health_addr = Some(format!("127.0.0.1:{port}").parse().unwrap());
    let shutdown = Shutdown::new();
    let service = tokio::spawn(lading_verifier::run(config, Readiness::new(), shutdown.clone()));
    let http = lading_tests::http_client::client();
    let base = format!("http://127.0.0.1:{port}");
    wait::until("the verifier to be ready", Duration::from_secs(10), || async {
        let response = http.get(format!("{base}/readyz")).send().await.map_err(|e| e.to_string())?;
        if response.status() == 200 { Ok(()) } else { Err(response.status().to_string()) }
    })
    .await;
    assert_eq!(http.get(format!("{base}/healthz")).send().await.unwrap().status(), 200);
    let metrics = http.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    let content_type = metrics.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("application/openmetrics-text; version=1.0.0"), "{content_type}");
    let text = metrics.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "an OpenMetrics exposition ends with # EOF: {text}");
    shutdown.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(10), service).await;
    assert!(stopped.is_ok_and(|r| r.is_ok_and(|r| r.is_ok())), "the verifier stops cleanly on shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_trace_follows_a_freight_from_discovery_to_uat() {
    let sandbox = Sandbox::start(1).await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let commit = app.commit("app.txt", "v1", "first");
    sandbox.apply(&quickstart(&app.url(), &gitops.url(), "1h")).await;
    sandbox.wait_current_in("demo", &commit, "uat", Duration::from_secs(60)).await;

    let bus = sandbox.nats.bus("test").await;
    let mut traces = Vec::new();
    // Facts, then the latest discoveries (kept in their own stream).
    for name in [EVENTS_STREAM, DISCOVERY_STREAM] {
        let mut stream = bus.jetstream().get_stream(name).await.unwrap();
        let state = stream.info().await.unwrap().state.clone();
        for seq in state.first_sequence..=state.last_sequence {
            let message = stream.get_raw_message(seq).await.unwrap();
            let header = |name: &str| message.headers.get(name).map(|v| v.as_str().to_owned()).unwrap_or_default();
            let trace = TraceContext::parse(&header("traceparent")).expect("every event carries a traceparent");
            traces.push((header("ce-type"), trace));
        }
    }
    let types: Vec<&str> = traces.iter().map(|(t, _)| t.as_str()).collect();
    for expected in [
        "dev.lading.freight.created.v1",
        "dev.lading.promotion.created.v2",
        "dev.lading.promotion.succeeded.v1",
        "dev.lading.freight.verified.v1",
    ] {
        assert!(types.contains(&expected), "{types:?}");
    }
    let trace_id = traces[0].1.trace_id;
    assert!(traces.iter().all(|(_, t)| t.trace_id == trace_id), "one trace from discovery to uat: {traces:#?}");
    // Each handler works in its own span; what one handler publishes shares it.
    let span_of = |ce_type: &str| traces.iter().find(|(t, _)| t == ce_type).map(|(_, t)| t.span_id).unwrap();
    let discovered = span_of("dev.lading.freight.created.v1");
    let queued = span_of("dev.lading.promotion.created.v2");
    let started = span_of("dev.lading.promotion.started.v1");
    let succeeded = span_of("dev.lading.promotion.succeeded.v1");
    let verified = span_of("dev.lading.freight.verified.v1");
    assert_ne!(discovered, queued);
    assert_ne!(queued, started);
    assert_eq!(started, succeeded, "one promotion run is one span");
    assert_eq!(started, span_of("dev.lading.promotion.step-finished.v2"));
    assert_eq!(discovered, span_of("dev.lading.warehouse.artifacts-discovered.v1"), "discovery is one span");
    // A stage that verifies nothing is verified by the promotion's run, with its success.
    assert_eq!(succeeded, verified);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn services_carry_on_after_nats_restarts() {
    let mut sandbox = Sandbox::start(1).await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let first = app.commit("app.txt", "v1", "before the restart");
    sandbox.apply(&quickstart(&app.url(), &gitops.url(), "1h")).await;
    sandbox.wait_current_in("demo", &first, "uat", Duration::from_secs(60)).await;

    sandbox.nats.restart().await;
    let second = app.commit("app.txt", "v2", "after the restart");
    let path = "/api/v1/projects/demo/warehouses/app/refresh";
    wait::until("the api to accept a refresh again", Duration::from_secs(30), || async {
        let (status, body) = sandbox.post(path, "").await;
        if status == 202 { Ok(()) } else { Err(format!("{status}: {body}")) }
    })
    .await;
    sandbox.wait_current_in("demo", &second, "uat", Duration::from_secs(60)).await;
    assert_eq!(sandbox.freight("demo").await.len(), 2);
    assert_eq!(gitops.log("stage/uat").len(), 2, "one commit per promotion across the restart");
}
