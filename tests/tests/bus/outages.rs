//! The bus while NATS is away: consumers that start without quorum, outcomes retried
//! past the deduplication window, bounded publishes and shutdown during an outage.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_started_while_jetstream_has_no_quorum_starts_once_it_is_back() {
    let mut cluster = lading_tests::nats_cluster::TestNatsCluster::start(3).await;
    let bus = cluster.bus("test").await;
    bus.publish(&refresh("waiting"), &lading_bus::tracing_context::new_root()).await.unwrap();
    // Given a cluster that lost two of its three servers (no JetStream leader),
    cluster.kill(1).await;
    cluster.kill(2).await;
    // when a consumer starts,
    let handled = Arc::new(AtomicUsize::new(0));
    let counted = handled.clone();
    let (shutdown, consumer) = consume_refreshes(&bus, "late", 3, move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
        async { Ok(Outcome::Done) }
    });
    // then it does not give up: it tries again,
    let retries = || lading_runtime::metrics::value("lading_bus_consumer_start_retries_total", &[("consumer", "late")]);
    let failed_at_once = wait::until("the consumer to fail to start, or to try again", Duration::from_secs(60), || {
        let finished = consumer.is_finished();
        async move {
            match (finished, retries()) {
                (true, _) => Ok(true),
                (false, 0) => Err("neither yet".to_owned()),
                (false, _) => Ok(false),
            }
        }
    })
    .await;
    assert!(!failed_at_once, "the consumer gave up while NATS had no quorum: {:?}", consumer.await);
    // and once the servers are back, it handles what was waiting.
    cluster.resume(1).await;
    cluster.resume(2).await;
    wait::until("the waiting message to be handled", Duration::from_secs(60), || {
        let n = handled.load(Ordering::SeqCst);
        async move { if n == 1 { Ok(()) } else { Err(format!("{n} handled")) } }
    })
    .await;
    shutdown.cancel();
    consumer.await.unwrap().unwrap();
}

#[tokio::test]
async fn an_outcome_retried_after_the_deduplication_window_is_stored_once() {
    use lading_events::catalog::PromotionSucceededV1;
    let nats = TestNats::start().await;
    let bus = nats.bus("test").await;
    let trace = lading_bus::tracing_context::new_root();
    // Given an event stream that forgets message IDs after 200 ms (two minutes in use),
    let mut stream = bus.jetstream().get_stream(EVENTS_STREAM).await.unwrap();
    let mut config = stream.info().await.unwrap().config.clone();
    config.duplicate_window = Duration::from_millis(200);
    bus.jetstream().update_stream(config).await.unwrap();
    let outcome = Event::PromotionSucceeded(PromotionSucceededV1 {
        project: "demo".into(),
        stage: "test".into(),
        promotion: "test.01.aaaaaaa".into(),
        freight_id: "f".repeat(40),
        commit: "c".repeat(40),
        finished_at_ms: 1,
    });
    assert!(matches!(bus.publish_terminal(&outcome, &trace).await.unwrap(), Published::Stored(_)));
    // when the window has passed (the same refresh request is stored again),
    assert!(matches!(bus.publish(&refresh("probe"), &trace).await.unwrap(), Published::Stored(_)));
    wait::until("the deduplication window to pass", Duration::from_secs(10), || async {
        match bus.publish(&refresh("probe"), &trace).await.unwrap() {
            Published::Stored(_) => Ok(()),
            Published::Duplicate => Err("still within the window".to_owned()),
        }
    })
    .await;
    // then the outcome published again is still a duplicate, stored once.
    assert_eq!(bus.publish_terminal(&outcome, &trace).await.unwrap(), Published::Duplicate);
    let on_subject = stream.info().await.unwrap().state.messages - 2;
    assert_eq!(on_subject, 1, "the outcome is stored once");
    // A plain publish would have stored it again: the guard is the subject's last message.
    assert!(matches!(bus.publish(&outcome, &trace).await.unwrap(), Published::Stored(_)));
}

/// Publish attempts that got no acknowledgement, in this test's process.
fn publish_failures() -> u64 {
    lading_runtime::metrics::value("lading_bus_publish_failures_total", &[])
}

/// Attempts fail after 100 ms instead of 5 s, and pauses are a tenth of their length:
/// an outage looks the same to the bus, in less time.
fn quick_timing() -> PublishTiming {
    PublishTiming { ack_timeout: Duration::from_millis(100), first_pause: Duration::from_millis(10) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decided_fact_survives_a_nats_outage_longer_than_a_bounded_publish_and_is_stored_once() {
    let mut nats = TestNats::start().await;
    let bus = nats.bus("test").await.with_publish_timing(quick_timing());
    let trace = lading_bus::tracing_context::new_root();
    let shutdown = Shutdown::new();
    nats.kill().await;
    // Given a fact a service decided while NATS is away,
    let publishing = {
        let (bus, shutdown) = (bus.clone(), shutdown.clone());
        tokio::spawn(async move { bus.publish_until_stored(&refresh("decided"), &trace, &shutdown).await })
    };
    // when the outage lasts longer than a plain publish tries (it gives up after
    // PUBLISH_ATTEMPTS failed attempts, each waiting for its acknowledgement as in
    // production), then the publish is still trying,
    let beyond_a_give_up = u64::from(PUBLISH_ATTEMPTS);
    wait::until("the publish to fail more often than a bounded publish would", Duration::from_secs(30), || {
        let (finished, failures) = (publishing.is_finished(), publish_failures());
        async move {
            assert!(!finished, "the publish gave up during the outage after {failures} failed attempts");
            if failures > beyond_a_give_up { Ok(()) } else { Err(format!("{failures} failed attempts")) }
        }
    })
    .await;
    assert!(!publishing.is_finished(), "the publish gave up during the outage: {:?}", publishing.await);
    // and once NATS is back it is stored,
    nats.resume().await;
    let published = tokio::time::timeout(Duration::from_secs(30), publishing)
        .await
        .expect("stored soon after NATS came back")
        .unwrap()
        .expect("stored, not given up");
    // An attempt the client held during the outage may have been stored first; the
    // retry is then recognised as a duplicate.
    assert!(matches!(published, Published::Stored(_) | Published::Duplicate), "{published:?}");
    // once: the stream holds the fact a single time.
    let stored = stream_messages(&nats, EVENTS_STREAM).await;
    assert_eq!(stored, 1, "the fact is stored exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_a_publish_waiting_through_a_nats_outage_at_once() {
    let mut nats = TestNats::start().await;
    // Attempts wait 1 s for their acknowledgement: one plain publish through an outage
    // goes on for about 20 s.
    let timing = PublishTiming { ack_timeout: Duration::from_secs(1), ..PublishTiming::default() };
    let bus = nats.bus("test").await.with_publish_timing(timing);
    let trace = lading_bus::tracing_context::new_root();
    let shutdown = Shutdown::new();
    nats.kill().await;
    // Given a decided fact being published through an outage, its first attempt failed,
    let publishing = {
        let (bus, shutdown) = (bus.clone(), shutdown.clone());
        tokio::spawn(async move { bus.publish_until_stored(&refresh("decided"), &trace, &shutdown).await })
    };
    wait::until("an attempt to fail", Duration::from_secs(30), || async {
        if publish_failures() > 0 { Ok(()) } else { Err("no attempt failed yet".to_owned()) }
    })
    .await;
    // when the service shuts down,
    shutdown.cancel();
    // then the publish ends within a second, with an error (the fact is decided again by
    // whoever handles the event next).
    wait::until("the publish to end after shutdown", Duration::from_secs(1), || {
        let finished = publishing.is_finished();
        async move { if finished { Ok(()) } else { Err("still publishing".to_owned()) } }
    })
    .await;
    let ended = publishing.await.unwrap();
    assert!(ended.is_err(), "{ended:?}");
}
