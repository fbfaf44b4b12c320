//! How long a fact on the log takes to show in `kubectl get` (an ignored measurement).

use super::*;

/// How long a fact on the log takes to show in `kubectl get`, with 1,000 freight in the
/// project: `FreightCreated` events published on the log, timed until a watch on the
/// cluster sees each Freight object (what `kubectl get freight` then prints).
/// Reference: within a second. Run with
/// `cargo test -p lading-cli --test kubernetes -- --ignored --nocapture status_latency`
/// (`LADING_KUBE_SAMPLES`, default 100).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: prints p50/p99 instead of asserting"]
async fn status_latency_with_1000_freight_in_the_project() {
    use futures::StreamExt;
    use kube::runtime::watcher;
    use lading_events::Event;
    use lading_events::catalog::FreightCreatedV1;
    use std::time::Instant;

    const IN_PROJECT: u32 = 1_000;
    let samples: u32 = std::env::var("LADING_KUBE_SAMPLES").ok().and_then(|s| s.parse().ok()).unwrap_or(100);
    let freight = |n: u32| {
        Event::FreightCreated(FreightCreatedV1 {
            project: "demo".into(),
            freight_id: format!("{n:040x}"),
            alias: format!("bench-{n}"),
            origin_kind: "Warehouse".into(),
            origin_name: "app".into(),
            commits: vec![],
            images: vec![],
            charts: vec![],
            created_at_ms: chrono::Utc::now().timestamp_millis(),
        })
    };
    let kube = TestKube::start().await;
    kube.install_crds().await;
    let options =
        SandboxOptions { with_promoter: false, kube: Some(kube.lading_settings().await), ..SandboxOptions::default() };
    let sandbox = Sandbox::start_with_options(options).await;
    let project = "apiVersion: lading.dev/v1alpha1\nkind: Project\nmetadata:\n  name: demo\n";
    let (ok, out, err) = kube.kubectl_with_input(&["apply", "-f", "-"], Some(project)).await;
    assert!(ok, "{out}{err}");
    wait::until("namespace demo", TIMEOUT, || async {
        let (ok, out, err) = kube.kubectl(&["get", "namespace", "demo"]).await;
        if ok { Ok(()) } else { Err(format!("{out}{err}")) }
    })
    .await;

    let resource = lading_api::kubernetes::crds::FREIGHT.api_resource();
    let api: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(kube.client().await, "demo", &resource);
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
    let watch = tokio::spawn(async move {
        let mut stream = watcher(api, watcher::Config::default()).boxed();
        while let Some(event) = stream.next().await {
            if let Ok(watcher::Event::Apply(object) | watcher::Event::InitApply(object)) = event {
                let _ = seen_tx.send((object.metadata.name.unwrap_or_default(), Instant::now()));
            }
        }
    });
    let bus = sandbox.nats.bus("measure").await;
    let trace = lading_bus::tracing_context::new_root;
    let started = Instant::now();
    for n in 1..=IN_PROJECT {
        bus.publish(&freight(n), &trace()).await.unwrap();
    }
    let mut shown = std::collections::HashSet::new();
    while shown.len() < IN_PROJECT as usize {
        let (name, _) = tokio::time::timeout(Duration::from_secs(300), seen_rx.recv()).await.unwrap().unwrap();
        shown.insert(name);
    }
    println!("{IN_PROJECT} freight published and shown in the cluster in {:.2?}", started.elapsed());

    let mut latencies = Vec::new();
    for i in 0..samples {
        let n = IN_PROJECT + 1 + i;
        let name = format!("{n:040x}");
        let published = Instant::now();
        bus.publish(&freight(n), &trace()).await.unwrap();
        let at = loop {
            let (seen, at) = tokio::time::timeout(Duration::from_secs(30), seen_rx.recv()).await.unwrap().unwrap();
            if seen == name {
                break at;
            }
        };
        latencies.push(at - published);
    }
    latencies.sort();
    let at = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "event -> visible in kubectl get ({samples} samples, {} freight in the project): p50 {:.1?}, p99 {:.1?}, max {:.1?}; reference: within 1 s",
        IN_PROJECT + samples,
        at(0.5),
        at(0.99),
        latencies[latencies.len() - 1],
    );
    watch.abort();
}
