//! Following the whole event log into a read model, in log order, from the beginning.
//! Each follower is an ordered consumer: no acks, no shared state, any number of them.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use futures::StreamExt;
use lading_bus::names::EVENTS_STREAM;
use lading_bus::{Bus, BusError, Result};
use lading_events::headers::CE_TYPE;
use lading_events::{decode, subject};
use lading_runtime::Shutdown;
use tokio::sync::watch;

use crate::model::ReadModel;

/// A live read model, and the log position it has applied.
#[derive(Clone)]
pub struct Projection {
    bus: Bus,
    model: Arc<RwLock<ReadModel>>,
    applied: watch::Receiver<u64>,
}

impl Projection {
    /// Starts following the log; returns once everything stored at start is applied.
    pub async fn follow(bus: &Bus, shutdown: Shutdown) -> Result<Projection> {
        let mut stream = bus
            .jetstream()
            .get_stream(EVENTS_STREAM)
            .await
            .map_err(|e| BusError::nats("opening the event stream", e))?;
        let last_at_start =
            stream.info().await.map_err(|e| BusError::nats("reading stream info", e))?.state.last_sequence;
        let consumer = stream
            .create_consumer(pull::OrderedConfig {
                filter_subject: subject::EVENTS_ALL.to_owned(),
                deliver_policy: DeliverPolicy::All,
                ..Default::default()
            })
            .await
            .map_err(|e| BusError::nats("creating an ordered consumer", e))?;
        let mut messages = consumer.messages().await.map_err(|e| BusError::nats("following the log", e))?;
        let model = Arc::new(RwLock::new(ReadModel::default()));
        let (applied_tx, applied) = watch::channel(0u64);
        let writer = model.clone();
        tokio::spawn(async move {
            loop {
                let next = tokio::select! {
                    () = shutdown.cancelled() => return,
                    next = messages.next() => next,
                };
                let message = match next {
                    Some(Ok(message)) => message,
                    Some(Err(error)) => {
                        tracing::warn!(%error, "following the log: retrying");
                        continue;
                    }
                    None => {
                        tracing::error!("the log follower stopped");
                        return;
                    }
                };
                let Ok(info) = message.info() else { continue };
                let seq = info.stream_sequence;
                let ce_type = message.headers.as_ref().and_then(|h| h.get(CE_TYPE)).map(|v| v.as_str().to_owned());
                match decode(ce_type.as_deref(), &message.payload) {
                    Ok(event) => writer.write().unwrap_or_else(|p| p.into_inner()).apply(seq, &event),
                    Err(error) => tracing::warn!(seq, %error, "skipping an undecodable event"),
                }
                applied_tx.send_replace(seq);
            }
        });
        let projection = Projection { bus: bus.clone(), model, applied };
        if !projection.wait_for(last_at_start, Duration::from_secs(60)).await {
            return Err(BusError::nats("replaying the log", "did not catch up within 60s"));
        }
        Ok(projection)
    }

    /// Reads the model.
    pub fn read<R>(&self, f: impl FnOnce(&ReadModel) -> R) -> R {
        f(&self.model.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The last log position applied.
    pub fn applied(&self) -> u64 {
        *self.applied.borrow()
    }

    /// Waits until the model has applied log position `seq`; false on timeout.
    pub async fn wait_for(&self, seq: u64, timeout: Duration) -> bool {
        let mut applied = self.applied.clone();
        tokio::time::timeout(timeout, applied.wait_for(|a| *a >= seq)).await.is_ok_and(|r| r.is_ok())
    }

    /// The last position stored in the log now (to wait for the model to reach it).
    pub async fn latest_sequence(&self) -> Result<u64> {
        let mut stream = self
            .bus
            .jetstream()
            .get_stream(EVENTS_STREAM)
            .await
            .map_err(|e| BusError::nats("opening the event stream", e))?;
        Ok(stream.info().await.map_err(|e| BusError::nats("reading stream info", e))?.state.last_sequence)
    }

    /// A receiver that changes whenever an event is applied.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.applied.clone()
    }
}
