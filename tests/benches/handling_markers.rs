//! What counting unfinished handlings (the `lading-handlings` markers) costs a consumer:
//! N events handled by a consumer that does nothing with them, once keeping no count
//! (`max_unfinished: 0`) and once with the default count, at one and at 16 handlings at
//! once, against a real `nats-server`. Prints events per second side by side.
//!
//! `cargo bench -p lading-tests --bench handling_markers [-- EVENTS]` (default 2,000)

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use lading_bus::{Bus, ConsumerSpec, Outcome};
use lading_events::catalog::WarehouseRefreshRequestedV1;
use lading_events::{Event, EventType};
use lading_runtime::Shutdown;
use lading_tests::nats::TestNats;

/// Handles every event once with `spec`; returns how long it took.
async fn consume_all(bus: &Bus, spec: ConsumerSpec, events: u64) -> Duration {
    let handled = Arc::new(AtomicU64::new(0));
    let shutdown = Shutdown::new();
    let began = Instant::now();
    let consumer = {
        let (bus, handled, shutdown) = (bus.clone(), handled.clone(), shutdown.clone());
        tokio::spawn(async move {
            bus.consume(spec, shutdown, |_| {
                handled.fetch_add(1, Ordering::SeqCst);
                async { Ok(Outcome::Done) }
            })
            .await
        })
    };
    let deadline = Instant::now() + Duration::from_secs(600);
    while handled.load(Ordering::SeqCst) < events {
        assert!(Instant::now() < deadline, "handled {} of {events}", handled.load(Ordering::SeqCst));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took = began.elapsed();
    shutdown.cancel();
    consumer.await.unwrap().unwrap();
    took
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("handling_markers: bench");
        return;
    }
    let events: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(2_000);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let nats = TestNats::start().await;
        let bus = nats.bus("bench").await;
        let trace = lading_bus::tracing_context::new_root();
        for n in 0..events {
            let event = Event::WarehouseRefreshRequested(WarehouseRefreshRequestedV1 {
                project: "demo".into(),
                warehouse: "app".into(),
                request_id: format!("r{n}"),
                requested_at_ms: 1,
            });
            bus.publish(&event, &trace).await.unwrap();
        }
        println!("{events} events handled by a consumer that does nothing with them:");
        println!("{:>12} {:>18} {:>18} {:>8}", "at once", "no count (ev/s)", "counted (ev/s)", "cost");
        for concurrency in [1, 16] {
            let spec = |name: &str, max_unfinished: u32| {
                let mut spec = ConsumerSpec::new(name, vec![EventType::WarehouseRefreshRequestedV1.filter()]);
                spec.concurrency = concurrency;
                spec.max_unfinished = max_unfinished;
                spec
            };
            let bare = consume_all(&bus, spec(&format!("bare-{concurrency}"), 0), events).await;
            let counted = consume_all(&bus, spec(&format!("counted-{concurrency}"), 3), events).await;
            let rate = |took: Duration| events as f64 / took.as_secs_f64();
            println!(
                "{concurrency:>12} {:>18.0} {:>18.0} {:>7.0}%",
                rate(bare),
                rate(counted),
                (counted.as_secs_f64() / bare.as_secs_f64() - 1.0) * 100.0
            );
        }
    });
}
