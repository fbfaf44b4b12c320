//! Hostile servers on loopback, for tests of Lading's budgets: a TCP tarpit that
//! accepts connections and never answers, and a registry front (before a real
//! `docker-registry`) that attacks the client the way a hostile or broken registry
//! would. Each counts what it served, and none sends anything off the machine.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::registry::TestRegistry;

/// Accepts TCP connections and holds them open without a byte, until dropped.
pub struct Tarpit {
    /// `127.0.0.1:<port>`.
    pub addr: String,
    accepted: Arc<AtomicU32>,
    task: tokio::task::JoinHandle<()>,
}

impl Tarpit {
    pub async fn start() -> Tarpit {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let accepted = Arc::new(AtomicU32::new(0));
        let counter = accepted.clone();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, SeqCst);
                held.push(stream);
            }
        });
        Tarpit { addr, accepted, task }
    }

    /// How many connections it took.
    pub fn accepted(&self) -> u32 {
        self.accepted.load(SeqCst)
    }
}

impl Drop for Tarpit {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How a [`HostileRegistry`] answers tag lists and manifests; everything else is the
/// real registry's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attack {
    /// Every tag page links back to itself.
    LinkLoop,
    /// Every tag page repeats the same tags and links to a new URL.
    LinkRepeats,
    /// Every tag page brings new tags and links to the next, without end.
    EndlessPages,
    /// Tag lists arrive one byte every 50 ms.
    Drip,
    /// Tag lists send their headers, then nothing.
    Stall,
    /// Tag lists are a valid JSON document of 256 MiB, streamed without a length.
    HugeTagList,
    /// `HEAD` of a tag answers a digest that is no digest.
    MalformedDigest,
    /// Manifests fetched by digest come back with a byte changed.
    TamperedManifest,
}

/// A registry front before a [`TestRegistry`], answering with an [`Attack`].
pub struct HostileRegistry {
    /// `127.0.0.1:<port>`.
    pub addr: String,
    requests: Arc<AtomicU32>,
}

#[derive(Clone)]
struct Front {
    backend: String,
    attack: Attack,
    requests: Arc<AtomicU32>,
    client: reqwest::Client,
}

/// The digest a [`Attack::MalformedDigest`] front answers.
pub const EVIL_DIGEST: &str = "sha256:../../evil?x=1 '\"${{ vars }}";

impl HostileRegistry {
    pub async fn start(backend: &TestRegistry, attack: Attack) -> HostileRegistry {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let requests = Arc::new(AtomicU32::new(0));
        let front = Front {
            backend: format!("http://{}", backend.addr),
            attack,
            requests: requests.clone(),
            client: crate::http_client::client(),
        };
        let app = axum::Router::new().fallback(answer).with_state(front);
        tokio::spawn(async move { axum::serve(listener, app).await });
        HostileRegistry { addr, requests }
    }

    /// Requests answered so far.
    pub fn requests(&self) -> u32 {
        self.requests.load(SeqCst)
    }
}

fn with_link(mut response: Response, link: &str) -> Response {
    response.headers_mut().insert("link", HeaderValue::from_str(&format!("<{link}>; rel=\"next\"")).unwrap());
    response
}

/// A body of `chunks` produced lazily, one every `every`.
fn streamed(chunks: impl Iterator<Item = Bytes> + Send + 'static, every: Duration) -> Body {
    let stream = futures::stream::unfold(chunks, move |mut chunks| async move {
        if !every.is_zero() {
            tokio::time::sleep(every).await;
        }
        chunks.next().map(|chunk| (Ok::<_, std::io::Error>(chunk), chunks))
    });
    Body::from_stream(stream)
}

async fn answer(axum::extract::State(front): axum::extract::State<Front>, request: axum::extract::Request) -> Response {
    let page = front.requests.fetch_add(1, SeqCst);
    let path = request.uri().path().to_owned();
    let this_page = request.uri().path_and_query().map_or(path.clone(), |p| p.to_string());
    let method = request.method().clone();
    let accept = request.headers().get("accept").cloned();
    let json_page = |tags: Vec<String>| axum::Json(json!({"name": "app", "tags": tags})).into_response();
    if path.ends_with("/tags/list") {
        match front.attack {
            Attack::LinkLoop => return with_link(json_page(vec!["1.0.0".into(), "1.1.0".into()]), &this_page),
            Attack::LinkRepeats => {
                return with_link(json_page(vec!["1.0.0".into()]), &format!("{path}?n=1&last=x{page}"));
            }
            Attack::EndlessPages => {
                return with_link(json_page(vec![format!("0.0.{page}")]), &format!("{path}?n=1&last=0.0.{page}"));
            }
            Attack::Drip => {
                let body = "{\"name\":\"app\",\"tags\":[\"1.0.0\"]}".repeat(100).into_bytes();
                let chunks = body.into_iter().map(|b| Bytes::from(vec![b]));
                return (StatusCode::OK, streamed(chunks, Duration::from_millis(50))).into_response();
            }
            Attack::Stall => {
                return (StatusCode::OK, streamed(std::iter::once(Bytes::new()), Duration::from_secs(3600)))
                    .into_response();
            }
            Attack::HugeTagList => {
                let chunk = Bytes::from("\"x-padding-tag-of-a-huge-list\",".repeat(2048));
                let count = (256 << 20) / chunk.len();
                let chunks = std::iter::once(Bytes::from("{\"name\":\"app\",\"tags\":["))
                    .chain(std::iter::repeat_n(chunk, count))
                    .chain(std::iter::once(Bytes::from("\"1.0.0\"]}")));
                return (StatusCode::OK, streamed(chunks, Duration::ZERO)).into_response();
            }
            _ => {}
        }
    }
    let mut forward = front.client.request(method.clone(), format!("{}{path}", front.backend));
    if let Some(accept) = accept {
        forward = forward.header("accept", accept);
    }
    let reply = forward.send().await.unwrap();
    let status = reply.status();
    let headers = reply.headers().clone();
    let mut body = reply.bytes().await.unwrap_or_default().to_vec();
    let by_digest = path.contains("/manifests/sha256:");
    if front.attack == Attack::TamperedManifest && by_digest && method == "GET" && !body.is_empty() {
        body.push(b'\n');
    }
    let length = body.len();
    let mut response = (status, body).into_response();
    for (name, value) in &headers {
        if name != "content-length" && name != "transfer-encoding" {
            response.headers_mut().insert(name.clone(), value.clone());
        }
    }
    if method == "HEAD" {
        if let Some(length) = headers.get("content-length") {
            response.headers_mut().insert("content-length", length.clone());
        }
    } else {
        response.headers_mut().insert("content-length", HeaderValue::from(length));
    }
    if front.attack == Attack::MalformedDigest && path.contains("/manifests/") && !by_digest {
        response.headers_mut().insert("docker-content-digest", HeaderValue::from_str(EVIL_DIGEST).unwrap());
    }
    response
}

/// A chart repository whose `index.yaml` attacks: `/bomb/index.yaml` is an alias bomb
/// (a billion `lol`s from a few hundred bytes), `/huge/index.yaml` a valid index of
/// 256 MiB, streamed without a length.
pub struct HostileChartRepo {
    /// `http://127.0.0.1:<port>`; the repositories are `{base}/bomb` and `{base}/huge`.
    pub base: String,
}

impl HostileChartRepo {
    pub async fn start() -> HostileChartRepo {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .route("/bomb/index.yaml", axum::routing::get(|| async { alias_bomb() }))
            .route("/huge/index.yaml", axum::routing::get(|| async { huge_index() }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        HostileChartRepo { base }
    }
}

fn alias_bomb() -> String {
    let mut bomb = String::from("apiVersion: v1\nl0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        bomb.push_str(&format!("l{i}: &l{i} [{}]\n", vec![format!("*l{}", i - 1); 10].join(", ")));
    }
    bomb.push_str("entries:\n  app:\n  - {name: app, version: 1.0.0, pad: *l9}\n");
    bomb
}

fn huge_index() -> Response {
    let entry = Bytes::from("  - {apiVersion: v2, name: app, version: 1.0.0, urls: [app-1.0.0.tgz]}\n".repeat(1024));
    let count = (256 << 20) / entry.len();
    let chunks =
        std::iter::once(Bytes::from("apiVersion: v1\nentries:\n  app:\n")).chain(std::iter::repeat_n(entry, count));
    (StatusCode::OK, streamed(chunks, Duration::ZERO)).into_response()
}
