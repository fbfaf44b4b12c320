//! Leases: a KV key created only if absent, with the bucket's TTL, renewed by revision.
//!
//! Used to run one promotion per stage at a time across replicas. A holder that dies
//! stops renewing; its lease expires after [`crate::names::LEASE_TTL`] and another
//! replica takes over. Renewal by revision means a holder that lost its lease finds out
//! instead of overwriting the new holder's.

use async_nats::jetstream::kv::{self, CreateErrorKind};

use crate::names::LEASES_BUCKET;
use crate::{Bus, BusError, Result};

/// A held lease.
pub struct Lease {
    store: kv::Store,
    key: String,
    holder: String,
    revision: u64,
}

impl Bus {
    /// Takes the lease `key` for `holder`, or returns `None` when someone holds it.
    pub async fn try_lease(&self, key: &str, holder: &str) -> Result<Option<Lease>> {
        let store = self.bucket(LEASES_BUCKET).await?;
        match store.create(key, holder.to_owned().into()).await {
            Ok(revision) => Ok(Some(Lease { store, key: key.to_owned(), holder: holder.to_owned(), revision })),
            Err(e) if e.kind() == CreateErrorKind::AlreadyExists => Ok(None),
            Err(e) => Err(BusError::nats("taking a lease", e)),
        }
    }
}

impl Lease {
    /// Extends the lease; fails when it was lost (expired and taken by another holder).
    pub async fn renew(&mut self) -> Result<()> {
        self.revision = self
            .store
            .update(&self.key, self.holder.clone().into(), self.revision)
            .await
            .map_err(|e| BusError::nats("renewing a lease", e))?;
        Ok(())
    }

    /// Gives the lease up so the next holder need not wait for it to expire.
    pub async fn release(self) {
        if let Err(error) = self.store.delete_expect_revision(&self.key, Some(self.revision)).await {
            tracing::warn!(key = self.key, %error, "releasing a lease failed; it will expire");
        }
    }
}
