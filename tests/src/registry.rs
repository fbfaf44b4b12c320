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
