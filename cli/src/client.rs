//! The HTTP client for the api: JSON in and out, errors rendered with their details.

use anyhow::{Context, bail};
use serde_json::Value;

pub struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    pub fn new(server: &str) -> Self {
        Self { base: server.trim_end_matches('/').to_owned(), http: reqwest::Client::new() }
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let response =
            self.http.get(format!("{}{path}", self.base)).send().await.with_context(|| self.unreachable())?;
        Self::decode(response).await
    }

    pub async fn post(&self, path: &str, body: String) -> anyhow::Result<Value> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/yaml")
            .body(body)
            .send()
            .await
            .with_context(|| self.unreachable())?;
        Self::decode(response).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .json(body)
            .send()
            .await
            .with_context(|| self.unreachable())?;
        Self::decode(response).await
    }

    fn unreachable(&self) -> String {
        format!("cannot reach the Lading api at {} (is `lading up` running? set --server or LADING_SERVER)", self.base)
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
