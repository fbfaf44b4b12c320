//! Taking one measurement: each provider with its own time limit, answering with a
//! value the metric's conditions judge, or an error the measurement records.
//!
//! - [`prometheus`]: one instant query; vectors become lists of numbers, as in Argo.
//! - [`web`]: one HTTP request; its JSON answer, or the part `jsonPath` picks.
//! - [`job`]: outside Kubernetes, the first container's command as a local process.
//!
//! The `prometheus` and `web` providers' address, URL, headers and body may read secrets
//! with `${{ secret('name').key }}` ([`Secrets`]), resolved here for each measurement,
//! before `{{args.…}}` is substituted.

pub mod job;
pub mod prometheus;
pub mod web;

use std::collections::BTreeMap;

use lading_domain::expression::ExpressionLimits;
use lading_domain::secrets::{SecretAccess, resolve_references};
use lading_domain::spec::Metric;
use lading_domain::verification::MeasuredValue;

/// The secrets one verification's providers read, and what each evaluation may spend.
#[derive(Debug, Clone, Copy)]
pub struct Secrets<'a> {
    pub access: &'a SecretAccess,
    pub limits: &'a ExpressionLimits,
}

impl Secrets<'_> {
    /// `text` (the provider's `field`) with its `${{ secret(…) }}` references resolved.
    pub fn resolve(&self, field: &str, text: &str) -> Result<String, String> {
        resolve_references(text, self.access, self.limits).map_err(|e| format!("{field}: {e}"))
    }
}

/// What a provider found.
#[derive(Debug, Clone, PartialEq)]
pub enum Measured {
    /// A value for the conditions to judge.
    Value(MeasuredValue),
    /// A verdict the provider decides itself (a job: exit code 0 or not), with its output.
    Decided { succeeded: bool, output: String },
}

/// Takes one measurement of `metric` with the run's arguments; `Err` is a measurement
/// error (counted against `consecutiveErrorLimit`).
pub async fn measure(
    metric: &Metric,
    args: &BTreeMap<String, String>,
    secrets: Secrets<'_>,
) -> Result<Measured, String> {
    let provider = &metric.provider;
    if let Some(prometheus) = &provider.prometheus {
        return prometheus::query(prometheus, args, secrets).await.map(Measured::Value);
    }
    if let Some(web) = &provider.web {
        return web::call(web, args, secrets).await.map(Measured::Value);
    }
    if let Some(job) = &provider.job {
        return job::run(job, args).await;
    }
    Err("the metric has no provider".to_owned())
}

/// A blocking HTTP call (`ureq`) off the runtime's threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(f).await.map_err(|e| format!("the measurement stopped: {e}"))?
}

/// The agent for one request: `total` bounds the whole call.
pub(crate) fn agent(total: std::time::Duration, insecure: bool) -> (ureq::Agent, lading_domain::limits::Timeouts) {
    use lading_domain::limits::{Limit, Timeouts};
    let timeouts = Timeouts {
        connect: Limit::new(total.min(std::time::Duration::from_secs(10)), "connect timeout"),
        idle: Limit::new(total, "timeout"),
        total: Limit::new(total, "timeout"),
    };
    let tls = ureq::tls::TlsConfig::builder().disable_verification(insecure).build();
    let agent = lading_remote::http::agent_config(&timeouts).tls_config(tls).build().into();
    (agent, timeouts)
}

/// The largest answer a provider reads.
pub(crate) const MAX_RESPONSE_BYTES: u64 = 1024 * 1024;
