//! The Kubernetes manifests (`k8s/`) against a real kube-apiserver: every overlay, and
//! `k8s/monitoring` on top of it, rendered with `kubectl kustomize` and sent through
//! `kubectl apply --dry-run=server`, so the apiserver validates and admits every object
//! (schemas of the built-in kinds, the CRDs' own schemas) without keeping any of them.
//!
//! The cluster is given what a real one would have before Lading is installed: the
//! Prometheus Operator's ServiceMonitor CRD (`tests/fixtures/prometheus-operator`).
//!
//! The apiserver here is v1.20, which serves PodDisruptionBudgets only as
//! `policy/v1beta1` (`policy/v1` came with 1.21, and 1.25 removed `v1beta1`). The
//! manifests keep `policy/v1` for the clusters people run; for a server that lacks it,
//! and only then, this test sends the budgets as `policy/v1beta1`, whose spec has the
//! same fields (`minAvailable`, `maxUnavailable`, `selector`).

use std::path::{Path, PathBuf};
use std::process::Command;

use lading_tests::kube::TestKube;
use serde_json::Value;

fn k8s() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../k8s")
}

/// A kustomization under `k8s/` rendered with `kubectl kustomize`, one value per object.
fn render(kustomization: &str) -> Vec<Value> {
    let dir = k8s().join(kustomization);
    let output =
        Command::new("kubectl").arg("kustomize").arg(&dir).output().expect("kubectl runs (scripts/test installs it)");
    assert!(output.status.success(), "rendering {kustomization}: {}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).expect("kustomize prints UTF-8");
    serde_saphyr::from_multiple::<Value>(&text)
        .expect("the rendering parses")
        .into_iter()
        .filter(|v| !v.is_null())
        .collect()
}

/// The objects as `server` takes them: PodDisruptionBudgets as `policy/v1beta1` when it
/// does not serve `policy/v1` (a 1.20 apiserver; see the module's doc).
fn for_server(mut objects: Vec<Value>, server_has_policy_v1: bool) -> Vec<Value> {
    if !server_has_policy_v1 {
        for object in &mut objects {
            if object["kind"] == "PodDisruptionBudget" && object["apiVersion"] == "policy/v1" {
                object["apiVersion"] = "policy/v1beta1".into();
            }
        }
    }
    objects
}

fn name_of(object: &Value) -> String {
    format!("{}/{}", object["kind"].as_str().unwrap_or("?"), object["metadata"]["name"].as_str().unwrap_or("?"))
}

/// `kubectl apply --dry-run=server` of `objects`; every one must be accepted.
async fn dry_run(kube: &TestKube, what: &str, objects: &[Value]) {
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": objects}).to_string();
    let (ok, out, err) = kube.kubectl_with_input(&["apply", "--dry-run=server", "-f", "-"], Some(&list)).await;
    assert!(ok, "{what}: the apiserver refuses objects:\n{err}\n(accepted:\n{out})");
    let accepted: Vec<&str> = out.lines().filter(|l| l.ends_with("(server dry run)")).collect();
    assert_eq!(
        accepted.len(),
        objects.len(),
        "{what}: {} objects sent, {} accepted:\n{out}{err}\nsent: {:?}",
        objects.len(),
        accepted.len(),
        objects.iter().map(name_of).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_overlay_passes_a_server_side_dry_run() {
    let kube = TestKube::start().await;

    // What a cluster running the Prometheus Operator has.
    let fixture =
        concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/prometheus-operator/servicemonitors.monitoring.coreos.com.yaml");
    kube.kubectl_ok(&["apply", "-f", fixture]).await;
    kube.kubectl_ok(&[
        "wait",
        "--for",
        "condition=established",
        "--timeout=60s",
        "crd/servicemonitors.monitoring.coreos.com",
    ])
    .await;

    let versions = kube.kubectl_ok(&["api-versions"]).await;
    let server_has_policy_v1 = versions.lines().any(|v| v.trim() == "policy/v1");

    for overlay in ["overlays/dev", "overlays/production"] {
        let objects = for_server(render(overlay), server_has_policy_v1);
        assert!(objects.iter().any(|o| o["kind"] == "Deployment"), "{overlay}: renders no Deployment");
        // A dry run keeps nothing, so the namespaced objects of the same run would find
        // no namespace: the Namespace is created for real first (and dry-run applied
        // again with the rest, so it is checked too).
        let namespaces: Vec<Value> = objects.iter().filter(|o| o["kind"] == "Namespace").cloned().collect();
        assert!(!namespaces.is_empty(), "{overlay}: renders no Namespace");
        let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": namespaces}).to_string();
        let (ok, out, err) = kube.kubectl_with_input(&["apply", "-f", "-"], Some(&list)).await;
        assert!(ok, "{overlay}: its Namespace: {out}{err}");
        dry_run(&kube, overlay, &objects).await;

        // The monitoring add-on, applied after an overlay.
        let monitoring = render("monitoring");
        assert!(monitoring.iter().any(|o| o["kind"] == "ServiceMonitor"), "k8s/monitoring renders no ServiceMonitor");
        dry_run(&kube, &format!("monitoring after {overlay}"), &monitoring).await;
    }
}
