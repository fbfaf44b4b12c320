//! Stage verification end to end: a `test` → `uat` pipeline where `uat` takes freight
//! verified in `test`, and `test` verifies with a Kargo/Argo `AnalysisTemplate` that
//! queries a real Prometheus scraping a gauge the test sets.
//!
//! - [`at_success`]: a stage without verification is verified by the promoter with the
//!   success, or by the verifier a while later when the promoter did not; one with
//!   analyses is left to the verifier.
//! - [`when_to_verify`]: no verification while a promotion runs; a verdict for freight a
//!   later promotion replaced is `Aborted`.
//! - [`takeover`]: a verifier process killed between measurements is replaced without a
//!   reset; two replicas give one verdict.
//! - [`providers`]: the `web` provider against an answer the test flips, and the `job`
//!   provider as a local process.

#[path = "verification/at_success.rs"]
mod at_success;
#[path = "verification/providers.rs"]
mod providers;
#[path = "verification/takeover.rs"]
mod takeover;
#[path = "verification/when_to_verify.rs"]
mod when_to_verify;

use std::time::Duration;

use lading_events::Event;
use lading_events::catalog::VerificationMeasuredV1;
use lading_tests::git::Repo;
use lading_tests::prometheus::{Exporter, TestPrometheus};
use lading_tests::sandbox::{Sandbox, quickstart, with_verification};
use lading_tests::wait;
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(60);
const QUERY: &str = "app_success_ratio{job=\"app\"}";

fn analysis_template(prometheus: &str) -> String {
    format!(
        r#"---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: success-rate
  namespace: demo
spec:
  args:
  - name: job
  - name: commit
    value: none
  metrics:
  - name: success-rate
    successCondition: result[0] >= 0.95
    provider:
      prometheus:
        address: {prometheus}
        timeout: 5
        query: app_success_ratio{{job="{{{{args.job}}}}",commit!="{{{{args.commit}}}}"}}
"#
    )
}

/// The quickstart with `test` verifying by the template, its arguments rendered as
/// Kargo renders them: `job` from the stage metadata its promotion set (`set-metadata`),
/// `commit` from the verified freight.
fn manifests(app: &str, gitops: &str, prometheus: &str) -> String {
    let stages = with_verification(
        &quickstart(app, gitops, "1h"),
        "    analysisTemplates:\n    - name: success-rate\n    args:\n    - name: job\n      value: ${{ stageMetadata(ctx.stage, 'job') }}\n    - name: commit\n      value: ${{ commitFrom(vars.appRepo).ID }}\n",
    )
    .replacen(
        "      - uses: git-push\n",
        "      - uses: set-metadata\n        config:\n          updates:\n          - kind: Stage\n            name: ${{ ctx.stage }}\n            values: {job: app}\n      - uses: git-push\n",
        1,
    );
    format!("{stages}\n{}", analysis_template(prometheus))
}

/// The quickstart with `test` verifying by `templates` (YAML naming them under
/// `analysisTemplates`), and, with `gate`, an `http` step calling the gate before
/// test's push (to hold a promotion running).
fn pipeline(app: &str, gitops: &str, templates: &str, gate: Option<&str>) -> String {
    let mut stages = with_verification(&quickstart(app, gitops, "1h"), &format!("    analysisTemplates:\n{templates}"));
    if let Some(gate) = gate {
        stages = stages.replacen(
            "      - uses: git-push\n",
            &format!(
                "      - uses: http\n        config:\n          url: {gate}/${{{{ ctx.targetFreight.name }}}}\n          timeout: 10m\n      - uses: git-push\n"
            ),
            1,
        );
    }
    stages
}

/// An Argo `AnalysisTemplate` named `health` whose one metric calls `url` and succeeds
/// when the answer's `status` is `ok`; `schedule` adds fields such as `count: 3`.
fn web_template(url: &str, schedule: &str) -> String {
    format!(
        r#"---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: health
  namespace: demo
spec:
  metrics:
  - name: health
{schedule}    successCondition: result == "ok"
    provider:
      web:
        url: {url}/health
        timeoutSeconds: 60
        jsonPath: "{{$.status}}"
"#
    )
}

const HEALTH: &str = "    - name: health\n";
const OK: &str = r#"{"status": "ok"}"#;

async fn stage(sandbox: &Sandbox, name: &str) -> Value {
    let (_, stages) = sandbox.get("/api/v1/projects/demo/stages").await;
    stages["items"].as_array().unwrap().iter().find(|s| s["metadata"]["name"] == name).unwrap().clone()
}

/// The stage's latest verification of the freight whose commit is `commit`, once it
/// has finished.
async fn finished_verification(sandbox: &Sandbox, commit: &str, stage_name: &str) -> Value {
    let freight = sandbox.freight("demo").await;
    let id = freight.iter().find(|f| f["commits"][0]["id"] == commit).map(|f| f["metadata"]["name"].clone());
    wait::until(&format!("verification of {commit} in {stage_name} to finish"), TIMEOUT, || async {
        let s = stage(sandbox, stage_name).await;
        let history = s["status"]["freightHistory"].as_array().cloned().unwrap_or_default();
        let entry = history.iter().find(|e| Some(&e["name"]) == id.as_ref() || id.is_none());
        let verification = entry.and_then(|e| e["verificationHistory"].get(0)).cloned();
        match verification {
            Some(v) if !matches!(v["phase"].as_str(), Some("Running") | Some("Pending") | None) => Ok(v),
            other => Err(format!("{other:?}")),
        }
    })
    .await
}

/// Every event of the log, in order.
async fn events(sandbox: &Sandbox) -> Vec<Event> {
    let bus = sandbox.nats.bus("test").await;
    let mut stream = bus.jetstream().get_stream(lading_bus::names::EVENTS_STREAM).await.unwrap();
    let last = stream.info().await.unwrap().state.last_sequence;
    let mut events = Vec::new();
    for seq in 1..=last {
        let Ok(message) = stream.get_raw_message(seq).await else { continue };
        let ce_type = message.headers.get(lading_events::headers::CE_TYPE).map(|v| v.as_str().to_owned());
        if let Ok(event) = lading_events::decode(ce_type.as_deref(), &message.payload) {
            events.push(event);
        }
    }
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn freight_moves_on_only_when_prometheus_says_it_is_healthy_and_verify_stage_retries() {
    let sandbox = Sandbox::start(1).await;
    let exporter = Exporter::start("app_success_ratio", 0.99).await;
    let prometheus = TestPrometheus::start("app", &exporter.addr).await;
    prometheus.wait_for_value(QUERY, 0.99).await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let first = app.commit("app.txt", "v1", "first feature");
    sandbox.apply(&manifests(&app.url(), &gitops.url(), &prometheus.url)).await;

    // Healthy: the freight is verified in test by a measurement, and reaches uat.
    sandbox.wait_current_in("demo", &first, "uat", TIMEOUT).await;
    let verified = finished_verification(&sandbox, &first, "test").await;
    assert_eq!(verified["phase"], "Successful", "{verified}");
    assert_eq!(verified["metrics"][0]["measurements"][0]["value"], "[0.99]", "{verified}");
    let test = stage(&sandbox, "test").await;
    let condition = test["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Verified").cloned();
    assert_eq!(condition.as_ref().map(|c| c["status"].clone()), Some("True".into()), "{test}");

    // How long verification adds to a promotion beyond its measurement, from the
    // events' own millisecond times.
    let events = events(&sandbox).await;
    let promotion = verified["id"].as_str().unwrap();
    let succeeded = events.iter().find_map(|e| match e {
        Event::PromotionSucceeded(p) if p.promotion == promotion => Some(p.finished_at_ms),
        _ => None,
    });
    let measured: Vec<(i64, i64)> = events
        .iter()
        .filter_map(|e| match e {
            Event::VerificationMeasured(m) if m.verification_id == promotion => {
                Some((m.started_at_ms, m.finished_at_ms))
            }
            _ => None,
        })
        .collect();
    let verified_at = events.iter().find_map(|e| match e {
        Event::FreightVerified(v) if v.promotion == promotion && v.stage == "test" => Some(v.verified_at_ms),
        _ => None,
    });
    let verdicts =
        events.iter().filter(|e| matches!(e, Event::VerificationFinished(f) if f.verification_id == promotion)).count();
    assert_eq!(verdicts, 1, "one verdict per verification");
    assert_eq!(measured.len(), 1, "one measurement: no interval and no count");
    let (succeeded, verified_at) = (succeeded.unwrap(), verified_at.unwrap());
    let measuring: i64 = measured.iter().map(|(start, end)| end - start).sum();
    println!(
        "verification: promotion succeeded -> freight verified {} ms, of which measuring (a Prometheus query) {} ms; verification adds {} ms beyond its measurements",
        verified_at - succeeded,
        measuring,
        verified_at - succeeded - measuring
    );

    // Unhealthy: the next freight stops in test, Failed, and the message says why.
    exporter.set(0.5);
    prometheus.wait_for_value(QUERY, 0.5).await;
    let second = app.commit("app.txt", "v2", "second feature");
    sandbox.refresh("demo", "app").await;
    sandbox.wait_current_in("demo", &second, "test", TIMEOUT).await;
    let failed = finished_verification(&sandbox, &second, "test").await;
    assert_eq!(failed["phase"], "Failed", "{failed}");
    let message = failed["message"].as_str().unwrap();
    for part in ["success-rate", "[0.5]", "result[0] >= 0.95"] {
        assert!(message.contains(part), "{part:?} missing from {message:?}");
    }
    let freight = sandbox.freight("demo").await;
    let second_freight = freight.iter().find(|f| f["commits"][0]["id"] == second.as_str()).unwrap();
    assert!(second_freight["status"]["verifiedIn"].get("test").is_none(), "{second_freight}");
    let uat = stage(&sandbox, "uat").await;
    assert_eq!(uat["status"]["currentFreight"][0]["name"], freight_name(&freight, &first), "uat keeps the first");

    // Recovered: `lading verify stage test` verifies it again, and it moves on.
    exporter.set(0.98);
    prometheus.wait_for_value(QUERY, 0.98).await;
    let (status, body) = sandbox.post_json("/api/v1/projects/demo/stages/test/verify", &serde_json::json!({})).await;
    assert_eq!(status, 202, "{body}");
    sandbox.wait_current_in("demo", &second, "uat", TIMEOUT).await;
    let retried = finished_verification(&sandbox, &second, "test").await;
    assert_eq!(retried["phase"], "Successful", "{retried}");
    assert_eq!(retried["id"], body["requestId"], "the newest entry is the re-run");
    assert!(!matches!(retried["actor"].as_str(), None | Some("") | Some("lading/verifier")), "a person: {retried}");
}

/// The measurements in the log, in order.
async fn measurements(sandbox: &Sandbox) -> Vec<VerificationMeasuredV1> {
    events(sandbox)
        .await
        .into_iter()
        .filter_map(|e| match e {
            Event::VerificationMeasured(m) => Some(m),
            _ => None,
        })
        .collect()
}

fn freight_name(freight: &[Value], commit: &str) -> Value {
    freight.iter().find(|f| f["commits"][0]["id"] == commit).unwrap()["metadata"]["name"].clone()
}
