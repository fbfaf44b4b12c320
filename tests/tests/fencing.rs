//! The guarantees of the promotion queue under faults, each with the guard that holds
//! it: a replica that lost its stage's lease changes nothing more (the fence); an abort
//! and a push are decided once (the claim); a promotion never runs twice at once (the
//! lease) nor out of order (the queue head); a promotion that can never run is
//! dead-lettered, and the stage's queue goes on.

use std::time::Duration;

use lading_bus::names::{DEAD_LETTER_STREAM, LEASES_BUCKET};
use lading_events::Event;
use lading_events::catalog::{PromotionCreatedV1, PromotionTrigger};
use lading_tests::gate::Gate;
use lading_tests::git::Repo;
use lading_tests::sandbox::{Sandbox, SandboxOptions};
use lading_tests::wait;
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(60);

/// A project whose stage `test` takes freight straight from the warehouse and calls the
/// gate (named after the freight) before its push, or after it.
fn gated_pipeline(app: &str, gitops: &str, gate: &str, gate_after_push: bool, auto: bool) -> String {
    let gate_step = format!(
        "      - uses: http\n        config:\n          url: {gate}/${{{{ ctx.targetFreight.name }}}}\n          timeout: 10m\n"
    );
    let (before, after) = if gate_after_push { (String::new(), gate_step) } else { (gate_step, String::new()) };
    format!(
        r#"apiVersion: lading.dev/v1alpha1
kind: Project
metadata:
  name: demo
spec:
  promotionPolicies:
  - stageSelector: {{name: test}}
    autoPromotionEnabled: {auto}
---
apiVersion: lading.dev/v1alpha1
kind: Warehouse
metadata:
  name: app
  namespace: demo
spec:
  interval: 1h
  subscriptions:
  - git: {{repoURL: "{app}", branch: main}}
---
apiVersion: lading.dev/v1alpha1
kind: Stage
metadata:
  name: test
  namespace: demo
spec:
  requestedFreight:
  - origin: {{kind: Warehouse, name: app}}
    sources: {{direct: true}}
  promotionTemplate:
    spec:
      steps:
      - uses: git-clone
        config:
          repoURL: "{gitops}"
          checkout: [{{branch: stage/test, create: true, path: ./out}}]
      - uses: yaml-update
        config:
          path: ./out/values.yaml
          updates: [{{key: freight, value: "${{{{ ctx.targetFreight.name }}}}"}}]
      - uses: git-commit
        config: {{path: ./out, message: "promote ${{{{ ctx.targetFreight.name }}}}"}}
{before}      - uses: git-push
        config: {{path: ./out}}
{after}"#
    )
}

async fn stage_promotions(sandbox: &Sandbox) -> Vec<Value> {
    let (_, stages) = sandbox.get("/api/v1/projects/demo/stages").await;
    let test = stages["items"].as_array().unwrap().iter().find(|s| s["metadata"]["name"] == "test").cloned();
    test.and_then(|s| s["status"]["promotions"].as_array().cloned()).unwrap_or_default()
}

async fn wait_phase(sandbox: &Sandbox, promotion: &str, phase: &str) -> Value {
    wait::until(&format!("{promotion} to be {phase}"), TIMEOUT, || async {
        let found = stage_promotions(sandbox).await.into_iter().find(|p| p["name"] == promotion);
        match found {
            Some(p) if p["status"]["phase"] == phase => Ok(p),
            other => Err(format!("{other:?}")),
        }
    })
    .await
}

async fn only_promotion(sandbox: &Sandbox) -> String {
    wait::until("a promotion", TIMEOUT, || async {
        let promotions = stage_promotions(sandbox).await;
        promotions.first().map(|p| p["name"].as_str().unwrap().to_owned()).ok_or_else(|| "none".to_owned())
    })
    .await
}

async fn leases(sandbox: &Sandbox) -> async_nats::jetstream::kv::Store {
    sandbox.nats.bus("test").await.jetstream().get_key_value(LEASES_BUCKET).await.unwrap()
}

async fn wait_lease_free(sandbox: &Sandbox) {
    let store = leases(sandbox).await;
    wait::until("the stage's lease to be free", TIMEOUT, || async {
        match store.get("promotion.demo.test").await.unwrap() {
            None => Ok(()),
            Some(holder) => Err(String::from_utf8_lossy(&holder).into_owned()),
        }
    })
    .await;
}

/// A sandbox running the gated pipeline on one freight, its promotion held at the gate
/// (before the push, or after it).
struct Held {
    sandbox: Sandbox,
    gate: Gate,
    gitops: Repo,
    promotion: String,
}

async fn held_promotion(options: SandboxOptions, gate_after_push: bool) -> Held {
    let sandbox = Sandbox::start_with_options(options).await;
    let gate = Gate::start().await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    app.commit("app.txt", "v1", "first");
    sandbox.apply(&gated_pipeline(&app.url(), &gitops.url(), gate.base(), gate_after_push, true)).await;
    gate.wait_for_waiting(1, TIMEOUT).await;
    let promotion = only_promotion(&sandbox).await;
    Held { sandbox, gate, gitops, promotion }
}

fn replicas(n: usize) -> SandboxOptions {
    SandboxOptions { replicas: n, ..SandboxOptions::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_that_lost_its_lease_pushes_nothing_and_the_promotion_finishes_once() {
    // Given a promotion held just before its push,
    let Held { sandbox, gate, gitops, promotion } = held_promotion(replicas(1), false).await;
    // when another holder takes the stage's lease (as after an outage longer than its TTL),
    let store = leases(&sandbox).await;
    store.delete("promotion.demo.test").await.unwrap();
    store.create("promotion.demo.test", "another-replica".into()).await.unwrap();
    wait::until("the runner to notice its lease is gone", TIMEOUT, || async {
        let lost = lading_runtime::metrics::value("lading_bus_leases_lost_total", &[]);
        if lost >= 1 { Ok(()) } else { Err("not yet".to_owned()) }
    })
    .await;
    gate.set_open(true);
    // then it stops before the push and records nothing,
    wait::until("the run to stop", TIMEOUT, || async {
        let stopped = lading_runtime::metrics::value("lading_promoter_lost_turns_total", &[]);
        if stopped >= 1 { Ok(()) } else { Err("not yet".to_owned()) }
    })
    .await;
    assert!(gitops.log("stage/test").is_empty(), "nothing was pushed without the lease");
    let running = stage_promotions(&sandbox).await;
    assert_eq!(running[0]["status"]["phase"], "Running", "no outcome recorded: {running:?}");
    // and once the lease is free, the promotion runs again and finishes with one commit.
    store.delete("promotion.demo.test").await.unwrap();
    wait_phase(&sandbox, &promotion, "Succeeded").await;
    let log = gitops.log("stage/test");
    assert_eq!(log.len(), 1, "{log:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_abort_during_the_step_before_the_push_leaves_git_untouched() {
    let Held { sandbox, gate, gitops, promotion } = held_promotion(replicas(1), false).await;
    // When the user aborts while the step before the push runs,
    let (status, body) = sandbox.post("/api/v1/projects/demo/stages/test/abort", "").await;
    assert_eq!(status, 200, "{body}");
    gate.set_open(true);
    // then the promotion ends Aborted and Git never sees its commit.
    let aborted = wait_phase(&sandbox, &promotion, "Aborted").await;
    assert_eq!(aborted["status"]["message"], "aborted by admin");
    wait_lease_free(&sandbox).await;
    assert!(gitops.log("stage/test").is_empty(), "the push was prevented");
    let phase = stage_promotions(&sandbox).await[0]["status"]["phase"].clone();
    assert_eq!(phase, "Aborted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_abort_after_the_push_is_refused_and_the_promotion_succeeds() {
    // Given a promotion that pushed and is held in its last step,
    let Held { sandbox, gate, gitops, promotion } = held_promotion(replicas(1), true).await;
    assert_eq!(gitops.log("stage/test").len(), 1);
    // when the user aborts, the abort is refused with the reason,
    let (status, body) = sandbox.post("/api/v1/projects/demo/stages/test/abort", "").await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("can no longer be aborted"), "{body}");
    gate.set_open(true);
    // and the promotion ends Succeeded with the commit Git has: the state matches Git.
    let succeeded = wait_phase(&sandbox, &promotion, "Succeeded").await;
    assert_eq!(succeeded["status"]["commit"], gitops.log("stage/test")[0].id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_promotion_delivered_twice_never_runs_twice_at_once() {
    let Held { sandbox, gate, gitops, promotion } = held_promotion(replicas(2), false).await;
    // Given the running promotion's message delivered again (as after a lost ack), to
    // whichever replica takes it,
    let freight = stage_promotions(&sandbox).await[0]["freight"]["name"].as_str().unwrap().to_owned();
    let again = Event::PromotionCreated(PromotionCreatedV1 {
        project: "demo".into(),
        stage: "test".into(),
        promotion: promotion.clone(),
        freight_id: freight,
        trigger: PromotionTrigger::Manual,
        created_at_ms: 1,
    });
    let bus = sandbox.nats.bus("test").await;
    bus.publish(&again, &lading_bus::tracing_context::new_root()).await.unwrap();
    // when it has been looked at (the consumer has nothing pending any more),
    let stream = bus.jetstream().get_stream(lading_bus::names::EVENTS_STREAM).await.unwrap();
    wait::until("the second delivery to be looked at", TIMEOUT, || async {
        let info = stream.consumer_info(lading_promoter::run_queue::CONSUMER).await.map_err(|e| e.to_string())?;
        if info.num_pending == 0 && info.num_redelivered >= 1 { Ok(()) } else { Err(format!("{info:?}")) }
    })
    .await;
    // then only one run is ever at the gate.
    gate.set_open(true);
    wait_phase(&sandbox, &promotion, "Succeeded").await;
    assert_eq!(gate.most_at_once(), 1, "calls: {:?}", gate.calls());
    assert_eq!(gitops.log("stage/test").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn queued_promotions_of_a_stage_run_in_the_order_they_were_created() {
    let sandbox = Sandbox::start(2).await;
    let gate = Gate::start().await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    // Given five freight and a stage that does not auto-promote,
    let mut commits = vec![app.commit("app.txt", "v0", "v0")];
    sandbox.apply(&gated_pipeline(&app.url(), &gitops.url(), gate.base(), false, false)).await;
    for i in 1..5 {
        wait::until("the freight so far", TIMEOUT, || async {
            let n = sandbox.freight("demo").await.len();
            if n == i { Ok(()) } else { Err(format!("{n} freight")) }
        })
        .await;
        commits.push(app.commit("app.txt", &format!("v{i}"), &format!("v{i}")));
        sandbox.refresh("demo", "app").await;
    }
    let freight = wait::until("five freight", TIMEOUT, || async {
        let items = sandbox.freight("demo").await;
        if items.len() == 5 { Ok(items) } else { Err(format!("{} freight", items.len())) }
    })
    .await;
    // when they are promoted by hand, oldest first, while the first one is held,
    let names: Vec<String> = freight.iter().rev().map(|f| f["metadata"]["name"].as_str().unwrap().to_owned()).collect();
    for (i, name) in names.iter().enumerate() {
        let (status, body) = sandbox
            .post_json("/api/v1/projects/demo/stages/test/promotions", &serde_json::json!({"freight": name}))
            .await;
        assert_eq!(status, 201, "{body}");
        if i == 0 {
            gate.wait_for_waiting(1, TIMEOUT).await;
        }
    }
    gate.set_open(true);
    // then they run one after another in that order.
    wait::until("every promotion to succeed", TIMEOUT, || async {
        let promotions = stage_promotions(&sandbox).await;
        let done = promotions.iter().filter(|p| p["status"]["phase"] == "Succeeded").count();
        if done == 5 { Ok(()) } else { Err(format!("{done} succeeded")) }
    })
    .await;
    assert_eq!(gate.calls(), names, "the order the promotions ran in");
    assert_eq!(gate.most_at_once(), 1);
    let pushed: Vec<String> = gitops.log("stage/test").iter().rev().map(|c| c.message.clone()).collect();
    for (message, name) in pushed.iter().zip(&names) {
        assert!(message.contains(name.as_str()), "{message} should promote {name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_promotion_with_a_malformed_freight_id_is_dead_lettered_and_the_queue_goes_on() {
    let sandbox = Sandbox::start(1).await;
    let gate = Gate::start().await;
    gate.set_open(true);
    let bus = sandbox.nats.bus("test").await;
    // Given a promotion that names no valid freight, queued first,
    let poison = Event::PromotionCreated(PromotionCreatedV1 {
        project: "demo".into(),
        stage: "test".into(),
        promotion: "test.poison.0000000".into(),
        freight_id: "not-a-freight-id".into(),
        trigger: PromotionTrigger::Manual,
        created_at_ms: 1,
    });
    bus.publish(&poison, &lading_bus::tracing_context::new_root()).await.unwrap();
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let commit = app.commit("app.txt", "v1", "first");
    sandbox.apply(&gated_pipeline(&app.url(), &gitops.url(), gate.base(), false, true)).await;
    // then it is dead-lettered with its reason and the stage still promotes.
    sandbox.wait_current_in("demo", &commit, "test", TIMEOUT).await;
    let dead = wait::until("the poison message in the dead letters", TIMEOUT, || async {
        let stream = bus.jetstream().get_stream(DEAD_LETTER_STREAM).await.map_err(|e| e.to_string())?;
        let message = stream.get_raw_message(1).await.map_err(|e| e.to_string())?;
        Ok::<_, String>(message)
    })
    .await;
    let reason = dead.headers.get(lading_bus::consume::DEAD_LETTER_REASON).unwrap().as_str().to_owned();
    assert!(reason.contains("malformed freight ID"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_abort_stops_the_step_that_is_running() {
    // Calls may go quiet for 10 minutes: only cancellation ends the one held below soon.
    let mut options = SandboxOptions::default();
    options.promoter_budgets.http.idle = lading_domain::limits::Limit::new(Duration::from_secs(600), "test");
    // Given a promotion whose http step (10 minutes allowed) waits at a gate that stays shut,
    let Held { sandbox, gate, gitops, promotion } = held_promotion(options, false).await;
    // when it is aborted,
    let (status, body) = sandbox.post("/api/v1/projects/demo/stages/test/abort", "").await;
    assert_eq!(status, 200, "{body}");
    // then the run ends and frees the stage without the call ever being answered.
    wait_lease_free(&sandbox).await;
    assert_eq!(gate.waiting(), 1, "the call is still held: the step stopped, not the gate");
    wait_phase(&sandbox, &promotion, "Aborted").await;
    assert!(gitops.log("stage/test").is_empty());
}
