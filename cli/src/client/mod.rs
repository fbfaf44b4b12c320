//! The HTTP client for the api: JSON in and out, and every failure a [`ClientError`] that
//! says what to do — which server could not be reached and how to name another, a
//! certificate that is not trusted and how to trust it, a missing token and how to log
//! in, and every answer of the api with its status and message.
//!
//! - [`tls`]: how HTTPS servers are trusted.

pub mod tls;

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

pub use tls::TlsSettings;

/// How long connecting to the api (and its TLS handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the server URL came from, so an error can say what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerSource {
    Flag,
    Environment,
    ConfigFile(PathBuf),
    Default,
}

impl std::fmt::Display for ServerSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServerSource::Flag => f.write_str("from --server"),
            ServerSource::Environment => f.write_str("from LADING_SERVER"),
            ServerSource::ConfigFile(path) => write!(f, "from {}", path.display()),
            ServerSource::Default => f.write_str("the default"),
        }
    }
}

/// What went wrong talking to the api.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "{url:?} is not a server URL ({source_of}): {reason}; write it like https://lading.example.com or http://127.0.0.1:8080"
    )]
    BadUrl { url: String, source_of: ServerSource, reason: String },
    #[error(transparent)]
    Tls(#[from] tls::TlsSetupError),
    #[error(
        "cannot reach the Lading api at {url} ({source_of}): {reason}\n  is it running? name another server with --server URL, LADING_SERVER, or `lading login URL --token TOKEN`"
    )]
    Unreachable { url: String, source_of: ServerSource, reason: String },
    #[error(
        "the certificate of the Lading api at {url} is not trusted: {reason}\n  trust the CA that signed it with --certificate-authority FILE (or the system's store), or skip verification with --insecure-skip-tls-verify"
    )]
    Untrusted { url: String, reason: String },
    #[error("the TLS handshake with {url} failed: {reason} (does the server serve HTTPS? use http:// for plain HTTP)")]
    Handshake { url: String, reason: String },
    #[error("the request to the Lading api at {url} failed: {reason}")]
    Failed { url: String, reason: String },
    /// An error answer of the api.
    #[error("{message} ({status}){}", hint(*.status, .url))]
    Api { status: StatusCode, message: String, url: String },
}

/// What to do about an answer, beyond what the api says.
fn hint(status: StatusCode, url: &str) -> String {
    match status {
        StatusCode::UNAUTHORIZED => format!(
            "\n  log in with `lading login {url} --token TOKEN` (or pass --token, or set LADING_TOKEN); `lading up` prints the server admin token on its first start"
        ),
        _ => String::new(),
    }
}

/// A client of one api server.
pub struct Client {
    base: String,
    source_of: ServerSource,
    http: HyperClient<HttpsConnector<HttpConnector>, Full<Bytes>>,
    token: Option<String>,
}

impl Client {
    pub fn new(
        server: &str,
        source_of: ServerSource,
        token: Option<String>,
        tls: &TlsSettings,
    ) -> Result<Client, ClientError> {
        let base = server.trim_end_matches('/').to_owned();
        let uri: http::Uri = base.parse().map_err(|e: http::uri::InvalidUri| ClientError::BadUrl {
            url: server.to_owned(),
            source_of: source_of.clone(),
            reason: e.to_string(),
        })?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => {
                return Err(ClientError::BadUrl {
                    url: server.to_owned(),
                    source_of,
                    reason: "it needs http:// or https://".into(),
                });
            }
        };
        let mut connector = HttpConnector::new();
        connector.enforce_http(false);
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls::client_config(tls, https)?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        let http = HyperClient::builder(TokioExecutor::new()).build(connector);
        Ok(Client { base, source_of, http, token })
    }

    /// The server's URL.
    pub fn server(&self) -> &str {
        &self.base
    }

    pub async fn get(&self, path: &str) -> Result<Value, ClientError> {
        self.send(Method::GET, path, None).await
    }

    pub async fn delete(&self, path: &str) -> Result<Value, ClientError> {
        self.send(Method::DELETE, path, None).await
    }

    /// POSTs manifests as YAML.
    pub async fn post_yaml(&self, path: &str, body: String) -> Result<Value, ClientError> {
        self.send(Method::POST, path, Some(("application/yaml", Bytes::from(body)))).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        self.send(Method::POST, path, Some(("application/json", Bytes::from(body.to_string())))).await
    }

    pub async fn patch_json(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        self.send(Method::PATCH, path, Some(("application/json", Bytes::from(body.to_string())))).await
    }

    /// Opens a long-lived `GET` (a Server-Sent Events stream), with `last_event_id` as its
    /// `Last-Event-ID`; an error answer is returned as the api's error.
    pub async fn open_stream(
        &self,
        path: &str,
        last_event_id: Option<u64>,
    ) -> Result<hyper::body::Incoming, ClientError> {
        let url = format!("{}{path}", self.base);
        let failed = |reason: String| ClientError::Failed { url: self.base.clone(), reason };
        let mut request = Request::builder().method(Method::GET).uri(&url).header(header::ACCEPT, "text/event-stream");
        if let Some(token) = &self.token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id.to_string());
        }
        let request = request.body(Full::new(Bytes::new())).map_err(|e| failed(e.to_string()))?;
        let response = self.http.request(request).await.map_err(|error| self.classify(&error, 0))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response.into_body());
        }
        let body = response.into_body().collect().await.map_err(|e| failed(format!("reading the answer: {e}")))?;
        Err(decode(status, &body.to_bytes(), &self.base).err().unwrap_or_else(|| failed(status.to_string())))
    }

    /// Sends a request and decodes the answer. Only a failure to connect is reported as
    /// "cannot reach"; a connection the api closed while a large body was still being
    /// sent says so, with the body's size.
    async fn send(&self, method: Method, path: &str, body: Option<(&str, Bytes)>) -> Result<Value, ClientError> {
        let url = format!("{}{path}", self.base);
        let failed = |reason: String| ClientError::Failed { url: self.base.clone(), reason };
        let mut request = Request::builder().method(method).uri(&url);
        if let Some(token) = &self.token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let (bytes, content) = match body {
            Some((content_type, bytes)) => {
                request = request.header(header::CONTENT_TYPE, content_type);
                (bytes.len(), bytes)
            }
            None => (0, Bytes::new()),
        };
        let request = request.body(Full::new(content)).map_err(|e| failed(e.to_string()))?;
        let response = match self.http.request(request).await {
            Ok(response) => response,
            Err(error) => return Err(self.classify(&error, bytes)),
        };
        let status = response.status();
        let body = response.into_body().collect().await.map_err(|e| failed(format!("reading the answer: {e}")))?;
        decode(status, &body.to_bytes(), &self.base)
    }

    fn classify(&self, error: &hyper_util::client::legacy::Error, body_bytes: usize) -> ClientError {
        let url = self.base.clone();
        let reason = causes(error);
        if let Some(tls) = rustls_error(error) {
            return match tls {
                rustls::Error::InvalidCertificate(_) => ClientError::Untrusted { url, reason: tls.to_string() },
                _ => ClientError::Handshake { url, reason: tls.to_string() },
            };
        }
        if error.is_connect() {
            return ClientError::Unreachable { url, source_of: self.source_of.clone(), reason };
        }
        if body_bytes > 0 {
            return ClientError::Failed {
                url,
                reason: format!(
                    "the api closed the connection while the request ({body_bytes} bytes) was sent; it may be too large ({reason})"
                ),
            };
        }
        ClientError::Failed { url, reason }
    }
}

/// The messages of an error and its causes, the repeated ones once.
fn causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(current) = next {
        let text = current.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = current
            .source()
            .or_else(|| current.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()).map(|inner| inner as _));
    }
    parts.join(": ")
}

/// The rustls error among an error's causes (an I/O error may carry it).
fn rustls_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(error);
    while let Some(current) = next {
        if let Some(tls) = current.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        let inner = current.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref());
        if let Some(tls) = inner.and_then(|e| e.downcast_ref::<rustls::Error>()) {
            return Some(tls);
        }
        next = current.source().or(inner.map(|e| e as _));
    }
    None
}

/// The JSON of a successful answer, or the api's error (`{"error", "details"}`) with its
/// status.
fn decode(status: StatusCode, bytes: &[u8], url: &str) -> Result<Value, ClientError> {
    let text = String::from_utf8_lossy(bytes);
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.clone().into_owned()));
    if status.is_success() {
        return Ok(body);
    }
    let message = body.get("error").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| match &body {
        Value::String(text) if text.is_empty() => "the api answered with no message".to_owned(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    });
    let mut lines = vec![message];
    for detail in body.get("details").and_then(Value::as_array).into_iter().flatten() {
        let text = |k: &str| detail.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        let document = detail.get("document").and_then(Value::as_u64).unwrap_or(0);
        let object = match (text("kind").as_str(), text("name").as_str()) {
            ("", _) => String::new(),
            (kind, "") => format!(" ({kind})"),
            (kind, name) => format!(" ({kind} {name:?})"),
        };
        let place = if document > 0 { format!("document {document}{object}: ") } else { String::new() };
        lines.push(format!("  {place}{}: {}", text("field"), text("reason")));
    }
    Err(ClientError::Api { status, message: lines.join("\n"), url: url.to_owned() })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_error_answer_shows_its_message_details_and_status() {
        let body = json!({"error": "1 invalid manifest(s); nothing was applied",
            "details": [{"document": 2, "kind": "Stage", "name": "test", "field": "spec.x", "reason": "unknown field"}]});
        let error = decode(StatusCode::UNPROCESSABLE_ENTITY, body.to_string().as_bytes(), "http://h").unwrap_err();
        assert_eq!(
            error.to_string(),
            "1 invalid manifest(s); nothing was applied\n  document 2 (Stage \"test\"): spec.x: unknown field (422 Unprocessable Entity)"
        );
    }

    #[test]
    fn a_401_says_how_to_log_in_and_a_403_says_what_the_api_says() {
        let body = json!({"error": "the token is not valid (unknown, or deleted)"}).to_string();
        let error = decode(StatusCode::UNAUTHORIZED, body.as_bytes(), "https://lading.example.com").unwrap_err();
        let text = error.to_string();
        assert!(text.starts_with("the token is not valid (unknown, or deleted) (401 Unauthorized)\n"), "{text}");
        assert!(text.contains("lading login https://lading.example.com --token TOKEN"), "{text}");
        let refusal = "token \"watcher\" (viewer in project demo) may not promote in project demo: that needs the promoter role in project demo";
        let body = json!({"error": refusal}).to_string();
        let error = decode(StatusCode::FORBIDDEN, body.as_bytes(), "http://h").unwrap_err();
        assert_eq!(error.to_string(), format!("{refusal} (403 Forbidden)"));
    }

    #[test]
    fn a_server_url_needs_a_scheme() {
        let error = Client::new("127.0.0.1:8080", ServerSource::Flag, None, &TlsSettings::default()).err().unwrap();
        let text = error.to_string();
        assert!(text.contains("from --server") && text.contains("http:// or https://"), "{text}");
    }
}
