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
