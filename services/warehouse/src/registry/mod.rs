//! An OCI distribution (registry HTTP API v2) client for discovery: tag lists with
//! `Link` pagination, manifest digests by `HEAD`, manifests and image configs by digest.
//!
//! - Auth: anonymous first; on a `401` it answers the `WWW-Authenticate` challenge —
//!   `Bearer` (a token from the realm, with basic credentials when configured) or
//!   `Basic` — and keeps the token per repository scope.
//! - Plain HTTP for registries on loopback (Docker's convention) or marked insecure.
//! - A per-registry rate limit (default 20 requests/s, a token bucket) paces requests; a `429` (or
//!   `503`) waits for its `Retry-After` and tries again.
//! - Tag lists and tag digests fetched after a discovery was asked for are reused by
//!   other warehouses in the same round; manifests and configs, addressed by digest,
//!   never change and are kept.
//!
//! Credentials are only ever sent in `Authorization` headers; errors name the registry
//! and repository, never a secret.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lading_domain::credentials::{Credential, CredentialType, Credentials};
use serde::Deserialize;
use serde_json::Value;

mod http;
mod repository;

use http::{base64, encode, next_link, parse_challenge, strip_query};
pub use repository::Repository;

/// Media types a manifest `HEAD`/`GET` accepts.
pub const MANIFEST_TYPES: [&str; 4] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// The default per-registry request rate.
pub const DEFAULT_RATE: u32 = 20;

/// Largest body read (manifests, configs, tag pages, chart indexes).
const MAX_BODY: u64 = 64 << 20;

/// How many times a request is tried when the registry asks to wait.
const MAX_WAITS: usize = 3;

/// Longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// A manifest as far as discovery reads it.
#[derive(Debug, Clone)]
pub enum Manifest {
    /// An index / manifest list: per-platform manifests.
    Index(Vec<PlatformManifest>),
    /// One image: its config blob's digest.
    Image { config_digest: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformManifest {
    pub digest: String,
    /// `os/arch[/variant]`.
    pub platform: String,
}

/// What discovery reads of an image's config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageConfig {
    /// Its `created` time in milliseconds, when it says.
    pub created_ms: Option<i64>,
    /// `os/arch[/variant]`.
    pub platform: String,
}

/// A `HEAD` of a tag: the digest and media type it points at now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagHead {
    pub digest: String,
    pub media_type: String,
}

impl TagHead {
    pub fn is_index(&self) -> bool {
        self.media_type.contains("index") || self.media_type.contains("manifest.list")
    }
}

/// Per registry host: the rate limiter and the tokens per scope.
#[derive(Default)]
struct Host {
    /// Tokens left, and when they were counted.
    bucket: Mutex<Option<(f64, Instant)>>,
    tokens: Mutex<HashMap<String, String>>,
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
    manifests: HashMap<String, Manifest>,
    configs: HashMap<String, ImageConfig>,
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
    hosts: Mutex<HashMap<String, Arc<Host>>>,
    cache: Mutex<Cache>,
    counts: Mutex<Counts>,
}

/// Whom a request speaks to and with what: the registry host, the token scope, the
/// credential.
#[derive(Clone, Copy)]
struct Auth<'a> {
    host: &'a str,
    scope: &'a str,
    credential: Option<&'a Credential>,
}

/// A response, read whole.
struct Reply {
    status: u16,
    headers: HashMap<String, String>,
    body: String,
}

impl Registries {
    pub fn new(credentials: Credentials, rate: u32) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(30)))
            .http_status_as_error(false)
            .max_redirects(5)
            .build()
            .into();
        Self {
            agent,
            credentials,
            rate: rate.max(1),
            hosts: Mutex::default(),
            cache: Mutex::default(),
            counts: Mutex::default(),
        }
    }

    pub fn counts(&self) -> Counts {
        *self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn host(&self, host: &str) -> Arc<Host> {
        self.hosts.lock().unwrap_or_else(|p| p.into_inner()).entry(host.to_owned()).or_default().clone()
    }

    /// Takes a token from the host's bucket (it holds `rate` tokens and refills at
    /// `rate` per second: bursts up to `rate`, never more than `rate` per second on
    /// average), waiting for one when it is empty.
    fn pace(&self, host: &Host) {
        let rate = f64::from(self.rate);
        let wait = {
            let mut bucket = host.bucket.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let (tokens, last) = bucket.get_or_insert((rate, now));
            *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * rate).min(rate);
            *last = now;
            *tokens -= 1.0;
            if *tokens >= 0.0 { Duration::ZERO } else { Duration::from_secs_f64(-*tokens / rate) }
        };
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
    }

    fn send(&self, method: &str, url: &str, headers: &[(&str, String)], host: &Host) -> Result<Reply, String> {
        self.pace(host);
        self.counts.lock().unwrap_or_else(|p| p.into_inner()).requests += 1;
        let mut request = ureq::http::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let request = request.body(()).map_err(|e| e.to_string())?;
        let mut response = self.agent.run(request).map_err(|e| format!("{method} {}: {e}", strip_query(url)))?;
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_lowercase(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        let mut body = String::new();
        if method != "HEAD" {
            response
                .body_mut()
                .as_reader()
                .take(MAX_BODY)
                .read_to_string(&mut body)
                .map_err(|e| format!("reading {}: {e}", strip_query(url)))?;
        }
        Ok(Reply { status: response.status().as_u16(), headers, body })
    }

    /// One request to `url` on behalf of `scope`, answering auth challenges and waits.
    fn call(
        &self,
        method: &str,
        url: &str,
        accept: &str,
        auth: Auth<'_>,
        extra: &[(&str, String)],
    ) -> Result<Reply, String> {
        let Auth { host: host_name, scope, credential } = auth;
        let host = self.host(host_name);
        let mut waits = 0;
        let mut challenged = false;
        loop {
            let mut headers: Vec<(&str, String)> = extra.to_vec();
            if !accept.is_empty() {
                headers.push(("Accept", accept.to_owned()));
            }
            if let Some(auth) = host.tokens.lock().unwrap_or_else(|p| p.into_inner()).get(scope) {
                headers.push(("Authorization", auth.clone()));
            }
            let reply = self.send(method, url, &headers, &host)?;
            match reply.status {
                401 if !challenged => {
                    challenged = true;
                    let challenge = reply.headers.get("www-authenticate").cloned().unwrap_or_default();
                    let auth = self.answer(&challenge, scope, credential, &host)?;
                    host.tokens.lock().unwrap_or_else(|p| p.into_inner()).insert(scope.to_owned(), auth);
                }
                401 => {
                    return Err(match credential {
                        Some(_) => "the registry refused the configured credentials".to_owned(),
                        None => "the registry needs credentials and none are configured for this repository".to_owned(),
                    });
                }
                429 | 503 if waits < MAX_WAITS => {
                    waits += 1;
                    self.counts.lock().unwrap_or_else(|p| p.into_inner()).waits += 1;
                    let after = reply
                        .headers
                        .get("retry-after")
                        .and_then(|s| s.trim().parse::<u64>().ok())
                        .map_or(Duration::from_secs(1), Duration::from_secs)
                        .min(MAX_RETRY_AFTER);
                    tracing::info!(host = host_name, wait_ms = after.as_millis() as u64, "registry asks to wait");
                    std::thread::sleep(after);
                }
                _ => return Ok(reply),
            }
        }
    }

    /// The `Authorization` value answering a `WWW-Authenticate` challenge.
    fn answer(
        &self,
        challenge: &str,
        scope: &str,
        credential: Option<&Credential>,
        host: &Host,
    ) -> Result<String, String> {
        let basic = credential.map(|c| format!("Basic {}", base64(&format!("{}:{}", c.username, c.password))));
        let (kind, params) = challenge.split_once(' ').unwrap_or((challenge, ""));
        match kind.to_ascii_lowercase().as_str() {
            "basic" => basic.ok_or_else(|| "the registry needs credentials and none are configured".to_owned()),
            "bearer" => {
                let params = parse_challenge(params);
                let realm = params.get("realm").ok_or("the registry's Bearer challenge has no realm")?;
                let mut query = Vec::new();
                if let Some(service) = params.get("service") {
                    query.push(format!("service={}", encode(service)));
                }
                let scope = params.get("scope").map_or(scope, String::as_str);
                query.push(format!("scope={}", encode(scope)));
                let url = format!("{realm}{}{}", if realm.contains('?') { '&' } else { '?' }, query.join("&"));
                let headers: Vec<(&str, String)> = basic.iter().map(|b| ("Authorization", b.clone())).collect();
                let reply = self.send("GET", &url, &headers, host)?;
                if reply.status != 200 {
                    return Err(format!("the registry's token service answered {}", reply.status));
                }
                #[derive(Deserialize)]
                struct Token {
                    #[serde(default)]
                    token: String,
                    #[serde(default)]
                    access_token: String,
                }
                let token: Token =
                    serde_json::from_str(&reply.body).map_err(|e| format!("the token service's answer: {e}"))?;
                let token = if token.token.is_empty() { token.access_token } else { token.token };
                if token.is_empty() {
                    return Err("the registry's token service gave no token".to_owned());
                }
                Ok(format!("Bearer {token}"))
            }
            _ => Err(format!("the registry asks for unsupported authentication {kind:?}")),
        }
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
    ) -> Result<Reply, String> {
        let credential = self.credentials.for_url(kind, &repo.describe());
        self.call(method, url, accept, Auth { host: &repo.host, scope: &repo.scope(), credential }, &[])
    }

    /// Every tag of `repo`, following `Link` pages. A list fetched since `asked` is reused.
    pub fn tags(&self, repo: &Repository, kind: CredentialType, asked: Instant) -> Result<Arc<Vec<String>>, String> {
        if let Some(cached) = self.cache().tags.get(repo)
            && cached.at >= asked
        {
            return Ok(cached.value.clone());
        }
        let started = Instant::now();
        let mut url = format!("{}/v2/{}/tags/list?n=1000", repo.base(), repo.name);
        let mut tags = Vec::new();
        for _page in 0..10_000 {
            let reply = self.repo_call("GET", repo, &url, "application/json", kind)?;
            match reply.status {
                200 => {}
                404 => return Err(format!("repository {} not found", repo.describe())),
                status => return Err(format!("listing tags of {}: the registry answered {status}", repo.describe())),
            }
            #[derive(Deserialize)]
            struct Page {
                #[serde(default)]
                tags: Option<Vec<String>>,
            }
            let page: Page = serde_json::from_str(&reply.body)
                .map_err(|e| format!("listing tags of {}: unreadable answer: {e}", repo.describe()))?;
            tags.extend(page.tags.unwrap_or_default());
            match reply.headers.get("link").and_then(|l| next_link(l)) {
                Some(next) if next.starts_with("http://") || next.starts_with("https://") => url = next,
                Some(next) => url = format!("{}{next}", repo.base()),
                None => break,
            }
        }
        let tags = Arc::new(tags);
        self.cache().tags.insert(repo.clone(), Fetched { at: started, value: tags.clone() });
        Ok(tags)
    }

    /// What `tag` points at now (a `HEAD`, which pull limits do not count). Reused when
    /// fetched since `asked`.
    pub fn head(&self, repo: &Repository, tag: &str, kind: CredentialType, asked: Instant) -> Result<TagHead, String> {
        let key = (repo.clone(), tag.to_owned());
        if let Some(cached) = self.cache().heads.get(&key)
            && cached.at >= asked
        {
            return Ok(cached.value.clone());
        }
        let started = Instant::now();
        let url = format!("{}/v2/{}/manifests/{tag}", repo.base(), repo.name);
        let reply = self.repo_call("HEAD", repo, &url, &MANIFEST_TYPES.join(", "), kind)?;
        if reply.status != 200 {
            return Err(format!("{}:{tag}: the registry answered {}", repo.describe(), reply.status));
        }
        let digest = reply
            .headers
            .get("docker-content-digest")
            .cloned()
            .ok_or_else(|| format!("{}:{tag}: the registry gave no Docker-Content-Digest", repo.describe()))?;
        let media_type = reply.headers.get("content-type").cloned().unwrap_or_default();
        let head = TagHead { digest, media_type };
        self.cache().heads.insert(key, Fetched { at: started, value: head.clone() });
        Ok(head)
    }

    /// The manifest with `digest` (kept: a digest's content never changes).
    pub fn manifest(&self, repo: &Repository, digest: &str, kind: CredentialType) -> Result<Manifest, String> {
        if let Some(m) = self.cache().manifests.get(digest) {
            return Ok(m.clone());
        }
        let url = format!("{}/v2/{}/manifests/{digest}", repo.base(), repo.name);
        let reply = self.repo_call("GET", repo, &url, &MANIFEST_TYPES.join(", "), kind)?;
        if reply.status != 200 {
            return Err(format!("{}@{digest}: the registry answered {}", repo.describe(), reply.status));
        }
        let value: Value = serde_json::from_str(&reply.body)
            .map_err(|e| format!("{}@{digest}: unreadable manifest: {e}", repo.describe()))?;
        let manifest = match value.get("manifests").and_then(Value::as_array) {
            Some(entries) => Manifest::Index(
                entries
                    .iter()
                    .map(|m| {
                        let p = &m["platform"];
                        let mut platform =
                            format!("{}/{}", p["os"].as_str().unwrap_or(""), p["architecture"].as_str().unwrap_or(""));
                        if let Some(variant) = p["variant"].as_str() {
                            platform = format!("{platform}/{variant}");
                        }
                        PlatformManifest { digest: m["digest"].as_str().unwrap_or_default().to_owned(), platform }
                    })
                    .collect(),
            ),
            None => {
                Manifest::Image { config_digest: value["config"]["digest"].as_str().unwrap_or_default().to_owned() }
            }
        };
        self.cache().manifests.insert(digest.to_owned(), manifest.clone());
        Ok(manifest)
    }

    /// An image's config blob: when it was built and for which platform. Kept.
    pub fn config(&self, repo: &Repository, config_digest: &str, kind: CredentialType) -> Result<ImageConfig, String> {
        if let Some(c) = self.cache().configs.get(config_digest) {
            return Ok(c.clone());
        }
        let url = format!("{}/v2/{}/blobs/{config_digest}", repo.base(), repo.name);
        let reply = self.repo_call("GET", repo, &url, "", kind)?;
        if reply.status != 200 {
            return Err(format!(
                "{}: reading config {config_digest}: the registry answered {}",
                repo.describe(),
                reply.status
            ));
        }
        let value: Value = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
        let created_ms = value["created"]
            .as_str()
            .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
            .map(|t| t.timestamp_millis());
        let mut platform =
            format!("{}/{}", value["os"].as_str().unwrap_or(""), value["architecture"].as_str().unwrap_or(""));
        if let Some(variant) = value["variant"].as_str() {
            platform = format!("{platform}/{variant}");
        }
        let config = ImageConfig { created_ms, platform };
        self.cache().configs.insert(config_digest.to_owned(), config.clone());
        Ok(config)
    }

    /// Fetches an HTTP document (a chart repository's `index.yaml`), revalidating a kept
    /// copy with `If-None-Match`. Returns the body and whether it came from the cache.
    pub fn document(&self, url: &str, kind: CredentialType) -> Result<(Arc<String>, bool), String> {
        let kept = self.cache().documents.get(url).cloned();
        let mut extra = Vec::new();
        if let Some((etag, _)) = &kept {
            extra.push(("If-None-Match", etag.clone()));
        }
        let credential = self.credentials.for_url(kind, url);
        let host = url.split("://").nth(1).and_then(|r| r.split('/').next()).unwrap_or(url).to_owned();
        let reply = self.call("GET", url, "", Auth { host: &host, scope: url, credential }, &extra)?;
        match (reply.status, kept) {
            (304, Some((_, body))) => Ok((body, true)),
            (200, _) => {
                let body = Arc::new(reply.body);
                if let Some(etag) = reply.headers.get("etag") {
                    self.cache().documents.insert(url.to_owned(), (etag.clone(), body.clone()));
                }
                Ok((body, false))
            }
            (status, _) => Err(format!("GET {}: answered {status}", strip_query(url))),
        }
    }
}
