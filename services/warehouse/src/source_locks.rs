//! One lock per source (a Git mirror, a registry repository, a chart index): the
//! discoveries of one source take turns, so the second reuses what the first fetched,
//! and discoveries of different sources run side by side, so a slow or hung source
//! delays only the warehouses that read it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

/// The locks, by source key (`git <url>`, `image <host/name>`, `chart <url>`).
#[derive(Debug, Default)]
pub struct SourceLocks {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl SourceLocks {
    /// Waits for the turn of `source`; the turn lasts as long as the guard, which can be
    /// moved into the blocking task that reads the source.
    pub async fn turn(&self, source: &str) -> OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            // Locks nobody holds or waits for are dropped, so the map follows the sources in use.
            locks.retain(|_, lock| Arc::strong_count(lock) > 1);
            locks.entry(source.to_owned()).or_default().clone()
        };
        lock.lock_owned().await
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn one_source_takes_turns_and_other_sources_do_not_wait() {
        let locks = SourceLocks::default();
        let held = locks.turn("git https://slow").await;
        let other = tokio::time::timeout(Duration::from_millis(1), locks.turn("git https://good")).await;
        assert!(other.is_ok(), "another source is free");
        let same = tokio::time::timeout(Duration::from_millis(1), locks.turn("git https://slow")).await;
        assert!(same.is_err(), "the same source waits for its turn");
        drop(held);
        assert!(tokio::time::timeout(Duration::from_millis(1), locks.turn("git https://slow")).await.is_ok());
    }
}
