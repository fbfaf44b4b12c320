//! Readiness: each component registers a flag; the process is ready when all are up.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// A set of named readiness flags, cheap to clone.
#[derive(Clone, Default)]
pub struct Readiness {
    flags: Arc<Mutex<BTreeMap<String, bool>>>,
}

/// One component's flag.
#[derive(Clone)]
pub struct ReadyFlag {
    name: String,
    flags: Arc<Mutex<BTreeMap<String, bool>>>,
}

impl Readiness {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a component, not yet ready.
    pub fn register(&self, name: impl Into<String>) -> ReadyFlag {
        let name = name.into();
        self.lock().insert(name.clone(), false);
        ReadyFlag { name, flags: self.flags.clone() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, bool>> {
        self.flags.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Ready when at least one component registered and all are ready.
    pub fn is_ready(&self) -> bool {
        let flags = self.lock();
        !flags.is_empty() && flags.values().all(|r| *r)
    }

    /// Components not ready yet.
    pub fn waiting_for(&self) -> Vec<String> {
        self.lock().iter().filter(|(_, r)| !**r).map(|(n, _)| n.clone()).collect()
    }
}

impl ReadyFlag {
    pub fn set(&self, ready: bool) {
        let mut flags = self.flags.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        flags.insert(self.name.clone(), ready);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_every_component_is() {
        let readiness = Readiness::new();
        assert!(!readiness.is_ready(), "nothing registered is not ready");
        let a = readiness.register("a");
        let b = readiness.register("b");
        a.set(true);
        assert!(!readiness.is_ready());
        assert_eq!(readiness.waiting_for(), vec!["b"]);
        b.set(true);
        assert!(readiness.is_ready());
        a.set(false);
        assert!(!readiness.is_ready());
    }
}
