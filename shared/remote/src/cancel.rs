//! Cancelling work in flight: a flag a promotion's runner sets when the promotion is
//! aborted or its turn lost, which long calls check while they wait (a Git transfer's
//! callbacks, an HTTP call, a child process) so they stop within moments instead of at
//! their timeouts.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A cancellation flag, cheap to clone; all clones see one flag.
#[derive(Debug, Clone, Default)]
pub struct Cancellation(Arc<AtomicBool>);

impl Cancellation {
    /// A flag nobody has set.
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Waits `duration` unless cancelled first; false when cancelled.
    pub fn sleep(&self, duration: Duration) -> bool {
        let until = Instant::now() + duration;
        while !self.is_cancelled() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            std::thread::sleep(left.min(POLL));
        }
        false
    }
}

/// How often waiting work looks at the flag.
pub const POLL: Duration = Duration::from_millis(50);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sleep_ends_early_when_cancelled() {
        let flag = Cancellation::new();
        assert!(flag.sleep(Duration::from_millis(1)), "not cancelled: slept through");
        let other = flag.clone();
        let cancelling = std::thread::spawn(move || other.cancel());
        cancelling.join().unwrap();
        let started = Instant::now();
        assert!(!flag.sleep(Duration::from_secs(3600)));
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
