//! The `prometheus` provider: `GET <address>/api/v1/query?query=…` (an instant query),
//! within `timeout` (default 30 s). A vector is a list of its samples' values, a scalar
//! a number, as Argo gives them to conditions. The address and header values may read
//! secrets (`${{ secret('name').key }}`).

use std::collections::BTreeMap;
use std::time::Duration;

use lading_domain::duration::parse_go_duration;
use lading_domain::limits::Limit;
use lading_domain::spec::IntOrString;
use lading_domain::spec::analysis_template::PrometheusMetric;
use lading_domain::verification::MeasuredValue;
use lading_domain::verification::args::substitute;
use serde_json::Value;

/// The query timeout when the metric sets none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

fn timeout(metric: &PrometheusMetric, args: &BTreeMap<String, String>) -> Result<Duration, String> {
    match &metric.timeout {
        None => Ok(DEFAULT_TIMEOUT),
        Some(IntOrString::Int(seconds)) => Ok(Duration::from_secs((*seconds).max(1) as u64)),
        Some(IntOrString::String(text)) => {
            let text = substitute(text, args);
            match text.trim().parse::<u64>() {
                Ok(seconds) => Ok(Duration::from_secs(seconds.max(1))),
                Err(_) => parse_go_duration(&text).map_err(|e| format!("timeout: {e}")),
            }
        }
    }
}

pub async fn query(
    metric: &PrometheusMetric,
    args: &BTreeMap<String, String>,
    secrets: super::Secrets<'_>,
) -> Result<MeasuredValue, String> {
    let address = substitute(&secrets.resolve("address", &metric.address)?, args);
    let query = substitute(&metric.query, args);
    let headers = metric
        .headers
        .iter()
        .enumerate()
        .map(|(i, h)| Ok((h.key.clone(), substitute(&secrets.resolve(&format!("headers[{i}]"), &h.value)?, args))))
        .collect::<Result<Vec<(String, String)>, String>>()?;
    let total = timeout(metric, args)?;
    let insecure = metric.insecure;
    super::blocking(move || {
        let (agent, timeouts) = super::agent(total, insecure);
        let url = format!("{}/api/v1/query", address.trim_end_matches('/'));
        let action = format!("querying Prometheus at {}", lading_domain::redact::redact_url(&address));
        let mut request = agent.get(&url).query("query", &query);
        for (key, value) in &headers {
            request = request.header(key, value);
        }
        let mut response =
            request.call().map_err(|e| lading_remote::http::explain(&action, e, &timeouts).to_string())?;
        let status = response.status().as_u16();
        let limit = Limit::new(super::MAX_RESPONSE_BYTES, "the largest Prometheus answer");
        let bytes =
            lading_remote::http::read_body(&mut response, limit, &action, &timeouts).map_err(|e| e.to_string())?;
        let body: Value = serde_json::from_slice(&bytes)
            .map_err(|e| format!("{action}: the answer (HTTP {status}) is not JSON: {e}"))?;
        parse_answer(&body).map_err(|e| format!("{action}: {e}"))
    })
    .await
}

fn number(text: &Value) -> Result<f64, String> {
    match text.as_str() {
        Some("NaN") => Ok(f64::NAN),
        Some("+Inf") => Ok(f64::INFINITY),
        Some("-Inf") => Ok(f64::NEG_INFINITY),
        Some(t) => t.parse().map_err(|_| format!("sample value {t:?} is not a number")),
        None => Err(format!("sample value {text} is not a string")),
    }
}

/// Reads Prometheus's answer to an instant query.
pub fn parse_answer(body: &Value) -> Result<MeasuredValue, String> {
    if body["status"] != "success" {
        let error = body["error"].as_str().unwrap_or("no reason given");
        return Err(format!("the query failed: {error}"));
    }
    let data = &body["data"];
    match data["resultType"].as_str() {
        Some("vector") => {
            let samples = data["result"].as_array().ok_or("the vector has no result")?;
            samples.iter().map(|s| number(&s["value"][1])).collect::<Result<Vec<_>, _>>().map(MeasuredValue::Vector)
        }
        Some("scalar") => number(&data["result"][1]).map(MeasuredValue::Number),
        Some(other) => {
            Err(format!("result type {other:?} is not supported; write an instant query giving a vector or a scalar"))
        }
        None => Err("the answer has no resultType".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn vectors_are_lists_and_scalars_numbers() {
        let vector = json!({"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {"job": "a"}, "value": [1.0, "0.97"]}, {"metric": {}, "value": [1.0, "NaN"]}]}});
        let MeasuredValue::Vector(values) = parse_answer(&vector).unwrap() else { panic!("not a vector") };
        assert_eq!(values[0], 0.97);
        assert!(values[1].is_nan());
        let scalar = json!({"status": "success", "data": {"resultType": "scalar", "result": [1.0, "3"]}});
        assert_eq!(parse_answer(&scalar).unwrap(), MeasuredValue::Number(3.0));
        let failed = json!({"status": "error", "error": "parse error"});
        assert!(parse_answer(&failed).unwrap_err().contains("parse error"));
    }
}
