//! Streams and buckets follow the cluster: kept by three servers on a cluster of three,
//! by as many as configured when configured, and never shrunk by a service that starts
//! while a server is down.

use lading_bus::Bus;
use lading_bus::names::*;
use lading_tests::nats::TestNats;
use lading_tests::nats_cluster::TestNatsCluster;

/// Every stream Lading provisions, KV buckets and the object store included.
fn streams() -> Vec<String> {
    let mut names: Vec<String> =
        [EVENTS_STREAM, DISCOVERY_STREAM, DEAD_LETTER_STREAM, PUBLIC_STREAM].map(str::to_owned).to_vec();
    for bucket in [SPECS_BUCKET, ALIASES_BUCKET, LEASES_BUCKET, CLAIMS_BUCKET, TOKENS_BUCKET, CURSORS_BUCKET] {
        names.push(format!("KV_{bucket}"));
    }
    names.push(format!("OBJ_{SNAPSHOTS_BUCKET}"));
    names
}

async fn replicas(bus: &Bus) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for name in streams() {
        let mut stream = bus.jetstream().get_stream(&name).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        out.push((name, stream.info().await.unwrap().config.num_replicas));
    }
    out
}

fn all(count: usize) -> Vec<(String, usize)> {
    streams().into_iter().map(|name| (name, count)).collect()
}

async fn provision(url: &str, replicas: Option<usize>) -> Bus {
    let bus = Bus::connect(url, "api").await.unwrap().with_stream_replicas(replicas);
    bus.provision().await.unwrap();
    bus.provision_public(lading_bus::public::DEFAULT_MAX_AGE).await.unwrap();
    bus
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_of_three_every_stream_and_bucket_is_kept_by_three_servers() {
    let cluster = TestNatsCluster::start(3).await;
    let bus = provision(&cluster.url(), None).await;
    assert_eq!(bus.replicas().await.count, 3, "derived from the servers the cluster advertises");
    assert_eq!(replicas(&bus).await, all(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_single_server_every_stream_has_one_replica() {
    let nats = TestNats::start().await;
    let bus = provision(&nats.url(), None).await;
    assert_eq!(replicas(&bus).await, all(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_replicas_apply_and_a_start_during_an_outage_does_not_shrink_them() {
    let mut cluster = TestNatsCluster::start(3).await;
    // Configured: one copy, although the cluster has three servers.
    let bus = provision(&cluster.url(), Some(1)).await;
    assert_eq!(replicas(&bus).await, all(1));
    // Derived again (the setting removed): raised to the cluster's size.
    let bus = provision(&cluster.url(), None).await;
    assert_eq!(replicas(&bus).await, all(3));
    // A service starting while a server is down sees two servers and keeps three copies.
    cluster.kill(2).await;
    let url = cluster.url();
    let bus =
        lading_tests::wait::until("a server to advertise two servers", std::time::Duration::from_secs(30), || {
            let url = url.clone();
            async move {
                let bus = Bus::connect(&url, "api").await.map_err(|e| e.to_string())?;
                match bus.replicas().await.count {
                    2 => Ok(bus),
                    other => Err(format!("{other} replicas derived")),
                }
            }
        })
        .await;
    bus.provision().await.unwrap();
    assert_eq!(replicas(&bus).await, all(3));
}
