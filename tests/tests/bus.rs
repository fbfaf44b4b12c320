//! The bus against a real NATS server: deduplication, publish-once, dead letters,
//! retries, trace context and alias claims; leases and promotion claims in
//! `leases_and_claims`, NATS outages in `outages`.

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

#[path = "bus/leases_and_claims.rs"]
mod leases_and_claims;
#[path = "bus/outages.rs"]
mod outages;

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
async fn the_last_event_sequence_is_the_logs_end_whatever_the_subject() {
    let nats = TestNats::start().await;
    let bus = nats.bus("test").await;
    // Given an empty log, its end is 0.
    assert_eq!(bus.last_event_sequence().await.unwrap(), 0);
    // When facts on different subjects are stored, it is the last one's position.
    let trace = lading_bus::tracing_context::new_root();
    let Published::Stored(_) = bus.publish(&refresh("r1"), &trace).await.unwrap() else { panic!("stored") };
    let Published::Stored(last) = bus.publish(&freight_created(1), &trace).await.unwrap() else { panic!("stored") };
    assert_eq!(last, 2);
    assert_eq!(bus.last_event_sequence().await.unwrap(), last);
    let Published::Stored(newer) = bus.publish(&refresh("r2"), &trace).await.unwrap() else { panic!("stored") };
    assert_eq!(bus.last_event_sequence().await.unwrap(), newer);
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
