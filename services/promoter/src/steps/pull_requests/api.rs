//! JSON calls to a Git hosting provider's REST API within the promoter's HTTP budget:
//! connect, idle and total timeouts, and a response size limit. The token is sent in a
//! header and never shown; errors name the call with the URL's user info and query cut.

use lading_domain::redact::redact_url;
use lading_remote::http::{agent_config, explain, read_body};
use serde_json::Value;

use crate::steps::HttpStepBudget;

/// A provider's API at `base` (e.g. `https://api.github.com`).
pub struct Api {
    agent: ureq::Agent,
    pub base: String,
    auth: Option<(&'static str, String)>,
    budget: HttpStepBudget,
}

/// An answer: status and body (JSON, or `Null` when empty or not JSON).
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The provider's own message for a refused call, if it gave one.
    pub fn message(&self) -> String {
        let text = self.body.get("message").or_else(|| self.body.get("error")).map(|m| match m {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        let text = text.unwrap_or_default();
        lading_domain::excerpt::shortened(&text, 200)
    }
}

impl Api {
    pub fn new(base: String, auth: Option<(&'static str, String)>, insecure: bool, budget: HttpStepBudget) -> Self {
        let timeouts = budget.timeouts(budget.default_timeout);
        let tls = ureq::tls::TlsConfig::builder().disable_verification(insecure).build();
        let agent: ureq::Agent = agent_config(&timeouts).tls_config(tls).build().into();
        Self { agent, base, auth, budget }
    }

    /// `method` on `path` (below the base), with a JSON `body`.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Answer, String> {
        let url = format!("{}{path}", self.base);
        let action = format!("{method} {}", redact_url(&url));
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(&url)
            .header("accept", "application/json")
            .header("user-agent", "lading");
        if let Some((name, value)) = &self.auth {
            request = request.header(*name, value);
        }
        let payload = match body {
            Some(body) => {
                request = request.header("content-type", "application/json");
                body.to_string()
            }
            None => String::new(),
        };
        let request = request.body(payload).map_err(|e| format!("{action}: {e}"))?;
        let timeouts = self.budget.timeouts(self.budget.default_timeout);
        let mut response = self.agent.run(request).map_err(|e| explain(&action, e, &timeouts).to_string())?;
        let status = response.status().as_u16();
        let bytes =
            read_body(&mut response, self.budget.max_response, &action, &timeouts).map_err(|e| e.to_string())?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Answer { status, body })
    }

    /// Like [`Api::call`], failing on a status other than 2xx.
    pub fn expect(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
        let answer = self.call(method, path, body)?;
        if !answer.ok() {
            return Err(format!(
                "{method} {}: status {}{}",
                redact_url(&format!("{}{path}", self.base)),
                answer.status,
                match answer.message() {
                    m if m.is_empty() => String::new(),
                    m => format!(": {m}"),
                }
            ));
        }
        Ok(answer.body)
    }
}
