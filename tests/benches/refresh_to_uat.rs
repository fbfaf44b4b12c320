//! Time from `lading refresh warehouse` (the refresh request) to the new freight being
//! current in `uat`, through discovery, two promotions with real Git pushes and one
//! verification, over real NATS. Prints min / p50 / p90 / max for one and two replicas,
//! and p50 with one replica per service against the goal of 30 ms, then where the time of
//! the last refresh went: every event the log stored for it, in order, with the moment it
//! was stored (ms after the refresh request) and the gap since the one before.
//!
//! With `LADING_BENCH_NATS_TRACE=1` it also prints every NATS message of the last
//! refresh (publishes, deliveries, acknowledgements, KV writes, API calls), as a
//! subscription to all subjects saw them: where the round trips of each hop go.
//!
//! `cargo bench -p lading-tests --bench refresh_to_uat [-- ITERATIONS]`

use std::time::{Duration, Instant};

use lading_tests::git::Repo;
use lading_tests::sandbox::{Sandbox, quickstart};

/// p50 of refresh → current in uat with one replica per service.
const P50_GOAL: Duration = Duration::from_millis(30);

async fn current_in_uat(sandbox: &Sandbox, commit: &str) -> bool {
    sandbox
        .freight("demo")
        .await
        .iter()
        .any(|f| f["commits"][0]["id"] == commit && f["status"]["currentlyIn"].get("uat").is_some())
}

fn wall_ms() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Every event stored in the log at or after `since_ms` (wall clock): when, its subject.
async fn timeline(sandbox: &Sandbox, since_ms: f64) -> Vec<(f64, String)> {
    let js = async_nats::jetstream::new(sandbox.nats.client().await);
    let mut stream = js.get_stream(lading_bus::names::EVENTS_STREAM).await.expect("the events stream");
    let last = stream.info().await.expect("stream info").state.last_sequence;
    let mut events = Vec::new();
    for sequence in (1..=last).rev() {
        let Ok(message) = stream.get_raw_message(sequence).await else { continue };
        let at = message.time.unix_timestamp_nanos() as f64 / 1e6;
        if at < since_ms {
            break;
        }
        events.push((at - since_ms, message.subject.to_string()));
    }
    events.reverse();
    events
}

async fn measure(replicas: usize, iterations: usize) -> Vec<Duration> {
    measure_with_timeline(replicas, iterations).await.0
}

/// The samples, and the timeline of the last refresh.
async fn measure_with_timeline(replicas: usize, iterations: usize) -> (Vec<Duration>, Vec<(f64, String)>) {
    let sandbox = Sandbox::start(replicas).await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let first = app.commit("app.txt", "0", "initial");
    sandbox.apply(&quickstart(&app.url(), &gitops.url(), "1h")).await;
    sandbox.wait_current_in("demo", &first, "uat", Duration::from_secs(60)).await;
    let mut samples = Vec::with_capacity(iterations);
    let mut refreshed_at = 0.0;
    let tracing = std::env::var("LADING_BENCH_NATS_TRACE").is_ok();
    // The api's event stream says when a promotion succeeded; the freight list is read
    // only then, not polled: a list read every few milliseconds would take a share of
    // the two cores from the services it measures.
    let mut succeeded = sandbox_events(&sandbox, "promotion.succeeded").await;
    for i in 1..=iterations {
        let commit = app.commit("app.txt", &i.to_string(), &format!("change {i}"));
        let trace = if tracing && i == iterations { Some(NatsTrace::start(&sandbox).await) } else { None };
        refreshed_at = wall_ms();
        let started = Instant::now();
        sandbox.refresh("demo", "app").await;
        loop {
            let left = Duration::from_secs(60).saturating_sub(started.elapsed());
            let chunk = tokio::time::timeout(left, succeeded.chunk()).await;
            let chunk = chunk.unwrap_or_else(|_| panic!("freight {i} did not reach uat")).expect("the event stream");
            let chunk = chunk.expect("the event stream stays open");
            if !String::from_utf8_lossy(&chunk).contains("\"stage\":\"uat\"") {
                continue;
            }
            // The api's read model applies the event it has just published, at once.
            while !current_in_uat(&sandbox, &commit).await {
                assert!(started.elapsed() < Duration::from_secs(60), "freight {i} did not reach uat");
                tokio::task::yield_now().await;
            }
            break;
        }
        samples.push(started.elapsed());
        if let Some(trace) = trace {
            trace.print(started).await;
        }
    }
    let events = timeline(&sandbox, refreshed_at).await;
    (samples, events)
}

/// The project's public events of `kind` as the api streams them, from now on.
async fn sandbox_events(sandbox: &Sandbox, kind: &str) -> reqwest::Response {
    let url = format!("{}/api/v1/events?project=demo&type={kind}", sandbox.api_url);
    let mut response = lading_tests::sandbox::authorized_client().get(url).send().await.expect("the event stream");
    assert_eq!(response.status(), 200);
    // The first chunk is the comment the api sends once the stream is open.
    response.chunk().await.expect("the event stream opens");
    response
}

/// One message seen: when, its subject, its reply subject, its size.
type Seen = (Instant, String, Option<String>, usize);

/// Every NATS message of one refresh, seen by a subscription to all subjects.
struct NatsTrace {
    task: tokio::task::JoinHandle<Vec<Seen>>,
    stop: tokio::sync::oneshot::Sender<()>,
}

impl NatsTrace {
    async fn start(sandbox: &Sandbox) -> NatsTrace {
        use futures::StreamExt;
        let client = sandbox.nats.client().await;
        let mut all = client.subscribe(">").await.expect("subscribe");
        client.flush().await.expect("flush");
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let mut seen = Vec::new();
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    Some(m) = all.next() => seen.push((Instant::now(), m.subject.to_string(), m.reply.map(|r| r.to_string()), m.payload.len())),
                }
            }
            drop(client);
            seen
        });
        NatsTrace { task, stop }
    }

    async fn print(self, started: Instant) {
        let _ = self.stop.send(());
        let seen = self.task.await.expect("trace");
        let mut before = started;
        for (at, subject, reply, len) in seen {
            if at < started {
                continue;
            }
            println!(
                "    NATS {:>8.3} (+{:>6.3}) {subject} {} {len}B",
                (at - started).as_secs_f64() * 1000.0,
                (at - before).as_secs_f64() * 1000.0,
                reply.unwrap_or_default()
            );
            before = at;
        }
    }
}

/// Prints the figures; returns p50 and p90.
fn report(label: &str, mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label}: n={} min={:.1}ms p50={:.1}ms p90={:.1}ms max={:.1}ms",
        samples.len(),
        ms(samples[0]),
        ms(at(0.5)),
        ms(at(0.9)),
        ms(*samples.last().unwrap()),
    );
    (at(0.5), at(0.9))
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let iterations = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(20);
    println!(
        "refresh -> freight current in uat (discovery, 2 promotions with git push, verification); {}",
        lading_tests::machine::conditions()
    );
    let (samples, events) = measure_with_timeline(1, iterations).await;
    let (p50, p90) = report("1 replica per service ", samples);
    println!(
        "  1 replica per service: p50 {:.1}ms (p90 {:.1}ms)   goal p50 <= {}ms: {}",
        p50.as_secs_f64() * 1000.0,
        p90.as_secs_f64() * 1000.0,
        P50_GOAL.as_millis(),
        if p50 <= P50_GOAL { "met" } else { "NOT met" }
    );
    println!("  where the last refresh's time went (ms after the request the log stored each event; gap):");
    let mut before = 0.0;
    for (at, subject) in &events {
        println!("    {at:>8.1} ms  (+{:>6.1})  {subject}", at - before);
        before = *at;
    }
    report("2 replicas per service", measure(2, iterations).await);
}
