//! Api tokens: each a name, a role in a project or on the server, and who made it, stored
//! in the `lading-tokens` bucket under the SHA-256 of the token, never the token itself.
//! A token is shown once, when it is made.

use std::collections::BTreeMap;

use async_nats::jetstream::kv::CreateErrorKind;
use lading_domain::access::{Grant, TOKEN_PREFIX, token_hash};
use lading_runtime::Shutdown;
use serde::{Deserialize, Serialize};

use crate::mirror::{Entries, Mirror};
use crate::names::TOKENS_BUCKET;
use crate::{Bus, BusError, Result};

/// A token as stored (without the token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRecord {
    pub name: String,
    pub grant: Grant,
    pub created_at_ms: i64,
    pub created_by: String,
}

/// Every token, by hash.
#[derive(Debug, Default)]
pub struct Tokens {
    by_hash: BTreeMap<String, TokenRecord>,
}

impl Entries for Tokens {
    fn put(&mut self, key: &str, bytes: &[u8]) -> std::result::Result<(), String> {
        let record = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        self.by_hash.insert(key.to_owned(), record);
        Ok(())
    }

    fn remove(&mut self, key: &str) {
        self.by_hash.remove(key);
    }
}

impl Tokens {
    /// The record of `token`, when it is a token Lading knows.
    pub fn find(&self, token: &str) -> Option<&TokenRecord> {
        self.by_hash.get(&token_hash(token))
    }

    /// Every token's record, by name.
    pub fn list(&self) -> Vec<&TokenRecord> {
        let mut records: Vec<&TokenRecord> = self.by_hash.values().collect();
        records.sort_by(|a, b| a.name.cmp(&b.name));
        records
    }

    fn hash_of(&self, name: &str) -> Option<&String> {
        self.by_hash.iter().find(|(_, r)| r.name == name).map(|(hash, _)| hash)
    }
}

/// A live view of the token bucket.
#[derive(Clone)]
pub struct TokenStore(Mirror<Tokens>);

/// Why a token was not made or removed.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("a token named {0:?} exists; delete it first or choose another name")]
    NameTaken(String),
    #[error("no token is named {0:?}")]
    NotFound(String),
    #[error("the operating system's random source failed: {0}")]
    Random(String),
    #[error(transparent)]
    Bus(#[from] BusError),
}

impl TokenStore {
    pub async fn watch(bus: &Bus, shutdown: Shutdown) -> Result<TokenStore> {
        Mirror::start(bus, TOKENS_BUCKET, shutdown).await.map(TokenStore)
    }

    pub fn read<R>(&self, f: impl FnOnce(&Tokens) -> R) -> R {
        self.0.read(f)
    }

    /// Makes a token `name` holding `grant`; returns the token, shown only now.
    pub async fn create(
        &self,
        bus: &Bus,
        name: &str,
        grant: Grant,
        created_by: &str,
    ) -> std::result::Result<String, TokenError> {
        if self.read(|t| t.hash_of(name).is_some()) {
            return Err(TokenError::NameTaken(name.to_owned()));
        }
        let token = new_token()?;
        self.store(bus, &token, name, grant, created_by).await?;
        Ok(token)
    }

    /// Makes sure `token` is the server's admin token named `name` (the token an operator
    /// configured, or the one `lading up` made on its first start): an older token of that
    /// name is replaced.
    pub async fn ensure_server_admin(&self, bus: &Bus, name: &str, token: &str) -> std::result::Result<(), TokenError> {
        if self.read(|t| t.find(token).is_some()) {
            return Ok(());
        }
        if let Some(old) = self.read(|t| t.hash_of(name).cloned()) {
            self.remove_hash(bus, &old).await?;
        }
        let grant = Grant { role: lading_domain::access::Role::Admin, scope: lading_domain::access::Scope::Server };
        self.store(bus, token, name, grant, "configuration").await
    }

    /// Removes the token `name`.
    pub async fn delete(&self, bus: &Bus, name: &str) -> std::result::Result<TokenRecord, TokenError> {
        let found = self.read(|t| t.hash_of(name).cloned().zip(t.list().into_iter().find(|r| r.name == name).cloned()));
        let Some((hash, record)) = found else { return Err(TokenError::NotFound(name.to_owned())) };
        self.remove_hash(bus, &hash).await?;
        Ok(record)
    }

    async fn store(
        &self,
        bus: &Bus,
        token: &str,
        name: &str,
        grant: Grant,
        created_by: &str,
    ) -> std::result::Result<(), TokenError> {
        let record = TokenRecord {
            name: name.to_owned(),
            grant,
            created_at_ms: lading_events::now_ms(),
            created_by: created_by.to_owned(),
        };
        let bytes = serde_json::to_vec(&record).map_err(|e| BusError::nats("encoding a token", e))?;
        let store = bus.bucket(TOKENS_BUCKET).await?;
        let revision = match store.create(token_hash(token), bytes.into()).await {
            Ok(revision) => revision,
            Err(e) if e.kind() == CreateErrorKind::AlreadyExists => return Ok(()),
            Err(e) => return Err(BusError::nats("storing a token", e).into()),
        };
        self.0.wait_for_revision(revision, std::time::Duration::from_secs(5)).await;
        Ok(())
    }

    async fn remove_hash(&self, bus: &Bus, hash: &str) -> std::result::Result<(), TokenError> {
        let store = bus.bucket(TOKENS_BUCKET).await?;
        store.delete(hash).await.map_err(|e| BusError::nats("deleting a token", e))?;
        // A deletion's revision is not returned: wait until the mirror no longer has it,
        // so the token stops working before this returns.
        let mut changes = self.0.changes();
        let gone = changes.wait_for(|_| !self.read(|t| t.by_hash.contains_key(hash)));
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), gone).await;
        Ok(())
    }
}

/// A new random token: `lading_` and 43 characters of URL-safe base64 (256 bits).
pub fn new_token() -> std::result::Result<String, TokenError> {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| TokenError::Random(e.to_string()))?;
    Ok(format!("{TOKEN_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)))
}
