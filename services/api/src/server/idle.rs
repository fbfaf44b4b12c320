//! A connection that fails once a read or a write has waited `timeout` with no byte
//! moving either way: a client that stops reading its answer (or stops sending) cannot
//! hold a connection and its task forever.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

pub struct IdleTimeout<T> {
    inner: T,
    timeout: Duration,
    /// Fires `timeout` after the last progress, once something waits.
    timer: Pin<Box<Sleep>>,
    armed: bool,
}

impl<T> IdleTimeout<T> {
    pub fn new(inner: T, timeout: Duration) -> Self {
        Self { inner, timeout, timer: Box::pin(tokio::time::sleep(timeout)), armed: false }
    }

    fn progressed(&mut self) {
        self.armed = false;
    }

    /// Called when an operation must wait: fails once the wait has lasted `timeout`.
    fn waiting(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.armed {
            self.timer.as_mut().reset(Instant::now() + self.timeout);
            self.armed = true;
        }
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no byte moved for {:?}", self.timeout),
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for IdleTimeout<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                self.progressed();
                Poll::Ready(result)
            }
            Poll::Pending => match self.waiting(cx) {
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                _ => Poll::Pending,
            },
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Ready(result) => {
                self.progressed();
                Poll::Ready(result)
            }
            Poll::Pending => match self.waiting(cx) {
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                _ => Poll::Pending,
            },
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_flush(cx) {
            Poll::Ready(result) => {
                self.progressed();
                Poll::Ready(result)
            }
            Poll::Pending => match self.waiting(cx) {
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                _ => Poll::Pending,
            },
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_stops_reading_fails_the_write_after_the_timeout() {
        // Given a connection whose peer never reads (a 1 KiB pipe),
        let (ours, _theirs) = tokio::io::duplex(1024);
        let mut conn = IdleTimeout::new(ours, Duration::from_secs(30));
        let started = Instant::now();
        // when we write more than it holds, then the write fails after 30s of no progress.
        let error = conn.write_all(&[0u8; 4096]).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn bytes_moving_keep_a_slow_connection_open() {
        // Given a peer that sends a byte every 20s (under the 30s timeout),
        let (ours, mut theirs) = tokio::io::duplex(1024);
        let mut conn = IdleTimeout::new(ours, Duration::from_secs(30));
        let drip = tokio::spawn(async move {
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_secs(20)).await;
                theirs.write_all(b"x").await.unwrap();
            }
            theirs
        });
        // when we read them, then every read succeeds though 100s pass,
        let mut byte = [0u8; 1];
        for _ in 0..5 {
            conn.read_exact(&mut byte).await.unwrap();
        }
        let _silent = drip.await.unwrap();
        // and a peer that then stays silent times the read out.
        assert_eq!(conn.read_exact(&mut byte).await.unwrap_err().kind(), io::ErrorKind::TimedOut);
    }
}
