//! Every message on the log is read once by the api: one that does not decode (a message
//! published by something that is not Lading, or damaged) is dead-lettered with its
//! reason, even on a subject no other consumer takes, so nothing on the log goes
//! unexplained. Messages that decode need nothing more here.

use std::time::Duration;

use lading_bus::names::DISCOVERY_STREAM;
use lading_bus::{Bus, ConsumerSpec, Outcome};
use lading_events::catalog::{EventType, Kept};
use lading_runtime::Shutdown;

/// The durable consumer of facts (its dead letters go to `lading.dlq.api-log-check`).
pub const CONSUMER: &str = "api-log-check";
/// The durable consumer of discoveries.
pub const DISCOVERY_CONSUMER: &str = "api-log-check-discovery";

/// Reads the log until `shutdown`.
pub async fn run(bus: Bus, shutdown: Shutdown) {
    let mut facts = ConsumerSpec::new(CONSUMER, EventType::filters_kept(Kept::All));
    facts.concurrency = 64;
    facts.max_ack_pending = 10_000;
    let mut discoveries = ConsumerSpec::new(DISCOVERY_CONSUMER, EventType::filters_kept(Kept::Latest));
    discoveries.stream = DISCOVERY_STREAM;
    discoveries.concurrency = 16;
    tokio::join!(check(&bus, facts, &shutdown), check(&bus, discoveries, &shutdown));
}

async fn check(bus: &Bus, spec: ConsumerSpec, shutdown: &Shutdown) {
    while !shutdown.is_cancelled() {
        match bus.consume(spec.clone(), shutdown.clone(), |_| async { Ok(Outcome::Done) }).await {
            Ok(()) => return,
            Err(error) => {
                tracing::warn!(consumer = spec.name, %error, "cannot check the log yet");
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        }
    }
}
