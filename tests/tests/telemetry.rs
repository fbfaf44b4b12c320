//! Traces over OTLP: the warehouse, promoter, verifier and api each run as their own
//! process with `OTEL_EXPORTER_OTLP_ENDPOINT` pointing at an OTLP/HTTP receiver in
//! Python (a stand-in for a collector, sharing no code with Lading). One freight's
//! discovery, promotions and verifications arrive as one trace, with spans from all four
//! services, every span's parent among them. With `LADING_LOG_FORMAT=json`, a log line
//! written while an event is handled names the trace and span the receiver got.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::time::Duration;

use lading_bus::nats_users::NatsUser;
use lading_tests::git::Repo;
use lading_tests::nats::TestNats;
use lading_tests::otlp::{ReceivedSpan, Receiver};
use lading_tests::sandbox::{ADMIN_TOKEN, client_with_token, quickstart};
use lading_tests::wait;
use serde_json::Value;
use tokio::process::{Child, Command};

const TIMEOUT: Duration = Duration::from_secs(90);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start(service: &str, user: NatsUser, nats: &TestNats, endpoint: &str, dir: &std::path::Path, api: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_service-process"))
        .arg(service)
        .env("LADING_NATS_URL", nats.url_for(user))
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_SERVICE_NAME", format!("lading-{service}"))
        .env("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test")
        // Spans are sent every 100 ms instead of every 5 s.
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("LADING_CACHE_DIR", dir.join(format!("{service}-cache")))
        .env("LADING_WORK_DIR", dir.join(format!("{service}-work")))
        .env("LADING_API_ADDR", format!("127.0.0.1:{api}"))
        .env("LADING_ADMIN_TOKEN", ADMIN_TOKEN)
        .env_remove("LADING_HEALTH_ADDR")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("starting the {service}: {e}"))
}

/// The spans of the trace whose root is the warehouse's discovery that made freight,
/// when every service has sent spans in it and each span's parent has arrived.
fn freight_trace(spans: &[ReceivedSpan]) -> Result<Vec<ReceivedSpan>, String> {
    let mut traces: BTreeMap<&str, Vec<&ReceivedSpan>> = BTreeMap::new();
    for span in spans {
        traces.entry(&span.trace_id).or_default().push(span);
    }
    let wanted: BTreeSet<&str> = ["lading-warehouse", "lading-promoter", "lading-verifier", "lading-api"].into();
    let mut seen = Vec::new();
    for trace in traces.values() {
        let services: BTreeSet<&str> = trace.iter().map(|s| s.service.as_str()).collect();
        let ids: BTreeSet<&str> = trace.iter().map(|s| s.span_id.as_str()).collect();
        let orphans: Vec<&str> = trace
            .iter()
            .filter(|s| !s.parent_span_id.is_empty() && !ids.contains(s.parent_span_id.as_str()))
            .map(|s| s.name.as_str())
            .collect();
        let names: BTreeSet<&str> = trace.iter().map(|s| s.name.as_str()).collect();
        if services.is_superset(&wanted) && orphans.is_empty() && names.iter().any(|n| n.contains("verified")) {
            return Ok(trace.iter().map(|s| (*s).clone()).collect());
        }
        seen.push(format!("{services:?} orphans {orphans:?}"));
    }
    Err(format!("{} spans; traces: {seen:?}", spans.len()))
}

#[tokio::test(flavor = "multi_thread")]
async fn one_trace_follows_a_freight_through_every_service() {
    let dir = tempfile::tempdir().unwrap();
    let mut receiver = Receiver::start(dir.path()).await;
    let nats = TestNats::start().await;
    let app = Repo::create(dir.path(), "app");
    let app_commit = app.commit("version.txt", "1", "first version");
    let gitops = Repo::create(dir.path(), "gitops");
    let api_port = free_port();
    let endpoint = receiver.endpoint.clone();
    let _services: Vec<Child> = [
        ("api", NatsUser::Api),
        ("warehouse", NatsUser::Warehouse),
        ("promoter", NatsUser::Promoter),
        ("verifier", NatsUser::Verifier),
    ]
    .into_iter()
    .map(|(service, user)| start(service, user, &nats, &endpoint, dir.path(), api_port))
    .collect();

    let http = client_with_token(ADMIN_TOKEN);
    let api = format!("http://127.0.0.1:{api_port}");
    wait::until("the api ready", TIMEOUT, || async {
        match http.get(format!("{api}/readyz")).send().await {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err(response.status().to_string()),
            Err(error) => Err(error.to_string()),
        }
    })
    .await;
    let manifests = quickstart(&app.url(), &gitops.url(), "1h");
    let applied = http.post(format!("{api}/api/v1/apply")).body(manifests).send().await.unwrap();
    assert!(applied.status().is_success(), "apply: {}", applied.text().await.unwrap_or_default());

    wait::until("the freight promoted to uat", TIMEOUT, || async {
        let stages: Value = http
            .get(format!("{api}/api/v1/projects/demo/stages"))
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        let uat = stages["items"].as_array().into_iter().flatten().find(|s| s["metadata"]["name"] == "uat");
        let done = uat
            .and_then(|s| s["status"]["promotions"].as_array())
            .is_some_and(|p| !p.is_empty() && p.iter().all(|p| p["status"]["phase"] == "Succeeded"));
        if done { Ok(()) } else { Err(format!("{uat:?}")) }
    })
    .await;
    assert!(gitops.show("stage/uat", "values.yaml").contains(&app_commit));

    // The spans arrive in batches; the trace is complete once uat's verification and
    // every parent have arrived.
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    let trace = loop {
        receiver.read(Duration::from_millis(200)).await;
        match freight_trace(&receiver.spans) {
            Ok(trace) => break trace,
            Err(last) if tokio::time::Instant::now() > deadline => panic!("no complete trace of the freight: {last}"),
            Err(_) => {}
        }
    };
    let roots: Vec<&ReceivedSpan> = trace.iter().filter(|s| s.parent_span_id.is_empty()).collect();
    assert_eq!(roots.len(), 1, "one root: {roots:?}");
    assert_eq!(roots[0].service, "lading-warehouse", "the trace starts at discovery: {roots:?}");
    assert_eq!(roots[0].name, "warehouse discover");
    // The chain: discovery → the promoter's handling of the new freight → … → uat.
    let by_id: BTreeMap<&str, &ReceivedSpan> = trace.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let uat_verified = trace
        .iter()
        .filter(|s| s.service == "lading-promoter" && s.name.contains("verified"))
        .max_by_key(|s| {
            let mut depth = 0;
            let mut at = *s;
            while let Some(parent) = by_id.get(at.parent_span_id.as_str()) {
                depth += 1;
                at = parent;
            }
            depth
        })
        .expect("the promoter handled a verification");
    let mut chain = vec![uat_verified.service.clone()];
    let mut at = uat_verified;
    while let Some(parent) = by_id.get(at.parent_span_id.as_str()) {
        chain.push(parent.service.clone());
        at = parent;
    }
    chain.reverse();
    assert_eq!(chain.first().map(String::as_str), Some("lading-warehouse"), "{chain:?}");
    // `test` verifies nothing: the promoter's run records it verified, and uat follows.
    assert!(!chain.iter().any(|s| s == "lading-verifier"), "verified by the promoter, not the verifier: {chain:?}");
    assert_eq!(trace[0].resource["deployment.environment"], "test", "OTEL_RESOURCE_ATTRIBUTES is read");
}

/// The first JSON log line of `path` whose message is `message`, once written.
async fn log_line(path: &std::path::Path, message: &str) -> Value {
    wait::until(&format!("a JSON log line {message:?}"), TIMEOUT, || async {
        let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
        text.lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|line| line["fields"]["message"] == message)
            .ok_or_else(|| format!("{} lines, none {message:?}", text.lines().count()))
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn json_logs_carry_the_trace_and_span_of_the_handled_event() {
    let dir = tempfile::tempdir().unwrap();
    let mut receiver = Receiver::start(dir.path()).await;
    let nats = TestNats::start().await;
    let app = Repo::create(dir.path(), "app");
    app.commit("version.txt", "1", "first version");
    let gitops = Repo::create(dir.path(), "gitops");
    let api_port = free_port();
    let endpoint = receiver.endpoint.clone();
    let api = start("api", NatsUser::Api, &nats, &endpoint, dir.path(), api_port);
    let warehouse = start("warehouse", NatsUser::Warehouse, &nats, &endpoint, dir.path(), api_port);
    // The promoter writes JSON lines to a file the test reads.
    let log_path = dir.path().join("promoter.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let promoter = Command::new(env!("CARGO_BIN_EXE_service-process"))
        .arg("promoter")
        .env("LADING_NATS_URL", nats.url_for(NatsUser::Promoter))
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("LADING_WORK_DIR", dir.path().join("promoter-work"))
        .env("LADING_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .env_remove("LADING_HEALTH_ADDR")
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("starting the promoter");
    let _services = [api, warehouse, promoter];

    let http = client_with_token(ADMIN_TOKEN);
    let url = format!("http://127.0.0.1:{api_port}");
    wait::until("the api ready", TIMEOUT, || async {
        match http.get(format!("{url}/readyz")).send().await {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err(response.status().to_string()),
            Err(error) => Err(error.to_string()),
        }
    })
    .await;
    let applied = http
        .post(format!("{url}/api/v1/apply"))
        .body(quickstart(&app.url(), &gitops.url(), "1h"))
        .send()
        .await
        .unwrap();
    assert!(applied.status().is_success(), "apply: {}", applied.text().await.unwrap_or_default());

    // Written while the promoter handled a PromotionCreated: the line names the span.
    let line = log_line(&log_path, "promotion running").await;
    assert_eq!(line["level"], "INFO", "{line}");
    let trace_id = line["span"]["trace_id"].as_str().unwrap_or_else(|| panic!("no trace_id: {line}")).to_owned();
    let span_id = line["span"]["span_id"].as_str().unwrap_or_else(|| panic!("no span_id: {line}")).to_owned();
    assert_eq!(trace_id.len(), 32, "{line}");
    assert_eq!(span_id.len(), 16, "{line}");
    // The same IDs as the span the promoter exported for that handling.
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    let span = loop {
        receiver.read(Duration::from_millis(200)).await;
        if let Some(span) = receiver.spans.iter().find(|s| s.span_id == span_id) {
            break span.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "no span {span_id} among {} received", receiver.spans.len());
    };
    assert_eq!(span.trace_id, trace_id, "{span:?}");
    assert_eq!(span.service, "lading-promoter", "{span:?}");
    assert!(span.name.contains("promotion.created"), "{span:?}");
    // And the trace began at the warehouse's discovery.
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    let root = loop {
        if let Some(root) = receiver.spans.iter().find(|s| s.trace_id == trace_id && s.parent_span_id.is_empty()) {
            break root.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "trace {trace_id} has no root among the spans received");
        receiver.read(Duration::from_millis(200)).await;
    };
    assert_eq!(root.name, "warehouse discover", "{root:?}");
}
