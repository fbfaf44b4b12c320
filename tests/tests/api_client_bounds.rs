//! Clients that hold the api: hundreds of raw TCP connections sending half a request
//! (half the headers, or the headers and part of a body, or a body dripped byte by
//! byte) and stalling, a connection kept alive and left silent, a client that stops
//! reading a large answer, and more connections than the api takes. Each is closed
//! within its timeout (or refused at once), and a normal request succeeds meanwhile.

use std::time::Duration;

use lading_api::config::Limits;
use lading_runtime::{Readiness, Shutdown};
use lading_tests::nats::TestNats;
use lading_tests::wait;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

const HEADER_TIMEOUT: Duration = Duration::from_secs(1);
const BODY_TIMEOUT: Duration = Duration::from_secs(2);
/// How late after its timeout a connection may close (scheduling on a busy machine).
const SLACK: Duration = Duration::from_secs(2);

/// An api with short client timeouts, on its own NATS.
struct Api {
    addr: std::net::SocketAddr,
    _nats: TestNats,
    shutdown: Shutdown,
}

impl Drop for Api {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn api(max_connections: usize, idle_timeout: Duration) -> Api {
    let nats = TestNats::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = lading_api::Config::new(nats.url(), addr);
    config.admin_token = Some(lading_api::config::AdminToken(lading_tests::sandbox::ADMIN_TOKEN.to_owned()));
    config.limits = Limits {
        header_timeout: HEADER_TIMEOUT,
        body_timeout: BODY_TIMEOUT,
        idle_timeout,
        max_connections,
        ..Limits::default()
    };
    let shutdown = Shutdown::new();
    let (readiness, stop) = (Readiness::new(), shutdown.clone());
    tokio::spawn(async move { lading_api::serve(listener, config, readiness, stop).await.unwrap() });
    let api = Api { addr, _nats: nats, shutdown };
    wait::until("the api to be ready", Duration::from_secs(30), || async {
        match get(api.addr, "/readyz").await {
            Ok(200) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    api
}

/// `GET path` on a fresh connection: its status.
async fn get(addr: std::net::SocketAddr, path: &str) -> Result<u16, String> {
    let response = lading_tests::http_client::client()
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    Ok(response.status().as_u16())
}

/// Opens a connection and sends `bytes`.
async fn send(addr: std::net::SocketAddr, bytes: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    stream
}

/// Reads until the api closes the connection: what it sent, and when it closed.
async fn until_closed(mut stream: TcpStream, deadline: Duration) -> Result<(String, Instant), String> {
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        match tokio::time::timeout(deadline, stream.read(&mut buffer)).await {
            Err(_) => return Err(format!("still open after {deadline:?}")),
            Ok(Ok(0)) | Ok(Err(_)) => return Ok((String::from_utf8_lossy(&answer).into_owned(), Instant::now())),
            Ok(Ok(n)) => answer.extend_from_slice(&buffer[..n]),
        }
    }
}

/// Waits for every connection to be closed, each within `timeout` (plus slack) of
/// `started`; returns what each was answered and the latest close.
async fn all_closed(streams: Vec<TcpStream>, started: Instant, timeout: Duration) -> (Vec<String>, Duration) {
    let tasks: Vec<_> = streams.into_iter().map(|s| tokio::spawn(until_closed(s, timeout + SLACK * 2))).collect();
    let mut answers = Vec::new();
    let mut latest = Duration::ZERO;
    for task in tasks {
        let (answer, closed) = task.await.unwrap().unwrap_or_else(|e| panic!("a slow client: {e}"));
        latest = latest.max(closed - started);
        answers.push(answer);
    }
    assert!(latest <= timeout + SLACK, "the last slow client was closed after {latest:?}");
    (answers, latest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clients_sending_half_their_headers_are_closed_within_the_header_timeout() {
    let api = api(1024, Duration::from_secs(5)).await;
    // Given 1000 connections that send half their request headers and stall,
    let started = Instant::now();
    let mut slow = Vec::new();
    for _ in 0..1000 {
        slow.push(send(api.addr, b"POST /api/v1/apply HTTP/1.1\r\nHost: api\r\nContent-Le").await);
    }
    // when a normal request comes meanwhile, then it is answered,
    let before = Instant::now();
    assert_eq!(get(api.addr, "/readyz").await, Ok(200));
    eprintln!("a normal request during the flood took {:?}", before.elapsed());
    // and every slow connection is closed within the header timeout.
    let (_, latest) = all_closed(slow, started, HEADER_TIMEOUT).await;
    eprintln!("1000 half-header clients closed, the last after {latest:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn clients_holding_half_sent_bodies_are_answered_408_within_the_body_timeout() {
    let api = api(1024, Duration::from_secs(5)).await;
    // Given 500 connections that send their headers and 100 of 100000 body bytes, and
    // one that drips its body a byte every 100ms (each byte in time, the whole not),
    let started = Instant::now();
    let head = format!(
        "POST /api/v1/apply HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer {}\r\nContent-Length: 100000\r\n\r\n",
        lading_tests::sandbox::ADMIN_TOKEN
    );
    let head = head.as_bytes();
    let mut slow = Vec::new();
    for _ in 0..500 {
        let mut request = head.to_vec();
        request.extend_from_slice(&[b'#'; 100]);
        slow.push(send(api.addr, &request).await);
    }
    let mut dripping = send(api.addr, head).await;
    let (reader, mut writer) = {
        let std = dripping.into_std().unwrap();
        let clone = std.try_clone().unwrap();
        (TcpStream::from_std(std).unwrap(), TcpStream::from_std(clone).unwrap())
    };
    dripping = reader;
    let drip = tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(100));
        for _ in 0..100_000 {
            every.tick().await;
            if writer.write_all(b"#").await.is_err() {
                break;
            }
        }
    });
    slow.push(dripping);
    // when a normal request comes meanwhile, then it is answered,
    assert_eq!(get(api.addr, "/readyz").await, Ok(200));
    // and every slow connection gets a 408 naming the setting, then is closed.
    let (answers, latest) = all_closed(slow, started, BODY_TIMEOUT).await;
    drip.abort();
    for answer in &answers {
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("LADING_API_BODY_TIMEOUT"), "{answer}");
    }
    eprintln!("501 slow-body clients answered 408 and closed, the last after {latest:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kept_alive_connection_left_silent_is_closed() {
    let api = api(1024, Duration::from_secs(5)).await;
    // Given a connection that made one request and keeps quiet,
    let mut stream = send(api.addr, b"GET /healthz HTTP/1.1\r\nHost: api\r\n\r\n").await;
    let mut buffer = [0u8; 1024];
    let n = stream.read(&mut buffer).await.unwrap();
    assert!(String::from_utf8_lossy(&buffer[..n]).starts_with("HTTP/1.1 200"));
    let answered = Instant::now();
    // then the api closes it within the header timeout.
    all_closed(vec![stream], answered, HEADER_TIMEOUT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connections_over_the_limit_are_refused_at_once() {
    let api = api(16, Duration::from_secs(5)).await;
    // Given 16 slow connections holding every slot,
    let started = Instant::now();
    let mut slow = Vec::new();
    for _ in 0..16 {
        slow.push(send(api.addr, b"GET /healthz HTTP/1.1\r\nHo").await);
    }
    // when one more connects, then it is answered 503 and closed at once,
    let extra = TcpStream::connect(api.addr).await.unwrap();
    let (answer, closed) = until_closed(extra, Duration::from_secs(5)).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("LADING_API_MAX_CONNECTIONS"), "{answer}");
    assert!(closed - started < HEADER_TIMEOUT, "refused after {:?}", closed - started);
    // and once the slow ones time out, requests are served again.
    all_closed(slow, started, HEADER_TIMEOUT).await;
    wait::until("a normal request to be served", Duration::from_secs(10), || async {
        match get(api.addr, "/readyz").await {
            Ok(200) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_that_stops_reading_its_answer_is_cut_off_after_the_idle_timeout() {
    // Given an api that takes one connection at a time, and stages whose list is 8 MB,
    let api = api(1, Duration::from_secs(1)).await;
    let big = "x".repeat(800 * 1024);
    let mut manifests = "apiVersion: lading.dev/v1alpha1\nkind: Project\nmetadata:\n  name: demo\n".to_owned();
    for i in 0..10 {
        manifests.push_str(&format!(
            "---\napiVersion: lading.dev/v1alpha1\nkind: Stage\nmetadata:\n  name: s{i}\n  namespace: demo\nspec:\n  requestedFreight:\n  - origin: {{kind: Warehouse, name: app}}\n    sources: {{direct: true}}\n  promotionTemplate:\n    spec:\n      vars:\n      - name: big\n        value: {big}\n"
        ));
    }
    wait::until("the stages to be applied", Duration::from_secs(30), || async {
        let response = lading_tests::sandbox::authorized_client()
            .post(format!("http://{}/api/v1/apply", api.addr))
            .body(manifests.clone())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if response.status() == 200 { Ok(()) } else { Err(response.status().to_string()) }
    })
    .await;
    // when a client with a small receive buffer asks for them and never reads,
    let stalled = wait::until("the stalled client to connect", Duration::from_secs(10), || async {
        let socket = tokio::net::TcpSocket::new_v4().map_err(|e| e.to_string())?;
        socket.set_recv_buffer_size(4096).map_err(|e| e.to_string())?;
        let mut stream = socket.connect(api.addr).await.map_err(|e| e.to_string())?;
        stream
            .write_all(
                format!(
                    "GET /api/v1/projects/demo/stages HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer {}\r\n\r\n",
                    lading_tests::sandbox::ADMIN_TOKEN
                )
                .as_bytes(),
            )
            .await
            .map_err(|e| e.to_string())?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await.map_err(|e| e.to_string())?;
        if &head == b"HTTP/1.1 200" { Ok(stream) } else { Err(String::from_utf8_lossy(&head).into_owned()) }
    })
    .await;
    let stalled_at = Instant::now();
    // then the api gives up on it after the idle timeout, freeing its one slot,
    wait::until("another request to be served", Duration::from_secs(10), || async {
        match get(api.addr, "/readyz").await {
            Ok(200) => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let freed = stalled_at.elapsed();
    assert!(freed >= Duration::from_secs(1) && freed <= Duration::from_secs(1) + SLACK, "freed after {freed:?}");
    // and the stalled client, reading at last, gets only part of the answer.
    let (rest, _) = until_closed(stalled, Duration::from_secs(10)).await.unwrap();
    assert!(rest.len() < 8 * 800 * 1024, "{} bytes arrived", rest.len());
}
