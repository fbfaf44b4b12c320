//! How long a fact on the log takes to show in `kubectl get`, with 1,000 freight in the
//! project: a real kube-apiserver and etcd, the api in Kubernetes mode, `FreightCreated`
//! events published on the log, and the time until a watch on the cluster sees each
//! Freight object (what `kubectl get freight` then prints). The reference: within
//! a second.
//!
//! `cargo bench -p lading-tests --bench kube_status [-- SAMPLES]`

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::runtime::watcher;
use lading_bus::Bus;
use lading_events::Event;
use lading_events::catalog::FreightCreatedV1;
use lading_tests::kube::TestKube;
use lading_tests::sandbox::{Sandbox, SandboxOptions};
use lading_tests::wait;

const IN_PROJECT: u32 = 1_000;

fn freight(n: u32) -> Event {
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
}

async fn publish(bus: &Bus, event: &Event) {
    bus.publish(event, &lading_bus::tracing_context::new_root()).await.expect("published");
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let samples: u32 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(100);
    let kube = TestKube::start().await;
    kube.install_crds().await;
    let options =
        SandboxOptions { with_promoter: false, kube: Some(kube.lading_settings().await), ..SandboxOptions::default() };
    let sandbox = Sandbox::start_with_options(options).await;
    let project = "apiVersion: lading.dev/v1alpha1\nkind: Project\nmetadata:\n  name: demo\n";
    let (ok, out, err) = kube.kubectl_with_input(&["apply", "-f", "-"], Some(project)).await;
    assert!(ok, "{out}{err}");
    wait::until("namespace demo", Duration::from_secs(60), || async {
        let (ok, out, err) = kube.kubectl(&["get", "namespace", "demo"]).await;
        if ok { Ok(()) } else { Err(format!("{out}{err}")) }
    })
    .await;

    // A watch on the project's Freight objects: when each first shows.
    let client = kube.client().await;
    let resource = lading_api::kubernetes::crds::FREIGHT.api_resource();
    let api: Api<DynamicObject> = Api::namespaced_with(client, "demo", &resource);
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
    tokio::spawn(async move {
        let mut stream = watcher(api, watcher::Config::default()).boxed();
        while let Some(event) = stream.next().await {
            if let Ok(watcher::Event::Apply(object) | watcher::Event::InitApply(object)) = event {
                let _ = seen_tx.send((object.metadata.name.unwrap_or_default(), Instant::now()));
            }
        }
    });

    let bus = sandbox.nats.bus("bench").await;
    let started = Instant::now();
    for n in 1..=IN_PROJECT {
        publish(&bus, &freight(n)).await;
    }
    let mut first_seen: HashMap<String, Instant> = HashMap::new();
    while first_seen.len() < IN_PROJECT as usize {
        let (name, at) = tokio::time::timeout(Duration::from_secs(300), seen_rx.recv())
            .await
            .expect("the 1,000 freight show within 5 minutes")
            .expect("the watch runs");
        first_seen.entry(name).or_insert(at);
    }
    let initial = started.elapsed();
    println!("{IN_PROJECT} freight published and shown in the cluster: {initial:.2?}");

    let mut latencies = Vec::new();
    for i in 0..samples {
        let n = IN_PROJECT + 1 + i;
        let name = format!("{n:040x}");
        let published = Instant::now();
        publish(&bus, &freight(n)).await;
        let shown = loop {
            let (seen, at) = tokio::time::timeout(Duration::from_secs(30), seen_rx.recv())
                .await
                .expect("the freight shows within 30 s")
                .expect("the watch runs");
            if seen == name {
                break at;
            }
        };
        latencies.push(shown - published);
    }
    latencies.sort();
    println!(
        "event -> visible in kubectl get, {samples} samples, {} freight in the project: p50 {:.1?}, p99 {:.1?}, max {:.1?} (reference: within 1 s)",
        IN_PROJECT + samples,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies[latencies.len() - 1],
    );
    drop(sandbox);
    drop(kube);
}
