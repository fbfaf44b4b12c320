//! The `web` provider: one HTTP request within `timeoutSeconds` (default 10 s); an
//! answer other than 2xx is an error. The JSON answer is the result, or the part
//! `jsonPath` (`{$.data.ok}`, Kubernetes-style) picks; an answer that is not JSON is
//! the result as text. The URL, header values and body may read secrets
//! (`${{ secret('name').key }}`).

use std::collections::BTreeMap;
use std::time::Duration;

use lading_domain::limits::Limit;
use lading_domain::spec::analysis_template::WebMetric;
use lading_domain::verification::MeasuredValue;
use lading_domain::verification::args::{substitute, substitute_json};
use serde_json::Value;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn call(
    metric: &WebMetric,
    args: &BTreeMap<String, String>,
    secrets: super::Secrets<'_>,
) -> Result<MeasuredValue, String> {
    let url = substitute(&secrets.resolve("url", &metric.url)?, args);
    let method = metric.method.as_deref().unwrap_or("GET").to_uppercase();
    let mut headers = metric
        .headers
        .iter()
        .enumerate()
        .map(|(i, h)| Ok((h.key.clone(), substitute(&secrets.resolve(&format!("headers[{i}]"), &h.value)?, args))))
        .collect::<Result<Vec<(String, String)>, String>>()?;
    let body = match (&metric.json_body, &metric.body) {
        (Some(json), _) => {
            if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
                headers.push(("Content-Type".into(), "application/json".into()));
            }
            substitute_json(json, args).to_string()
        }
        (None, Some(text)) => substitute(&secrets.resolve("body", text)?, args),
        (None, None) => String::new(),
    };
    let total = Duration::from_secs(metric.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT.as_secs()).max(1));
    let insecure = metric.insecure;
    let json_path = metric.json_path.as_ref().map(|p| substitute(p, args));
    let value = super::blocking(move || {
        let (agent, timeouts) = super::agent(total, insecure);
        let action = format!("{method} {}", lading_domain::redact::redact_url(&url));
        let mut request = ureq::http::Request::builder().method(method.as_str()).uri(&url);
        for (key, value) in &headers {
            request = request.header(key, value);
        }
        let request = request.body(body).map_err(|e| format!("{action}: {e}"))?;
        let mut response =
            agent.run(request).map_err(|e| lading_remote::http::explain(&action, e, &timeouts).to_string())?;
        let status = response.status().as_u16();
        let limit = Limit::new(super::MAX_RESPONSE_BYTES, "the largest web answer");
        let bytes =
            lading_remote::http::read_body(&mut response, limit, &action, &timeouts).map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if !(200..300).contains(&status) {
            return Err(format!("{action}: HTTP {status}: {}", lading_domain::excerpt::shortened(&text, 200)));
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
    })
    .await?;
    let picked = match json_path {
        Some(path) => pick(&value, &path)?,
        None => value,
    };
    Ok(MeasuredValue::Json(picked))
}

/// The part of `value` that `path` (`{$.a.b[0]}`, `$.a`, `.a`) names.
pub fn pick(value: &Value, path: &str) -> Result<Value, String> {
    let inner = path.trim().trim_start_matches('{').trim_end_matches('}').trim();
    let inner = inner.strip_prefix('$').unwrap_or(inner);
    let mut current = value;
    for segment in inner.split('.').filter(|s| !s.is_empty()) {
        let (name, indices) = match segment.find('[') {
            Some(i) => (&segment[..i], &segment[i..]),
            None => (segment, ""),
        };
        if !name.is_empty() {
            current = current.get(name).ok_or_else(|| format!("jsonPath {path}: the answer has no {name:?}"))?;
        }
        for index in indices.split('[').filter(|s| !s.is_empty()) {
            let index: usize = index
                .trim_end_matches(']')
                .parse()
                .map_err(|_| format!("jsonPath {path}: {index:?} is not an index"))?;
            current = current.get(index).ok_or_else(|| format!("jsonPath {path}: no element {index}"))?;
        }
    }
    Ok(current.clone())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_paths_pick_fields_and_elements() {
        let answer = json!({"data": {"checks": [{"ok": true}, {"ok": false}]}, "status": "up"});
        assert_eq!(pick(&answer, "{$.status}").unwrap(), json!("up"));
        assert_eq!(pick(&answer, "$.data.checks[1].ok").unwrap(), json!(false));
        assert_eq!(pick(&answer, "{$}").unwrap(), answer);
        assert!(pick(&answer, "{$.nope}").unwrap_err().contains("\"nope\""));
    }
}
