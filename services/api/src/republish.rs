//! Every fact of the log is republished, in log order, as a JSON CloudEvent on the public
//! stream (`lading.pub.>`), for tools that are not Lading. One api replica at a time does
//! it, under a lease; the next one resumes from the cursor, and a fact republished twice
//! around a hand-over is stored once (its `Nats-Msg-Id` is the fact's identity). A
//! message that does not decode is skipped here (the log check dead-letters it).

use std::time::{Duration, Instant};

use futures::StreamExt;
use lading_bus::lease::Fence;
use lading_bus::{Bus, BusError};
use lading_events::headers::{CE_SOURCE, CE_TYPE, TRACEPARENT};
use lading_events::{TraceContext, decode};
use lading_runtime::Shutdown;

/// The lease one replica holds while it republishes.
pub const LEASE_KEY: &str = "public.republisher";
/// How often the cursor is saved while facts flow.
const SAVE_EVERY: Duration = Duration::from_secs(1);
/// How long a replica without the lease waits before asking again.
const RETRY_LEASE: Duration = Duration::from_secs(1);
/// The `source` of a fact whose message named none.
const UNNAMED_SOURCE: &str = "/lading";

/// Republishes until `shutdown`, whenever this replica holds the lease.
pub async fn run(bus: Bus, shutdown: Shutdown) {
    let holder = format!("api-{}", ulid::Ulid::new().to_string().to_lowercase());
    while !shutdown.is_cancelled() {
        let asked = Instant::now();
        match bus.try_lease(LEASE_KEY, &holder).await {
            Ok(Some(lease)) => {
                let held = lease.hold(asked);
                if let Err(error) = republish(&bus, &held.fence(), &shutdown).await {
                    tracing::warn!(%error, "republishing stopped; resuming");
                }
                held.release().await;
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "cannot ask for the republishing lease yet"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(RETRY_LEASE) => {}
        }
    }
}

/// Republishes from the cursor while `fence` stays open.
async fn republish(bus: &Bus, fence: &Fence, shutdown: &Shutdown) -> Result<(), BusError> {
    let mut cursor = bus.public_cursor().await?;
    let mut saved = cursor;
    let mut last_save = Instant::now();
    let mut facts = bus.follow_facts(cursor).await?;
    loop {
        if last_save.elapsed() >= SAVE_EVERY && saved != cursor {
            bus.save_public_cursor(cursor).await?;
            (saved, last_save) = (cursor, Instant::now());
        }
        let next = tokio::select! {
            () = shutdown.cancelled() => break,
            next = tokio::time::timeout(SAVE_EVERY, facts.next()) => next,
        };
        if !fence.is_open() {
            break;
        }
        let message = match next {
            Err(_idle) => continue,
            Ok(None) => break,
            Ok(Some(message)) => message.map_err(|e| BusError::nats("following the log", e))?,
        };
        let seq = message.info().map_err(|e| BusError::nats("reading a message", e))?.stream_sequence;
        let headers = message.headers.clone().unwrap_or_default();
        let header = |name: &str| headers.get(name).map(|v| v.as_str().to_owned());
        let Ok(event) = decode(header(CE_TYPE).as_deref(), &message.payload) else {
            cursor = seq;
            continue;
        };
        let source = header(CE_SOURCE).filter(|s| !s.is_empty()).unwrap_or_else(|| UNNAMED_SOURCE.to_owned());
        let trace = header(TRACEPARENT).and_then(|t| TraceContext::parse(&t));
        let mut pause = Duration::from_millis(100);
        while let Err(error) = bus.publish_public(&event, &source, trace.as_ref(), seq).await {
            tracing::warn!(%error, seq, "republishing a fact failed; retrying");
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep(pause) => {}
            }
            if !fence.is_open() {
                return Ok(());
            }
            pause = (pause * 2).min(Duration::from_secs(5));
        }
        cursor = seq;
    }
    if saved != cursor {
        bus.save_public_cursor(cursor).await?;
    }
    Ok(())
}
