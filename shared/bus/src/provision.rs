//! Creates the streams and buckets if missing; running it again changes nothing.
//!
//! Facts are kept whole in `LADING_EVENTS`; state that repeats (what a warehouse
//! discovered, why its discovery failed) lives in `LADING_DISCOVERY`, which keeps only
//! the latest message per subject, so it cannot grow the log. The subjects of both are
//! read from the event catalog. An events stream made before discoveries had their own
//! stream is narrowed to its facts.
//!
//! Every stream and bucket is kept on as many servers as the connection was given
//! ([`Bus::with_stream_replicas`]), or else as the cluster has servers, at most three:
//! R1 on a single server, R3 on a cluster of three or more. The cluster's size is the
//! number of client URLs the server advertises (`connect_urls`). A configured number
//! is applied to existing streams both ways; a derived one only raises them, so a
//! service starting while a server is down does not shrink what the others keep.

use async_nats::jetstream::{kv, object_store, stream};
use lading_events::catalog::{EventType, Kept};

use crate::names::*;
use crate::{Bus, BusError, Result};

impl Bus {
    /// Ensures the event, discovery and dead-letter streams, the KV buckets and the
    /// snapshot store exist. On a cluster a stream another replica is creating at the
    /// same moment can be missing for a moment, and requests time out while a leader is
    /// elected: failures are retried with backoff for up to a minute.
    pub async fn provision(&self) -> Result<()> {
        retry_at_start("provisioning streams and buckets", || self.provision_once()).await
    }

    async fn provision_once(&self) -> Result<()> {
        let js = self.jetstream();
        let replicas = self.replicas().await;
        // Facts first: an events stream from before the discovery stream gives its
        // discovery subjects up before the discovery stream claims them.
        ensure_stream(
            js,
            stream::Config {
                name: EVENTS_STREAM.to_owned(),
                subjects: EventType::filters_kept(Kept::All),
                duplicate_window: DUPLICATE_WINDOW,
                storage: stream::StorageType::File,
                num_replicas: replicas.count,
                ..Default::default()
            },
            replicas,
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
                num_replicas: replicas.count,
                ..Default::default()
            },
            replicas,
        )
        .await?;
        if js.get_object_store(SNAPSHOTS_BUCKET).await.is_err() {
            let created = js
                .create_object_store(object_store::Config {
                    bucket: SNAPSHOTS_BUCKET.to_owned(),
                    storage: stream::StorageType::File,
                    num_replicas: replicas.count,
                    ..Default::default()
                })
                .await;
            if let Err(error) = created {
                js.get_object_store(SNAPSHOTS_BUCKET)
                    .await
                    .map_err(|_| BusError::nats("creating the snapshot store", error))?;
            }
        }
        ensure_replicas(js, &format!("OBJ_{SNAPSHOTS_BUCKET}"), replicas).await?;
        ensure_stream(
            js,
            stream::Config {
                name: DEAD_LETTER_STREAM.to_owned(),
                subjects: vec![lading_events::subject::DEAD_LETTERS_ALL.to_owned()],
                duplicate_window: DUPLICATE_WINDOW,
                storage: stream::StorageType::File,
                num_replicas: replicas.count,
                ..Default::default()
            },
            replicas,
        )
        .await?;
        for (bucket, history, max_age) in [
            (SPECS_BUCKET, 5, std::time::Duration::ZERO),
            (ALIASES_BUCKET, 1, std::time::Duration::ZERO),
            (LEASES_BUCKET, 1, LEASE_TTL),
            (CLAIMS_BUCKET, 1, CLAIMS_TTL),
            (TOKENS_BUCKET, 1, std::time::Duration::ZERO),
            (CURSORS_BUCKET, 1, std::time::Duration::ZERO),
            (HANDLINGS_BUCKET, 1, HANDLINGS_TTL),
        ] {
            if js.get_key_value(bucket).await.is_err() {
                let created = js
                    .create_key_value(kv::Config {
                        bucket: bucket.to_owned(),
                        history,
                        max_age,
                        storage: stream::StorageType::File,
                        num_replicas: replicas.count,
                        ..Default::default()
                    })
                    .await;
                if let Err(error) = created {
                    // Another replica may have created it between the check and the create.
                    js.get_key_value(bucket).await.map_err(|_| BusError::nats("creating a KV bucket", error))?;
                }
            }
            ensure_replicas(js, &format!("KV_{bucket}"), replicas).await?;
        }
        Ok(())
    }

    /// How many replicas this connection gives streams and buckets, and whether that
    /// number was configured or derived from the cluster's size.
    pub async fn replicas(&self) -> Replicas {
        if let Some(count) = self.stream_replicas {
            return Replicas { count, configured: true };
        }
        // The server's INFO comes with the connection, which may still be under way: a
        // round trip waits for it.
        if let Err(error) = self.client().flush().await {
            tracing::warn!(%error, "no answer from NATS while reading the cluster's size");
        }
        let (cluster, advertised) = match self.client().try_server_info() {
            Some(info) => (info.cluster, info.connect_urls.len()),
            None => (None, 0),
        };
        Replicas { count: replicas_for_cluster(cluster.as_deref(), advertised), configured: false }
    }

    /// The bucket `name`, opened once per connection: a bucket's handle is its name and
    /// subjects, which do not change while the bucket lives.
    pub(crate) async fn bucket(&self, name: &'static str) -> Result<kv::Store> {
        if let Some(store) = self.buckets.lock().unwrap_or_else(|p| p.into_inner()).get(name) {
            return Ok(store.clone());
        }
        let store = self.jetstream().get_key_value(name).await.map_err(|e| BusError::nats("opening a KV bucket", e))?;
        self.buckets.lock().unwrap_or_else(|p| p.into_inner()).insert(name, store.clone());
        Ok(store)
    }
}

/// How long what a service does at start on NATS is retried before it gives up.
const START_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs `attempt` until it succeeds, with backoff from 100 ms to 5 s, for up to
/// [`START_PATIENCE`]; then returns its last error. For what a service does once at
/// start (provisioning, opening watches), which a NATS server restarting or a leader
/// election makes fail for a moment.
pub(crate) async fn retry_at_start<T, F, Fut>(what: &str, mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let deadline = tokio::time::Instant::now() + START_PATIENCE;
    let mut pause = std::time::Duration::from_millis(100);
    loop {
        match attempt().await {
            Ok(value) => return Ok(value),
            Err(error) if tokio::time::Instant::now() + pause < deadline => {
                tracing::warn!(%error, ?pause, "{what} failed; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_secs(5));
            }
            Err(error) => return Err(error),
        }
    }
}

/// How many servers keep each stream and bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replicas {
    pub count: usize,
    /// Set by configuration (applied both ways), not derived (only ever raised).
    pub configured: bool,
}

impl Replicas {
    /// The replicas an existing stream with `current` replicas should have, if it should
    /// change.
    pub fn change_from(self, current: usize) -> Option<usize> {
        let wanted = if self.configured { self.count } else { self.count.max(current) };
        (wanted != current).then_some(wanted)
    }
}

/// The replicas derived from what a server says of its cluster: one outside a cluster,
/// else one per server advertised, at most three (a cluster that does not advertise its
/// servers counts as one).
pub fn replicas_for_cluster(cluster: Option<&str>, advertised_servers: usize) -> usize {
    match cluster {
        None => 1,
        Some(_) => advertised_servers.clamp(1, 3),
    }
}

/// Brings the replicas of the existing stream `name` (a KV bucket's `KV_<bucket>`, an
/// object store's `OBJ_<bucket>`) in line with `replicas`.
pub(crate) async fn ensure_replicas(js: &async_nats::jetstream::Context, name: &str, replicas: Replicas) -> Result<()> {
    let mut existing =
        js.get_stream(name).await.map_err(|e| BusError::nats("reading a stream", format!("{name}: {e}")))?;
    let mut current =
        existing.info().await.map_err(|e| BusError::nats("reading a stream", format!("{name}: {e}")))?.config.clone();
    if let Some(wanted) = replicas.change_from(current.num_replicas) {
        tracing::info!(stream = name, from = current.num_replicas, to = wanted, "changing a stream's replicas");
        current.num_replicas = wanted;
        js.update_stream(current)
            .await
            .map_err(|e| BusError::nats("changing a stream's replicas", format!("{name}: {e}")))?;
    }
    Ok(())
}

/// Creates the stream `config` describes, or brings an existing one's subjects and
/// replicas in line with it (new event types add subjects; the discovery stream took
/// some away; a cluster grew).
pub(crate) async fn ensure_stream(
    js: &async_nats::jetstream::Context,
    config: stream::Config,
    replicas: Replicas,
) -> Result<()> {
    let name = config.name.clone();
    let subjects = config.subjects.clone();
    let mut existing = js
        .get_or_create_stream(config)
        .await
        .map_err(|e| BusError::nats("creating a stream", format!("{name}: {e}")))?;
    let mut current =
        existing.info().await.map_err(|e| BusError::nats("reading a stream", format!("{name}: {e}")))?.config.clone();
    let replicas = replicas.change_from(current.num_replicas);
    if current.subjects != subjects || replicas.is_some() {
        if let Some(wanted) = replicas {
            tracing::info!(stream = name, from = current.num_replicas, to = wanted, "changing a stream's replicas");
            current.num_replicas = wanted;
        }
        current.subjects = subjects;
        js.update_stream(current).await.map_err(|e| BusError::nats("updating a stream", format!("{name}: {e}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_server_gets_one_replica_and_a_cluster_three_at_most() {
        assert_eq!(replicas_for_cluster(None, 0), 1);
        assert_eq!(replicas_for_cluster(None, 3), 1);
        assert_eq!(replicas_for_cluster(Some("c"), 0), 1);
        assert_eq!(replicas_for_cluster(Some("c"), 2), 2);
        assert_eq!(replicas_for_cluster(Some("c"), 3), 3);
        assert_eq!(replicas_for_cluster(Some("c"), 7), 3);
    }

    #[test]
    fn configured_replicas_apply_both_ways_and_derived_ones_only_raise() {
        let configured = |count| Replicas { count, configured: true };
        let derived = |count| Replicas { count, configured: false };
        assert_eq!(configured(3).change_from(1), Some(3));
        assert_eq!(configured(1).change_from(3), Some(1));
        assert_eq!(configured(3).change_from(3), None);
        assert_eq!(derived(3).change_from(1), Some(3));
        assert_eq!(derived(2).change_from(3), None, "a server down must not shrink a stream");
        assert_eq!(derived(1).change_from(1), None);
    }
}
