//! A consumer as its own process, for the test that kills a process while it handles a
//! message: it aborts on the refresh request `crash`, and on any other prints
//! `handled <request> dead-letters <n>` (the process's dead-letter count) and exits.

use std::time::Duration;

use lading_bus::{Bus, ConsumerSpec, Outcome};
use lading_events::{Event, EventType};
use lading_runtime::Shutdown;

/// The consumer's name, and so its dead-letter subject (`lading.dlq.<name>`).
const CONSUMER: &str = "crashing";

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let Ok(url) = std::env::var("LADING_NATS_URL") else {
        eprintln!("LADING_NATS_URL: missing");
        return std::process::ExitCode::from(2);
    };
    let bus = match Bus::connect(&url, "test").await {
        Ok(bus) => bus,
        Err(error) => {
            eprintln!("{error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if let Err(error) = bus.provision().await {
        eprintln!("{error}");
        return std::process::ExitCode::FAILURE;
    }
    let mut spec = ConsumerSpec::new(CONSUMER, vec![EventType::WarehouseRefreshRequestedV1.filter()]);
    // A delivery lost with a dead process comes back after a second.
    spec.ack_wait = Duration::from_secs(1);
    // One message at a time, in log order: the next waits until the first is settled.
    spec.max_ack_pending = 1;
    let shutdown = Shutdown::new();
    let done = shutdown.clone();
    let consumed = bus
        .consume(spec, shutdown, move |delivery| {
            let done = done.clone();
            async move {
                if let Event::WarehouseRefreshRequested(request) = &delivery.event {
                    if request.request_id == "crash" {
                        std::process::abort();
                    }
                    let dead =
                        lading_runtime::metrics::value("lading_bus_dead_letters_total", &[("consumer", CONSUMER)]);
                    println!("handled {} dead-letters {dead}", request.request_id);
                    done.cancel();
                }
                Ok(Outcome::Done)
            }
        })
        .await;
    match consumed {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{error}");
            std::process::ExitCode::FAILURE
        }
    }
}
