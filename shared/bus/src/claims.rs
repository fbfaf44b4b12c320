//! Promotion claims: whether a promotion was aborted or passed its point of no return,
//! decided once. Aborting and finishing race (a user aborts while the last step runs):
//! whoever creates the promotion's key first wins, in the `lading-promotion-claims`
//! bucket (create-if-absent), so the outcome always matches what happened in Git.
//!
//! The runner claims `committed` right before the first effect that cannot be taken
//! back (a `git-push`) and before it records any outcome; an abort claims `aborted`
//! first. A runner that finds `aborted` stops without pushing; an abort that finds
//! `committed` is refused, and the promotion ends as it ends.
//!
//! A run that waits (a pull request still open) after its push turns `committed` into
//! `parked`: an abort may replace `parked` by `aborted`, and the run that looks again
//! replaces `parked` by `committed` before its first step; each replaces it only at the
//! revision it read ([`Bus::replace_claim`]), so one of them wins
//! ([`lading_domain::promotion_claim`] rules which does what).

use async_nats::jetstream::kv::{CreateErrorKind, UpdateErrorKind};

use lading_domain::promotion_claim::Held;

use crate::names::CLAIMS_BUCKET;
use crate::{Bus, BusError, Result};

const COMMITTED: &str = "committed";
const PARKED: &str = "parked";
const ABORTED_PREFIX: &str = "aborted:";

/// What was claimed for a promotion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Aborted, by whom and why; it must not change anything outside any more.
    Aborted { actor: String, reason: String },
    /// Past its point of no return: it finishes and records its own outcome.
    Committed,
    /// Past its point of no return, waiting, with no run holding it.
    Parked,
}

impl Claim {
    /// What the claim holds, in the rules' words.
    pub fn held(&self) -> Held {
        match self {
            Claim::Aborted { .. } => Held::Aborted,
            Claim::Committed => Held::Committed,
            Claim::Parked => Held::Parked,
        }
    }

    fn encode(&self) -> String {
        match self {
            Claim::Aborted { actor, reason } => format!("{ABORTED_PREFIX}{}\n{reason}", actor.replace('\n', " ")),
            Claim::Committed => COMMITTED.to_owned(),
            Claim::Parked => PARKED.to_owned(),
        }
    }
}

fn key(project: &str, promotion: &str) -> String {
    format!("{project}.{promotion}")
}

/// The subject a claim on a promotion is written to.
pub fn claim_subject(project: &str, promotion: &str) -> String {
    format!("$KV.{CLAIMS_BUCKET}.{}", key(project, promotion))
}

fn parse(value: &[u8]) -> Claim {
    let text = String::from_utf8_lossy(value);
    match text.strip_prefix(ABORTED_PREFIX) {
        Some(rest) => {
            let (actor, reason) = rest.split_once('\n').unwrap_or(("", rest));
            Claim::Aborted { actor: actor.to_owned(), reason: reason.to_owned() }
        }
        None if text == PARKED => Claim::Parked,
        None => Claim::Committed,
    }
}

impl Bus {
    /// The claim on a promotion, if any.
    pub async fn promotion_claim(&self, project: &str, promotion: &str) -> Result<Option<Claim>> {
        let store = self.bucket(CLAIMS_BUCKET).await?;
        let value = store.get(key(project, promotion)).await.map_err(|e| BusError::nats("reading a claim", e))?;
        Ok(value.map(|v| parse(&v)))
    }

    /// The claims made on a promotion from now on, as they are made. A plain
    /// subscription to the key's subject, not a consumer of the bucket: nothing is created
    /// on the server per promotion, and a claim made before it began is read with
    /// [`Bus::promotion_claim`].
    pub async fn watch_claim(
        &self,
        project: &str,
        promotion: &str,
    ) -> Result<impl futures::Stream<Item = Claim> + Send + Unpin + use<>> {
        let subject = claim_subject(project, promotion);
        let watch = self.client().subscribe(subject).await.map_err(|e| BusError::nats("watching a claim", e))?;
        Ok(futures::StreamExt::filter_map(watch, |message| {
            // A delete or purge marker names its operation; a put names none.
            let put = message.headers.as_ref().and_then(|h| h.get("KV-Operation")).is_none();
            std::future::ready(put.then(|| parse(&message.payload)))
        }))
    }

    /// Claims `claim` for a promotion unless another claim is there; returns the claim
    /// that holds afterwards (`claim` itself when it won or was already there).
    pub async fn claim_promotion(&self, project: &str, promotion: &str, claim: &Claim) -> Result<Claim> {
        let store = self.bucket(CLAIMS_BUCKET).await?;
        let value = claim.encode();
        let key = key(project, promotion);
        // Written on the condition that the key never held anything (one round trip); a
        // refusal means a claim is there, which is read (one more). Claims are never
        // deleted, so a key that refused and reads empty is left to create-if-absent.
        match store.update(&key, value.clone().into(), 0).await {
            Ok(_) => return Ok(claim.clone()),
            Err(e) if e.kind() == UpdateErrorKind::WrongLastRevision => {}
            Err(e) => return Err(BusError::nats("claiming a promotion", e)),
        }
        if let Some(held) = store.get(&key).await.map_err(|e| BusError::nats("reading a claim", e))? {
            return Ok(parse(&held));
        }
        match store.create(&key, value.into()).await {
            Ok(_) => Ok(claim.clone()),
            Err(e) if e.kind() == CreateErrorKind::AlreadyExists => {
                let held = self.promotion_claim(project, promotion).await?;
                held.ok_or_else(|| BusError::nats("claiming a promotion", "the claim vanished"))
            }
            Err(e) => Err(BusError::nats("claiming a promotion", e)),
        }
    }

    /// Replaces the claim by `to` if it holds what `from` holds (`from`'s kind), at the
    /// revision read; returns the claim that holds afterwards (`None`: nothing claimed).
    pub async fn replace_claim(&self, project: &str, promotion: &str, from: Held, to: &Claim) -> Result<Option<Claim>> {
        let store = self.bucket(CLAIMS_BUCKET).await?;
        let key = key(project, promotion);
        let Some(entry) = store.entry(&key).await.map_err(|e| BusError::nats("reading a claim", e))? else {
            return Ok(None);
        };
        let held = (entry.operation == async_nats::jetstream::kv::Operation::Put).then(|| parse(&entry.value));
        match held {
            Some(claim) if claim.held() == from => {}
            other => return Ok(other),
        }
        match store.update(&key, to.encode().into(), entry.revision).await {
            Ok(_) => Ok(Some(to.clone())),
            Err(e) if e.kind() == UpdateErrorKind::WrongLastRevision => self.promotion_claim(project, promotion).await,
            Err(e) => Err(BusError::nats("replacing a claim", e)),
        }
    }
}
