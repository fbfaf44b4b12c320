//! JSON calls to a Git hosting provider's REST API within the promoter's HTTP budget:
//! connect, idle and total timeouts, and a response size limit. The token is sent in a
//! header and never shown (an answer echoing it is scrubbed), no redirect is followed (it
//! would carry the header elsewhere); errors name the call with the URL's user info and query cut.

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
        // A redirect would carry the token's header to wherever it points: none is followed.
        let agent: ureq::Agent = agent_config(&timeouts).max_redirects(0).tls_config(tls).build().into();
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
        let mut body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        // A server may echo the credentials it got; nothing built from the answer shows them.
        self.scrub(&mut body);
        Ok(Answer { status, body })
    }

    /// The forms of this API's credentials a server could echo: the header's value, the
    /// token without its scheme, and the token's base64 form (and the decoded pair of a
    /// `Basic` value).
    fn secrets(&self) -> Vec<String> {
        use base64::Engine;
        let Some((_, value)) = &self.auth else { return Vec::new() };
        let engine = base64::engine::general_purpose::STANDARD;
        let mut secrets = vec![value.clone()];
        if let Some((scheme, token)) = value.split_once(' ') {
            secrets.push(token.to_owned());
            if scheme.eq_ignore_ascii_case("basic")
                && let Some(pair) = engine.decode(token).ok().and_then(|b| String::from_utf8(b).ok())
            {
                secrets.extend(pair.split_once(':').map(|(_, password)| password.to_owned()));
                secrets.push(pair);
            }
        }
        let encoded: Vec<String> = secrets.iter().map(|s| engine.encode(s)).collect();
        secrets.extend(encoded);
        secrets.retain(|s| s.len() >= 4);
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets
    }

    /// Replaces every form of this API's credentials in the strings of `value`.
    fn scrub(&self, value: &mut Value) {
        let secrets = self.secrets();
        if !secrets.is_empty() {
            scrub_value(value, &secrets);
        }
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

fn scrub_value(value: &mut Value, secrets: &[String]) {
    match value {
        Value::String(text) => {
            for secret in secrets {
                if text.contains(secret.as_str()) {
                    *text = text.replace(secret.as_str(), "[redacted]");
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| scrub_value(item, secrets)),
        Value::Object(fields) => fields.values_mut().for_each(|field| scrub_value(field, secrets)),
        _ => {}
    }
}
