//! Shutdown as a value: services stop pulling work when it fires, finish or hand back
//! what is in flight, then return.

use std::future::Future;

pub use tokio_util::sync::CancellationToken as Shutdown;

/// A token cancelled when `trigger` completes.
pub fn from_future(trigger: impl Future<Output = ()> + Send + 'static) -> Shutdown {
    let token = Shutdown::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        trigger.await;
        cancel.cancel();
    });
    token
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested");
}

/// Completes `deadline` after `shutdown` fires: race it against a service's `run` so a
/// drain that hangs cannot keep the process alive forever.
pub async fn drain_deadline(shutdown: Shutdown, deadline: std::time::Duration) {
    shutdown.cancelled().await;
    tokio::time::sleep(deadline).await;
    tracing::error!(deadline_s = deadline.as_secs(), "drain deadline passed; exiting with work in flight");
}

/// How long services get to finish in-flight work after SIGTERM.
pub const DRAIN_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);
