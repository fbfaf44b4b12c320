//! `WarehouseRefreshRequested` → discover that warehouse now. Replicas share the durable
//! consumer `warehouse-refresh`, so one of them handles each request; a replica handles
//! as many at once as it discovers warehouses at once, so a refresh of a warehouse whose
//! source hangs does not hold back the refreshes of others.

use std::sync::Arc;

use lading_bus::{ConsumerSpec, Delivery, HandlerError, Outcome};
use lading_events::catalog::{WarehouseRefreshHandledV2, WarehouseRefreshRequestedV2};
use lading_events::{Event, EventType, now_ms};
use lading_runtime::Shutdown;

use crate::{Context, Error, discover};

pub const CONSUMER: &str = "warehouse-refresh";

pub async fn run(context: Arc<Context>, shutdown: Shutdown) -> Result<(), Error> {
    let mut spec = ConsumerSpec::new(CONSUMER, vec![EventType::WarehouseRefreshRequestedV2.filter()]);
    spec.concurrency = context.config.budgets.discovery_concurrency.value;
    let bus = context.bus.clone();
    bus.consume(spec, shutdown, |delivery| {
        let context = context.clone();
        async move { handle(&context, delivery).await }
    })
    .await?;
    Ok(())
}

async fn handle(context: &Arc<Context>, delivery: Delivery) -> Result<Outcome, HandlerError> {
    let request = match &delivery.event {
        Event::WarehouseRefreshRequestedV2(request) => request.clone(),
        // Asked before requests named the last handled one.
        Event::WarehouseRefreshRequested(e) => WarehouseRefreshRequestedV2 {
            project: e.project.clone(),
            warehouse: e.warehouse.clone(),
            request_id: e.request_id.clone(),
            after_seq: 0,
            requested_at_ms: e.requested_at_ms,
        },
        _ => return Ok(Outcome::Done),
    };
    let Some(spec) = context.specs.read(|s| s.warehouse(&request.project, &request.warehouse).cloned()) else {
        return Err(HandlerError::Permanent(format!(
            "refresh of warehouse {:?} in project {:?}, which does not exist",
            request.warehouse, request.project
        )));
    };
    // A source that cannot be read is recorded as an event and the request is done;
    // an unreachable NATS is retried.
    let asked = std::time::Instant::now();
    let discovered =
        discover::discover(context, &request.project, &request.warehouse, &spec, asked, &delivery.trace).await;
    if let Err(discover::DiscoveryError::Bus(reason)) = discovered {
        return Err(HandlerError::Transient(reason));
    }
    // The request is handled, whatever the discovery found: `lading refresh --wait`
    // returns on this (Kargo's `lastHandledRefresh`).
    let handled = Event::WarehouseRefreshHandledV2(WarehouseRefreshHandledV2 {
        project: request.project,
        warehouse: request.warehouse,
        request_id: request.request_id,
        after_seq: request.after_seq,
        handled_at_ms: now_ms(),
    });
    context.bus.publish(&handled, &delivery.trace).await.map_err(|e| HandlerError::Transient(e.to_string()))?;
    Ok(Outcome::Done)
}
