//! The bus against a real NATS server: deduplication, publish-once, dead letters,
//! retries, trace context, alias claims and leases.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use lading_bus::consume::{DEAD_LETTER_REASON, DEAD_LETTER_SUBJECT};
use lading_bus::names::{ALIASES_BUCKET, DEAD_LETTER_STREAM, EVENTS_STREAM};
use lading_bus::publish::PUBLISH_ATTEMPTS;
use lading_bus::{ConsumerSpec, HandlerError, Outcome, PublishTiming, Published};
use lading_domain::FreightId;
use lading_events::catalog::{FreightCreatedV1, WarehouseRefreshRequestedV1};
use lading_events::{Event, EventType, TraceContext};
use lading_runtime::Shutdown;
use lading_tests::nats::TestNats;
use lading_tests::wait;

const FREIGHT: &str = "1edc32a855f4aceead43bf3774b7fdd88bb48a79";

fn freight_created(at: i64) -> Event {
    Event::FreightCreated(FreightCreatedV1 {
        project: "demo".into(),
        freight_id: FREIGHT.into(),
        alias: "brave-otter".into(),
        origin_kind: "Warehouse".into(),
        origin_name: "app".into(),
        commits: vec![],
        images: vec![],
        charts: vec![],
        created_at_ms: at,
    })
}

fn refresh(request: &str) -> Event {
    Event::WarehouseRefreshRequested(WarehouseRefreshRequestedV1 {
        project: "demo".into(),
        warehouse: "app".into(),
        request_id: request.into(),
        requested_at_ms: 1,
    })
}

async fn stream_messages(nats: &TestNats, stream: &str) -> u64 {
    let bus = nats.bus("test").await;
    let mut stream = bus.jetstream().get_stream(stream).await.unwrap();
    stream.info().await.unwrap().state.messages
}

#[tokio::test]
async fn provisioning_twice_is_harmless() {
    let nats = TestNats::start().await;
    let bus = nats.bus("test").await;
    bus.provision().await.unwrap();
    bus.provision().await.unwrap();
}

#[tokio::test]
async fn a_retried_publish_is_stored_once() {
    let nats = TestNats::start().await;
    let bus = nats.bus("test").await;
    let trace = lading_bus::tracing_context::new_root();
    assert!(matches!(bus.publish(&refresh("r1"), &trace).await.unwrap(), Published::Stored(_)));
    assert_eq!(bus.publish(&refresh("r1"), &trace).await.unwrap(), Published::Duplicate);
    assert!(matches!(bus.publish(&refresh("r2"), &trace).await.unwrap(), Published::Stored(_)));
    assert_eq!(stream_messages(&nats, EVENTS_STREAM).await, 2);
}

#[tokio::test]
async fn publish_once_refuses_a_subject_that_already_has_a_message() {
    let nats = TestNats::start().await;
    let bus = nats.bus("test").await;
    let trace = lading_bus::tracing_context::new_root();
    // Something is already stored on the freight's subject, under another message ID:
    // publish-once must not rely on the deduplication window alone.
    let subject = freight_created(1).subject();
    bus.jetstream().publish(subject, "earlier".into()).await.unwrap().await.unwrap();
    assert_eq!(bus.publish_once(&freight_created(2), &trace).await.unwrap(), Published::Duplicate);
    assert_eq!(stream_messages(&nats, EVENTS_STREAM).await, 1);
}

#[tokio::test]
async fn messages_carry_cloudevents_headers_and_the_trace() {
    let nats = TestNats::start().await;
    let bus = nats.bus("warehouse").await;
    let trace = TraceContext::root(0xabc, 0x1);
    bus.publish(&freight_created(1_767_225_600_000), &trace).await.unwrap();
    let stream = bus.jetstream().get_stream(EVENTS_STREAM).await.unwrap();
    let message = stream.get_raw_message(1).await.unwrap();
    let headers = message.headers;
    let get = |name: &str| headers.get(name).map(|v| v.as_str().to_owned()).unwrap_or_default();
    assert_eq!(get("ce-type"), "dev.lading.freight.created.v1");
    assert_eq!(get("ce-source"), "/lading/warehouse");
    assert_eq!(get("ce-specversion"), "1.0");
    assert_eq!(get("ce-id"), format!("freight-created:demo:{FREIGHT}"));
    assert_eq!(get("ce-subject"), format!("projects/demo/freight/{FREIGHT}"));
    assert_eq!(get("ce-time"), "2026-01-01T00:00:00.000Z");
    assert_eq!(get("traceparent"), trace.to_traceparent());
    assert_eq!(message.subject.as_str(), format!("lading.evt.demo.freight.{FREIGHT}.created"));
}

#[tokio::test]
async fn undecodable_messages_are_dead_lettered_and_counted_and_the_rest_flow_on() {
    let nats = TestNats::start().await;
    let bus = nats.bus("test").await;
    let trace = TraceContext::root(0x77, 0x1);
    // Garbage on a subject the consumer takes, then a good event.
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("ce-type", "dev.lading.warehouse.refresh-requested.v1");
    bus.jetstream()
        .publish_with_headers("lading.evt.demo.warehouse.app.refresh-requested", headers, vec![0xff, 0xff].into())
        .await
        .unwrap()
        .await
        .unwrap();
    bus.publish(&refresh("good"), &trace).await.unwrap();

    let handled = Arc::new(std::sync::Mutex::new(Vec::new()));
    let shutdown = Shutdown::new();
    let consumer = {
        let bus = bus.clone();
        let handled = handled.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let spec = ConsumerSpec::new("dlq-test", vec![EventType::WarehouseRefreshRequestedV1.filter()]);
            bus.consume(spec, shutdown, |delivery| {
                let handled = handled.clone();
                async move {
                    handled.lock().unwrap().push(delivery.trace);
                    Ok(Outcome::Done)
                }
            })
            .await
        })
    };
    wait::until("the good event to be handled", Duration::from_secs(10), || async {
        if handled.lock().unwrap().len() == 1 { Ok(()) } else { Err("not yet".into()) }
    })
    .await;
    // The handler continued the publisher's trace in a new span.
    let seen = handled.lock().unwrap()[0];
    assert_eq!(seen.trace_id, trace.trace_id);
    assert_ne!(seen.span_id, trace.span_id);

    wait::until("a dead letter", Duration::from_secs(10), || async {
        let n = stream_messages(&nats, DEAD_LETTER_STREAM).await;
        if n == 1 { Ok(()) } else { Err(format!("{n} dead letters")) }
    })
    .await;
    let dead = bus.jetstream().get_stream(DEAD_LETTER_STREAM).await.unwrap().get_raw_message(1).await.unwrap();
    assert_eq!(dead.subject.as_str(), "lading.dlq.dlq-test");
    assert_eq!(dead.payload.as_ref(), &[0xff, 0xff]);
    let reason = dead.headers.get(DEAD_LETTER_REASON).unwrap().as_str().to_owned();
    assert!(reason.contains("does not decode"), "{reason}");
    assert_eq!(
        dead.headers.get(DEAD_LETTER_SUBJECT).unwrap().as_str(),
        "lading.evt.demo.warehouse.app.refresh-requested"
    );
    assert!(lading_runtime::metrics::value("lading_bus_dead_letters_total", &[("consumer", "dlq-test")]) >= 1);
    assert_eq!(handled.lock().unwrap().len(), 1, "the garbage never reached the handler");
    shutdown.cancel();
    consumer.await.unwrap().unwrap();
}

#[tokio::test]
async fn transient_failures_are_retried_and_permanent_ones_dead_lettered() {
    let nats = TestNats::start().await;
    let bus = nats.bus("test").await;
    let trace = lading_bus::tracing_context::new_root();
    bus.publish(&refresh("transient"), &trace).await.unwrap();
    bus.publish(&refresh("permanent"), &trace).await.unwrap();
    let attempts = Arc::new(AtomicUsize::new(0));
    let shutdown = Shutdown::new();
    let consumer = {
        let bus = bus.clone();
        let attempts = attempts.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let spec = ConsumerSpec::new("retry-test", vec![EventType::WarehouseRefreshRequestedV1.filter()]);
            bus.consume(spec, shutdown, |delivery| {
                let attempts = attempts.clone();
                async move {
                    let Event::WarehouseRefreshRequested(r) = &delivery.event else { unreachable!() };
                    if r.request_id == "permanent" {
                        return Err(HandlerError::Permanent("cannot ever work".into()));
                    }
                    if attempts.fetch_add(1, Ordering::SeqCst) == 0 {
                        Err(HandlerError::Transient("try again".into()))
                    } else {
                        Ok(Outcome::Done)
                    }
                }
            })
            .await
        })
    };
    wait::until("a retry of the transient failure", Duration::from_secs(10), || async {
        let n = attempts.load(Ordering::SeqCst);
        if n >= 2 { Ok(()) } else { Err(format!("{n} attempts")) }
    })
    .await;
    wait::until("the permanent failure in the dead letters", Duration::from_secs(10), || async {
        let n = stream_messages(&nats, DEAD_LETTER_STREAM).await;
        if n == 1 { Ok(()) } else { Err(format!("{n} dead letters")) }
    })
    .await;
    shutdown.cancel();
    consumer.await.unwrap().unwrap();
    assert_eq!(attempts.load(Ordering::SeqCst), 2, "acknowledged after the retry succeeded");
}

#[tokio::test]
async fn aliases_are_unique_per_project_and_stable_per_freight() {
    let nats = TestNats::start().await;
    let bus = nats.bus("test").await;
    let id = FreightId::parse(FREIGHT).unwrap();
    let first_choice = lading_domain::alias::candidate(&id, 0);
    // Another freight already holds the first candidate in this project.
    let aliases = bus.jetstream().get_key_value(ALIASES_BUCKET).await.unwrap();
    aliases.put(format!("demo.{first_choice}"), "b".repeat(40).into()).await.unwrap();
    let claimed = bus.claim_alias("demo", &id).await.unwrap();
    assert_eq!(claimed, lading_domain::alias::candidate(&id, 1));
    assert_eq!(bus.claim_alias("demo", &id).await.unwrap(), claimed, "the same freight keeps its alias");
    assert_eq!(bus.claim_alias("other", &id).await.unwrap(), first_choice, "projects are separate");
    // Racing claims for one freight agree.
    let other = FreightId::parse(&"c".repeat(40)).unwrap();
    let (a, b) = tokio::join!(bus.claim_alias("race", &other), bus.claim_alias("race", &other));
    assert_eq!(a.unwrap(), b.unwrap());
}

#[tokio::test]
async fn a_lease_has_one_holder_until_released() {
    let nats = TestNats::start().await;
    let bus = nats.bus("test").await;
    let mut lease = bus.try_lease("promotion.demo.test", "a").await.unwrap().expect("free lease");
    assert!(bus.try_lease("promotion.demo.test", "b").await.unwrap().is_none());
    lease.renew().await.unwrap();
    lease.release().await;
    assert!(bus.try_lease("promotion.demo.test", "b").await.unwrap().is_some());
}

#[tokio::test]
async fn an_abort_and_a_resuming_run_racing_for_a_parked_claim_take_it_once() {
    use lading_bus::claims::Claim;
    use lading_domain::promotion_claim::Held;
    // Given two connections, and promotions parked after their push,
    let nats = TestNats::start().await;
    let (api, runner) = (nats.bus("api").await, nats.bus("runner").await);
    let abort = Claim::Aborted { actor: "admin".to_owned(), reason: "aborted by admin".to_owned() };
    for round in 0..30 {
        let promotion = format!("prod.{round}");
        assert_eq!(runner.claim_promotion("demo", &promotion, &Claim::Committed).await.unwrap(), Claim::Committed);
        let parked = runner.replace_claim("demo", &promotion, Held::Committed, &Claim::Parked).await.unwrap();
        assert_eq!(parked, Some(Claim::Parked));
        // when an abort and the run that looks again replace it at once,
        let (aborted, resumed) = tokio::join!(
            api.replace_claim("demo", &promotion, Held::Parked, &abort),
            runner.replace_claim("demo", &promotion, Held::Parked, &Claim::Committed)
        );
        // then both see the one claim that holds, and it is one of theirs.
        let (aborted, resumed) = (aborted.unwrap(), resumed.unwrap());
        assert_eq!(aborted, resumed, "round {round}");
        assert!(aborted == Some(abort.clone()) || aborted == Some(Claim::Committed), "round {round}: {aborted:?}");
    }
    // And a claim that is not parked is left as it is.
    assert_eq!(runner.claim_promotion("demo", "running", &Claim::Committed).await.unwrap(), Claim::Committed);
    let refused = api.replace_claim("demo", "running", Held::Parked, &abort).await.unwrap();
    assert_eq!(refused, Some(Claim::Committed));
    assert_eq!(api.replace_claim("demo", "unclaimed", Held::Parked, &abort).await.unwrap(), None);
}

#[tokio::test]
async fn a_renewal_stored_without_an_answer_leaves_the_lease_with_its_holder() {
    // Given a held lease whose renewal was stored but never answered (its revision moved
    // on with the holder's own name),
    let nats = TestNats::start().await;
    let bus = nats.bus("test").await;
    let key = "promotion.demo.unanswered";
    let mut lease = bus.try_lease(key, "a").await.unwrap().expect("free lease");
    let store = bus.jetstream().get_key_value(lading_bus::names::LEASES_BUCKET).await.unwrap();
    store.put(key, "a".into()).await.unwrap();
    // when its holder renews it, then it is still the holder's;
    lease.renew().await.expect("the holder's own renewal");
    assert!(bus.try_lease(key, "b").await.unwrap().is_none());
    // but once another holder wrote the key, the lease is lost.
    store.put(key, "b".into()).await.unwrap();
    assert!(matches!(lease.renew().await, Err(lading_bus::lease::RenewError::Lost(_))));
}

#[tokio::test]
async fn a_lease_given_up_is_seen_by_its_watcher_before_or_while_it_watches() {
    let nats = TestNats::start().await;
    let bus = nats.bus("test").await;
    let key = "promotion.demo.watched";
    // Given a held lease, a watcher sees it still held when its time is up;
    let lease = bus.try_lease(key, "a").await.unwrap().expect("free lease");
    assert!(!bus.lease_given_up(key, Duration::from_millis(200)).await.unwrap());
    // one watching while it is given up sees that,
    let (given_up, ()) = tokio::join!(bus.lease_given_up(key, Duration::from_secs(30)), lease.release());
    assert!(given_up.unwrap());
    // and so does one that begins watching after it was given up.
    assert!(bus.lease_given_up(key, Duration::from_secs(30)).await.unwrap());
}

#[tokio::test]
async fn facts_sent_through_a_pipeline_are_all_stored_in_order() {
    // Given facts sent one after another without waiting for acknowledgements,
    let nats = TestNats::start().await;
    let bus = nats.bus("test").await;
    let mut pipeline = bus.pipeline(&TraceContext::root(0x99, 0x1), &Shutdown::new());
    for i in 0..50 {
        pipeline.send(refresh(&format!("r{i:02}"))).await;
    }
    // when the pipeline says they are stored,
    pipeline.stored().await.unwrap();
    assert_eq!(pipeline.in_flight(), 0);
    // then the log holds every one, in the order sent.
    let js = bus.jetstream();
    let mut stream = js.get_stream(EVENTS_STREAM).await.unwrap();
    let last = stream.info().await.unwrap().state.last_sequence;
    let mut ids = Vec::new();
    for seq in 1..=last {
        let message = stream.get_raw_message(seq).await.unwrap();
        ids.push(message.headers.get("ce-id").map(|v| v.as_str().to_owned()).unwrap_or_default());
    }
    let expected: Vec<String> = (0..50).map(|i| refresh(&format!("r{i:02}")).identity()).collect();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn replicas_racing_for_a_given_up_lease_take_it_once() {
    // Given two replicas, each on its own connection, and a lease given up (its key holds
    // a delete marker),
    let nats = TestNats::start().await;
    let (one, two) = (nats.bus("one").await, nats.bus("two").await);
    let key = "promotion.demo.race";
    for round in 0..30 {
        if let Some(lease) = one.try_lease(key, "setup").await.unwrap() {
            lease.release().await;
        }
        // when both ask for it at once,
        let (a, b) = tokio::join!(one.try_lease(key, "a"), two.try_lease(key, "b"));
        let (a, b) = (a.unwrap(), b.unwrap());
        // then exactly one holds it.
        assert!(a.is_some() != b.is_some(), "round {round}: a {} b {}", a.is_some(), b.is_some());
        for lease in [a, b].into_iter().flatten() {
            lease.release().await;
        }
    }
}

#[tokio::test]
async fn the_projection_replays_what_was_stored_before_it_started() {
    let nats = TestNats::start().await;
    let bus = nats.bus("test").await;
    let trace = lading_bus::tracing_context::new_root();
    bus.publish(&freight_created(1), &trace).await.unwrap();
    let projection = lading_projection::Projection::follow(&bus, Shutdown::new()).await.unwrap();
    let alias = projection.read(|m| m.project("demo").unwrap().find_freight(FREIGHT).unwrap().freight.alias.clone());
    assert_eq!(alias, "brave-otter");
    // And follows what comes after.
    let Published::Stored(seq) = bus.publish(&refresh("later"), &trace).await.unwrap() else { panic!() };
    assert!(projection.wait_for(seq, Duration::from_secs(5)).await);
}

/// Consumes refresh requests with `handler` until the returned shutdown is cancelled.
fn consume_refreshes<F, Fut>(
    bus: &lading_bus::Bus,
    name: &str,
    max_failures: u32,
    handler: F,
) -> (Shutdown, tokio::task::JoinHandle<lading_bus::Result<()>>)
where
    F: Fn(lading_bus::Delivery) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Outcome, HandlerError>> + Send + 'static,
{
    let shutdown = Shutdown::new();
    let bus = bus.clone();
    let mut spec = ConsumerSpec::new(name, vec![EventType::WarehouseRefreshRequestedV1.filter()]);
    spec.max_failures = max_failures;
    let stop = shutdown.clone();
    (shutdown, tokio::spawn(async move { bus.consume(spec, stop, handler).await }))
}

async fn dead_letter_reasons(nats: &TestNats) -> Vec<String> {
    let bus = nats.bus("test").await;
    let stream = bus.jetstream().get_stream(DEAD_LETTER_STREAM).await.unwrap();
    let count = stream_messages(nats, DEAD_LETTER_STREAM).await;
    let mut reasons = Vec::new();
    for seq in 1..=count {
        let message = stream.get_raw_message(seq).await.unwrap();
        reasons.push(message.headers.get(DEAD_LETTER_REASON).unwrap().as_str().to_owned());
    }
    reasons
}

#[tokio::test]
async fn a_message_that_keeps_failing_is_dead_lettered_after_bounded_retries() {
    let nats = TestNats::start().await;
    let bus = nats.bus("test").await;
    let trace = lading_bus::tracing_context::new_root();
    bus.publish(&refresh("never"), &trace).await.unwrap();
    let attempts = Arc::new(AtomicUsize::new(0));
    let counted = attempts.clone();
    // Given a handler that always fails transiently, with at most 3 failures allowed,
    let (shutdown, consumer) = consume_refreshes(&bus, "bounded", 3, move |_| {
        counted.fetch_add(1, Ordering::SeqCst);
        async { Err(HandlerError::Transient("the remote is down".into())) }
    });
    // then the message ends in the dead letters with the reason, after 3 attempts.
    wait::until("the message to be dead-lettered", Duration::from_secs(20), || async {
        let reasons = dead_letter_reasons(&nats).await;
        if reasons.len() == 1 { Ok(reasons) } else { Err(format!("{reasons:?}")) }
    })
    .await;
    let reason = &dead_letter_reasons(&nats).await[0];
    assert_eq!(reason, "gave up after 3 failed attempts: the remote is down");
    shutdown.cancel();
    consumer.await.unwrap().unwrap();
    assert_eq!(attempts.load(Ordering::SeqCst), 3, "no delivery after the dead letter");
}

#[tokio::test]
async fn a_panicking_handler_does_not_stop_the_consumer() {
    let nats = TestNats::start().await;
    let bus = nats.bus("test").await;
    let trace = lading_bus::tracing_context::new_root();
    bus.publish(&refresh("boom"), &trace).await.unwrap();
    bus.publish(&refresh("fine"), &trace).await.unwrap();
    let handled = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = handled.clone();
    // Given a handler that panics on one message,
    let (shutdown, consumer) = consume_refreshes(&bus, "panics", 2, move |delivery| {
        let seen = seen.clone();
        async move {
            let Event::WarehouseRefreshRequested(r) = &delivery.event else { unreachable!() };
            if r.request_id == "boom" {
                panic!("an expression blew up");
            }
            seen.lock().unwrap().push(r.request_id.clone());
            Ok(Outcome::Done)
        }
    });
    // then the next message is handled, and the panicking one is dead-lettered with why.
    wait::until("the panicking message to be dead-lettered", Duration::from_secs(20), || async {
        let reasons = dead_letter_reasons(&nats).await;
        if reasons.len() == 1 { Ok(()) } else { Err(format!("{reasons:?}")) }
    })
    .await;
    assert_eq!(handled.lock().unwrap().as_slice(), ["fine"]);
    assert!(dead_letter_reasons(&nats).await[0].contains("the handler panicked: an expression blew up"));
    shutdown.cancel();
    consumer.await.unwrap().unwrap();
}

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
