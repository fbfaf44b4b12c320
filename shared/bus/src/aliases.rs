//! Freight aliases are unique within a project: a claim is a KV create, so of two freight
//! proposing one alias exactly one gets it; the other moves to its next candidate.

use async_nats::jetstream::kv::CreateErrorKind;
use lading_domain::FreightId;
use lading_domain::alias;

use crate::names::ALIASES_BUCKET;
use crate::{Bus, BusError, Result};

/// How many candidates to try before giving up (the space holds 109,272 aliases).
const MAX_ATTEMPTS: u32 = 1000;

impl Bus {
    /// Returns the alias of `freight` in `project`, claiming the first free candidate.
    /// Calling it again for the same freight returns the same alias.
    pub async fn claim_alias(&self, project: &str, freight: &FreightId) -> Result<String> {
        let store = self.bucket(ALIASES_BUCKET).await?;
        for attempt in 0..MAX_ATTEMPTS {
            let candidate = alias::candidate(freight, attempt);
            let key = format!("{project}.{candidate}");
            match store.create(&key, freight.as_str().to_owned().into()).await {
                Ok(_) => return Ok(candidate),
                Err(e) if e.kind() == CreateErrorKind::AlreadyExists => {
                    let holder = store.get(&key).await.map_err(|e| BusError::nats("reading an alias", e))?;
                    if holder.as_deref() == Some(freight.as_str().as_bytes()) {
                        return Ok(candidate);
                    }
                }
                Err(e) => return Err(BusError::nats("claiming an alias", e)),
            }
        }
        Err(BusError::nats("claiming an alias", format!("no free alias after {MAX_ATTEMPTS} candidates")))
    }
}

/// What became of a request to give a freight a chosen alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AliasChange {
    /// The alias is now the freight's (the previous one was freed).
    Claimed,
    /// Another freight of the project holds it.
    TakenBy(String),
}

impl Bus {
    /// Gives `freight` the alias `alias` in `project` if no other freight holds it, and
    /// frees `previous` (when it was this freight's).
    pub async fn change_alias(
        &self,
        project: &str,
        freight: &FreightId,
        alias: &str,
        previous: &str,
    ) -> Result<AliasChange> {
        let store = self.bucket(ALIASES_BUCKET).await?;
        let key = format!("{project}.{alias}");
        match store.create(&key, freight.as_str().to_owned().into()).await {
            Ok(_) => {}
            Err(e) if e.kind() == CreateErrorKind::AlreadyExists => {
                let holder = store.get(&key).await.map_err(|e| BusError::nats("reading an alias", e))?;
                let holder = holder.map(|h| String::from_utf8_lossy(&h).into_owned()).unwrap_or_default();
                if holder != freight.as_str() {
                    return Ok(AliasChange::TakenBy(holder));
                }
            }
            Err(e) => return Err(BusError::nats("claiming an alias", e)),
        }
        if !previous.is_empty() && previous != alias {
            let old_key = format!("{project}.{previous}");
            let old = store.get(&old_key).await.map_err(|e| BusError::nats("reading an alias", e))?;
            if old.as_deref() == Some(freight.as_str().as_bytes()) {
                store.delete(&old_key).await.map_err(|e| BusError::nats("freeing an alias", e))?;
            }
        }
        Ok(AliasChange::Claimed)
    }
}

impl Bus {
    /// Frees `alias` in `project` when `freight` holds it (the freight was deleted).
    pub async fn release_alias(&self, project: &str, freight: &FreightId, alias: &str) -> Result<()> {
        let store = self.bucket(ALIASES_BUCKET).await?;
        let key = format!("{project}.{alias}");
        let holder = store.get(&key).await.map_err(|e| BusError::nats("reading an alias", e))?;
        if holder.as_deref() == Some(freight.as_str().as_bytes()) {
            store.delete(&key).await.map_err(|e| BusError::nats("freeing an alias", e))?;
        }
        Ok(())
    }
}

/// What announcing freight did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announced {
    pub alias: String,
    /// False when the freight already existed (another replica, or an earlier discovery).
    pub created: bool,
}

impl Bus {
    /// Announces `freight` (whose ID is `id`) in `project` once: claims its alias, then
    /// publishes `FreightCreated` on the condition that its subject is still empty.
    pub async fn announce_freight(
        &self,
        project: &str,
        id: &FreightId,
        freight: &mut lading_domain::Freight,
        trace: &lading_events::TraceContext,
    ) -> Result<Announced> {
        let alias = self.claim_alias(project, id).await?;
        freight.alias = alias.clone();
        let event = lading_events::Event::FreightCreated(lading_events::catalog::FreightCreatedV1::new(
            project,
            id,
            freight,
            lading_events::now_ms(),
        ));
        let created = matches!(self.publish_once(&event, trace).await?, crate::Published::Stored(_));
        Ok(Announced { alias, created })
    }
}
