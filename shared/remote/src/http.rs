//! HTTP calls within budgets, on `ureq`: connect (name resolution, TCP and TLS), idle
//! (each read or write of the socket) and total (the whole call, redirects and body
//! included) timeouts, and bodies read up to a limit and refused beyond it.

use lading_domain::limits::{Limit, TimeoutKind, Timeouts};
use ureq::config::ConfigBuilder;
use ureq::typestate::AgentScope;

use crate::RemoteError;

/// An agent configuration with `timeouts`, answering every status as a response (not an
/// error) and following up to 5 redirects; callers add what else they need.
pub fn agent_config(timeouts: &Timeouts) -> ConfigBuilder<AgentScope> {
    ureq::Agent::config_builder()
        .timeout_resolve(Some(timeouts.connect.value))
        .timeout_connect(Some(timeouts.connect.value))
        .timeout_per_read(Some(timeouts.idle.value))
        .timeout_per_write(Some(timeouts.idle.value))
        .timeout_global(Some(timeouts.total.value))
        .http_status_as_error(false)
        .max_redirects(5)
}

/// Which of our timeouts a `ureq` timeout is.
fn kind_of(timeout: ureq::Timeout) -> TimeoutKind {
    match timeout {
        ureq::Timeout::Resolve | ureq::Timeout::Connect => TimeoutKind::Connect,
        ureq::Timeout::Global | ureq::Timeout::PerCall => TimeoutKind::Total,
        _ => TimeoutKind::Idle,
    }
}

/// Explains a failed call doing `action` (e.g. `GET <redacted url>`).
pub fn explain(action: &str, error: ureq::Error, timeouts: &Timeouts) -> RemoteError {
    match error {
        ureq::Error::Timeout(timeout) => {
            let kind = kind_of(timeout);
            RemoteError::Timeout { action: action.to_owned(), kind, limit: timeouts.of(kind) }
        }
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
            RemoteError::Timeout { action: action.to_owned(), kind: TimeoutKind::Idle, limit: timeouts.idle }
        }
        other => RemoteError::Failed { action: action.to_owned(), message: other.to_string() },
    }
}

/// Reads a response body of at most `limit` bytes. A body announced or found larger is
/// refused after reading at most `limit` bytes of it.
pub fn read_body(
    response: &mut ureq::http::Response<ureq::Body>,
    limit: Limit<u64>,
    action: &str,
    timeouts: &Timeouts,
) -> Result<Vec<u8>, RemoteError> {
    let too_large = || RemoteError::TooLarge { action: action.to_owned(), limit };
    if response.body().content_length().is_some_and(|length| !limit.allows(length)) {
        return Err(too_large());
    }
    match response.body_mut().with_config().limit(limit.value).read_to_vec() {
        Ok(bytes) => Ok(bytes),
        Err(ureq::Error::BodyExceedsLimit(_)) => Err(too_large()),
        Err(error) => Err(explain(action, error, timeouts)),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::time::{Duration, Instant};

    use super::*;

    fn timeouts(idle_ms: u64, total_ms: u64) -> Timeouts {
        Timeouts {
            connect: Limit::new(Duration::from_secs(5), "CONNECT"),
            idle: Limit::new(Duration::from_millis(idle_ms), "IDLE"),
            total: Limit::new(Duration::from_millis(total_ms), "TOTAL"),
        }
    }

    /// A server on loopback that answers one connection with `serve`.
    fn server(serve: impl FnOnce(std::net::TcpStream) + Send + 'static) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request);
            serve(stream);
        });
        url
    }

    fn get(url: &str, timeouts: &Timeouts, limit: u64) -> Result<Vec<u8>, RemoteError> {
        let agent: ureq::Agent = agent_config(timeouts).build().into();
        let action = format!("GET {url}");
        let mut response = agent.get(url).call().map_err(|e| explain(&action, e, timeouts))?;
        read_body(&mut response, Limit::new(limit, "LIMIT"), &action, timeouts)
    }

    #[test]
    fn a_server_that_goes_silent_runs_into_the_idle_timeout() {
        let url = server(|stream| {
            std::thread::sleep(Duration::from_secs(3));
            drop(stream);
        });
        let started = Instant::now();
        let error = get(&url, &timeouts(200, 2000), 100).unwrap_err();
        assert_eq!(error.to_string(), format!("GET {url}: no data for 200ms (IDLE)"));
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    }

    #[test]
    fn a_dripping_server_runs_into_the_total_timeout() {
        let url = server(|mut stream| {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n");
            for _ in 0..1000 {
                if stream.write_all(b"x").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let error = get(&url, &timeouts(500, 400), 10_000).unwrap_err();
        assert_eq!(error.to_string(), format!("GET {url}: not finished within 400ms (TOTAL)"));
    }

    #[test]
    fn a_body_past_the_limit_is_refused_whether_announced_or_not() {
        let announced = server(|mut stream| {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\n");
        });
        let error = get(&announced, &timeouts(1000, 2000), 100).unwrap_err();
        assert_eq!(error.to_string(), format!("GET {announced}: the answer is larger than 100 B (LIMIT)"));
        let chunked = server(|mut stream| {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n");
            let _ = stream.write_all(&[b'x'; 5000]);
        });
        let error = get(&chunked, &timeouts(1000, 2000), 100).unwrap_err();
        assert!(matches!(error, RemoteError::TooLarge { .. }), "{error}");
        let small = server(|mut stream| {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello");
        });
        assert_eq!(get(&small, &timeouts(1000, 2000), 100).unwrap(), b"hello");
    }
}
