//! The read model's follower against a real NATS server: it starts from a snapshot and
//! reads only the log's tail, follows again when its consumer vanishes, says it is not
//! ready while behind, and keeps only the latest discovery per warehouse.

use std::time::Duration;

use lading_bus::Published;
use lading_bus::names::{DISCOVERY_STREAM, EVENTS_STREAM};
use lading_events::Event;
use lading_events::catalog::{FreightCreatedV1, WarehouseArtifactsDiscoveredV1, WarehouseRefreshRequestedV1};
use lading_projection::{FollowOptions, Projection};
use lading_runtime::{Readiness, Shutdown};
use lading_tests::nats::TestNats;
use lading_tests::wait;

fn freight(n: u32) -> Event {
    Event::FreightCreated(FreightCreatedV1 {
        project: "demo".into(),
        freight_id: format!("{n:040x}"),
        alias: format!("alias-{n}"),
        origin_kind: "Warehouse".into(),
        origin_name: "app".into(),
        commits: vec![],
        images: vec![],
        charts: vec![],
        created_at_ms: i64::from(n),
    })
}

fn discovered(at: i64) -> Event {
    Event::WarehouseArtifactsDiscovered(WarehouseArtifactsDiscoveredV1 {
        project: "demo".into(),
        warehouse: "app".into(),
        discovered_at_ms: at,
        ..Default::default()
    })
}

async fn publish(bus: &lading_bus::Bus, event: &Event) -> u64 {
    match bus.publish(event, &lading_bus::tracing_context::new_root()).await.unwrap() {
        Published::Stored(seq) => seq,
        Published::Duplicate => panic!("not stored"),
    }
}

fn known(projection: &Projection) -> usize {
    projection.read(|m| m.project("demo").map_or(0, |p| p.freight.len()))
}

#[tokio::test]
async fn start_up_reads_the_latest_snapshot_and_only_the_tail_of_the_log() {
    let nats = TestNats::start().await;
    let bus = nats.bus("test").await;
    for n in 1..=5 {
        publish(&bus, &freight(n)).await;
    }
    // Given a snapshot covering the first five events,
    let first = Projection::follow(&bus, Shutdown::new()).await.unwrap();
    first.write_snapshot().await.unwrap();
    let covered = first.applied();
    // and a log that no longer holds them (as after the stream's limits removed them),
    let stream = bus.jetstream().get_stream(EVENTS_STREAM).await.unwrap();
    stream.purge().sequence(covered + 1).await.unwrap();
    for n in 6..=7 {
        publish(&bus, &freight(n)).await;
    }
    // when a projection starts, then it knows the snapshot's freight and the tail's.
    let second = Projection::follow(&bus, Shutdown::new()).await.unwrap();
    assert_eq!(known(&second), 7);
    assert!(second.read(|m| m.project("demo").unwrap().find_freight("alias-1").is_some()));
}

#[tokio::test]
async fn a_snapshot_of_another_stream_is_ignored() {
    let nats = TestNats::start().await;
    let bus = nats.bus("test").await;
    publish(&bus, &freight(1)).await;
    publish(&bus, &freight(2)).await;
    let first = Projection::follow(&bus, Shutdown::new()).await.unwrap();
    first.write_snapshot().await.unwrap();
    // Given the events stream recreated (its history gone) after the snapshot,
    bus.jetstream().delete_stream(EVENTS_STREAM).await.unwrap();
    bus.provision().await.unwrap();
    for n in 3..=5 {
        publish(&bus, &freight(n)).await;
    }
    // then a new projection replays the new stream and ignores the stale snapshot (whose
    // position the new stream has passed).
    let second = Projection::follow(&bus, Shutdown::new()).await.unwrap();
    assert_eq!(known(&second), 3);
    assert!(second.read(|m| m.project("demo").unwrap().find_freight("alias-3").is_some()));
}

#[tokio::test]
async fn the_follower_follows_again_when_its_consumer_vanishes() {
    let nats = TestNats::start().await;
    let bus = nats.bus("test").await;
    publish(&bus, &freight(1)).await;
    let projection = Projection::follow(&bus, Shutdown::new()).await.unwrap();
    // When every consumer of the events stream is deleted on the server,
    let stream = bus.jetstream().get_stream(EVENTS_STREAM).await.unwrap();
    let names: Vec<String> =
        futures::StreamExt::collect::<Vec<_>>(stream.consumer_names()).await.into_iter().map(|n| n.unwrap()).collect();
    assert!(!names.is_empty());
    for name in names {
        stream.delete_consumer(&name).await.unwrap();
    }
    // then events published afterwards still reach the model.
    let seq = publish(&bus, &freight(2)).await;
    assert!(projection.wait_for(seq, Duration::from_secs(30)).await, "applied {}", projection.applied());
    assert_eq!(known(&projection), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_is_false_while_the_model_is_behind_and_true_once_it_caught_up() {
    let nats = TestNats::start().await;
    let bus = nats.bus("test").await;
    let readiness = Readiness::new();
    let options = FollowOptions {
        ready: Some(readiness.register("read-model")),
        lag_bound: Duration::from_millis(500),
        ..FollowOptions::default()
    };
    let projection = Projection::follow_with(&bus, Shutdown::new(), options).await.unwrap();
    assert!(readiness.is_ready());
    // Given a follower that cannot apply (a reader holds the model),
    let (release, released) = std::sync::mpsc::channel::<()>();
    let (held, holds) = std::sync::mpsc::channel::<()>();
    let reader = projection.clone();
    let holding = std::thread::spawn(move || {
        reader.read(|_| {
            held.send(()).unwrap();
            released.recv()
        })
    });
    // (the reader holds the model before anything is published)
    holds.recv().unwrap();
    publish(&bus, &freight(1)).await;
    // then it is not ready once it is behind for longer than the bound,
    wait::until("not ready", Duration::from_secs(10), || async {
        if readiness.is_ready() { Err("still ready".to_owned()) } else { Ok(()) }
    })
    .await;
    // and ready again once it caught up.
    release.send(()).unwrap();
    holding.join().unwrap().unwrap();
    wait::until("ready again", Duration::from_secs(10), || async {
        if readiness.is_ready() { Ok(()) } else { Err(format!("{:?}", readiness.waiting_for())) }
    })
    .await;
    assert_eq!(known(&projection), 1);
}

#[tokio::test]
async fn only_the_latest_discovery_of_a_warehouse_is_kept_and_facts_stay_whole() {
    let nats = TestNats::start().await;
    let bus = nats.bus("test").await;
    for at in 1..=5 {
        publish(&bus, &discovered(at)).await;
    }
    let refresh = Event::WarehouseRefreshRequested(WarehouseRefreshRequestedV1 {
        project: "demo".into(),
        warehouse: "app".into(),
        request_id: "r".into(),
        requested_at_ms: 1,
    });
    publish(&bus, &refresh).await;
    let mut discoveries = bus.jetstream().get_stream(DISCOVERY_STREAM).await.unwrap();
    assert_eq!(discoveries.info().await.unwrap().state.messages, 1, "one discovery per warehouse");
    let mut events = bus.jetstream().get_stream(EVENTS_STREAM).await.unwrap();
    assert_eq!(events.info().await.unwrap().state.messages, 1, "the refresh request is a fact");
    let projection = Projection::follow(&bus, Shutdown::new()).await.unwrap();
    let at =
        projection.read(|m| m.project("demo").unwrap().warehouses["app"].discovered.as_ref().unwrap().discovered_at_ms);
    assert_eq!(at, 5);
}

#[tokio::test]
async fn an_events_stream_from_before_the_discovery_stream_is_narrowed_to_facts() {
    let nats = TestNats::start().await;
    let client = nats.client().await;
    let js = async_nats::jetstream::new(client);
    // Given an events stream holding every event subject, as earlier versions made it,
    js.create_stream(async_nats::jetstream::stream::Config {
        name: EVENTS_STREAM.to_owned(),
        subjects: vec!["lading.evt.>".to_owned()],
        ..Default::default()
    })
    .await
    .unwrap();
    // when provisioned, then discoveries go to their own stream.
    let bus = nats.bus("test").await;
    publish(&bus, &discovered(1)).await;
    let mut discoveries = bus.jetstream().get_stream(DISCOVERY_STREAM).await.unwrap();
    assert_eq!(discoveries.info().await.unwrap().state.messages, 1);
}
