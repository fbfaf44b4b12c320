//! `http`: calls an HTTP endpoint and decides success from the response.
//!
//! `successExpression`, `failureExpression`, `errorExpression` and
//! `outputs[].fromExpression` are CEL over `response.status`, `response.headers`
//! (lowercase names) and `response.body`: read as its `Content-Type` (or
//! `responseContentType`) says, JSON, YAML or text; for any other type JSON when it
//! parses, text otherwise. `errorExpression` gives the message of a matched failure. A matching failure expression fails the step; a success
//! expression that is false fails it too (so `retry` can poll); with neither, any 2xx
//! status succeeds.
//!
//! The call keeps to the promoter's HTTP budget: connect and idle timeouts, `timeout`
//! (or `LADING_HTTP_STEP_TIMEOUT`) for the whole call, and a response size limit past
//! which the response is refused, not read. Errors show the URL without user info or
//! query.

use lading_domain::duration::parse_go_duration;
use lading_domain::limits::Limit;
use lading_domain::redact::redact_url;
use lading_remote::Cancellation;
use lading_remote::http::{agent_config, explain, read_body};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{HttpStepBudget, StepContext};
use crate::engine::expressions::{BareExpressions, with_variables};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameValue {
    name: String,
    value: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Output {
    name: String,
    from_expression: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    url: String,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    headers: Vec<NameValue>,
    #[serde(default)]
    query_params: Vec<NameValue>,
    #[serde(default)]
    body: Option<String>,
    /// Kargo's spelling (`insecureSkipTlsVerify` is read too).
    #[serde(default, rename = "insecureSkipTLSVerify", alias = "insecureSkipTlsVerify")]
    insecure_skip_tls_verify: bool,
    #[serde(default)]
    timeout: Option<String>,
    #[serde(default)]
    success_expression: Option<String>,
    #[serde(default)]
    failure_expression: Option<String>,
    #[serde(default)]
    outputs: Vec<Output>,
    /// How to read the body (Kargo's): `application/json`, `application/yaml` or
    /// `text/plain`, in place of the response's own `Content-Type`.
    #[serde(default)]
    response_content_type: Option<String>,
    /// A message drawn from the response for the error when `failureExpression` matches.
    #[serde(default)]
    error_expression: Option<String>,
}

/// How a response body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyFormat {
    Json,
    Yaml,
    Text,
    /// JSON when it parses, text otherwise (an unknown or missing media type).
    JsonOrText,
}

/// The format for a media type (parameters such as `charset` ignored).
fn body_format(media_type: &str) -> BodyFormat {
    let essence = media_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => BodyFormat::Json,
        "application/yaml" | "text/yaml" | "application/x-yaml" => BodyFormat::Yaml,
        "text/plain" => BodyFormat::Text,
        _ => BodyFormat::JsonOrText,
    }
}

/// The body as the expressions see it. A body declared JSON or YAML (by the response,
/// or by `responseContentType`) that does not parse is an error naming where the
/// declaration came from.
fn read_body_as(text: String, format: BodyFormat, declared_by: &str) -> Result<Value, String> {
    if text.is_empty() {
        return Ok(Value::String(text));
    }
    match format {
        BodyFormat::Json => {
            serde_json::from_str(&text).map_err(|e| format!("{declared_by}: the response body is not JSON: {e}"))
        }
        BodyFormat::Yaml => {
            serde_saphyr::from_str(&text).map_err(|e| format!("{declared_by}: the response body is not YAML: {e}"))
        }
        BodyFormat::Text => Ok(Value::String(text)),
        BodyFormat::JsonOrText => Ok(serde_json::from_str(&text).unwrap_or(Value::String(text))),
    }
}

fn call(config: &Config, budget: &HttpStepBudget) -> Result<Value, String> {
    let total = match &config.timeout {
        Some(t) => Limit::new(parse_go_duration(t).map_err(|e| format!("config.timeout: {e}"))?, "config.timeout"),
        None => budget.default_timeout,
    };
    let timeouts = budget.timeouts(total);
    let tls = ureq::tls::TlsConfig::builder().disable_verification(config.insecure_skip_tls_verify).build();
    let agent: ureq::Agent = agent_config(&timeouts).tls_config(tls).build().into();
    let method = config.method.as_deref().unwrap_or("GET").to_uppercase();
    let mut url = config.url.clone();
    if !config.query_params.is_empty() {
        let query: Vec<String> =
            config.query_params.iter().map(|p| format!("{}={}", encode(&p.name), encode(&p.value))).collect();
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&query.join("&"));
    }
    let mut request = ureq::http::Request::builder().method(method.as_str()).uri(&url);
    for header in &config.headers {
        request = request.header(&header.name, &header.value);
    }
    let request = request.body(config.body.clone().unwrap_or_default()).map_err(|e| format!("config: {e}"))?;
    let action = format!("{method} {}", redact_url(&url));
    let mut response = agent.run(request).map_err(|e| explain(&action, e, &timeouts).to_string())?;
    let status = response.status().as_u16();
    let headers: Map<String, Value> = response
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_lowercase(), json!(value.to_str().unwrap_or_default())))
        .collect();
    let bytes = read_body(&mut response, budget.max_response, &action, &timeouts).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (format, declared_by) = match &config.response_content_type {
        Some(declared) => (body_format(declared), "config.responseContentType"),
        None => {
            (body_format(headers.get("content-type").and_then(Value::as_str).unwrap_or_default()), "its Content-Type")
        }
    };
    let body = match read_body_as(text, format, declared_by) {
        Ok(body) => body,
        // A server that mislabels its body is read as text, as an unknown type is.
        Err(_) if config.response_content_type.is_none() => Value::String(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) => return Err(format!("{action}: {e}")),
    };
    Ok(json!({"status": status, "headers": headers, "body": body}))
}

/// Everything but RFC 3986's unreserved characters: what is percent-encoded in a query
/// component or a path segment.
pub(super) const QUERY_COMPONENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Percent-encodes a query component.
fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, QUERY_COMPONENT).to_string()
}

fn holds(expressions: &BareExpressions<'_, '_>, expression: &str, field: &str) -> Result<bool, String> {
    let field = format!("config.{field}");
    expressions
        .evaluate(&field, expression)?
        .as_bool()
        .ok_or_else(|| format!("{field}: {expression:?} must be true or false"))
}

/// Makes the call on a thread of its own, so the step stops as soon as the promotion is
/// aborted (the call itself ends at its own timeouts).
fn call_cancellable(config: &Config, budget: &HttpStepBudget, cancel: &Cancellation) -> Result<Value, String> {
    let (done, result) = std::sync::mpsc::channel();
    let (config, budget) = (config.clone(), *budget);
    std::thread::spawn(move || {
        let _ = done.send(call(&config, &budget));
    });
    loop {
        match result.recv_timeout(lading_remote::cancel::POLL) {
            Ok(answer) => return answer,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) if cancel.is_cancelled() => {
                return Err("the call was cancelled: the promotion was stopped".to_owned());
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Err("the call failed".to_owned()),
        }
    }
}

pub fn run(ctx: &StepContext<'_>, config: Config) -> Result<Map<String, Value>, String> {
    ctx.effects.before_effect(crate::engine::Effect::Call)?;
    let response = call_cancellable(&config, &ctx.remotes.budgets.http, &ctx.remotes.cancel)?;
    let status = response["status"].as_u64().unwrap_or_default();
    // The response's expressions share one budget.
    with_variables(&[("response", &response)], |expressions| {
        if let Some(expression) = &config.failure_expression
            && holds(expressions, expression, "failureExpression")?
        {
            // As in Kargo, an error expression that cannot be evaluated adds nothing.
            let message = config
                .error_expression
                .as_deref()
                .and_then(|e| expressions.evaluate("config.errorExpression", e).ok())
                .and_then(|v| v.as_str().map(str::to_owned))
                .filter(|m| !m.is_empty());
            return Err(match message {
                Some(message) => format!("failureExpression {expression:?} matched (status {status}): {message}"),
                None => format!("failureExpression {expression:?} matched (status {status})"),
            });
        }
        match &config.success_expression {
            Some(expression) if !holds(expressions, expression, "successExpression")? => {
                return Err(format!("successExpression {expression:?} not met (status {status})"));
            }
            None if !(200..300).contains(&status) => return Err(format!("status {status}")),
            _ => {}
        }
        let mut outputs = Map::new();
        for (i, output) in config.outputs.iter().enumerate() {
            let value =
                expressions.evaluate(&format!("config.outputs[{i}].fromExpression"), &output.from_expression)?;
            outputs.insert(output.name.clone(), value);
        }
        Ok(outputs)
    })
}
