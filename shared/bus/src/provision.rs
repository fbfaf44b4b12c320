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
        // Facts first: an events stream from before the discovery stream gives its
        // discovery subjects up before the discovery stream claims them.
        ensure_stream(
            js,
            stream::Config {
                name: EVENTS_STREAM.to_owned(),
                subjects: EventType::filters_kept(Kept::All),
                duplicate_window: DUPLICATE_WINDOW,
                storage: stream::StorageType::File,
                num_replicas: self.replicas(),
                ..Default::default()
            },
        )
        .await?;
        ensure_stream(
            js,
            stream::Config {
                name: DISCOVERY_STREAM.to_owned(),
                subjects: EventType::filters_kept(Kept::Latest),
                max_messages_per_subject: 1,
                duplicate_window: DUPLICATE_WINDOW,
                storage: stream::StorageType::File,
                num_replicas: self.replicas(),
                ..Default::default()
            },
        )
        .await?;
        if js.get_object_store(SNAPSHOTS_BUCKET).await.is_err() {
            let created = js
                .create_object_store(object_store::Config {
                    bucket: SNAPSHOTS_BUCKET.to_owned(),
                    storage: stream::StorageType::File,
                    num_replicas: self.replicas(),
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
            num_replicas: self.replicas(),
            ..Default::default()
        })
        .await
        .map_err(|e| BusError::nats("creating the dead-letter stream", e))?;
        for (bucket, history, max_age) in [
            (SPECS_BUCKET, 5, std::time::Duration::ZERO),
            (ALIASES_BUCKET, 1, std::time::Duration::ZERO),
            (LEASES_BUCKET, 1, LEASE_TTL),
            (CLAIMS_BUCKET, 1, CLAIMS_TTL),
            (TOKENS_BUCKET, 1, std::time::Duration::ZERO),
            (CURSORS_BUCKET, 1, std::time::Duration::ZERO),
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
                    num_replicas: self.replicas(),
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

/// Creates the stream `config` describes, or brings an existing one's subjects in line
/// with it (new event types add subjects; the discovery stream took some away).
async fn ensure_stream(js: &async_nats::jetstream::Context, config: stream::Config) -> Result<()> {
    let name = config.name.clone();
    let subjects = config.subjects.clone();
    let mut existing = js
        .get_or_create_stream(config)
        .await
        .map_err(|e| BusError::nats("creating a stream", format!("{name}: {e}")))?;
    let mut current =
        existing.info().await.map_err(|e| BusError::nats("reading a stream", format!("{name}: {e}")))?.config.clone();
    if current.subjects != subjects {
        current.subjects = subjects;
        js.update_stream(current)
            .await
            .map_err(|e| BusError::nats("updating a stream's subjects", format!("{name}: {e}")))?;
    }
    Ok(())
}
