//! Leases: a KV key created only if absent, with the bucket's TTL, renewed by revision.
//!
//! Used to run one promotion per stage at a time across replicas. A holder that dies
//! stops renewing; its lease expires after [`crate::names::LEASE_TTL`] and another
//! replica takes over. Renewal by revision means a holder that lost its lease finds out
//! instead of overwriting the new holder's.
//!
//! A held lease carries a [`Fence`]: work done under the lease asks it right before each
//! external effect (a push, a call out) whether the lease is still certainly held. The
//! holder counts its lease valid until `TTL - margin` after the moment it *sent* its last
//! successful renewal: the server's expiry comes later than that, so while the fence
//! says yes no other replica can hold the lease. A renewal refused (someone else holds
//! it) or impossible until that moment (NATS unreachable) closes the fence for good, and
//! the holder's work stops at its next effect.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::kv::{self, CreateErrorKind, UpdateErrorKind};

use crate::names::{LEASE_TTL, LEASES_BUCKET};
use crate::{Bus, BusError, Result};

/// The revisions of the delete markers this connection's releases left, by lease key.
pub(crate) type GivenUp = Arc<Mutex<std::collections::HashMap<String, u64>>>;

/// A held lease.
pub struct Lease {
    store: kv::Store,
    jetstream: async_nats::jetstream::Context,
    /// Where the revision of the delete marker a release leaves is kept, by key.
    given_up: GivenUp,
    key: String,
    holder: String,
    revision: u64,
}

impl Bus {
    /// Takes the lease `key` for `holder`, or returns `None` when someone holds it.
    ///
    /// A lease this connection gave up last is taken again in one round trip: its delete
    /// marker's revision is known, and the write is conditional on it. Otherwise (or when
    /// someone wrote the key since) the key's last entry is read first: a lease given up
    /// leaves a delete marker, which create-if-absent refuses before reading the entry and
    /// writing over it (three round trips); reading first takes it in two, and finds a
    /// held lease in one. Every write is conditional on a revision, so of any number of
    /// replicas racing for the key, one takes it.
    pub async fn try_lease(&self, key: &str, holder: &str) -> Result<Option<Lease>> {
        let store = self.bucket(LEASES_BUCKET).await?;
        let given_up = self.given_up_leases.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
        if let Some(marker) = given_up {
            match store.update(key, holder.to_owned().into(), marker).await {
                Ok(revision) => return Ok(Some(self.lease(store, key, holder, revision))),
                // Someone wrote the key since: ask as anyone would.
                Err(e) if e.kind() == UpdateErrorKind::WrongLastRevision => {}
                Err(e) => return Err(BusError::nats("taking a lease", e)),
            }
        }
        let last = store.entry(key).await.map_err(|e| BusError::nats("reading a lease", e))?;
        let taken = match last {
            Some(entry) if entry.operation == kv::Operation::Put => return Ok(None),
            // Given up (deleted or purged): taken at the marker's revision.
            Some(entry) => match store.update(key, holder.to_owned().into(), entry.revision).await {
                Ok(revision) => Ok(revision),
                Err(e) if e.kind() == UpdateErrorKind::WrongLastRevision => return Ok(None),
                Err(e) => Err(BusError::nats("taking a lease", e)),
            },
            None => match store.create(key, holder.to_owned().into()).await {
                Ok(revision) => Ok(revision),
                Err(e) if e.kind() == CreateErrorKind::AlreadyExists => return Ok(None),
                Err(e) => Err(BusError::nats("taking a lease", e)),
            },
        }?;
        Ok(Some(self.lease(store, key, holder, taken)))
    }

    fn lease(&self, store: kv::Store, key: &str, holder: &str, revision: u64) -> Lease {
        Lease {
            store,
            jetstream: self.jetstream.clone(),
            given_up: self.given_up_leases.clone(),
            key: key.to_owned(),
            holder: holder.to_owned(),
            revision,
        }
    }
}

impl Bus {
    /// Waits until the lease `key` is given up, for at most `timeout`: true when its last
    /// entry is (or becomes) a release, false when it is still held at the end (a lease
    /// that expires leaves no entry to see; its taker finds out by asking again).
    pub async fn lease_given_up(&self, key: &str, timeout: Duration) -> Result<bool> {
        let store = self.bucket(LEASES_BUCKET).await?;
        // From the key's last entry on, so a release made before the watch began counts.
        let mut entries = store.watch_with_history(key).await.map_err(|e| BusError::nats("watching a lease", e))?;
        let given_up = async {
            while let Some(entry) = futures::StreamExt::next(&mut entries).await {
                match entry {
                    Ok(entry) if entry.operation != kv::Operation::Put => return true,
                    Ok(_) => {}
                    Err(_) => return false,
                }
            }
            false
        };
        Ok(tokio::time::timeout(timeout, given_up).await.unwrap_or(false))
    }
}

/// Why a renewal failed.
#[derive(Debug, thiserror::Error)]
pub enum RenewError {
    /// The lease expired and someone else may hold it: it cannot be renewed.
    #[error("the lease was lost: {0}")]
    Lost(String),
    /// NATS did not answer: worth trying again while the lease lasts.
    #[error("renewing the lease: {0}")]
    Unreachable(String),
}

impl Lease {
    /// Extends the lease; fails when it was lost (expired and taken by another holder).
    ///
    /// An earlier renewal whose answer never came (it timed out) may have been stored all
    /// the same, moving the key's revision on: a key that holds this holder's name at
    /// another revision is still this holder's lease, and is renewed at that revision.
    pub async fn renew(&mut self) -> std::result::Result<(), RenewError> {
        let lost = match self.update().await {
            Err(RenewError::Lost(reason)) => reason,
            renewed => return renewed,
        };
        let entry = self.store.entry(&self.key).await.map_err(|e| RenewError::Unreachable(e.to_string()))?;
        match entry {
            Some(entry)
                if entry.operation == kv::Operation::Put
                    && entry.value.as_ref() == self.holder.as_bytes()
                    && entry.revision != self.revision =>
            {
                self.revision = entry.revision;
                self.update().await
            }
            _ => Err(RenewError::Lost(lost)),
        }
    }

    /// Writes the holder again on the condition that the key is at the lease's revision.
    async fn update(&mut self) -> std::result::Result<(), RenewError> {
        match self.store.update(&self.key, self.holder.clone().into(), self.revision).await {
            Ok(revision) => {
                self.revision = revision;
                Ok(())
            }
            Err(e) if e.kind() == UpdateErrorKind::WrongLastRevision => Err(RenewError::Lost(e.to_string())),
            Err(e) => Err(RenewError::Unreachable(e.to_string())),
        }
    }

    /// Gives the lease up so the next holder need not wait for it to expire: writes a
    /// delete marker on the condition that the key is still at the lease's revision, and
    /// keeps the marker's revision for this connection's next [`Bus::try_lease`].
    pub async fn release(self) {
        let subject = format!("{}{}", self.store.put_prefix.as_ref().unwrap_or(&self.store.prefix), self.key);
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("KV-Operation", "DEL");
        headers.insert(async_nats::header::NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, self.revision.to_string().as_str());
        let stored = match self.jetstream.publish_with_headers(subject, headers, Default::default()).await {
            Ok(ack) => ack.await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match stored {
            Ok(ack) => {
                self.given_up.lock().unwrap_or_else(|p| p.into_inner()).insert(self.key, ack.sequence);
            }
            Err(error) => tracing::warn!(key = self.key, %error, "releasing a lease failed; it will expire"),
        }
    }

    /// Keeps the lease renewed in the background until [`HeldLease::release`], with a
    /// fence that closes when it can no longer be sure to hold it. `taken` is when the
    /// lease was asked for (its validity counts from then).
    pub fn hold(self, taken: Instant) -> HeldLease {
        let fence = Fence::new(taken + LEASE_TTL);
        let stop = Arc::new(tokio::sync::Notify::new());
        let renewer = tokio::spawn(renew_until_stopped(self, fence.clone(), stop.clone()));
        HeldLease { fence, stop, renewer }
    }
}

/// What the background renewal needs of a lease.
trait Renewable: Send + 'static {
    fn key(&self) -> &str;
    fn renew(&mut self) -> impl std::future::Future<Output = std::result::Result<(), RenewError>> + Send;
}

impl Renewable for Lease {
    fn key(&self) -> &str {
        &self.key
    }

    fn renew(&mut self) -> impl std::future::Future<Output = std::result::Result<(), RenewError>> + Send {
        Lease::renew(self)
    }
}

/// How often a held lease is renewed: a third of its TTL.
pub const RENEWAL_INTERVAL: Duration = Duration::from_secs(LEASE_TTL.as_secs() / 3);
/// How long one renewal waits for its answer before it is tried again. Between a
/// renewal and the fence closing ([`LEASE_TTL`] - [`FENCE_MARGIN`] after it) there are
/// 5 s: a connection's own request timeout (5 s) would end the first attempt only once
/// the fence closed, so one unanswered request would lose the lease.
pub const RENEWAL_ATTEMPT: Duration = Duration::from_secs(2);
/// The pause between renewals that failed.
const RENEWAL_RETRY: Duration = Duration::from_millis(500);
/// How much of the lease must be left for the fence to let an effect through.
pub const FENCE_MARGIN: Duration = Duration::from_secs(5);

async fn renew_until_stopped<L: Renewable>(mut lease: L, fence: Fence, stop: Arc<tokio::sync::Notify>) -> L {
    let mut wait = RENEWAL_INTERVAL;
    loop {
        tokio::select! {
            () = stop.notified() => return lease,
            () = tokio::time::sleep(wait) => {}
        }
        let asked = Instant::now();
        let renewed = match tokio::time::timeout(RENEWAL_ATTEMPT, lease.renew()).await {
            Ok(renewed) => renewed,
            Err(_) => Err(RenewError::Unreachable(format!("no answer within {RENEWAL_ATTEMPT:?}"))),
        };
        match renewed {
            Ok(()) => {
                fence.extend(asked + LEASE_TTL);
                wait = RENEWAL_INTERVAL;
            }
            Err(RenewError::Lost(reason)) => {
                tracing::error!(key = lease.key(), reason, "the lease was lost; work under it stops");
                lading_runtime::metrics::lease_lost();
                fence.close();
                stop.notified().await;
                return lease;
            }
            Err(RenewError::Unreachable(reason)) if fence.is_open() => {
                tracing::warn!(key = lease.key(), reason, "renewing the lease failed; retrying");
                wait = RENEWAL_RETRY;
            }
            Err(RenewError::Unreachable(reason)) => {
                tracing::error!(
                    key = lease.key(),
                    reason,
                    "the lease could not be renewed in time; work under it stops"
                );
                lading_runtime::metrics::lease_lost();
                fence.close();
                stop.notified().await;
                return lease;
            }
        }
    }
}

/// A lease renewed in the background.
pub struct HeldLease {
    fence: Fence,
    stop: Arc<tokio::sync::Notify>,
    renewer: tokio::task::JoinHandle<Lease>,
}

impl HeldLease {
    /// The fence work under this lease checks before each effect.
    pub fn fence(&self) -> Fence {
        self.fence.clone()
    }

    /// Stops renewing and gives the lease up (unless it was lost).
    pub async fn release(self) {
        self.stop.notify_one();
        let open = self.fence.is_open();
        if let Ok(lease) = self.renewer.await
            && open
        {
            lease.release().await;
        }
    }
}

/// Whether a lease is still certainly held: checked right before each external effect.
#[derive(Clone, Debug)]
pub struct Fence {
    state: Arc<FenceState>,
}

#[derive(Debug)]
struct FenceState {
    valid_until: Mutex<Instant>,
    closed: AtomicBool,
}

/// The fence closed: another replica may hold the lease now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("this replica lost its turn (the stage's lease {0}); it stops before any further effect")]
pub struct LostTurn(&'static str);

impl Fence {
    /// A fence valid until `valid_until` (a lease's expiry as its holder counts it).
    pub fn new(valid_until: Instant) -> Fence {
        Fence { state: Arc::new(FenceState { valid_until: Mutex::new(valid_until), closed: AtomicBool::new(false) }) }
    }

    /// A fence that never closes, for work under no lease (tests, tools).
    pub fn unbounded() -> Fence {
        Fence::new(Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600))
    }

    /// Ok while the lease is held with at least [`FENCE_MARGIN`] left.
    pub fn check(&self) -> std::result::Result<(), LostTurn> {
        if self.state.closed.load(Ordering::SeqCst) {
            return Err(LostTurn("was lost or could not be renewed"));
        }
        let valid_until = *self.state.valid_until.lock().unwrap_or_else(|p| p.into_inner());
        if Instant::now() + FENCE_MARGIN >= valid_until {
            return Err(LostTurn("was not renewed in time"));
        }
        Ok(())
    }

    /// Whether [`Fence::check`] passes.
    pub fn is_open(&self) -> bool {
        self.check().is_ok()
    }

    fn extend(&self, valid_until: Instant) {
        let mut current = self.state.valid_until.lock().unwrap_or_else(|p| p.into_inner());
        *current = (*current).max(valid_until);
    }

    /// Closes the fence for good.
    pub fn close(&self) {
        self.state.closed.store(true, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lease whose first renewal gets no answer: it fails after `unanswered` (a
    /// connection's request timeout), or never ends; later renewals answer at once.
    struct FirstRenewalUnanswered {
        unanswered: Option<Duration>,
        renewals: usize,
    }

    impl Renewable for FirstRenewalUnanswered {
        fn key(&self) -> &str {
            "test"
        }

        async fn renew(&mut self) -> std::result::Result<(), RenewError> {
            self.renewals += 1;
            if self.renewals == 1 {
                match self.unanswered {
                    Some(wait) => tokio::time::sleep(wait).await,
                    None => std::future::pending().await,
                }
                return Err(RenewError::Unreachable("timed out".to_owned()));
            }
            Ok(())
        }
    }

    /// Whether the fence of a lease renewed by `lease` stays open past the moment it
    /// would close without a renewal.
    async fn stays_open(lease: FirstRenewalUnanswered) -> Result<usize, String> {
        let fence = Fence::new(Instant::now() + LEASE_TTL);
        let stop = Arc::new(tokio::sync::Notify::new());
        let renewer = tokio::spawn(renew_until_stopped(lease, fence.clone(), stop.clone()));
        let until = Instant::now() + LEASE_TTL - FENCE_MARGIN + Duration::from_secs(1);
        while Instant::now() < until {
            if fence.check().is_err() {
                return Err(format!("the fence closed {:?} before the end", until - Instant::now()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        stop.notify_one();
        Ok(renewer.await.unwrap().renewals)
    }

    #[tokio::test]
    async fn one_renewal_without_an_answer_does_not_lose_the_lease() {
        // Given a lease whose first renewal times out after 5 s (a connection's request
        // timeout), and one whose first renewal never ends,
        let timed_out = FirstRenewalUnanswered { unanswered: Some(Duration::from_secs(5)), renewals: 0 };
        let hanging = FirstRenewalUnanswered { unanswered: None, renewals: 0 };
        // when time passes past the moment their fences would close without a renewal,
        let (timed_out, hanging) = tokio::join!(stays_open(timed_out), stays_open(hanging));
        // then both fences stay open all along: the renewal is tried again in time.
        assert!(timed_out.unwrap() >= 2);
        assert!(hanging.unwrap() >= 2);
    }

    #[test]
    fn a_fence_lets_effects_through_only_with_time_left_and_never_after_closing() {
        // Given a lease valid for 15 s, effects may pass now;
        let fence = Fence::new(Instant::now() + Duration::from_secs(15));
        assert!(fence.check().is_ok());
        // with less than the margin left, they may not;
        let nearly_expired = Fence::new(Instant::now() + FENCE_MARGIN - Duration::from_millis(1));
        assert!(nearly_expired.check().is_err());
        // and once closed, an extension does not reopen it.
        fence.close();
        fence.extend(Instant::now() + Duration::from_secs(60));
        assert!(fence.check().unwrap_err().to_string().contains("lost its turn"));
    }
}
