//! A classic HTTP Helm chart repository: an `index.yaml` served with an `ETag`, answering
//! `If-None-Match` with `304 Not Modified`, as static hosts (GitHub Pages, S3, nginx) do.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

#[derive(Default)]
struct Repo {
    index: Mutex<String>,
    full: AtomicU32,
    not_modified: AtomicU32,
}

pub struct ChartRepo {
    /// `http://127.0.0.1:<port>/charts`.
    pub url: String,
    repo: Arc<Repo>,
}

impl ChartRepo {
    /// Serves an index listing `versions` of each chart.
    pub async fn start(charts: &[(&str, &[&str])]) -> ChartRepo {
        let repo = Arc::new(Repo::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().route("/charts/index.yaml", axum::routing::get(index)).with_state(repo.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        let chart_repo = ChartRepo { url: format!("http://{addr}/charts"), repo };
        chart_repo.publish(charts);
        chart_repo
    }

    /// Replaces the index.
    pub fn publish(&self, charts: &[(&str, &[&str])]) {
        let mut index = String::from("apiVersion: v1\nentries:\n");
        for (name, versions) in charts {
            index.push_str(&format!("  {name}:\n"));
            for version in *versions {
                index.push_str(&format!(
                    "  - apiVersion: v2\n    name: {name}\n    version: {version}\n    urls:\n    - {name}-{version}.tgz\n"
                ));
            }
        }
        index.push_str("generated: \"2026-01-01T00:00:00Z\"\n");
        *self.repo.index.lock().unwrap() = index;
    }

    /// (full answers, 304 answers) so far.
    pub fn answers(&self) -> (u32, u32) {
        (self.repo.full.load(Ordering::SeqCst), self.repo.not_modified.load(Ordering::SeqCst))
    }
}

async fn index(State(repo): State<Arc<Repo>>, headers: HeaderMap) -> Response {
    let body = repo.index.lock().unwrap().clone();
    let etag = format!("\"{:x}\"", Sha256::digest(body.as_bytes()));
    if headers.get("if-none-match").and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        repo.not_modified.fetch_add(1, Ordering::SeqCst);
        return StatusCode::NOT_MODIFIED.into_response();
    }
    repo.full.fetch_add(1, Ordering::SeqCst);
    let mut response = body.into_response();
    response.headers_mut().insert("etag", HeaderValue::from_str(&etag).unwrap());
    response
}

/// Packs charts and builds a repository index with Helm's library (`helm-python-sdk`
/// through `python3` on `PATH`), and pushes archives to OCI registries.
const PACK: &str = r#"
import json, os, sys
import helm_python
request = json.load(open(sys.argv[1]))
out = request["out"]
for name, version, padding in request["charts"]:
    src = os.path.join(request["scratch"], name + "-" + version, name)
    os.makedirs(os.path.join(src, "templates"), exist_ok=True)
    open(os.path.join(src, "Chart.yaml"), "w").write("apiVersion: v2\nname: %s\nversion: %s\n" % (name, version))
    open(os.path.join(src, "templates", "cm.yaml"), "w").write(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\ndata:\n  version: %s\n  kube: {{ .Capabilities.KubeVersion.Version | quote }}\n  api: {{ .Capabilities.APIVersions.Has \"example.com/v1\" | quote }}\n" % (name, json.dumps(version)))
    if padding:
        open(os.path.join(src, "padding.bin"), "wb").write(os.urandom(padding))
    helm_python.package(src, destination=out)
if request.get("baseUrl"):
    helm_python.repo_index_generate(out, base_url=request["baseUrl"])
for archive, remote in request.get("push", []):
    helm_python.push(archive, remote, plain_http=True)
if request.get("lock"):
    helm_python.dependency_update(request["lock"], plain_http=True)
"#;

/// Runs [`PACK`] with `request`.
fn pack(request: serde_json::Value) {
    let scratch = tempfile::tempdir().unwrap();
    let mut request = request;
    request["scratch"] = scratch.path().display().to_string().into();
    let file = scratch.path().join("request.json");
    std::fs::write(&file, request.to_string()).unwrap();
    let output = std::process::Command::new("python3").arg("-c").arg(PACK).arg(&file).output().unwrap();
    assert!(
        output.status.success(),
        "Helm's library (pip install helm-python-sdk): {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs Helm's own `dependency update` on the chart directory `chart` (the oracle a test
/// compares with): writes its `Chart.lock` and `charts/`.
pub fn helm_dependency_update(chart: &std::path::Path) {
    pack(serde_json::json!({"out": chart, "charts": [], "lock": chart}));
}

/// Packs `name`-`version` (a chart with one ConfigMap printing its version and
/// `.Capabilities`) and pushes it to `remote` (`oci://127.0.0.1:<port>/<path>`).
pub fn push_chart(name: &str, version: &str, remote: &str) {
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join(format!("{name}-{version}.tgz"));
    pack(serde_json::json!({"out": out.path(), "charts": [[name, version, 0]], "push": [[archive, remote]]}));
}

/// A classic HTTP chart repository serving real archives, packed by Helm's library, and
/// their index, from its own thread (usable from synchronous tests). It can require
/// basic auth, as private repositories (Artifactory, Nexus, nginx) do, and records each
/// request with the `Authorization` it carried.
pub struct ChartArchives {
    /// `http://127.0.0.1:<port>/charts`.
    pub url: String,
    dir: tempfile::TempDir,
    state: ArchiveState,
}

#[derive(Clone)]
struct ArchiveState {
    dir: std::path::PathBuf,
    garbage: Arc<std::sync::atomic::AtomicBool>,
    /// The `Authorization` every request must carry, when set.
    authorization: Arc<Mutex<Option<String>>>,
    /// (path, Authorization) of each request.
    requests: Arc<Mutex<Vec<Request>>>,
}

/// A request's path and the `Authorization` it carried.
type Request = (String, Option<String>);

impl ChartArchives {
    /// Serves `charts`: (name, version, bytes of incompressible padding).
    pub fn start(charts: &[(&str, &str, usize)]) -> ChartArchives {
        let dir = tempfile::tempdir().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/charts", listener.local_addr().unwrap());
        let list: Vec<serde_json::Value> = charts.iter().map(|(n, v, p)| serde_json::json!([n, v, p])).collect();
        pack(serde_json::json!({"out": dir.path(), "charts": list, "baseUrl": url}));
        let state = ArchiveState {
            dir: dir.path().to_owned(),
            garbage: Arc::default(),
            authorization: Arc::default(),
            requests: Arc::default(),
        };
        let serving = state.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let app =
                    axum::Router::new().route("/charts/{file}", axum::routing::get(archive_file)).with_state(serving);
                let _ = axum::serve(listener, app).await;
            });
        });
        ChartArchives { url, dir, state }
    }

    /// From now on every request needs basic auth with `username` and `password`.
    pub fn require_basic_auth(&self, username: &str, password: &str) {
        use base64::Engine as _;
        let pair = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
        *self.state.authorization.lock().unwrap() = Some(format!("Basic {pair}"));
    }

    /// From now on requests need no credentials.
    pub fn allow_anonymous(&self) {
        *self.state.authorization.lock().unwrap() = None;
    }

    /// (path, Authorization) of each request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.state.requests.lock().unwrap().clone()
    }

    /// Adds `name`-`version` of `other` to this repository's index, at its absolute URL on
    /// `other` (another origin).
    pub fn list_elsewhere(&self, other: &ChartArchives, name: &str, version: &str) {
        let theirs: serde_json::Value =
            serde_saphyr::from_str(&std::fs::read_to_string(other.dir.path().join("index.yaml")).unwrap()).unwrap();
        let entry =
            theirs["entries"][name].as_array().unwrap().iter().find(|e| e["version"] == version).unwrap().clone();
        self.add_entry(name, entry);
    }

    /// Adds `name`-`version` to the index at the relative URL `<name>-<version>.tgz`,
    /// with no archive behind it.
    pub fn list_missing(&self, name: &str, version: &str) {
        let entry = serde_json::json!({
            "apiVersion": "v2", "name": name, "version": version,
            "urls": [format!("{name}-{version}.tgz")],
        });
        self.add_entry(name, entry);
    }

    fn add_entry(&self, name: &str, entry: serde_json::Value) {
        let file = self.dir.path().join("index.yaml");
        let mut ours: serde_json::Value = serde_saphyr::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let versions = ours["entries"].as_object_mut().unwrap().entry(name).or_insert_with(|| serde_json::json!([]));
        versions.as_array_mut().unwrap().push(entry);
        std::fs::write(&file, ours.to_string()).unwrap();
    }

    /// The index as served.
    pub fn index(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("index.yaml")).unwrap()
    }

    /// The archive of `name`-`version` as served.
    pub fn archive(&self, name: &str, version: &str) -> Vec<u8> {
        std::fs::read(self.dir.path().join(format!("{name}-{version}.tgz"))).unwrap()
    }

    /// From now on the index is garbage.
    pub fn serve_garbage(&self) {
        self.state.garbage.store(true, Ordering::SeqCst);
    }
}

async fn archive_file(
    State(state): State<ArchiveState>,
    axum::extract::Path(file): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    let given = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
    state.requests.lock().unwrap().push((file.clone(), given.clone()));
    let required = state.authorization.lock().unwrap().clone();
    if required.is_some() && given != required {
        let mut refused = StatusCode::UNAUTHORIZED.into_response();
        refused.headers_mut().insert("www-authenticate", HeaderValue::from_static("Basic realm=\"charts\""));
        return refused;
    }
    let dir = state.dir;
    if file == "index.yaml" && state.garbage.load(Ordering::SeqCst) {
        return "\u{0}\u{1}not: [an index\n".into_response();
    }
    if file.contains('/') || file.starts_with('.') {
        return StatusCode::NOT_FOUND.into_response();
    }
    match tokio::fs::read(dir.join(&file)).await {
        Ok(bytes) => bytes.into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A chart repository whose one chart, `huge` 1.0.0, is an archive of `bytes` zero bytes
/// streamed in 1 MiB writes as fast as the client reads them: Helm holds a download in
/// memory until it ends.
pub struct StreamedChart {
    /// `http://127.0.0.1:<port>/charts`.
    pub url: String,
    sent: Arc<std::sync::atomic::AtomicU64>,
}

impl StreamedChart {
    pub fn start(bytes: u64) -> StreamedChart {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/charts", listener.local_addr().unwrap());
        let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = sent.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let counter = counter.clone();
                std::thread::spawn(move || serve_streamed(stream, bytes, &counter));
            }
        });
        StreamedChart { url, sent }
    }

    /// Bytes of the archive written to clients so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }
}

/// Answers one request of a [`StreamedChart`] (HTTP/1.1, one request per connection).
fn serve_streamed(mut stream: std::net::TcpStream, bytes: u64, sent: &std::sync::atomic::AtomicU64) {
    use std::io::{Read, Write};
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 << 10 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or_default().to_owned();
    if path.ends_with("/index.yaml") {
        let index = "apiVersion: v1\nentries:\n  huge:\n  - apiVersion: v2\n    name: huge\n    version: 1.0.0\n    urls:\n    - huge-1.0.0.tgz\ngenerated: \"2026-01-01T00:00:00Z\"\n";
        let _ =
            write!(stream, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{index}", index.len());
    } else if path.ends_with("/huge-1.0.0.tgz") {
        if write!(stream, "HTTP/1.1 200 OK\r\nContent-Length: {bytes}\r\nConnection: close\r\n\r\n").is_err() {
            return;
        }
        let chunk = vec![0u8; 1 << 20];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            if stream.write_all(&chunk[..n]).is_err() {
                return;
            }
            sent.fetch_add(n as u64, Ordering::SeqCst);
            left -= n as u64;
        }
    } else {
        let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    }
}
