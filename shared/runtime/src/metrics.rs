//! Process-wide counters, rendered in Prometheus text format. Names follow
//! `lading_<service>_<thing>_<unit>` with `_total` on counters.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

type Key = (String, Vec<(String, String)>);

fn registry() -> &'static Mutex<BTreeMap<Key, u64>> {
    static REGISTRY: OnceLock<Mutex<BTreeMap<Key, u64>>> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// Adds one to the counter `name` with `labels`.
pub fn increment(name: &str, labels: &[(&str, &str)]) {
    let key = (name.to_owned(), labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
    let mut counters = registry().lock().unwrap_or_else(|p| p.into_inner());
    *counters.entry(key).or_default() += 1;
}

/// The current value of a counter (0 when never incremented).
pub fn value(name: &str, labels: &[(&str, &str)]) -> u64 {
    let key = (name.to_owned(), labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
    registry().lock().unwrap_or_else(|p| p.into_inner()).get(&key).copied().unwrap_or(0)
}

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Every counter in Prometheus text exposition format.
pub fn render() -> String {
    let counters = registry().lock().unwrap_or_else(|p| p.into_inner());
    let mut out = String::new();
    let mut last_name = "";
    for ((name, labels), value) in counters.iter() {
        if name != last_name {
            out.push_str(&format!("# TYPE {name} counter\n"));
            last_name = name;
        }
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
        if labels.is_empty() {
            out.push_str(&format!("{name} {value}\n"));
        } else {
            out.push_str(&format!("{name}{{{}}} {value}\n", labels.join(",")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_as_prometheus_text() {
        increment("lading_test_things_total", &[("kind", "a\"b")]);
        increment("lading_test_things_total", &[("kind", "a\"b")]);
        assert_eq!(value("lading_test_things_total", &[("kind", "a\"b")]), 2);
        let text = render();
        assert!(text.contains("# TYPE lading_test_things_total counter\n"));
        assert!(text.contains("lading_test_things_total{kind=\"a\\\"b\"} 2\n"), "{text}");
    }
}
