//! A message whose handling kills the process (here: the handler aborts) is handled by
//! one new process after another only a bounded number of times: the handlings that
//! never finished are counted in NATS, and the next delivery dead-letters the message
//! with that reason, after which the consumer moves on.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lading_bus::consume::DEAD_LETTER_REASON;
use lading_bus::names::DEAD_LETTER_STREAM;
use lading_events::catalog::WarehouseRefreshRequestedV1;
use lading_events::{Event, EventType};
use lading_tests::nats::TestNats;

fn refresh(request: &str) -> Event {
    Event::WarehouseRefreshRequested(WarehouseRefreshRequestedV1 {
        project: "demo".into(),
        warehouse: "app".into(),
        request_id: request.into(),
        requested_at_ms: 1,
    })
}

/// Runs the consumer process to its end; returns whether it succeeded and what it
/// printed.
fn run_consumer(nats: &TestNats) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crashing-consumer"))
        .env("LADING_NATS_URL", nats.url())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the consumer process starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().expect("waiting for the consumer") {
            let mut out = String::new();
            std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
            return (status.success(), out);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the consumer process neither crashed nor finished in 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_kills_its_handler_is_dead_lettered_after_bounded_restarts() {
    let nats = TestNats::start().await;
    let bus = nats.bus("test").await;
    let trace = lading_bus::tracing_context::new_root();
    bus.publish(&refresh("crash"), &trace).await.unwrap();
    bus.publish(&refresh("next"), &trace).await.unwrap();

    // Restarted after every crash, as a supervisor would, up to well past the bound.
    let mut crashes = 0;
    let printed = loop {
        let (succeeded, printed) = tokio::task::block_in_place(|| run_consumer(&nats));
        if succeeded {
            break printed;
        }
        crashes += 1;
        assert!(crashes <= 6, "the message killed {crashes} processes: redelivered without end");
    };
    assert_eq!(crashes, 3, "the bound: three handlings that never finished");
    assert_eq!(printed.trim(), "handled next dead-letters 1", "the consumer moved on, counting the dead letter");

    let dead = bus.jetstream().get_stream(DEAD_LETTER_STREAM).await.unwrap().get_raw_message(1).await.unwrap();
    assert_eq!(dead.subject.as_str(), "lading.dlq.crashing");
    let reason = dead.headers.get(DEAD_LETTER_REASON).unwrap().as_str().to_owned();
    assert!(reason.contains("3 handlings never finished"), "{reason}");
    let Ok(Event::WarehouseRefreshRequested(request)) =
        lading_events::decode(Some(EventType::WarehouseRefreshRequestedV1.ce_type()), &dead.payload)
    else {
        panic!("the dead letter is the message")
    };
    assert_eq!(request.request_id, "crash");
}
