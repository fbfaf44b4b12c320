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
