//! An OCI distribution (registry HTTP API v2) client for discovery: tag lists with
//! `Link` pagination, manifest digests by `HEAD`, manifests and image configs by digest.
//!
//! - Auth: anonymous first; on a `401` it answers the `WWW-Authenticate` challenge —
//!   `Bearer` (a token from the realm, with basic credentials when configured) or
//!   `Basic` — and keeps the token per repository scope.
//! - Plain HTTP for registries on loopback (Docker's convention) or marked insecure.
//! - A per-registry rate limit (default 20 requests/s, a token bucket) paces requests; a `429` (or
//!   `503`) waits for its `Retry-After` and tries again.
//! - Budgets: every request has connect, idle and total timeouts; a tag list is limited
//!   in bytes and pages over all its pages (and in time), paging stops with an error at
//!   a page already read or a page adding nothing; manifests, indexes and configs are
//!   limited in size and checked against their digest; every digest is checked for its
//!   format. Nothing is read past its limit.
//! - Tag lists and tag digests fetched after a discovery was asked for are reused by
//!   other warehouses in the same round; manifests and configs, addressed by digest,
//!   never change and are kept.
//!
//! Credentials are only ever sent in `Authorization` headers; errors name the registry
//! and repository, never a secret.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lading_domain::credentials::{CredentialType, Credentials};
use lading_domain::digest::Digest;
use lading_domain::limits::{ByteBudget, Limit, TimeoutKind, Timeouts};
use lading_domain::paging::LinkPaging;
use lading_remote::RemoteError;
use serde::Deserialize;

mod error;
mod http;
mod manifest;
mod repository;
mod transport;

pub use error::RegistryError;
use error::Result;
pub use http::{next_link, parse_challenge};
pub use manifest::{ImageConfig, Manifest, PlatformManifest, parse_config, parse_manifest};
pub use repository::Repository;
use transport::{Auth, Host};

use crate::config::{
    CHART_INDEX_MAX_ENV, HTTP_CONNECT_TIMEOUT_ENV, HTTP_IDLE_TIMEOUT_ENV, HTTP_TIMEOUT_ENV, REGISTRY_MAX_MANIFEST_ENV,
    REGISTRY_MAX_TAG_LIST_ENV, REGISTRY_MAX_TAG_PAGES_ENV,
};

/// Media types a manifest `HEAD`/`GET` accepts.
pub const MANIFEST_TYPES: [&str; 4] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// The default per-registry request rate.
pub const DEFAULT_RATE: u32 = 20;

/// What registry and chart repository answers may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistryLimits {
    pub timeouts: Timeouts,
    /// A repository's tag list, over all its pages.
    pub max_tag_list: Limit<u64>,
    pub max_tag_pages: Limit<usize>,
    /// One manifest, index, image config or token answer.
    pub max_manifest: Limit<u64>,
    /// One chart repository `index.yaml`.
    pub max_chart_index: Limit<u64>,
}

impl Default for RegistryLimits {
    fn default() -> Self {
        let seconds = |s, setting| Limit::new(Duration::from_secs(s), setting);
        Self {
            timeouts: Timeouts {
                connect: seconds(10, HTTP_CONNECT_TIMEOUT_ENV),
                idle: seconds(30, HTTP_IDLE_TIMEOUT_ENV),
                total: seconds(120, HTTP_TIMEOUT_ENV),
            },
            max_tag_list: Limit::new(16 << 20, REGISTRY_MAX_TAG_LIST_ENV),
            max_tag_pages: Limit::new(1000, REGISTRY_MAX_TAG_PAGES_ENV),
            max_manifest: Limit::new(4 << 20, REGISTRY_MAX_MANIFEST_ENV),
            max_chart_index: Limit::new(64 << 20, CHART_INDEX_MAX_ENV),
        }
    }
}

/// A `HEAD` of a tag: the digest and media type it points at now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagHead {
    pub digest: Digest,
    pub media_type: String,
}

impl TagHead {
    pub fn is_index(&self) -> bool {
        self.media_type.contains("index") || self.media_type.contains("manifest.list")
    }
}

/// Something fetched, and when its fetch began.
struct Fetched<T> {
    at: Instant,
    value: T,
}

#[derive(Default)]
struct Cache {
    tags: HashMap<Repository, Fetched<Arc<Vec<String>>>>,
    heads: HashMap<(Repository, String), Fetched<TagHead>>,
    manifests: HashMap<Digest, Manifest>,
    configs: HashMap<Digest, ImageConfig>,
    /// HTTP documents (chart indexes): ETag and body per URL.
    documents: HashMap<String, (String, Arc<String>)>,
}

/// Request counts, for metrics and benchmarks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub requests: u64,
    pub waits: u64,
}

/// The registry client of a warehouse service, shared by its discoveries.
pub struct Registries {
    agent: ureq::Agent,
    credentials: Credentials,
    rate: u32,
    limits: RegistryLimits,
    hosts: Mutex<HashMap<String, Arc<Host>>>,
    cache: Mutex<Cache>,
    counts: Mutex<Counts>,
}

#[derive(Deserialize)]
struct TagPage {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

impl Registries {
    pub fn new(credentials: Credentials, rate: u32, limits: RegistryLimits) -> Self {
        let agent = lading_remote::http::agent_config(&limits.timeouts).build().into();
        Self {
            agent,
            credentials,
            rate: rate.max(1),
            limits,
            hosts: Mutex::default(),
            cache: Mutex::default(),
            counts: Mutex::default(),
        }
    }

    pub fn counts(&self) -> Counts {
        *self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn count_request(&self) {
        self.counts.lock().unwrap_or_else(|p| p.into_inner()).requests += 1;
    }

    fn count_wait(&self) {
        self.counts.lock().unwrap_or_else(|p| p.into_inner()).waits += 1;
    }

    fn host(&self, host: &str) -> Arc<Host> {
        self.hosts.lock().unwrap_or_else(|p| p.into_inner()).entry(host.to_owned()).or_default().clone()
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A request for `url` in `repo`, authenticated to pull from it (with the
    /// credential of `kind` configured for the repository, if any).
    fn repo_call(
        &self,
        method: &str,
        repo: &Repository,
        url: &str,
        accept: &str,
        kind: CredentialType,
        limit: Limit<u64>,
    ) -> Result<transport::Reply> {
        let credential = self.credentials.for_url(kind, &repo.describe());
        self.call(method, url, accept, Auth { host: &repo.host, scope: &repo.scope(), credential }, &[], limit)
    }

    /// Every tag of `repo`, following `Link` pages within the tag list's budgets. A list
    /// fetched since `asked` is reused.
    pub fn tags(&self, repo: &Repository, kind: CredentialType, asked: Instant) -> Result<Arc<Vec<String>>> {
        if let Some(cached) = self.cache().tags.get(repo)
            && cached.at >= asked
        {
            return Ok(cached.value.clone());
        }
        let started = Instant::now();
        let what = format!("listing tags of {}", repo.describe());
        let mut url = format!("{}/v2/{}/tags/list?n=1000", repo.base(), repo.name);
        let mut paging = LinkPaging::new(&url, self.limits.max_tag_pages);
        let mut bytes = ByteBudget::new(self.limits.max_tag_list);
        let mut seen = HashSet::new();
        let mut tags = Vec::new();
        loop {
            if started.elapsed() > self.limits.timeouts.total.value {
                let limit = self.limits.timeouts.total;
                return Err(RemoteError::Timeout { action: what, kind: TimeoutKind::Total, limit }.into());
            }
            let left = Limit::new(bytes.remaining(), self.limits.max_tag_list.setting);
            let reply = self
                .repo_call("GET", repo, &url, "application/json", kind, left)
                .map_err(|e| self.with_tag_list_limit(e))?;
            match reply.status {
                200 => {}
                404 => return Err(RegistryError::NotFound(repo.describe())),
                status => return Err(RegistryError::Status { what, status }),
            }
            let _ = bytes.spend(reply.body.len() as u64);
            let page: TagPage = serde_json::from_slice(&reply.body)
                .map_err(|e| RegistryError::Unreadable { what: what.clone(), reason: e.to_string() })?;
            let mut new_tags = 0;
            for tag in page.tags.unwrap_or_default() {
                if seen.insert(tag.clone()) {
                    tags.push(tag);
                    new_tags += 1;
                }
            }
            let Some(next) = reply.headers.get("link").and_then(|l| next_link(l)) else { break };
            let next = if next.starts_with("http://") || next.starts_with("https://") {
                next
            } else {
                format!("{}{next}", repo.base())
            };
            paging
                .follow(&next, new_tags)
                .map_err(|source| RegistryError::Paging { repository: repo.describe(), source })?;
            url = next;
        }
        let tags = Arc::new(tags);
        self.cache().tags.insert(repo.clone(), Fetched { at: started, value: tags.clone() });
        Ok(tags)
    }

    /// A page refused for the bytes left of the tag list's budget names the budget.
    fn with_tag_list_limit(&self, error: RegistryError) -> RegistryError {
        match error {
            RegistryError::Remote(RemoteError::TooLarge { action, .. }) => {
                RemoteError::TooLarge { action, limit: self.limits.max_tag_list }.into()
            }
            other => other,
        }
    }

    /// What `tag` points at now (a `HEAD`, which pull limits do not count). Reused when
    /// fetched since `asked`, or whenever fetched with `by_tag` (Kargo's `cacheByTag`).
    pub fn head(
        &self,
        repo: &Repository,
        tag: &str,
        kind: CredentialType,
        asked: Instant,
        by_tag: bool,
    ) -> Result<TagHead> {
        let key = (repo.clone(), tag.to_owned());
        if let Some(cached) = self.cache().heads.get(&key)
            && (by_tag || cached.at >= asked)
        {
            return Ok(cached.value.clone());
        }
        let started = Instant::now();
        let what = format!("{}:{tag}", repo.describe());
        let url = format!("{}/v2/{}/manifests/{tag}", repo.base(), repo.name);
        let reply = self.repo_call("HEAD", repo, &url, &MANIFEST_TYPES.join(", "), kind, self.limits.max_manifest)?;
        if reply.status != 200 {
            return Err(RegistryError::Status { what, status: reply.status });
        }
        let digest =
            reply.headers.get("docker-content-digest").ok_or_else(|| RegistryError::MissingDigest(what.clone()))?;
        let digest = Digest::parse(digest).map_err(|source| RegistryError::Digest { what, source })?;
        let media_type = reply.headers.get("content-type").cloned().unwrap_or_default();
        let head = TagHead { digest, media_type };
        self.cache().heads.insert(key, Fetched { at: started, value: head.clone() });
        Ok(head)
    }

    /// Fetches the blob or manifest at `url` and checks it against `digest`.
    fn by_digest(
        &self,
        repo: &Repository,
        url: &str,
        accept: &str,
        digest: &Digest,
        kind: CredentialType,
    ) -> Result<Vec<u8>> {
        let what = format!("{}@{digest}", repo.describe());
        let reply = self.repo_call("GET", repo, url, accept, kind, self.limits.max_manifest)?;
        if reply.status != 200 {
            return Err(RegistryError::Status { what, status: reply.status });
        }
        digest.verify(&reply.body).map_err(|source| RegistryError::Digest { what, source })?;
        Ok(reply.body)
    }

    /// The manifest with `digest` (kept: a digest's content never changes).
    pub fn manifest(&self, repo: &Repository, digest: &Digest, kind: CredentialType) -> Result<Manifest> {
        if let Some(m) = self.cache().manifests.get(digest) {
            return Ok(m.clone());
        }
        let url = format!("{}/v2/{}/manifests/{digest}", repo.base(), repo.name);
        let bytes = self.by_digest(repo, &url, &MANIFEST_TYPES.join(", "), digest, kind)?;
        let manifest = manifest::parse_manifest(&format!("{}@{digest}", repo.describe()), &bytes)?;
        self.cache().manifests.insert(digest.clone(), manifest.clone());
        Ok(manifest)
    }

    /// An image's config blob: when it was built and for which platform. Kept.
    pub fn config(&self, repo: &Repository, config_digest: &Digest, kind: CredentialType) -> Result<ImageConfig> {
        if let Some(c) = self.cache().configs.get(config_digest) {
            return Ok(c.clone());
        }
        let url = format!("{}/v2/{}/blobs/{config_digest}", repo.base(), repo.name);
        let bytes = self.by_digest(repo, &url, "", config_digest, kind)?;
        let config = manifest::parse_config(&bytes);
        self.cache().configs.insert(config_digest.clone(), config.clone());
        Ok(config)
    }

    /// Fetches an HTTP document (a chart repository's `index.yaml`, within its size
    /// limit), revalidating a kept copy with `If-None-Match`. Returns the body and
    /// whether it came from the cache.
    pub fn document(&self, url: &str, kind: CredentialType) -> Result<(Arc<String>, bool)> {
        let kept = self.cache().documents.get(url).cloned();
        let mut extra = Vec::new();
        if let Some((etag, _)) = &kept {
            extra.push(("If-None-Match", etag.clone()));
        }
        let credential = self.credentials.for_url(kind, url);
        let host = url.split("://").nth(1).and_then(|r| r.split('/').next()).unwrap_or(url).to_owned();
        let what = format!("GET {}", lading_domain::redact::redact_url(url));
        let auth = Auth { host: &host, scope: url, credential };
        let reply = self.call("GET", url, "", auth, &extra, self.limits.max_chart_index)?;
        match (reply.status, kept) {
            (304, Some((_, body))) => Ok((body, true)),
            (200, _) => {
                let body = String::from_utf8(reply.body)
                    .map_err(|_| RegistryError::Unreadable { what, reason: "not UTF-8 text".to_owned() })?;
                let body = Arc::new(body);
                if let Some(etag) = reply.headers.get("etag") {
                    self.cache().documents.insert(url.to_owned(), (etag.clone(), body.clone()));
                }
                Ok((body, false))
            }
            (status, _) => Err(RegistryError::Status { what, status }),
        }
    }

    /// The size limit of a chart repository index (for its parser's budget).
    pub fn max_chart_index(&self) -> Limit<u64> {
        self.limits.max_chart_index
    }
}
