//! Smart HTTP Git on loopback: `git http-backend` (CGI) behind a handler that requires
//! Basic authentication, so tests push and clone with credentials like a real forge.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use tokio::io::AsyncWriteExt;

#[derive(Clone)]
struct Backend {
    root: PathBuf,
    authorization: String,
    /// Pushes are accepted and never answered (a remote that hangs mid-promotion).
    hang_pushes: bool,
}

fn unauthorized() -> Response {
    let mut response = Response::new(Body::from("credentials required"));
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    response.headers_mut().insert("www-authenticate", HeaderValue::from_static("Basic realm=\"git\""));
    response
}

async fn serve_cgi(State(backend): State<Backend>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    if parts.headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(backend.authorization.as_str()) {
        return unauthorized();
    }
    let pushing = parts.uri.path().ends_with("git-receive-pack")
        || parts.uri.query().is_some_and(|q| q.contains("service=git-receive-pack"));
    if backend.hang_pushes && pushing {
        std::future::pending::<()>().await;
    }
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let body: Bytes = axum::body::to_bytes(body, 64 * 1024 * 1024).await.unwrap_or_default();
    let mut child = tokio::process::Command::new("git")
        .arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", &backend.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REMOTE_USER", "tester")
        .env("REQUEST_METHOD", parts.method.as_str())
        .env("PATH_INFO", parts.uri.path())
        .env("QUERY_STRING", parts.uri.query().unwrap_or_default())
        .env("CONTENT_TYPE", header("content-type"))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("HTTP_CONTENT_ENCODING", header("content-encoding"))
        .env("GIT_PROTOCOL", header("git-protocol"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("git http-backend runs");
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(&body).await;
    drop(stdin);
    let output = child.wait_with_output().await.expect("git http-backend finishes");
    let split = output.stdout.windows(4).position(|w| w == b"\r\n\r\n").map(|i| (i, 4));
    let split = split.or_else(|| output.stdout.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let Some((end, gap)) = split else { return Response::new(Body::from(output.stdout)) };
    let mut headers = HeaderMap::new();
    let mut status = StatusCode::OK;
    for line in String::from_utf8_lossy(&output.stdout[..end]).lines() {
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("status") {
                status = value.split(' ').next().and_then(|c| c.parse().ok()).unwrap_or(StatusCode::OK);
            } else if let (Ok(name), Ok(value)) = (name.parse::<axum::http::HeaderName>(), HeaderValue::from_str(value))
            {
                headers.insert(name, value);
            }
        }
    }
    let mut response = Response::new(Body::from(output.stdout[end + gap..].to_vec()));
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// Serves the bare repositories under `root` on a free loopback port, for `user` and
/// `password` only; returns the base URL (`http://127.0.0.1:<port>`).
pub async fn serve(root: &Path, user: &str, password: &str) -> String {
    serve_with(root, user, password, false).await
}

/// Like [`serve`], over HTTPS with a self-signed certificate for 127.0.0.1 that nothing
/// trusts (as a server with a private CA looks to a client without it); returns the base
/// URL (`https://127.0.0.1:<port>`).
pub async fn serve_tls(root: &Path, user: &str, password: &str) -> String {
    let key = rcgen::KeyPair::generate().expect("a key");
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .expect("certificate params")
        .self_signed(&key)
        .expect("a self-signed certificate");
    let dir = tempfile::tempdir().unwrap();
    let (cert_file, key_file) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    let tls = lading_api::server::tls::TlsIdentity::load(&cert_file, &key_file).expect("the identity loads");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = router_with(root, user, password, false);
    let limits = lading_api::config::Limits::default();
    tokio::spawn(lading_api::server::serve(listener, app, limits, Some(tls), std::future::pending()));
    format!("https://{addr}")
}

/// Like [`serve`], but pushes are accepted and never answered.
pub async fn serve_with_hung_pushes(root: &Path, user: &str, password: &str) -> String {
    serve_with(root, user, password, true).await
}

/// The smart HTTP service over the bare repositories under `root`, for `user` and
/// `password` only, as a router to serve or to nest.
pub fn router(root: &Path, user: &str, password: &str) -> axum::Router {
    router_with(root, user, password, false)
}

fn router_with(root: &Path, user: &str, password: &str, hang_pushes: bool) -> axum::Router {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let backend = Backend { root: root.to_path_buf(), authorization: format!("Basic {token}"), hang_pushes };
    axum::Router::new().fallback(serve_cgi).with_state(backend)
}

async fn serve_with(root: &Path, user: &str, password: &str, hang_pushes: bool) -> String {
    let app = router_with(root, user, password, hang_pushes);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}
