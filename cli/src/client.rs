//! The HTTP client for the api: JSON in and out, errors rendered with their details.

use anyhow::{Context, bail};
use serde_json::Value;

pub struct Client {
    base: String,
    http: reqwest::Client,
    token: Option<String>,
}

impl Client {
    pub fn new(server: &str, token: Option<String>) -> Self {
        Self { base: server.trim_end_matches('/').to_owned(), http: reqwest::Client::new(), token }
    }

    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.http.get(format!("{}{path}", self.base)), 0).await
    }

    pub async fn post(&self, path: &str, body: String) -> anyhow::Result<Value> {
        let size = body.len();
        let request =
            self.http.post(format!("{}{path}", self.base)).header("content-type", "application/yaml").body(body);
        self.send(request, size).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(self.http.post(format!("{}{path}", self.base)).json(body), 0).await
    }

    /// Sends a request and decodes the answer. Only a failure to connect is reported as
    /// "cannot reach"; a connection the api closed while a large body was still being
    /// sent says so, with the body's size.
    async fn send(&self, request: reqwest::RequestBuilder, body_bytes: usize) -> anyhow::Result<Value> {
        match self.authorized(request).send().await {
            Ok(response) => Self::decode(response).await,
            Err(error) if error.is_connect() => Err(error).with_context(|| {
                format!(
                    "cannot reach the Lading api at {} (is `lading up` running? set --server or LADING_SERVER)",
                    self.base
                )
            }),
            Err(error) if body_bytes > 0 => Err(error).with_context(|| {
                format!(
                    "the Lading api at {} closed the connection while the request ({body_bytes} bytes) was sent; it may be too large",
                    self.base
                )
            }),
            Err(error) => Err(error).with_context(|| format!("the request to the Lading api at {} failed", self.base)),
        }
    }

    async fn decode(response: reqwest::Response) -> anyhow::Result<Value> {
        let status = response.status();
        let text = response.text().await.context("reading the response")?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status.is_success() {
            return Ok(body);
        }
        let message = body.get("error").and_then(Value::as_str).map(str::to_owned).unwrap_or_else(|| body.to_string());
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
        bail!("{} ({status})", lines.join("\n"))
    }
}
