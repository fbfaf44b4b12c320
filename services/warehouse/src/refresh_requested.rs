//! `WarehouseRefreshRequested` → discover that warehouse now. Replicas share the durable
//! consumer `warehouse-refresh`, so one of them handles each request; a replica handles
//! as many at once as it discovers warehouses at once, so a refresh of a warehouse whose
//! source hangs does not hold back the refreshes of others.

use std::sync::Arc;

use lading_bus::{ConsumerSpec, Delivery, HandlerError, Outcome};
use lading_events::{Event, EventType};
use lading_runtime::Shutdown;

use crate::{Context, Error, discover};

pub const CONSUMER: &str = "warehouse-refresh";

pub async fn run(context: Arc<Context>, shutdown: Shutdown) -> Result<(), Error> {
    let mut spec = ConsumerSpec::new(CONSUMER, vec![EventType::WarehouseRefreshRequestedV1.filter()]);
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
    let Event::WarehouseRefreshRequested(request) = &delivery.event else {
        return Ok(Outcome::Done);
    };
    let Some(spec) = context.specs.read(|s| s.warehouse(&request.project, &request.warehouse).cloned()) else {
        tracing::warn!(project = request.project, warehouse = request.warehouse, "refresh of an unknown warehouse");
        return Ok(Outcome::Done);
    };
    // A source that cannot be read is recorded as an event and the request is done;
    // an unreachable NATS is retried.
    let asked = std::time::Instant::now();
    let discovered =
        discover::discover(context, &request.project, &request.warehouse, &spec, asked, &delivery.trace).await;
    if let Err(discover::DiscoveryError::Bus(reason)) = discovered {
        return Err(HandlerError::Transient(reason));
    }
    Ok(Outcome::Done)
}
