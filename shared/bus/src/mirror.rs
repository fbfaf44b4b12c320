//! A KV bucket mirrored in memory: every key's latest value, decoded, kept up to date by
//! a watch that is opened again when NATS goes away (latest values and deletion markers
//! are replayed then, so nothing is missed). The specs and the tokens are read this way.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_nats::jetstream::kv::Operation;
use futures::StreamExt;
use lading_runtime::Shutdown;
use tokio::sync::watch;

use crate::{Bus, BusError, Result};

/// What a bucket is mirrored into: entries decoded from their bytes, kept by key.
pub trait Entries: Default + Send + Sync + 'static {
    /// Takes the entry `key` with `bytes`; `Err` (why) leaves the entry out.
    fn put(&mut self, key: &str, bytes: &[u8]) -> std::result::Result<(), String>;
    fn remove(&mut self, key: &str);
}

/// A live copy of a bucket.
pub struct Mirror<C> {
    values: Arc<RwLock<C>>,
    revision: watch::Receiver<u64>,
}

impl<C> Clone for Mirror<C> {
    fn clone(&self) -> Self {
        Self { values: self.values.clone(), revision: self.revision.clone() }
    }
}

impl<C: Entries> Mirror<C> {
    /// Starts mirroring `bucket`; returns once every stored value is loaded.
    pub async fn start(bus: &Bus, bucket: &'static str, shutdown: Shutdown) -> Result<Mirror<C>> {
        // A NATS server restarting or a leader election can make these fail for a moment.
        let (store, stored, mut watch) = crate::provision::retry_at_start("opening a bucket's watch", || async {
            let store = bus.bucket(bucket).await?;
            let stored = store.status().await.map_err(|e| BusError::nats("reading a bucket", e))?.values();
            let watch = store.watch_with_history(">").await.map_err(|e| BusError::nats("watching a bucket", e))?;
            Ok((store, stored, watch))
        })
        .await?;
        let values = Arc::new(RwLock::new(C::default()));
        let (revision_tx, revision) = watch::channel(0u64);
        let (loaded_tx, mut loaded) = watch::channel(stored == 0);
        let writer = values.clone();
        tokio::spawn(async move {
            loop {
                let next = tokio::select! {
                    () = shutdown.cancelled() => return,
                    next = watch.next() => next,
                };
                let entry = match next {
                    Some(Ok(entry)) => entry,
                    Some(Err(error)) => {
                        tracing::warn!(bucket, %error, "watching a bucket: retrying");
                        continue;
                    }
                    None => {
                        tracing::warn!(bucket, "the bucket's watch ended; watching again");
                        loop {
                            tokio::select! {
                                () = shutdown.cancelled() => return,
                                () = tokio::time::sleep(Duration::from_millis(500)) => {}
                            }
                            match store.watch_with_history(">").await {
                                Ok(new_watch) => {
                                    watch = new_watch;
                                    break;
                                }
                                Err(error) => tracing::warn!(bucket, %error, "cannot watch the bucket yet"),
                            }
                        }
                        continue;
                    }
                };
                {
                    let mut values = writer.write().unwrap_or_else(|p| p.into_inner());
                    match entry.operation {
                        Operation::Put => {
                            if let Err(error) = values.put(&entry.key, &entry.value) {
                                tracing::warn!(bucket, key = entry.key, error, "ignoring an unreadable entry");
                            }
                        }
                        Operation::Delete | Operation::Purge => {
                            values.remove(&entry.key);
                        }
                    }
                }
                revision_tx.send_replace(entry.revision);
                if entry.seen_current || entry.delta == 0 {
                    loaded_tx.send_replace(true);
                }
            }
        });
        let loaded_in_time = tokio::time::timeout(Duration::from_secs(30), loaded.wait_for(|l| *l)).await;
        if !loaded_in_time.is_ok_and(|r| r.is_ok()) {
            return Err(BusError::nats("loading a bucket", format!("{bucket} did not load within 30s")));
        }
        Ok(Mirror { values, revision })
    }

    /// Reads the current values.
    pub fn read<R>(&self, f: impl FnOnce(&C) -> R) -> R {
        f(&self.values.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// A receiver that changes whenever a value changes.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.revision.clone()
    }

    /// Waits until the mirror has seen bucket revision `revision`; false on timeout.
    pub async fn wait_for_revision(&self, revision: u64, timeout: Duration) -> bool {
        let mut changes = self.revision.clone();
        tokio::time::timeout(timeout, changes.wait_for(|r| *r >= revision)).await.is_ok_and(|r| r.is_ok())
    }
}
