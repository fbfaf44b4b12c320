//! A real OCI registry (Debian's `docker-registry`) owned by one test, on a free
//! loopback port with its own config and storage, and a pusher that uploads images the
//! way a client does (blob uploads, manifests, indexes) over the registry HTTP API.

use std::io::Read;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

pub struct TestRegistry {
    child: Child,
    /// `127.0.0.1:<port>`.
    pub addr: String,
    _dir: tempfile::TempDir,
    agent: ureq::Agent,
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

impl TestRegistry {
    /// Starts `docker-registry serve` on a free port; panics with how to install it when
    /// it is missing.
    pub fn start() -> TestRegistry {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr = format!("127.0.0.1:{port}");
        let config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
            dir.path().join("data").display()
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("docker-registry: {e} (install it: apt-get install docker-registry)"));
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let registry = TestRegistry { child, addr, _dir: dir, agent };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = registry.agent.get(&registry.url("/v2/")).call()
                && r.status() == 200
            {
                return registry;
            }
            assert!(Instant::now() < deadline, "docker-registry did not start on {}", registry.addr);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// [`TestRegistry::start`] from async code, on a blocking thread.
    pub async fn start_async() -> TestRegistry {
        tokio::task::spawn_blocking(TestRegistry::start).await.expect("the registry starts")
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Uploads a blob; returns its digest.
    pub fn blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        let start = self.agent.post(&self.url(&format!("/v2/{repo}/blobs/uploads/"))).send_empty().unwrap();
        assert_eq!(start.status(), 202, "starting an upload");
        let location = start.headers().get("location").unwrap().to_str().unwrap().to_owned();
        let location = if location.starts_with("http") { location } else { self.url(&location) };
        let sep = if location.contains('?') { '&' } else { '?' };
        let put = self
            .agent
            .put(&format!("{location}{sep}digest={digest}"))
            .header("Content-Type", "application/octet-stream")
            .send(bytes)
            .unwrap();
        assert_eq!(put.status(), 201, "finishing an upload");
        digest
    }

    /// Puts a manifest under `reference` (a tag or its digest); returns its digest.
    pub fn manifest(&self, repo: &str, reference: &str, media_type: &str, manifest: &Value) -> String {
        let bytes = serde_json::to_vec(manifest).unwrap();
        let reference = if reference.is_empty() { sha256(&bytes) } else { reference.to_owned() };
        let mut put = self
            .agent
            .put(&self.url(&format!("/v2/{repo}/manifests/{reference}")))
            .header("Content-Type", media_type)
            .send(&bytes[..])
            .unwrap();
        let mut body = String::new();
        let _ = put.body_mut().as_reader().read_to_string(&mut body);
        assert_eq!(put.status(), 201, "putting manifest {repo}:{reference}: {body}");
        sha256(&bytes)
    }

    /// An image manifest (not tagged) for `platform` built at `created`; returns
    /// (digest, manifest JSON, size).
    fn image(&self, repo: &str, platform: &str, created: &str) -> (String, Value) {
        let (os, arch) = platform.split_once('/').unwrap();
        let config =
            json!({"created": created, "os": os, "architecture": arch, "rootfs": {"type": "layers", "diff_ids": []}});
        let config_bytes = serde_json::to_vec(&config).unwrap();
        let config_digest = self.blob(repo, &config_bytes);
        let layer = format!("layer {platform} {created}").into_bytes();
        let layer_digest = self.blob(repo, &layer);
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_bytes.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": layer.len()}],
        });
        (sha256(&serde_json::to_vec(&manifest).unwrap()), manifest)
    }

    /// Pushes a single-platform image as `repo:tag`; returns its manifest digest.
    pub fn push(&self, repo: &str, tag: &str, platform: &str, created: &str) -> String {
        let (_, manifest) = self.image(repo, platform, created);
        self.manifest(repo, tag, OCI_MANIFEST, &manifest)
    }

    /// Pushes a multi-platform index as `repo:tag`; returns the index digest and each
    /// platform's manifest digest.
    pub fn push_index(&self, repo: &str, tag: &str, platforms: &[&str], created: &str) -> (String, Vec<String>) {
        let mut entries = Vec::new();
        let mut digests = Vec::new();
        for platform in platforms {
            let (digest, manifest) = self.image(repo, platform, created);
            let bytes = serde_json::to_vec(&manifest).unwrap();
            self.manifest(repo, &digest, OCI_MANIFEST, &manifest);
            let (os, arch) = platform.split_once('/').unwrap();
            entries.push(json!({"mediaType": OCI_MANIFEST, "digest": digest, "size": bytes.len(), "platform": {"os": os, "architecture": arch}}));
            digests.push(digest);
        }
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries});
        (self.manifest(repo, tag, OCI_INDEX, &index), digests)
    }

    /// Tags many times one image: `tags` all point at the same manifest.
    pub fn push_tags(&self, repo: &str, tags: &[String], platform: &str, created: &str) {
        let (_, manifest) = self.image(repo, platform, created);
        for tag in tags {
            self.manifest(repo, tag, OCI_MANIFEST, &manifest);
        }
    }
}

/// A front for a [`TestRegistry`] that behaves like the registries people use on the
/// internet: it asks for a Bearer token (issued by its `/token` realm to `user`:`password`
/// only, for pulls and pushes alike; uploads go through it too), pages tag lists two at a time with `Link` headers, and answers the first tag
/// list with `429 Too Many Requests` and `Retry-After: 1`.
pub struct RegistryGateway {
    /// `127.0.0.1:<port>`.
    pub addr: String,
    pub stats: std::sync::Arc<GatewayStats>,
}

/// What the gateway saw.
#[derive(Default, Debug)]
pub struct GatewayStats {
    pub tokens_issued: std::sync::atomic::AtomicU32,
    pub throttled: std::sync::atomic::AtomicU32,
    pub pages: std::sync::atomic::AtomicU32,
}

#[derive(Clone)]
struct Gateway {
    backend: String,
    this: String,
    basic: String,
    stats: std::sync::Arc<GatewayStats>,
    client: reqwest::Client,
}

const TOKEN: &str = "gateway-token";

impl RegistryGateway {
    pub async fn start(backend: &TestRegistry, user: &str, password: &str) -> RegistryGateway {
        use base64::Engine;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let stats = std::sync::Arc::new(GatewayStats::default());
        let state = Gateway {
            backend: format!("http://{}", backend.addr),
            this: format!("http://{addr}"),
            basic: format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))),
            stats: stats.clone(),
            client: crate::http_client::client(),
        };
        let app = axum::Router::new().fallback(gateway).with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await });
        RegistryGateway { addr, stats }
    }
}

async fn gateway(
    axum::extract::State(gw): axum::extract::State<Gateway>,
    request: axum::extract::Request,
) -> axum::response::Response {
    use std::sync::atomic::Ordering::SeqCst;

    use axum::http::{HeaderValue, StatusCode};
    use axum::response::IntoResponse;
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or_default().to_owned();
    let authorization =
        request.headers().get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let accept = request.headers().get("accept").cloned();
    let content_type = request.headers().get("content-type").cloned();
    let method = request.method().clone();
    let body = axum::body::to_bytes(request.into_body(), 64 << 20).await.unwrap_or_default();
    if path == "/token" {
        if authorization != gw.basic {
            return (StatusCode::UNAUTHORIZED, "bad credentials").into_response();
        }
        gw.stats.tokens_issued.fetch_add(1, SeqCst);
        return axum::Json(json!({"token": TOKEN})).into_response();
    }
    if authorization != format!("Bearer {TOKEN}") {
        let name = path.trim_start_matches("/v2/").split("/tags/").next().unwrap_or_default();
        let name = name.split("/manifests/").next().unwrap_or_default().split("/blobs/").next().unwrap_or_default();
        let name = name.split("/blobs/uploads").next().unwrap_or_default();
        let action =
            if method == axum::http::Method::GET || method == axum::http::Method::HEAD { "pull" } else { "pull,push" };
        let challenge =
            format!("Bearer realm=\"{}/token\",service=\"gateway\",scope=\"repository:{name}:{action}\"", gw.this);
        let mut response = (StatusCode::UNAUTHORIZED, "token required").into_response();
        response.headers_mut().insert("www-authenticate", HeaderValue::from_str(&challenge).unwrap());
        return response;
    }
    if path.ends_with("/tags/list") {
        if gw.stats.throttled.fetch_add(1, SeqCst) == 0 {
            let mut response = (StatusCode::TOO_MANY_REQUESTS, "slow down").into_response();
            response.headers_mut().insert("retry-after", HeaderValue::from_static("1"));
            return response;
        }
        gw.stats.pages.fetch_add(1, SeqCst);
        let all: Value =
            gw.client.get(format!("{}{path}", gw.backend)).send().await.unwrap().json().await.unwrap_or_default();
        let mut tags: Vec<String> =
            all["tags"].as_array().into_iter().flatten().filter_map(|t| t.as_str().map(str::to_owned)).collect();
        tags.sort();
        let last = query.split('&').find_map(|kv| kv.strip_prefix("last=")).unwrap_or_default().to_owned();
        let page: Vec<String> = tags.iter().filter(|t| last.is_empty() || **t > last).take(2).cloned().collect();
        let mut response = axum::Json(json!({"name": all["name"], "tags": page})).into_response();
        if let Some(end) = page.last()
            && tags.last() != Some(end)
        {
            let link = format!("<{path}?n=2&last={end}>; rel=\"next\"");
            response.headers_mut().insert("link", HeaderValue::from_str(&link).unwrap());
        }
        return response;
    }
    let target =
        if query.is_empty() { format!("{}{path}", gw.backend) } else { format!("{}{path}?{query}", gw.backend) };
    let mut forward = gw.client.request(method, target).body(body);
    if let Some(accept) = accept {
        forward = forward.header("accept", accept);
    }
    if let Some(content_type) = content_type {
        forward = forward.header("content-type", content_type);
    }
    let reply = forward.send().await.unwrap();
    let status = reply.status();
    let headers = reply.headers().clone();
    let body = reply.bytes().await.unwrap_or_default();
    let mut response = (status, body).into_response();
    for (name, value) in &headers {
        if name == "location" {
            // An upload goes on through the gateway, not around it to the registry.
            let location = value.to_str().unwrap_or_default().replace(&gw.backend, &gw.this);
            response.headers_mut().insert(name.clone(), HeaderValue::from_str(&location).unwrap());
        } else if name != "content-length" && name != "transfer-encoding" {
            response.headers_mut().insert(name.clone(), value.clone());
        }
    }
    if let Some(length) = headers.get("content-length") {
        response.headers_mut().insert("content-length", length.clone());
    }
    response
}
