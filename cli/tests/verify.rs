//! `lading verify stage … --abort` against a running Lading: a verification measuring
//! a real Prometheus every hour is stopped by the CLI; it ends `Aborted`, the stage's
//! `Verified` condition says `VerificationAborted`, `lading get stages` shows it, and the
//! freight is not marked verified.

mod common;

use std::process::{Command, Output};
use std::time::Duration;

use lading_events::Event;
use lading_tests::git::Repo;
use lading_tests::prometheus::{Exporter, TestPrometheus};
use lading_tests::sandbox::{ADMIN_TOKEN, Sandbox, quickstart, with_verification};
use lading_tests::wait;
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(60);

/// `test` verifies with a metric measured now and then again in an hour.
fn manifests(app: &str, gitops: &str, prometheus: &str) -> String {
    let stages =
        with_verification(&quickstart(app, gitops, "1h"), "    analysisTemplates:\n    - name: success-rate\n");
    format!(
        r#"{stages}
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: success-rate
  namespace: demo
spec:
  metrics:
  - name: success-rate
    count: 2
    interval: 1h
    successCondition: result[0] >= 0.95
    provider:
      prometheus:
        address: {prometheus}
        query: app_success_ratio{{job="app"}}
"#
    )
}

fn lading(sandbox: &Sandbox, args: &[&str]) -> Output {
    let output = Command::new(common::LADING)
        .args(args)
        .env("LADING_SERVER", &sandbox.api_url)
        .env("LADING_TOKEN", ADMIN_TOKEN)
        .env("XDG_CONFIG_HOME", common::NO_CONFIG)
        .env_remove("LADING_PROJECT")
        .output()
        .expect("lading runs");
    assert!(output.status.success(), "lading {args:?}: {}", common::stderr(&output));
    output
}

async fn test_stage(sandbox: &Sandbox) -> Value {
    let (_, stages) = sandbox.get("/api/v1/projects/demo/stages").await;
    stages["items"].as_array().unwrap().iter().find(|s| s["metadata"]["name"] == "test").unwrap().clone()
}

/// test's newest verification once its phase satisfies `done`.
async fn verification(sandbox: &Sandbox, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    wait::until(what, TIMEOUT, || async {
        let stage = test_stage(sandbox).await;
        let newest = stage["status"]["freightHistory"][0]["verificationHistory"][0].clone();
        if done(&newest) { Ok(newest) } else { Err(newest.to_string()) }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lading_verify_stage_abort_stops_the_running_verification() {
    let sandbox = Sandbox::start(1).await;
    let exporter = Exporter::start("app_success_ratio", 0.99).await;
    let prometheus = TestPrometheus::start("app", &exporter.addr).await;
    prometheus.wait_for_value("app_success_ratio{job=\"app\"}", 0.99).await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let first = app.commit("app.txt", "v1", "first");
    sandbox.apply(&manifests(&app.url(), &gitops.url(), &prometheus.url)).await;
    // Given a verification that measured once and waits an hour for its second measurement,
    sandbox.wait_current_in("demo", &first, "test", TIMEOUT).await;
    verification(&sandbox, "the first measurement", |v| {
        v["phase"] == "Running" && v["metrics"][0]["measurements"].as_array().is_some_and(|m| m.len() == 1)
    })
    .await;
    // when `lading verify stage test --abort` runs,
    let output = lading(&sandbox, &["verify", "stage", "test", "-p", "demo", "--abort"]);
    assert!(common::stdout(&output).contains("stage/test verification abort requested"), "{}", common::stdout(&output));
    // then the verification ends Aborted, naming who stopped it,
    let aborted = verification(&sandbox, "the verification to end", |v| v["phase"] != "Running").await;
    assert_eq!(aborted["phase"], "Aborted", "{aborted}");
    assert_eq!(aborted["message"], "aborted by admin", "{aborted}");
    // the stage's Verified condition says so, and `lading get stages` shows it,
    let stage = test_stage(&sandbox).await;
    let condition = stage["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Verified").cloned();
    let condition = condition.expect("a Verified condition");
    assert_eq!(
        (condition["status"].as_str(), condition["reason"].as_str()),
        (Some("False"), Some("VerificationAborted"))
    );
    let table = common::stdout(&lading(&sandbox, &["get", "stages", "-p", "demo"]));
    let header = table.lines().next().unwrap_or_default();
    let test_row = table.lines().find(|l| l.starts_with("test ")).unwrap_or_default();
    let column = header.find("VERIFICATION").expect("a VERIFICATION column");
    assert!(test_row.get(column..).is_some_and(|rest| rest.starts_with("Aborted")), "{table}");
    // and the freight is not verified in test, so uat never takes it.
    let bus = sandbox.nats.bus("test").await;
    let mut stream = bus.jetstream().get_stream(lading_bus::names::EVENTS_STREAM).await.unwrap();
    let last = stream.info().await.unwrap().state.last_sequence;
    for seq in 1..=last {
        let Ok(message) = stream.get_raw_message(seq).await else { continue };
        let ce_type = message.headers.get(lading_events::headers::CE_TYPE).map(|v| v.as_str().to_owned());
        let event = lading_events::decode(ce_type.as_deref(), &message.payload);
        assert!(
            !matches!(event, Ok(Event::FreightVerified(ref v)) if v.stage == "test"),
            "an aborted verification marked freight verified: {event:?}"
        );
    }
    let freight = sandbox.freight("demo").await;
    assert!(freight[0]["status"]["verifiedIn"].get("test").is_none(), "{freight:?}");
}
