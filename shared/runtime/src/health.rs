//! `/healthz` (the process is alive), `/readyz` (every component is ready) and `/metrics`.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::routing::get;

use crate::{Readiness, Shutdown, metrics};

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(readiness): State<Readiness>) -> (StatusCode, String) {
    if readiness.is_ready() {
        (StatusCode::OK, "ready".to_owned())
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, format!("waiting for: {}", readiness.waiting_for().join(", ")))
    }
}

async fn metrics_text() -> ([(header::HeaderName, &'static str); 1], String) {
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], metrics::render())
}

/// The health and metrics routes, to merge into a service's router.
pub fn routes(readiness: Readiness) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(readiness)
}

/// Serves the health routes on `addr` until `shutdown`; returns the bound address.
pub async fn serve(addr: SocketAddr, readiness: Readiness, shutdown: Shutdown) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        let served = axum::serve(listener, routes(readiness))
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(error) = served {
            tracing::error!(%error, "health server stopped");
        }
    });
    Ok(bound)
}
