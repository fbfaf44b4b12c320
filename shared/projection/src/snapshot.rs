//! Snapshots of the read model in the `lading-snapshots` object store, so a service
//! starts from the latest snapshot and reads only the log's tail instead of replaying
//! it whole.
//!
//! A snapshot names the log position it covers and the events stream it was taken from
//! (its creation time): it is used only when that stream still holds every event after
//! the position, and ignored (the log is replayed) otherwise: after the stream was
//! recreated, when its format is not this version's, or when it cannot be read.

use async_nats::jetstream::stream::Info;
use lading_bus::names::SNAPSHOTS_BUCKET;
use lading_bus::{Bus, BusError, Result};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;

use crate::model::ReadModel;

/// The object holding the read model's snapshot.
pub const OBJECT: &str = "read-model";
/// The snapshot format this version reads and writes.
pub const FORMAT: u32 = 3;

/// What a snapshot holds.
#[derive(Serialize, Deserialize)]
struct Snapshot {
    format: u32,
    /// The creation time of the events stream the model was built from.
    stream_created: String,
    model: ReadModel,
}

fn stream_created(info: &Info) -> String {
    info.created.to_string()
}

/// Stores `model` as the latest snapshot of the log held by the stream `info` describes.
pub async fn write(bus: &Bus, info: &Info, model: &ReadModel) -> Result<()> {
    let snapshot = Snapshot { format: FORMAT, stream_created: stream_created(info), model: model.clone() };
    let bytes = serde_json::to_vec(&snapshot).map_err(|e| BusError::nats("encoding a snapshot", e))?;
    let store = bus
        .jetstream()
        .get_object_store(SNAPSHOTS_BUCKET)
        .await
        .map_err(|e| BusError::nats("opening the snapshot store", e))?;
    store.put(OBJECT, &mut bytes.as_slice()).await.map_err(|e| BusError::nats("storing a snapshot", e))?;
    tracing::info!(seq = model.last_seq, bytes = bytes.len(), "snapshot stored");
    Ok(())
}

/// The latest snapshot when it is usable with the stream `info` describes; `None` when
/// there is none, or it does not fit that stream.
pub async fn read(bus: &Bus, info: &Info) -> Option<ReadModel> {
    let store = bus.jetstream().get_object_store(SNAPSHOTS_BUCKET).await.ok()?;
    let mut object = store.get(OBJECT).await.ok()?;
    let mut bytes = Vec::new();
    if let Err(error) = object.read_to_end(&mut bytes).await {
        tracing::warn!(%error, "the snapshot could not be read; replaying the log");
        return None;
    }
    let snapshot: Snapshot = match serde_json::from_slice(&bytes) {
        Ok(snapshot) => snapshot,
        Err(error) => {
            tracing::warn!(%error, "the snapshot does not decode; replaying the log");
            return None;
        }
    };
    let seq = snapshot.model.last_seq;
    let usable = snapshot.format == FORMAT
        && snapshot.stream_created == stream_created(info)
        && seq <= info.state.last_sequence
        && seq.saturating_add(1) >= info.state.first_sequence;
    if !usable {
        tracing::warn!(seq, "the snapshot does not fit the events stream; replaying the log");
        return None;
    }
    Some(snapshot.model)
}
