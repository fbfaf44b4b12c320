//! Keeping `lading up`'s services running: a service that returns an error, panics or
//! stops unasked is logged and started again after a growing pause, while the others go
//! on; shutdown stops them all.

use std::future::Future;
use std::time::Duration;

use lading_runtime::Shutdown;
use tokio::time::Instant;

/// The pause before the first restart; it doubles with each failure in a row.
pub const FIRST_PAUSE: Duration = Duration::from_secs(1);
/// The longest pause between restarts.
pub const MAX_PAUSE: Duration = Duration::from_secs(30);
/// A run this long counts as healthy: the next failure is paused for `FIRST_PAUSE` again.
pub const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// Runs `start()`'s service as its own task and starts it again whenever it ends before
/// `shutdown`; returns once `shutdown` fired and the service stopped.
pub async fn supervise<F, Fut, E>(name: &'static str, shutdown: Shutdown, mut start: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    let mut pause = FIRST_PAUSE;
    loop {
        let began = Instant::now();
        let ended = tokio::spawn(start()).await;
        if shutdown.is_cancelled() {
            if let Ok(Err(error)) = &ended {
                tracing::warn!(service = name, %error, "service failed while stopping");
            }
            return;
        }
        let reason = match ended {
            Ok(Ok(())) => "stopped without being asked to".to_owned(),
            Ok(Err(error)) => error.to_string(),
            Err(error) if error.is_panic() => format!("panicked: {}", panic_message(error.into_panic().as_ref())),
            Err(error) => error.to_string(),
        };
        if began.elapsed() >= HEALTHY_RUN {
            pause = FIRST_PAUSE;
        }
        tracing::error!(service = name, reason, restart_in_ms = pause.as_millis() as u64, "service failed; restarting");
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// What a panic said, when it said anything.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    type Service = std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

    /// A service that runs until shutdown, counting its starts.
    fn steady(starts: Arc<AtomicUsize>, shutdown: Shutdown) -> impl FnMut() -> Service {
        move || {
            starts.fetch_add(1, Ordering::SeqCst);
            let shutdown = shutdown.clone();
            Box::pin(async move {
                shutdown.cancelled().await;
                Ok(())
            })
        }
    }

    async fn until(what: &str, done: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(600);
        while !done() {
            assert!(Instant::now() < deadline, "{what}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_failing_service_is_restarted_with_backoff_while_the_others_go_on_until_shutdown() {
        // Given two services, one that fails once with an error, then panics, then runs,
        let shutdown = Shutdown::new();
        let (flaky_starts, steady_starts) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let flaky = {
            let (starts, shutdown) = (flaky_starts.clone(), shutdown.clone());
            move || -> Service {
                let start = starts.fetch_add(1, Ordering::SeqCst);
                let shutdown = shutdown.clone();
                Box::pin(async move {
                    match start {
                        0 => Err("cannot reach NATS".to_owned()),
                        1 => panic!("a handler bug"),
                        _ => {
                            shutdown.cancelled().await;
                            Ok(())
                        }
                    }
                })
            }
        };
        let began = Instant::now();
        let supervised = tokio::spawn({
            let (shutdown, steady) = (shutdown.clone(), steady(steady_starts.clone(), shutdown.clone()));
            async move {
                tokio::join!(supervise("flaky", shutdown.clone(), flaky), supervise("steady", shutdown, steady));
            }
        });
        // when they are supervised, then the failing one is started again, after pauses,
        until("the flaky service runs a third time", || flaky_starts.load(Ordering::SeqCst) == 3).await;
        assert!(began.elapsed() >= FIRST_PAUSE * 3, "paused 1 s, then 2 s: {:?}", began.elapsed());
        // and the other one kept running, started once;
        assert_eq!(steady_starts.load(Ordering::SeqCst), 1);
        assert!(!supervised.is_finished());
        // and shutdown stops both, with no restart.
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), supervised).await.expect("stopped").unwrap();
        assert_eq!(flaky_starts.load(Ordering::SeqCst), 3);
        assert_eq!(steady_starts.load(Ordering::SeqCst), 1);
    }
}
