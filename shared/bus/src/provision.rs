//! Creates the streams and buckets if missing; running it again changes nothing.
//!
//! Facts are kept whole in `LADING_EVENTS`; state that repeats (what a warehouse
//! discovered, why its discovery failed) lives in `LADING_DISCOVERY`, which keeps only
//! the latest message per subject, so it cannot grow the log. The subjects of both are
//! read from the event catalog. An events stream made before discoveries had their own
//! stream is narrowed to its facts.

use async_nats::jetstream::{kv, object_store, stream};
use lading_events::catalog::{EventType, Kept};

use crate::names::*;
use crate::{Bus, BusError, Result};

impl Bus {
    /// Ensures the event, discovery and dead-letter streams, the KV buckets and the
    /// snapshot store exist.
    pub async fn provision(&self) -> Result<()> {
        let js = self.jetstream();
        let facts = EventType::filters_kept(Kept::All);
        let mut events = js
            .get_or_create_stream(stream::Config {
                name: EVENTS_STREAM.to_owned(),
                subjects: facts.clone(),
                duplicate_window: DUPLICATE_WINDOW,
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(|e| BusError::nats("creating the event stream", e))?;
        let mut config = events.info().await.map_err(|e| BusError::nats("reading the event stream", e))?.config.clone();
        if config.subjects != facts {
            config.subjects = facts;
            js.update_stream(config).await.map_err(|e| BusError::nats("narrowing the event stream to facts", e))?;
        }
        js.get_or_create_stream(stream::Config {
            name: DISCOVERY_STREAM.to_owned(),
            subjects: EventType::filters_kept(Kept::Latest),
            max_messages_per_subject: 1,
            duplicate_window: DUPLICATE_WINDOW,
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .map_err(|e| BusError::nats("creating the discovery stream", e))?;
        if js.get_object_store(SNAPSHOTS_BUCKET).await.is_err() {
            let created = js
                .create_object_store(object_store::Config {
                    bucket: SNAPSHOTS_BUCKET.to_owned(),
                    storage: stream::StorageType::File,
                    ..Default::default()
                })
                .await;
            if let Err(error) = created {
                js.get_object_store(SNAPSHOTS_BUCKET)
                    .await
                    .map_err(|_| BusError::nats("creating the snapshot store", error))?;
            }
        }
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
