//! Process-wide metrics (the `prometheus-client` crate), served as OpenMetrics text on
//! `/metrics`. Names follow `lading_<service>_<thing>_<unit>`; counters end in `_total`.
//!
//! Every metric is registered when the registry is first used; a family with labels
//! shows on `/metrics` once it has a sample ([`FAMILIES`] lists them all). Services
//! record at their edges
//! through the functions below: the bus's consume loop, the end of a promotion run, the
//! end of a discovery, the end of a verification.

use std::sync::OnceLock;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The media type `/metrics` answers with.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Every family `/metrics` can show, with its type.
pub const FAMILIES: &[(&str, &str)] = &[
    ("lading_promoter_promotions", "counter"),
    ("lading_promoter_promotion_duration_seconds", "histogram"),
    ("lading_promoter_step_duration_seconds", "histogram"),
    ("lading_promoter_queue_depth", "gauge"),
    ("lading_promoter_lost_turns", "counter"),
    ("lading_warehouse_discovery_duration_seconds", "histogram"),
    ("lading_warehouse_freight_created", "counter"),
    ("lading_warehouse_git_syncs", "counter"),
    ("lading_verifier_verification_duration_seconds", "histogram"),
    ("lading_bus_event_lag_seconds", "histogram"),
    ("lading_bus_consumer_pending", "gauge"),
    ("lading_bus_dead_letters", "counter"),
    ("lading_bus_consumer_start_retries", "counter"),
    ("lading_bus_leases_lost", "counter"),
    ("lading_bus_publish_failures", "counter"),
    ("lading_api_refused_connections", "counter"),
];

type Labels<const N: usize> = [(&'static str, String); N];
type HistogramFamily<const N: usize> = Family<Labels<N>, Histogram, fn() -> Histogram>;

/// Buckets for promotions, steps and verifications: 50 ms to about 14 min.
fn long_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.05, 2.0, 15))
}

/// Buckets for discoveries: 10 ms to about 2.7 min.
fn discovery_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 2.0, 15))
}

/// Buckets for the lag of events: 1 ms to about 2.2 min.
fn lag_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 18))
}

struct Metrics {
    registry: Registry,
    promotions: Family<Labels<1>, Counter>,
    promotion_duration: HistogramFamily<1>,
    step_duration: HistogramFamily<2>,
    queue_depth: Family<Labels<2>, Gauge>,
    lost_turns: Counter,
    discovery_duration: HistogramFamily<1>,
    freight_created: Family<Labels<2>, Counter>,
    git_syncs: Family<Labels<1>, Counter>,
    verification_duration: HistogramFamily<1>,
    event_lag: HistogramFamily<2>,
    consumer_pending: Family<Labels<1>, Gauge>,
    dead_letters: Family<Labels<1>, Counter>,
    consumer_start_retries: Family<Labels<1>, Counter>,
    leases_lost: Counter,
    publish_failures: Counter,
    refused_connections: Counter,
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::default();
        let promotions = Family::default();
        registry.register(
            "lading_promoter_promotions",
            "Promotions that ended, by phase (Succeeded, Failed, Errored, Aborted)",
            promotions.clone(),
        );
        let promotion_duration = HistogramFamily::<1>::new_with_constructor(long_buckets as fn() -> Histogram);
        registry.register(
            "lading_promoter_promotion_duration_seconds",
            "From a promotion's start to its outcome, by phase",
            promotion_duration.clone(),
        );
        let step_duration = HistogramFamily::<2>::new_with_constructor(long_buckets as fn() -> Histogram);
        registry.register(
            "lading_promoter_step_duration_seconds",
            "How long each promotion step ran, by step (uses) and outcome",
            step_duration.clone(),
        );
        let queue_depth = Family::default();
        registry.register(
            "lading_promoter_queue_depth",
            "Unfinished promotions in a stage's queue, as this replica last saw it",
            queue_depth.clone(),
        );
        let lost_turns = Counter::default();
        registry.register(
            "lading_promoter_lost_turns",
            "Promotions this replica left because it lost the stage's lease",
            lost_turns.clone(),
        );
        let discovery_duration = HistogramFamily::<1>::new_with_constructor(discovery_buckets as fn() -> Histogram);
        registry.register(
            "lading_warehouse_discovery_duration_seconds",
            "How long one discovery of a warehouse took, by result (created, unchanged, not_created, failed)",
            discovery_duration.clone(),
        );
        let freight_created = Family::default();
        registry.register(
            "lading_warehouse_freight_created",
            "Freight this replica announced first, by project and warehouse",
            freight_created.clone(),
        );
        let git_syncs = Family::default();
        registry.register("lading_warehouse_git_syncs", "Git mirror synchronisations, by result", git_syncs.clone());
        let verification_duration = HistogramFamily::<1>::new_with_constructor(long_buckets as fn() -> Histogram);
        registry.register(
            "lading_verifier_verification_duration_seconds",
            "From a verification's start to its verdict, by phase",
            verification_duration.clone(),
        );
        let event_lag = HistogramFamily::<2>::new_with_constructor(lag_buckets as fn() -> Histogram);
        registry.register(
            "lading_bus_event_lag_seconds",
            "From an event's time (its ce-time header) to the start of its first handling, by consumer and event type",
            event_lag.clone(),
        );
        let consumer_pending = Family::default();
        registry.register(
            "lading_bus_consumer_pending",
            "Messages a durable consumer has not delivered yet, as of its latest delivery",
            consumer_pending.clone(),
        );
        let dead_letters = Family::default();
        registry.register("lading_bus_dead_letters", "Messages dead-lettered, by consumer", dead_letters.clone());
        let consumer_start_retries = Family::default();
        registry.register(
            "lading_bus_consumer_start_retries",
            "Attempts to open a durable consumer that failed and were retried, by consumer",
            consumer_start_retries.clone(),
        );
        let leases_lost = Counter::default();
        registry.register("lading_bus_leases_lost", "Leases this process found taken over", leases_lost.clone());
        let publish_failures = Counter::default();
        registry.register(
            "lading_bus_publish_failures",
            "Attempts to publish an event that got no acknowledgement from the stream",
            publish_failures.clone(),
        );
        let refused_connections = Counter::default();
        registry.register(
            "lading_api_refused_connections",
            "Connections the api refused because it had too many",
            refused_connections.clone(),
        );
        Metrics {
            registry,
            promotions,
            promotion_duration,
            step_duration,
            queue_depth,
            lost_turns,
            discovery_duration,
            freight_created,
            git_syncs,
            verification_duration,
            event_lag,
            consumer_pending,
            dead_letters,
            consumer_start_retries,
            leases_lost,
            publish_failures,
            refused_connections,
        }
    }
}

fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

fn seconds(duration: std::time::Duration) -> f64 {
    duration.as_secs_f64()
}

/// A promotion ended in `phase` (`Succeeded`, `Failed`, `Errored`, `Aborted`) after
/// running for `took` (zero when it never ran).
pub fn promotion_finished(phase: &str, took: std::time::Duration) {
    let m = metrics();
    m.promotions.get_or_create(&[("phase", phase.to_owned())]).inc();
    m.promotion_duration.get_or_create(&[("phase", phase.to_owned())]).observe(seconds(took));
}

/// A promotion step (`uses`) ended with `outcome` after `took`.
pub fn step_finished(uses: &str, outcome: &str, took: std::time::Duration) {
    let labels = [("uses", uses.to_owned()), ("outcome", outcome.to_owned())];
    metrics().step_duration.get_or_create(&labels).observe(seconds(took));
}

/// `depth` promotions of `project`'s `stage` are unfinished.
pub fn queue_depth(project: &str, stage: &str, depth: usize) {
    let labels = [("project", project.to_owned()), ("stage", stage.to_owned())];
    metrics().queue_depth.get_or_create(&labels).set(i64::try_from(depth).unwrap_or(i64::MAX));
}

/// A promoter replica left a promotion because it lost the stage's lease.
pub fn lost_turn() {
    metrics().lost_turns.inc();
}

/// A discovery ended with `result` after `took`.
pub fn discovery_finished(result: &str, took: std::time::Duration) {
    metrics().discovery_duration.get_or_create(&[("result", result.to_owned())]).observe(seconds(took));
}

/// This replica announced new freight of `project`'s `warehouse`.
pub fn freight_created(project: &str, warehouse: &str) {
    let labels = [("project", project.to_owned()), ("warehouse", warehouse.to_owned())];
    metrics().freight_created.get_or_create(&labels).inc();
}

/// A Git mirror was synchronised with `result`.
pub fn git_synced(result: &str) {
    metrics().git_syncs.get_or_create(&[("result", result.to_owned())]).inc();
}

/// A verification reached `phase` (`Successful`, `Failed`, `Error`, `Inconclusive`,
/// `Aborted`) after `took`.
pub fn verification_finished(phase: &str, took: std::time::Duration) {
    metrics().verification_duration.get_or_create(&[("phase", phase.to_owned())]).observe(seconds(took));
}

/// `consumer` began handling an `event_type` event `lag` after the event's time.
pub fn event_lag(consumer: &str, event_type: &str, lag: std::time::Duration) {
    let labels = [("consumer", consumer.to_owned()), ("event_type", event_type.to_owned())];
    metrics().event_lag.get_or_create(&labels).observe(seconds(lag));
}

/// `consumer` has `pending` messages not yet delivered.
pub fn consumer_pending(consumer: &str, pending: u64) {
    metrics()
        .consumer_pending
        .get_or_create(&[("consumer", consumer.to_owned())])
        .set(i64::try_from(pending).unwrap_or(i64::MAX));
}

/// `consumer` dead-lettered a message.
pub fn dead_letter(consumer: &str) {
    metrics().dead_letters.get_or_create(&[("consumer", consumer.to_owned())]).inc();
}

/// Opening `consumer` failed and is retried.
pub fn consumer_start_retry(consumer: &str) {
    metrics().consumer_start_retries.get_or_create(&[("consumer", consumer.to_owned())]).inc();
}

/// This process found one of its leases taken over.
pub fn lease_lost() {
    metrics().leases_lost.inc();
}

/// An attempt to publish an event got no acknowledgement (NATS unreachable, no
/// stream leader).
pub fn publish_failed() {
    metrics().publish_failures.inc();
}

/// The api refused a connection.
pub fn refused_connection() {
    metrics().refused_connections.inc();
}

/// Every metric in OpenMetrics text format.
pub fn render() -> String {
    let mut out = String::new();
    // Writing to a String cannot fail, and every name and label is valid.
    let _ = encode(&mut out, &metrics().registry);
    out
}

/// The value of one sample of the rendered metrics, e.g. `lading_bus_dead_letters_total`
/// with `[("consumer", "x")]` (labels in the order they are rendered: a histogram's `le`
/// first); `None` when absent.
pub fn sample(name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let rendered = render();
    let wanted = if labels.is_empty() {
        name.to_owned()
    } else {
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
        format!("{name}{{{}}}", labels.join(","))
    };
    rendered.lines().find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        if series == wanted { value.parse().ok() } else { None }
    })
}

/// A counter's value (0 when it has no sample yet).
pub fn value(name: &str, labels: &[(&str, &str)]) -> u64 {
    sample(name, labels).map_or(0, |v| v as u64)
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn counters_and_histograms_render_as_openmetrics_text() {
        dead_letter("a\"b");
        dead_letter("a\"b");
        assert_eq!(value("lading_bus_dead_letters_total", &[("consumer", "a\"b")]), 2);
        promotion_finished("Succeeded", Duration::from_millis(300));
        let text = render();
        assert!(text.contains("# TYPE lading_bus_dead_letters counter\n"), "{text}");
        assert!(text.contains("lading_bus_dead_letters_total{consumer=\"a\\\"b\"} 2\n"), "{text}");
        assert!(text.contains("# TYPE lading_promoter_promotion_duration_seconds histogram\n"), "{text}");
        // 0.3 s falls in the 0.4 s bucket and every one above, not in 0.2 s.
        let bucket = |le: &str| {
            sample("lading_promoter_promotion_duration_seconds_bucket", &[("le", le), ("phase", "Succeeded")])
        };
        assert_eq!(bucket("0.2"), Some(0.0), "{text}");
        assert_eq!(bucket("0.4"), Some(1.0), "{text}");
        assert_eq!(bucket("+Inf"), Some(1.0), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn every_family_is_listed_once_recorded() {
        let took = Duration::from_millis(5);
        promotion_finished("Failed", took);
        step_finished("git-clone", "Succeeded", took);
        queue_depth("p", "s", 3);
        lost_turn();
        discovery_finished("created", took);
        freight_created("p", "w");
        git_synced("fetched");
        verification_finished("Successful", took);
        event_lag("c", "t", took);
        consumer_pending("c", 7);
        dead_letter("c");
        consumer_start_retry("c");
        lease_lost();
        publish_failed();
        refused_connection();
        let text = render();
        let typed: Vec<(&str, &str)> =
            text.lines().filter_map(|l| l.strip_prefix("# TYPE ")).filter_map(|t| t.split_once(' ')).collect();
        let mut expected = FAMILIES.to_vec();
        expected.sort();
        let mut typed = typed;
        typed.sort();
        assert_eq!(typed, expected, "{text}");
        assert_eq!(sample("lading_promoter_queue_depth", &[("project", "p"), ("stage", "s")]), Some(3.0));
        assert_eq!(sample("lading_bus_consumer_pending", &[("consumer", "c")]), Some(7.0));
    }
}
