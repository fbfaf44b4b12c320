//! Creates the streams and buckets if missing; running it again changes nothing.

use async_nats::jetstream::{kv, stream};

use crate::names::*;
use crate::{Bus, BusError, Result};

impl Bus {
    /// Ensures the event stream, the dead-letter stream and the KV buckets exist.
    pub async fn provision(&self) -> Result<()> {
        let js = self.jetstream();
        js.get_or_create_stream(stream::Config {
            name: EVENTS_STREAM.to_owned(),
            subjects: vec![lading_events::subject::EVENTS_ALL.to_owned()],
            duplicate_window: DUPLICATE_WINDOW,
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .map_err(|e| BusError::nats("creating the event stream", e))?;
        js.get_or_create_stream(stream::Config {
            name: DEAD_LETTER_STREAM.to_owned(),
            subjects: vec![lading_events::subject::DEAD_LETTERS_ALL.to_owned()],
            duplicate_window: DUPLICATE_WINDOW,
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .map_err(|e| BusError::nats("creating the dead-letter stream", e))?;
        for (bucket, history, max_age) in [
            (SPECS_BUCKET, 5, std::time::Duration::ZERO),
            (ALIASES_BUCKET, 1, std::time::Duration::ZERO),
            (LEASES_BUCKET, 1, LEASE_TTL),
            (CLAIMS_BUCKET, 1, CLAIMS_TTL),
        ] {
            if js.get_key_value(bucket).await.is_ok() {
                continue;
            }
            let created = js
                .create_key_value(kv::Config {
                    bucket: bucket.to_owned(),
                    history,
                    max_age,
                    storage: stream::StorageType::File,
                    ..Default::default()
                })
                .await;
            if let Err(error) = created {
                // Another replica may have created it between the check and the create.
                js.get_key_value(bucket).await.map_err(|_| BusError::nats("creating a KV bucket", error))?;
            }
        }
        Ok(())
    }

    pub(crate) async fn bucket(&self, name: &'static str) -> Result<kv::Store> {
        self.jetstream().get_key_value(name).await.map_err(|e| BusError::nats("opening a KV bucket", e))
    }
}
