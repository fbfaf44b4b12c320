//! Polling: every warehouse is discovered on its interval, and at once when its spec
//! appears or changes.

use std::collections::BTreeMap;
use std::time::Duration;

use lading_domain::spec::WarehouseSpec;
use tokio::time::Instant;

/// When each warehouse is next due, keyed by (project, name).
#[derive(Debug, Default)]
pub struct Schedule {
    entries: BTreeMap<(String, String), (WarehouseSpec, Instant)>,
}

impl Schedule {
    /// Brings the schedule in line with the current specs: new or changed warehouses are
    /// due now, removed ones are dropped, unchanged ones keep their time.
    pub fn reconcile(&mut self, warehouses: Vec<(String, String, WarehouseSpec)>, now: Instant) {
        let mut next = BTreeMap::new();
        for (project, name, spec) in warehouses {
            let key = (project, name);
            let due = match self.entries.get(&key) {
                Some((old, due)) if *old == spec => *due,
                _ => now,
            };
            next.insert(key, (spec, due));
        }
        self.entries = next;
    }

    /// The warehouses due at `now`; each is rescheduled one interval later.
    pub fn take_due(&mut self, now: Instant) -> Vec<(String, String, WarehouseSpec)> {
        let mut due = Vec::new();
        for ((project, name), (spec, at)) in self.entries.iter_mut() {
            if *at <= now {
                due.push((project.clone(), name.clone(), spec.clone()));
                // Intervals are bounded at apply time; a far future still never overflows.
                *at = now.checked_add(spec.interval()).unwrap_or(now + Duration::from_secs(86_400 * 365 * 30));
            }
        }
        due
    }

    /// How long until the next warehouse is due (an hour when there is none).
    pub fn next_wait(&self, now: Instant) -> Duration {
        self.entries
            .values()
            .map(|(_, at)| at.saturating_duration_since(now))
            .min()
            .unwrap_or(Duration::from_secs(3600))
    }
}

#[cfg(test)]
mod tests {
    use lading_domain::spec::{GitSubscription, Subscription};

    use super::*;

    fn spec(interval: &str) -> WarehouseSpec {
        WarehouseSpec {
            subscriptions: vec![Subscription {
                git: Some(GitSubscription { repo_url: "https://h/x".into(), ..Default::default() }),
                ..Default::default()
            }],
            interval: Some(interval.into()),
            ..Default::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn new_warehouses_are_due_at_once_then_every_interval() {
        let mut schedule = Schedule::default();
        let start = Instant::now();
        schedule.reconcile(vec![("p".into(), "w".into(), spec("1m"))], start);
        assert_eq!(schedule.take_due(start).len(), 1);
        assert!(schedule.take_due(start).is_empty());
        assert_eq!(schedule.next_wait(start), Duration::from_secs(60));
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(schedule.take_due(Instant::now()).len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_changed_spec_is_due_at_once_and_removed_ones_go() {
        let mut schedule = Schedule::default();
        let now = Instant::now();
        schedule.reconcile(vec![("p".into(), "w".into(), spec("1m"))], now);
        schedule.take_due(now);
        schedule.reconcile(vec![("p".into(), "w".into(), spec("1m"))], now);
        assert!(schedule.take_due(now).is_empty(), "unchanged spec keeps its time");
        schedule.reconcile(vec![("p".into(), "w".into(), spec("2m"))], now);
        assert_eq!(schedule.take_due(now).len(), 1, "changed spec is due now");
        schedule.reconcile(vec![], now);
        assert_eq!(schedule.next_wait(now), Duration::from_secs(3600));
    }
}
