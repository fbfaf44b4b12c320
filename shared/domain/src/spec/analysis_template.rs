//! AnalysisTemplate and ClusterAnalysisTemplate (Argo Rollouts' schema, which Kargo's
//! stage verification uses): metrics measured by a provider (`web`, `prometheus`,
//! `job`), judged by success and failure conditions, repeated `count` times every
//! `interval`, within failure, inconclusive and error limits.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{FieldError, deserialize_at};
use crate::duration::parse_go_duration;

/// The providers Lading measures with.
pub const SUPPORTED_PROVIDERS: [&str; 3] = ["web", "prometheus", "job"];

/// An integer, or a string that becomes one once `{{args.x}}` is substituted (Argo's
/// `intstr`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IntOrString {
    Int(i64),
    String(String),
}

impl IntOrString {
    /// The number, after `substitute` replaced argument references in a string.
    pub fn resolve(&self, substitute: impl Fn(&str) -> String) -> Result<i64, String> {
        match self {
            IntOrString::Int(n) => Ok(*n),
            IntOrString::String(s) => {
                let text = substitute(s);
                text.trim().parse().map_err(|_| format!("{text:?} is not an integer"))
            }
        }
    }

    fn check(&self, field: &str, minimum: i64) -> Result<(), FieldError> {
        let value = match self {
            IntOrString::Int(n) => *n,
            IntOrString::String(s) if s.contains("{{") => return Ok(()),
            IntOrString::String(s) => {
                s.trim().parse().map_err(|_| FieldError::new(field, format!("{s:?} is not an integer")))?
            }
        };
        if value < minimum {
            return Err(FieldError::new(field, format!("must be at least {minimum}, got {value}")));
        }
        Ok(())
    }
}

/// An argument: a default `value`, or none when the stage must provide it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnalysisArgument {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Argo's `valueFrom` (secrets, pod fields) exists only in a cluster; accepted and
    /// refused at validation with a reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<Value>,
}

/// A header of a web or Prometheus request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HeaderSpec {
    pub key: String,
    pub value: String,
}

/// The `web` provider: one HTTP request; its JSON answer (or the part `jsonPath` picks)
/// is the result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebMetric {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<HeaderSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_body: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_path: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
}

/// The `prometheus` provider: one instant query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrometheusMetric {
    pub address: String,
    pub query: String,
    /// Query timeout: seconds (Argo's field), or a Go duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<IntOrString>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<HeaderSpec>,
    /// Argo's `authentication` (SigV4, OAuth2) is accepted and ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<Value>,
}

/// A container of a `job` metric's pod template: outside Kubernetes its `command` and
/// `args` run as a local process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct JobContainer {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub image: String,
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub args: Vec<String>,
}

/// The `job` provider, as much of a Kubernetes Job spec as Lading reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct JobMetric {
    #[serde(default)]
    pub metadata: Option<Value>,
    pub spec: JobSpec,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct JobSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_deadline_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff_limit: Option<u32>,
    pub template: JobPodTemplate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct JobPodTemplate {
    pub spec: JobPodSpec,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct JobPodSpec {
    pub containers: Vec<JobContainer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<String>,
}

/// Where a metric's measurements come from: exactly one provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct MetricProvider {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web: Option<WebMetric>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<PrometheusMetric>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<JobMetric>,
}

/// One metric of a template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Metric {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_delay: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<IntOrString>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub success_condition: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub failure_condition: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_limit: Option<IntOrString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inconclusive_limit: Option<IntOrString>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_error_limit: Option<IntOrString>,
    pub provider: MetricProvider,
}

/// The spec of an AnalysisTemplate or ClusterAnalysisTemplate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct AnalysisTemplateSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<AnalysisArgument>,
    pub metrics: Vec<Metric>,
    /// Argo's `dryRun` and `measurementRetention`, accepted and kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measurement_retention: Option<Value>,
}

/// The keys a metric may have (Argo's, less those that need Kubernetes).
const METRIC_FIELDS: [&str; 11] = [
    "name",
    "interval",
    "initialDelay",
    "count",
    "successCondition",
    "failureCondition",
    "failureLimit",
    "inconclusiveLimit",
    "consecutiveErrorLimit",
    "provider",
    "dryRun",
];

pub(super) fn parse(value: Value) -> Result<AnalysisTemplateSpec, FieldError> {
    // Unknown keys and providers are named before serde sees them.
    if let Some(metrics) = value.get("metrics").and_then(Value::as_array) {
        for (i, metric) in metrics.iter().enumerate() {
            let Some(fields) = metric.as_object() else { continue };
            if let Some(unknown) = fields.keys().find(|k| !METRIC_FIELDS.contains(&k.as_str())) {
                return Err(FieldError::new(format!("spec.metrics[{i}].{unknown}"), "unknown field"));
            }
            if let Some(provider) = fields.get("provider").and_then(Value::as_object) {
                let names: Vec<&String> = provider.keys().collect();
                if let Some(other) = names.iter().find(|n| !SUPPORTED_PROVIDERS.contains(&n.as_str())) {
                    return Err(FieldError::new(
                        format!("spec.metrics[{i}].provider.{other}"),
                        format!("provider {other:?} is not supported; supported: {}", SUPPORTED_PROVIDERS.join(", ")),
                    ));
                }
                if names.len() != 1 {
                    return Err(FieldError::new(
                        format!("spec.metrics[{i}].provider"),
                        "must set exactly one provider (web, prometheus or job)",
                    ));
                }
            }
        }
    }
    let spec: AnalysisTemplateSpec = deserialize_at("spec", value)?;
    validate(&spec)?;
    Ok(spec)
}

fn validate(spec: &AnalysisTemplateSpec) -> Result<(), FieldError> {
    for (i, arg) in spec.args.iter().enumerate() {
        if arg.name.is_empty() {
            return Err(FieldError::new(format!("spec.args[{i}].name"), "is required"));
        }
        if arg.value_from.is_some() {
            return Err(FieldError::new(
                format!("spec.args[{i}].valueFrom"),
                "reads from Kubernetes secrets or pods, which Lading does not; give a value",
            ));
        }
    }
    if spec.metrics.is_empty() {
        return Err(FieldError::new("spec.metrics", "must list at least one metric"));
    }
    let mut names = BTreeMap::new();
    for (i, metric) in spec.metrics.iter().enumerate() {
        let field = format!("spec.metrics[{i}]");
        if metric.name.is_empty() {
            return Err(FieldError::new(format!("{field}.name"), "is required"));
        }
        if names.insert(metric.name.clone(), i).is_some() {
            return Err(FieldError::new(format!("{field}.name"), format!("metric {:?} is listed twice", metric.name)));
        }
        for (name, value) in [("interval", &metric.interval), ("initialDelay", &metric.initial_delay)] {
            if let Some(text) = value
                && !text.contains("{{")
            {
                parse_go_duration(text).map_err(|e| FieldError::new(format!("{field}.{name}"), e))?;
            }
        }
        if let Some(count) = &metric.count {
            count.check(&format!("{field}.count"), 0)?;
            // Argo: more than one measurement needs an interval between them.
            if matches!(count, IntOrString::Int(n) if *n > 1) && metric.interval.is_none() {
                return Err(FieldError::new(format!("{field}.interval"), "is required when count is greater than 1"));
            }
        }
        if let Some(limit) = &metric.failure_limit {
            limit.check(&format!("{field}.failureLimit"), -1)?;
        }
        if let Some(limit) = &metric.inconclusive_limit {
            limit.check(&format!("{field}.inconclusiveLimit"), 0)?;
        }
        if let Some(limit) = &metric.consecutive_error_limit {
            limit.check(&format!("{field}.consecutiveErrorLimit"), 0)?;
        }
        let provider = &metric.provider;
        if let Some(web) = &provider.web {
            if web.url.trim().is_empty() {
                return Err(FieldError::new(format!("{field}.provider.web.url"), "is required"));
            }
            if web.body.is_some() && web.json_body.is_some() {
                return Err(FieldError::new(format!("{field}.provider.web"), "set either body or jsonBody, not both"));
            }
            if let Some(method) = &web.method
                && !matches!(method.to_uppercase().as_str(), "GET" | "POST" | "PUT")
            {
                return Err(FieldError::new(format!("{field}.provider.web.method"), "must be GET, POST or PUT"));
            }
        } else if let Some(prometheus) = &provider.prometheus {
            if prometheus.address.trim().is_empty() {
                return Err(FieldError::new(format!("{field}.provider.prometheus.address"), "is required"));
            }
            if prometheus.query.trim().is_empty() {
                return Err(FieldError::new(format!("{field}.provider.prometheus.query"), "is required"));
            }
            match &prometheus.timeout {
                Some(IntOrString::Int(seconds)) if *seconds <= 0 => {
                    return Err(FieldError::new(format!("{field}.provider.prometheus.timeout"), "must be positive"));
                }
                Some(IntOrString::String(text)) if !text.contains("{{") && text.parse::<i64>().is_err() => {
                    parse_go_duration(text)
                        .map_err(|e| FieldError::new(format!("{field}.provider.prometheus.timeout"), e))?;
                }
                _ => {}
            }
        } else if let Some(job) = &provider.job {
            let Some(first) = job.spec.template.spec.containers.first() else {
                return Err(FieldError::new(
                    format!("{field}.provider.job.spec.template.spec.containers"),
                    "must list a container",
                ));
            };
            if first.command.is_empty() && first.args.is_empty() {
                return Err(FieldError::new(
                    format!("{field}.provider.job.spec.template.spec.containers[0].command"),
                    "is required: outside Kubernetes the first container's command runs as a local process",
                ));
            }
        } else {
            return Err(FieldError::new(
                format!("{field}.provider"),
                "must set exactly one provider (web, prometheus or job)",
            ));
        }
    }
    Ok(())
}

/// The provider fields that may read secrets at run time with `${{ secret('name').key }}`
/// (address, URL, headers, body): each reference must parse and call only `secret`.
/// Run on the expression stack, with the manifest's other expressions.
pub(super) fn check_secret_references(field: &str, provider: &MetricProvider) -> Result<(), FieldError> {
    let mut fields: Vec<(String, &str)> = Vec::new();
    if let Some(web) = &provider.web {
        fields.push((format!("{field}.provider.web.url"), web.url.as_str()));
        for (i, header) in web.headers.iter().enumerate() {
            fields.push((format!("{field}.provider.web.headers[{i}].value"), header.value.as_str()));
        }
        if let Some(body) = &web.body {
            fields.push((format!("{field}.provider.web.body"), body.as_str()));
        }
    }
    if let Some(prometheus) = &provider.prometheus {
        fields.push((format!("{field}.provider.prometheus.address"), prometheus.address.as_str()));
        for (i, header) in prometheus.headers.iter().enumerate() {
            fields.push((format!("{field}.provider.prometheus.headers[{i}].value"), header.value.as_str()));
        }
    }
    for (name, text) in fields {
        crate::secrets::check_references(text).map_err(|e| FieldError::new(name, e))?;
    }
    Ok(())
}

impl Metric {
    /// The provider's name.
    pub fn provider_name(&self) -> &'static str {
        if self.provider.web.is_some() {
            "web"
        } else if self.provider.prometheus.is_some() {
            "prometheus"
        } else {
            "job"
        }
    }
}
