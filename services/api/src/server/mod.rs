//! The api's HTTP server: HTTP/1.1 on hyper, bounding every client.
//!
//! - **Connections**: at most `max_connections` at once; one more is answered `503` and
//!   closed at once, so a flood of idle sockets cannot hold the api.
//! - **Headers**: hyper closes a connection whose request headers are not complete within
//!   `header_timeout` of the api starting to read them (after accepting, or after the
//!   previous answer on a kept-alive connection).
//! - **Bodies**: [`body_deadline`] fails a request body still arriving `body_timeout`
//!   after its request started, however steadily it drips, and answers `408`.
//! - **Idle connections**: [`idle`] closes a connection on which a read or a write has
//!   been waiting for `idle_timeout` with no byte moving (a client that stops reading its
//!   answer).
//!
//! - **HTTPS**: given a certificate and key ([`tls`]), every connection's handshake must
//!   complete within `header_timeout` of its accept; the bounds above then hold inside
//!   the encrypted stream (idleness is measured on the socket beneath it).
//!
//! HTTP/1.1 only: the CLI, browsers and tools speak it, and it keeps the bounds above
//! complete.

mod body_deadline;
mod idle;
pub mod tls;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use crate::config::{Limits, MAX_CONNECTIONS_ENV};
use tls::TlsIdentity;

/// How long connections in flight may finish once the api stops.
const DRAIN: Duration = Duration::from_secs(10);
/// How long to wait after a failed accept (e.g. out of file descriptors) before the next.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `app` on `listener` within `limits` (over TLS when given an identity) until
/// `shutdown`, then lets the connections in flight finish (for at most [`DRAIN`]).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    tls: Option<TlsIdentity>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let app = app.layer(axum::middleware::from_fn_with_state(limits.body_timeout, body_deadline::enforce));
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let refusal = refusal(limits.max_connections);
    let (closing, closing_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        match slots.clone().try_acquire_owned() {
            Ok(slot) => {
                tokio::spawn(accepted(stream, tls.clone(), app.clone(), limits, slot, closing_rx.clone()));
            }
            Err(_) => {
                lading_runtime::metrics::refused_connection();
                // Best effort, without waiting: the socket's buffer takes a short answer.
                let _ = stream.try_write(&refusal);
            }
        }
    }
    drop(listener);
    let _ = closing.send(true);
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(DRAIN, slots.acquire_many(all)).await.is_err() {
        tracing::warn!("connections still open after {DRAIN:?}; leaving them");
    }
    Ok(())
}

/// The answer to a connection over the limit.
fn refusal(limit: usize) -> Vec<u8> {
    let body = serde_json::json!({
        "error": format!("the api holds {limit} connections, its limit ({MAX_CONNECTIONS_ENV}); try again"),
        "details": [],
    })
    .to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Serves one accepted connection, after its TLS handshake when the api has a
/// certificate; holds its slot until it closes.
async fn accepted(
    stream: TcpStream,
    tls: Option<TlsIdentity>,
    app: Router,
    limits: Limits,
    slot: OwnedSemaphorePermit,
    closing: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let stream = idle::IdleTimeout::new(stream, limits.idle_timeout);
    let Some(tls) = tls else {
        return connection(stream, app, limits, slot, closing).await;
    };
    match tokio::time::timeout(limits.header_timeout, tls.acceptor().accept(stream)).await {
        Ok(Ok(stream)) => connection(stream, app, limits, slot, closing).await,
        Ok(Err(error)) => tracing::debug!(%error, "TLS handshake failed"),
        Err(_) => tracing::debug!(timeout = ?limits.header_timeout, "TLS handshake timed out"),
    }
}

/// Serves HTTP/1.1 on one connection, holding its slot until it closes.
async fn connection<S>(
    stream: S,
    app: Router,
    limits: Limits,
    _slot: OwnedSemaphorePermit,
    mut closing: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(stream);
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).keep_alive(true);
    let connection = builder.serve_connection(io, TowerToHyperService::new(app));
    let mut connection = std::pin::pin!(connection);
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection closed");
                }
                return;
            }
            changed = closing.changed() => {
                connection.as_mut().graceful_shutdown();
                if changed.is_err() {
                    // The server is gone: finish this connection without listening further.
                    let _ = connection.as_mut().await;
                    return;
                }
            }
        }
    }
}
