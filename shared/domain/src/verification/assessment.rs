//! How measurements add up (Argo's `assessMetricStatus` and `assessRunStatus`): a metric
//! fails once its failed measurements exceed `failureLimit` (default 0; -1 = never), is
//! inconclusive once inconclusive ones exceed `inconclusiveLimit` (default 0), errs once
//! consecutive errors exceed `consecutiveErrorLimit` (default 4), and succeeds once it
//! was measured `count` times (no interval and no count: once; an interval and no
//! count: until the verification is stopped). A verification is the worst of its
//! metrics; once one metric failed, erred or was inconclusive the others stop.

use std::collections::BTreeMap;

use super::args::substitute;
use super::phase::Phase;
use crate::duration::parse_go_duration;
use crate::spec::{IntOrString, Metric};

/// How long an erring metric without an interval waits before it measures again
/// (Argo's `DefaultErrorRetryInterval`).
pub const ERROR_RETRY_MS: u64 = 10_000;
/// Argo's default `consecutiveErrorLimit`.
pub const DEFAULT_CONSECUTIVE_ERROR_LIMIT: i64 = 4;

/// A metric's schedule and limits, with arguments substituted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricPlan {
    pub name: String,
    pub interval_ms: Option<u64>,
    pub initial_delay_ms: u64,
    /// How many measurements make it successful; `None`: measured until stopped.
    pub count: Option<u64>,
    pub failure_limit: i64,
    pub inconclusive_limit: i64,
    pub consecutive_error_limit: i64,
}

impl MetricPlan {
    /// The plan of `metric` given the run's argument values.
    pub fn of(metric: &Metric, args: &BTreeMap<String, String>) -> Result<MetricPlan, String> {
        let sub = |s: &str| substitute(s, args);
        let duration = |field: &str, text: &Option<String>| -> Result<Option<u64>, String> {
            text.as_ref()
                .map(|t| {
                    parse_go_duration(&sub(t))
                        .map(|d| d.as_millis().min(u64::MAX as u128) as u64)
                        .map_err(|e| format!("metric {:?} {field}: {e}", metric.name))
                })
                .transpose()
        };
        let int = |field: &str, value: &Option<IntOrString>, default: i64| -> Result<i64, String> {
            value
                .as_ref()
                .map_or(Ok(default), |v| v.resolve(sub).map_err(|e| format!("metric {:?} {field}: {e}", metric.name)))
        };
        let interval_ms = duration("interval", &metric.interval)?.filter(|ms| *ms > 0);
        let count = int("count", &metric.count, 0)?;
        let count = match (count, interval_ms) {
            (n, _) if n > 0 => Some(n as u64),
            (_, None) => Some(1),
            (_, Some(_)) => None,
        };
        Ok(MetricPlan {
            name: metric.name.clone(),
            interval_ms,
            initial_delay_ms: duration("initialDelay", &metric.initial_delay)?.unwrap_or(0),
            count,
            failure_limit: int("failureLimit", &metric.failure_limit, 0)?,
            inconclusive_limit: int("inconclusiveLimit", &metric.inconclusive_limit, 0)?,
            consecutive_error_limit: int(
                "consecutiveErrorLimit",
                &metric.consecutive_error_limit,
                DEFAULT_CONSECUTIVE_ERROR_LIMIT,
            )?,
        })
    }
}

/// What a metric's measurements so far add up to (Argo's `MetricResult` counters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricTally {
    /// Measurements that were not errors.
    pub count: u64,
    pub successful: u64,
    pub failed: u64,
    pub inconclusive: u64,
    pub error: u64,
    pub consecutive_error: u64,
    /// When the last measurement finished (ms), and its value and message.
    pub last_finished_ms: Option<i64>,
    pub last_value: String,
    pub last_message: String,
}

impl MetricTally {
    /// Adds one finished measurement.
    pub fn record(&mut self, phase: Phase, value: &str, message: &str, finished_ms: i64) {
        match phase {
            Phase::Successful => self.successful += 1,
            Phase::Failed => self.failed += 1,
            Phase::Inconclusive => self.inconclusive += 1,
            _ => {}
        }
        if phase == Phase::Error {
            self.error += 1;
            self.consecutive_error += 1;
        } else {
            self.count += 1;
            self.consecutive_error = 0;
        }
        self.last_finished_ms = Some(finished_ms);
        value.clone_into(&mut self.last_value);
        message.clone_into(&mut self.last_message);
    }

    fn measured(&self) -> bool {
        self.last_finished_ms.is_some()
    }
}

/// A metric's phase, and why when it completed other than successfully.
pub fn assess_metric(plan: &MetricPlan, tally: &MetricTally, terminating: bool) -> (Phase, String) {
    if !tally.measured() {
        return (if terminating { Phase::Successful } else { Phase::Pending }, String::new());
    }
    let why = |reason: String| format!("metric {:?} assessed {reason}", plan.name);
    if plan.failure_limit >= 0 && tally.failed as i64 > plan.failure_limit {
        let reason = format!("Failed due to failed ({}) > failureLimit ({})", tally.failed, plan.failure_limit);
        return (Phase::Failed, why(reason));
    }
    if tally.inconclusive as i64 > plan.inconclusive_limit {
        let reason = format!(
            "Inconclusive due to inconclusive ({}) > inconclusiveLimit ({})",
            tally.inconclusive, plan.inconclusive_limit
        );
        return (Phase::Inconclusive, why(reason));
    }
    if tally.consecutive_error as i64 > plan.consecutive_error_limit {
        let reason = format!(
            "Error due to consecutiveErrors ({}) > consecutiveErrorLimit ({})",
            tally.consecutive_error, plan.consecutive_error_limit
        );
        return (Phase::Error, why(reason));
    }
    if plan.count.is_some_and(|count| tally.count >= count) || terminating {
        return (Phase::Successful, String::new());
    }
    (Phase::Running, String::new())
}

/// What a running metric does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Measure at this time (ms since the epoch; now or in the past: at once).
    MeasureAt(i64),
    /// Nothing: the metric completed.
    Done,
}

/// When `plan`'s next measurement is due, given the verification started at
/// `started_ms`.
pub fn next_measurement(plan: &MetricPlan, tally: &MetricTally, started_ms: i64) -> Next {
    if assess_metric(plan, tally, false).0.is_completed() {
        return Next::Done;
    }
    match tally.last_finished_ms {
        None => Next::MeasureAt(started_ms.saturating_add(plan.initial_delay_ms as i64)),
        Some(last) => {
            let wait = match (plan.interval_ms, tally.consecutive_error > 0) {
                (Some(interval), _) => interval,
                (None, true) => ERROR_RETRY_MS,
                (None, false) => 0,
            };
            Next::MeasureAt(last.saturating_add(wait as i64))
        }
    }
}

/// A verification's phase, and a message naming the metric that decided it (its last
/// value and the condition it was judged by).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunVerdict {
    pub phase: Phase,
    pub message: String,
}

/// The verification's phase from its metrics: Running while any metric runs and none
/// failed; otherwise the worst metric's phase (metrics still running when another
/// failed are stopped, and count as successful).
pub fn assess_run(metrics: &[(&MetricPlan, &MetricTally)]) -> RunVerdict {
    let first = metrics.iter().map(|(plan, tally)| assess_metric(plan, tally, false)).collect::<Vec<_>>();
    let terminating =
        first.iter().any(|(phase, _)| matches!(phase, Phase::Failed | Phase::Error | Phase::Inconclusive));
    let mut worst = RunVerdict { phase: Phase::Successful, message: String::new() };
    let mut running = false;
    for ((plan, tally), (phase, why)) in metrics.iter().zip(first) {
        let (phase, why) =
            if terminating && !phase.is_completed() { assess_metric(plan, tally, true) } else { (phase, why) };
        if !phase.is_completed() {
            running = true;
            continue;
        }
        if phase.severity() > worst.phase.severity() {
            let detail =
                if tally.last_message.is_empty() { String::new() } else { format!(": {}", tally.last_message) };
            worst = RunVerdict { phase, message: format!("{why}{detail}") };
        }
    }
    if running && !terminating {
        return RunVerdict { phase: Phase::Running, message: String::new() };
    }
    if worst.phase == Phase::Successful {
        let names: Vec<&str> = metrics.iter().map(|(p, _)| p.name.as_str()).collect();
        worst.message = format!("every metric assessed Successful ({})", names.join(", "));
    }
    worst
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(count: Option<u64>, interval_ms: Option<u64>, failure_limit: i64) -> MetricPlan {
        MetricPlan {
            name: "error-rate".into(),
            interval_ms,
            initial_delay_ms: 0,
            count,
            failure_limit,
            inconclusive_limit: 0,
            consecutive_error_limit: 4,
        }
    }

    fn tally(phases: &[Phase]) -> MetricTally {
        let mut t = MetricTally::default();
        for (i, phase) in phases.iter().enumerate() {
            t.record(*phase, "[0.2]", "value [0.2] did not meet successCondition \"result[0] < 0.1\"", i as i64 * 1000);
        }
        t
    }

    #[test]
    fn given_no_interval_and_no_count_when_measured_once_then_done() {
        let metric: Metric =
            serde_json::from_value(serde_json::json!({"name": "m", "provider": {"web": {"url": "x"}}})).unwrap();
        let p = MetricPlan::of(&metric, &BTreeMap::new()).unwrap();
        assert_eq!((p.count, p.failure_limit, p.consecutive_error_limit), (Some(1), 0, 4));
        assert_eq!(next_measurement(&p, &MetricTally::default(), 100), Next::MeasureAt(100));
        assert_eq!(assess_metric(&p, &tally(&[Phase::Successful]), false).0, Phase::Successful);
        assert_eq!(next_measurement(&p, &tally(&[Phase::Successful]), 100), Next::Done);
    }

    #[test]
    fn given_an_interval_without_count_then_it_runs_until_stopped() {
        let metric: Metric = serde_json::from_value(serde_json::json!({
            "name": "m", "interval": "{{args.every}}", "provider": {"web": {"url": "x"}}
        }))
        .unwrap();
        let args = BTreeMap::from([("every".to_owned(), "30s".to_owned())]);
        let p = MetricPlan::of(&metric, &args).unwrap();
        assert_eq!((p.count, p.interval_ms), (None, Some(30_000)));
        let t = tally(&[Phase::Successful; 5]);
        assert_eq!(assess_metric(&p, &t, false).0, Phase::Running);
        assert_eq!(next_measurement(&p, &t, 0), Next::MeasureAt(4000 + 30_000));
        assert_eq!(assess_metric(&p, &t, true).0, Phase::Successful, "stopped: successful");
    }

    #[test]
    fn given_failure_limit_one_when_two_measurements_fail_then_failed_naming_the_limit() {
        let p = plan(Some(5), Some(1000), 1);
        assert_eq!(assess_metric(&p, &tally(&[Phase::Failed, Phase::Successful]), false).0, Phase::Running);
        let (phase, why) = assess_metric(&p, &tally(&[Phase::Failed, Phase::Successful, Phase::Failed]), false);
        assert_eq!(phase, Phase::Failed);
        assert_eq!(why, "metric \"error-rate\" assessed Failed due to failed (2) > failureLimit (1)");
    }

    #[test]
    fn given_unlimited_failures_then_count_decides() {
        let p = plan(Some(3), Some(1000), -1);
        assert_eq!(
            assess_metric(&p, &tally(&[Phase::Failed, Phase::Failed, Phase::Failed]), false).0,
            Phase::Successful
        );
    }

    #[test]
    fn given_inconclusive_over_its_limit_then_inconclusive() {
        let p = plan(Some(3), Some(1000), 0);
        assert_eq!(assess_metric(&p, &tally(&[Phase::Inconclusive]), false).0, Phase::Inconclusive);
    }

    #[test]
    fn errors_do_not_count_and_five_in_a_row_are_an_error() {
        let p = plan(Some(1), None, 0);
        let four = tally(&[Phase::Error; 4]);
        assert_eq!(assess_metric(&p, &four, false).0, Phase::Running, "errors are not measurements that count");
        assert_eq!(next_measurement(&p, &four, 0), Next::MeasureAt(3000 + ERROR_RETRY_MS as i64), "retried later");
        assert_eq!(assess_metric(&p, &tally(&[Phase::Error; 5]), false).0, Phase::Error);
        let recovered = tally(&[Phase::Error, Phase::Error, Phase::Successful]);
        assert_eq!(assess_metric(&p, &recovered, false).0, Phase::Successful);
    }

    #[test]
    fn initial_delay_postpones_the_first_measurement() {
        let mut p = plan(Some(1), None, 0);
        p.initial_delay_ms = 5000;
        assert_eq!(next_measurement(&p, &MetricTally::default(), 1000), Next::MeasureAt(6000));
    }

    #[test]
    fn a_run_is_the_worst_of_its_metrics_and_its_message_names_metric_value_and_condition() {
        let failing = plan(Some(1), None, 0);
        let mut slow = plan(None, Some(60_000), 0);
        slow.name = "latency".into();
        let failed = tally(&[Phase::Failed]);
        let ok = tally(&[Phase::Successful]);
        let verdict = assess_run(&[(&failing, &failed), (&slow, &ok)]);
        assert_eq!(verdict.phase, Phase::Failed, "a failed metric stops the others");
        assert_eq!(
            verdict.message,
            "metric \"error-rate\" assessed Failed due to failed (1) > failureLimit (0): value [0.2] did not meet successCondition \"result[0] < 0.1\""
        );
        let verdict = assess_run(&[(&failing, &ok), (&slow, &ok)]);
        assert_eq!(verdict.phase, Phase::Running, "latency measures until stopped");
        let done = plan(Some(1), None, 0);
        let verdict = assess_run(&[(&failing, &ok), (&done, &ok)]);
        assert_eq!(verdict.phase, Phase::Successful);
    }
}
