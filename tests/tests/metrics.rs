//! Metrics end to end: a real Prometheus scrapes a running Lading's `/metrics` while one
//! freight is promoted through `test` and `uat`, and PromQL over Prometheus's HTTP API
//! finds what happened: promotions by phase, their duration histogram, step durations,
//! discovery, freight created, event lag, consumer pending, queue depth and the duration
//! of `test`'s verification — which itself queries Prometheus for Lading's own
//! promotions counter.

use std::time::Duration;

use lading_tests::git::Repo;
use lading_tests::prometheus::TestPrometheus;
use lading_tests::sandbox::{Sandbox, quickstart, with_verification};

const TIMEOUT: Duration = Duration::from_secs(60);

/// The quickstart where `test` verifies with an analysis template asking `prometheus`
/// whether Lading counted a succeeded promotion.
fn manifests(app: &str, gitops: &str, prometheus: &str) -> String {
    let stages = with_verification(&quickstart(app, gitops, "1h"), "    analysisTemplates:\n    - name: promoted\n");
    format!(
        r#"{stages}
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: promoted
  namespace: demo
spec:
  metrics:
  - name: promoted
    successCondition: result[0] >= 1
    provider:
      prometheus:
        address: {prometheus}
        timeout: 5
        query: sum(lading_promoter_promotions_total{{phase="Succeeded"}})
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prometheus_scrapes_promotions_by_phase_and_their_durations() {
    let sandbox = Sandbox::start(1).await;
    let target = sandbox.api_url.trim_start_matches("http://").to_owned();
    let prometheus = TestPrometheus::start("lading", &target).await;
    prometheus.wait_for_one("up{job=\"lading\"}", |up| up == 1.0).await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let first = app.commit("app.txt", "v1", "first feature");
    sandbox.apply(&manifests(&app.url(), &gitops.url(), &prometheus.url)).await;
    sandbox.wait_current_in("demo", &first, "uat", TIMEOUT).await;
    sandbox.wait_verified_in("demo", &first, "uat", TIMEOUT).await;

    // Two promotions succeeded (test, then uat), none ended otherwise.
    prometheus.wait_for_one("lading_promoter_promotions_total{phase=\"Succeeded\"}", |n| n == 2.0).await;
    let phases = prometheus.query("lading_promoter_promotions_total").await.unwrap();
    assert_eq!(phases.len(), 1, "only Succeeded has a sample: {phases:?}");

    // Their durations, as a histogram.
    assert_eq!(prometheus.metric_type("lading_promoter_promotion_duration_seconds").await.as_deref(), Ok("histogram"));
    prometheus
        .wait_for_one("lading_promoter_promotion_duration_seconds_count{phase=\"Succeeded\"}", |n| n == 2.0)
        .await;
    prometheus
        .wait_for_one("lading_promoter_promotion_duration_seconds_bucket{phase=\"Succeeded\",le=\"+Inf\"}", |n| {
            n == 2.0
        })
        .await;
    let total = prometheus.wait_for_one("lading_promoter_promotion_duration_seconds_sum", |s| s > 0.0).await;
    let median = prometheus
        .wait_for_one("histogram_quantile(0.5, sum by (le) (lading_promoter_promotion_duration_seconds_bucket))", |q| {
            q.is_finite() && q > 0.0
        })
        .await;
    println!("two promotions took {total:.3} s in all; histogram median {median:.3} s");

    // Each step of both promotions, by step.
    for uses in ["git-clone", "yaml-update", "git-commit", "git-push"] {
        let query = format!("lading_promoter_step_duration_seconds_count{{uses=\"{uses}\",outcome=\"Succeeded\"}}");
        prometheus.wait_for_one(&query, |n| n == 2.0).await;
    }
    // Both queues are empty again.
    for stage in ["test", "uat"] {
        let query = format!("lading_promoter_queue_depth{{project=\"demo\",stage=\"{stage}\"}}");
        prometheus.wait_for_one(&query, |n| n == 0.0).await;
    }

    // The warehouse: one freight, from a discovery that created it.
    prometheus
        .wait_for_one("lading_warehouse_freight_created_total{project=\"demo\",warehouse=\"app\"}", |n| n == 1.0)
        .await;
    prometheus
        .wait_for_one("lading_warehouse_discovery_duration_seconds_count{result=\"created\"}", |n| n == 1.0)
        .await;

    // The verifier: test's verification succeeded, once.
    prometheus
        .wait_for_one("lading_verifier_verification_duration_seconds_count{phase=\"Successful\"}", |n| n == 1.0)
        .await;

    // The bus: every PromotionCreated the promoter handled had its lag measured, and the
    // consumer's pending count is exposed.
    prometheus
        .wait_for_one(
            "lading_bus_event_lag_seconds_count{consumer=\"promoter-run\",event_type=\"dev.lading.promotion.created.v2\"}",
            |n| n >= 2.0,
        )
        .await;
    let lag = prometheus
        .wait_for_one(
            "histogram_quantile(0.99, sum by (le) (lading_bus_event_lag_seconds_bucket{consumer=\"promoter-run\"}))",
            |q| q.is_finite() && q >= 0.0,
        )
        .await;
    println!("event lag p99 for promoter-run: {lag:.3} s");
    prometheus.wait_for_one("lading_bus_consumer_pending{consumer=\"promoter-run\"}", |n| n >= 0.0).await;
}

/// The metric families a PromQL expression names (`lading_…`, without the `_bucket`,
/// `_sum`, `_count` or `_total` a sample adds).
fn families_in(expr: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("lading_") {
        let name: String = rest[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        rest = &rest[at + name.len()..];
        let family = ["_bucket", "_sum", "_count", "_total"]
            .iter()
            .find_map(|suffix| name.strip_suffix(suffix))
            .unwrap_or(&name);
        found.push(family.to_owned());
    }
    found
}

#[test]
fn the_dashboard_charts_only_metrics_lading_exposes() {
    let dashboard: serde_json::Value =
        serde_json::from_str(include_str!("../../k8s/monitoring/lading-dashboard.json")).unwrap();
    let exposed: Vec<&str> = lading_runtime::metrics::FAMILIES.iter().map(|(name, _)| *name).collect();
    let mut charted = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            for family in families_in(target["expr"].as_str().unwrap()) {
                assert!(
                    exposed.contains(&family.as_str()),
                    "panel {:?} charts {family}, which Lading does not expose",
                    panel["title"]
                );
                charted.push(family);
            }
        }
    }
    for family in exposed {
        assert!(charted.iter().any(|c| c == family), "{family} has no panel");
    }
}
