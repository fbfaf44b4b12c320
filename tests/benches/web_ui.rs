//! Web UI speed in a real browser (headless Chromium over WebDriver): time to first
//! render and to interactive of the pipeline page and of the freight timeline, for a
//! project with 600 stages (200 chains test → uat → prod) and 1,000 freight, each stage
//! holding a freight with a finished promotion. Times come from the page's own
//! Performance API marks (`lading:<page>:render`, `lading:<page>:interactive`),
//! milliseconds since navigation start of a full page load, read over WebDriver.
//!
//! `cargo bench -p lading-tests --bench web_ui [-- ROUNDS]`

use std::time::{Duration, Instant};

use lading_domain::{Freight, GitCommit, freight_id};
use lading_events::catalog::{PromotionCreatedV2, PromotionStartedV1, PromotionSucceededV1, PromotionTrigger};
use lading_events::{Event, now_ms};
use lading_tests::browser::Browser;
use lading_tests::sandbox::{ADMIN_TOKEN, Sandbox};
use lading_tests::wait;

const CHAINS: usize = 200;
const FREIGHT: usize = 1_000;
const GOAL_MS: f64 = 1_000.0;

fn manifests() -> String {
    let mut yaml = String::from(
        "apiVersion: lading.dev/v1alpha1\nkind: Project\nmetadata:\n  name: bench\n---\n\
         apiVersion: lading.dev/v1alpha1\nkind: Warehouse\nmetadata:\n  name: app\n  namespace: bench\nspec:\n  interval: 1h\n  subscriptions:\n  - git:\n      repoURL: file:///nonexistent/app.git\n      branch: main\n",
    );
    let steps = "  promotionTemplate:\n    spec:\n      steps:\n      - uses: git-clone\n        config:\n          repoURL: file:///nonexistent/gitops.git\n          checkout:\n          - branch: main\n            path: ./out\n";
    for chain in 0..CHAINS {
        for (stage, source) in [
            (format!("test-{chain}"), "direct: true".to_owned()),
            (format!("uat-{chain}"), format!("stages: [test-{chain}]")),
            (format!("prod-{chain}"), format!("stages: [uat-{chain}]")),
        ] {
            yaml.push_str(&format!(
                "---\napiVersion: lading.dev/v1alpha1\nkind: Stage\nmetadata:\n  name: {stage}\n  namespace: bench\nspec:\n  requestedFreight:\n  - origin:\n      kind: Warehouse\n      name: app\n    sources:\n      {source}\n{steps}"
            ));
        }
    }
    yaml
}

/// Publishes `FREIGHT` freight and, in every stage, one succeeded promotion.
async fn seed(sandbox: &Sandbox) {
    let bus = sandbox.nats.bus("bench").await;
    let trace = lading_bus::tracing_context::new_root();
    let mut ids = Vec::new();
    for n in 0..FREIGHT {
        let mut freight = Freight::from_warehouse("app");
        freight.commits.push(GitCommit {
            repo_url: "file:///nonexistent/app.git".into(),
            id: format!("{:040x}", n + 1),
            branch: "main".into(),
            message: format!("change {n}"),
            ..GitCommit::default()
        });
        let id = freight_id::compute(&freight).unwrap();
        bus.announce_freight("bench", &id, &mut freight, &trace).await.unwrap();
        ids.push(id);
    }
    let mut stage_number = 0;
    for chain in 0..CHAINS {
        for stage in [format!("test-{chain}"), format!("uat-{chain}"), format!("prod-{chain}")] {
            let id = ids[FREIGHT - 1 - (stage_number % 50)].to_string();
            stage_number += 1;
            let promotion = format!("{stage}.seed");
            let (project, at) = ("bench".to_owned(), now_ms());
            for event in [
                Event::PromotionCreatedV2(PromotionCreatedV2 {
                    project: project.clone(),
                    stage: stage.clone(),
                    promotion: promotion.clone(),
                    freight_id: id.clone(),
                    trigger: PromotionTrigger::Manual,
                    actor: "bench".into(),
                    created_at_ms: at,
                }),
                Event::PromotionStarted(PromotionStartedV1 {
                    project: project.clone(),
                    stage: stage.clone(),
                    promotion: promotion.clone(),
                    freight_id: id.clone(),
                    started_at_ms: at,
                }),
                Event::PromotionSucceeded(PromotionSucceededV1 {
                    project: project.clone(),
                    stage: stage.clone(),
                    promotion: promotion.clone(),
                    freight_id: id.clone(),
                    commit: format!("{:040x}", stage_number),
                    finished_at_ms: at,
                }),
            ] {
                bus.publish(&event, &trace).await.unwrap();
            }
        }
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let rounds: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(5);
    let sandbox = Sandbox::start_without_promoter().await;
    let started = Instant::now();
    sandbox.apply(&manifests()).await;
    seed(&sandbox).await;
    wait::until("the api to show every freight and stage's promotion", Duration::from_secs(120), || async {
        let freight = sandbox.freight("bench").await.len();
        let (_, stages) = sandbox.get("/api/v1/projects/bench/stages").await;
        let holding = stages["items"]
            .as_array()
            .map(|items| items.iter().filter(|s| s["status"]["currentFreight"].is_array()).count())
            .unwrap_or(0);
        if freight == FREIGHT && holding == CHAINS * 3 {
            Ok(())
        } else {
            Err(format!("{freight} freight, {holding} stages holding one"))
        }
    })
    .await;
    println!("seeded {} stages and {FREIGHT} freight in {:.1?}", CHAINS * 3, started.elapsed());

    let browser = Browser::start().await;
    browser.login(&sandbox.api_url, ADMIN_TOKEN).await;
    for (page, hash, ready) in [
        ("pipeline", "#/p/bench", ".card[data-stage=\"prod-199\"]"),
        ("timeline", "#/p/bench/freight", "#freight-rows .row"),
    ] {
        let (mut data, mut render, mut interactive) = (Vec::new(), Vec::new(), Vec::new());
        // One warm-up load, then the measured rounds.
        for round in 0..=rounds {
            browser.open(&format!("{}/{hash}", sandbox.api_url)).await;
            let d = browser.mark(&format!("lading:{page}:data")).await;
            let r = browser.mark(&format!("lading:{page}:render")).await;
            let i = browser.mark(&format!("lading:{page}:interactive")).await;
            assert!(browser.count(ready).await > 0, "{page} shows {ready}");
            if round > 0 {
                data.push(d);
                render.push(r);
                interactive.push(i);
            }
        }
        browser.screenshot(&format!("bench-{page}")).await;
        // Where the last load spent its time: the page's requests, from Resource Timing.
        let requests = browser
            .eval(
                "return performance.getEntriesByType('resource').filter(e => e.name.includes('/api/')).map(e => \
                 `${new URL(e.name).pathname.split('/').pop()} ${e.startTime.toFixed(0)}–${e.responseEnd.toFixed(0)} ms \
                 (${(e.transferSize / 1024).toFixed(0)} KiB)`).join(', ')",
            )
            .await;
        println!("{page:<9} requests of the last load: {}", requests.as_str().unwrap_or_default());
        let (d, r, i) = (median(data), median(render), median(interactive));
        println!(
            "{page:<9} 600 stages, 1,000 freight: first render {r:>6.0} ms, interactive {i:>6.0} ms (median of {rounds}; goal < {GOAL_MS:.0} ms each: {}); its data arrived at {d:.0} ms",
            if r < GOAL_MS && i < GOAL_MS { "met" } else { "MISSED" }
        );
    }
}
