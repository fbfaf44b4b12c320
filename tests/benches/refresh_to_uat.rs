//! Time from `lading refresh warehouse` (the refresh request) to the new freight being
//! current in `uat`, through discovery, two promotions with real Git pushes and one
//! verification, over real NATS. Prints min / p50 / p90 / max for one and two replicas,
//! and p50 with one replica per service against the goal of 30 ms.
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

async fn measure(replicas: usize, iterations: usize) -> Vec<Duration> {
    let sandbox = Sandbox::start(replicas).await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let first = app.commit("app.txt", "0", "initial");
    sandbox.apply(&quickstart(&app.url(), &gitops.url(), "1h")).await;
    sandbox.wait_current_in("demo", &first, "uat", Duration::from_secs(60)).await;
    let mut samples = Vec::with_capacity(iterations);
    for i in 1..=iterations {
        let commit = app.commit("app.txt", &i.to_string(), &format!("change {i}"));
        let started = Instant::now();
        sandbox.refresh("demo", "app").await;
        while !current_in_uat(&sandbox, &commit).await {
            assert!(started.elapsed() < Duration::from_secs(60), "freight {i} did not reach uat");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        samples.push(started.elapsed());
    }
    samples
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
    let (p50, p90) = report("1 replica per service ", measure(1, iterations).await);
    println!(
        "  1 replica per service: p50 {:.1}ms (p90 {:.1}ms)   goal p50 <= {}ms: {}",
        p50.as_secs_f64() * 1000.0,
        p90.as_secs_f64() * 1000.0,
        P50_GOAL.as_millis(),
        if p50 <= P50_GOAL { "met" } else { "NOT met" }
    );
    report("2 replicas per service", measure(2, iterations).await);
}
