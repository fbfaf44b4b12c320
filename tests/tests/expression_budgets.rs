//! Expressions that try to run away — a string doubled in a comprehension, lists that
//! grow, comprehensions nested for tens of millions of iterations — through the step
//! engine, a warehouse's `expressionFilter` and a promoter process. Each fails within its
//! budget with an error naming the field and the limit, memory stays bounded, the
//! process stays up, and the promotion ends `Failed` once: a restarted promoter does not
//! run it again.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use lading_domain::Freight;
use lading_domain::expression::ExpressionLimits;
use lading_domain::spec::{GitSubscription, PromotionStep, PromotionVariable};
use lading_promoter::engine::{PromotionError, StepFailure};
use lading_tests::engine_run::EngineRun;
use lading_tests::git::Repo;
use lading_tests::sandbox::{Sandbox, quickstart};
use lading_tests::wait;
use lading_warehouse::git_subscription::{discover, sync_mirror};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(90);

/// `[0, 1, …, n-1]` as CEL source.
fn range(n: usize) -> String {
    format!("[{}]", (0..n).map(|i| i.to_string()).collect::<Vec<_>>().join(","))
}

/// Boolean expressions that run away, with the budget error each must end in.
fn attacks() -> Vec<(&'static str, String, &'static str)> {
    let r = range(300);
    vec![
        (
            "string doubling",
            format!("size(['x']{}[0]) > 0", ".map(s, s + s + s + s)".repeat(16)),
            "created more than 16 MiB of values, its budget (LADING_EXPRESSION_MAX_ALLOCATED_BYTES)",
        ),
        (
            "list growth",
            format!("size([{}]{}[0]) > 0", range(8), ".map(l, l + l + l + l)".repeat(16)),
            "(LADING_EXPRESSION_",
        ),
        (
            "nested comprehensions",
            format!("{r}.all(a, {r}.all(b, {r}.all(c, a + b + c >= 0)))"),
            "ran out of its time budget of 100ms (LADING_EXPRESSION_TIMEOUT)",
        ),
    ]
}

/// Peak resident memory of process `pid` (`self` for this one), in MiB.
fn peak_rss_mib(pid: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    kib / 1024
}

fn run(steps: &[PromotionStep]) -> Result<(), PromotionError> {
    let workspace = tempfile::tempdir().unwrap();
    let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
    let vars = [PromotionVariable { name: "app".into(), value: "https://example.com/app.git".into() }];
    EngineRun { vars: &vars, ..EngineRun::new(&freight) }.run(workspace.path(), steps).map(|_| ())
}

#[test]
fn each_attack_fails_its_step_within_the_budget_naming_the_field() {
    for (attack, bomb, limit) in attacks() {
        let expression = format!("${{{{ {bomb} }}}}");
        let places = [
            (
                "if",
                PromotionStep {
                    uses: "compose-output".into(),
                    condition: Some(expression.clone()),
                    ..Default::default()
                },
            ),
            (
                "config.out",
                PromotionStep {
                    uses: "compose-output".into(),
                    config: Some(json!({"out": expression})),
                    ..Default::default()
                },
            ),
            (
                "vars[0].value",
                PromotionStep {
                    uses: "compose-output".into(),
                    vars: vec![PromotionVariable { name: "x".into(), value: expression.clone() }],
                    ..Default::default()
                },
            ),
        ];
        for (field, step) in places {
            // Given a step whose field holds the attack, when the promotion runs,
            let started = Instant::now();
            let error = run(&[step]).unwrap_err();
            let elapsed = started.elapsed();
            // then its step fails, naming the field, the expression and the limit, soon.
            let PromotionError::Step(StepFailure { index: 0, message, .. }) = &error else {
                panic!("{attack} in {field}: {error}");
            };
            assert!(message.starts_with(&format!("{field}: ${{{{ ")), "{attack} in {field}: {message}");
            assert!(message.contains(limit), "{attack} in {field}: {message}");
            assert!(elapsed < Duration::from_secs(3), "{attack} in {field}: took {elapsed:?}");
            eprintln!("{attack} in {field}: failed after {elapsed:?}: {}", &message[message.len() - 90..]);
        }
    }
    let peak = peak_rss_mib("self");
    eprintln!("peak RSS of the test process: {peak} MiB");
    assert!(peak < 300, "peak RSS {peak} MiB");
}

#[test]
fn each_attack_fails_a_warehouse_expression_filter_within_the_budget() {
    let root = tempfile::tempdir().unwrap();
    let app = Repo::create(root.path(), "app");
    for i in 0..3 {
        app.commit("a.txt", &i.to_string(), &format!("change {i}"));
    }
    let cache = tempfile::tempdir().unwrap();
    let budget = lading_warehouse::config::Budgets::default().git;
    let (repo, _) = sync_mirror(cache.path(), &app.url(), Instant::now(), git2::RemoteCallbacks::new, &budget).unwrap();
    for (attack, bomb, limit) in attacks() {
        // Given a git subscription filtering with the attack,
        let subscription = GitSubscription {
            repo_url: app.url(),
            expression_filter: format!("subject != '' && {bomb}"),
            ..Default::default()
        };
        // when it discovers, then discovery fails naming the filter and the limit.
        let started = Instant::now();
        let error = discover(&repo, &subscription, &ExpressionLimits::default()).unwrap_err();
        let elapsed = started.elapsed();
        assert!(error.starts_with("expressionFilter: \"subject != '' && "), "{attack}: {error}");
        assert!(error.contains(limit), "{attack}: {error}");
        assert!(elapsed < Duration::from_secs(3), "{attack}: took {elapsed:?}");
    }
    let peak = peak_rss_mib("self");
    eprintln!("peak RSS of the test process: {peak} MiB");
    assert!(peak < 300, "peak RSS {peak} MiB");
}

struct Promoter(Child);

impl Drop for Promoter {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn promoter(sandbox: &Sandbox, name: &str) -> Promoter {
    let child = Command::new(env!("CARGO_BIN_EXE_promoter-process"))
        .env("LADING_NATS_URL", sandbox.nats.url())
        .env("LADING_REPLICA", name)
        .env("LADING_WORK_DIR", sandbox.dir.path().join(format!("work-{name}")))
        .env_remove("LADING_FAILPOINT")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the promoter process starts");
    Promoter(child)
}

/// The quickstart plus a stage `bomb` that takes freight straight from the warehouse and
/// runs `bomb` in its first step's `if`, and a warehouse `filtered` whose
/// `expressionFilter` runs `filter`.
fn manifests(app: &Repo, gitops: &Repo, bomb: &str, filter: &str) -> String {
    let warehouse = format!(
        "---\napiVersion: lading.dev/v1alpha1\nkind: Warehouse\nmetadata:\n  name: filtered\n  namespace: demo\nspec:\n  interval: 1h\n  subscriptions:\n  - git:\n      repoURL: {}\n      expressionFilter: {filter:?}\n",
        app.url()
    );
    let stage = format!(
        "---\napiVersion: lading.dev/v1alpha1\nkind: Stage\nmetadata:\n  name: bomb\n  namespace: demo\nspec:\n  requestedFreight:\n  - origin: {{kind: Warehouse, name: app}}\n    sources: {{direct: true}}\n  promotionTemplate:\n    spec:\n      steps:\n      - uses: compose-output\n        if: ${{{{ {bomb} }}}}\n        config:\n          never: reached\n"
    );
    let policy =
        "  - stageSelector:\n      name: bomb\n    autoPromotionEnabled: true\n  - stageSelector:\n      name: uat\n";
    let pipeline = quickstart(&app.url(), &gitops.url(), "1h").replace("  - stageSelector:\n      name: uat\n", policy);
    format!("{pipeline}{stage}{warehouse}")
}

/// `(phase, message)` of the promotions of stage `bomb`, oldest first.
async fn bomb_promotions(sandbox: &Sandbox) -> Vec<(String, String)> {
    let (_, stages) = sandbox.get("/api/v1/projects/demo/stages").await;
    let items = stages["items"].as_array().cloned().unwrap_or_default();
    let Some(bomb) = items.iter().find(|s| s["metadata"]["name"] == "bomb") else { return Vec::new() };
    bomb["status"]["promotions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|p| (p["status"]["phase"].as_str().unwrap_or("").to_owned(), p["status"]["message"].to_string()))
        .collect()
}

/// How many events of `event_type` stage `bomb` has on the log.
async fn bomb_events(sandbox: &Sandbox, event_type: &str) -> u64 {
    let bus = sandbox.nats.bus("test").await;
    let stream = bus.jetstream().get_stream(lading_bus::names::EVENTS_STREAM).await.unwrap();
    let subject = lading_events::subject::event("demo", "stage", "bomb", event_type);
    let mut subjects = stream.info_with_subjects(&subject).await.unwrap();
    let mut count = 0;
    while let Some((_, n)) = subjects.try_next().await.unwrap() {
        count += n as u64;
    }
    count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_promoter_process_records_a_runaway_promotion_as_failed_once_and_keeps_promoting() {
    let sandbox = Sandbox::start_without_promoter().await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let first = app.commit("app.txt", "v1", "first");
    let (_, string_doubling, _) = attacks().remove(0);
    let (_, nested, _) = attacks().remove(2);
    // Given the quickstart pipeline, a stage whose step `if` doubles a string to 4 GiB and
    // a warehouse whose filter runs 27 million iterations,
    sandbox.apply(&manifests(&app, &gitops, &string_doubling, &nested)).await;
    let mut running = promoter(&sandbox, "first");
    // when freight arrives, then the bomb's promotion fails with the budget's error,
    let failed = wait::until("the bomb's promotion to fail", TIMEOUT, || async {
        match bomb_promotions(&sandbox).await.as_slice() {
            [(phase, message)] if phase == "Failed" => Ok(message.clone()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert!(failed.contains("if: ${{ size(['x'].map(s, s + s + s + s)"), "{failed}");
    assert!(failed.contains("created more than 16 MiB of values"), "{failed}");
    // the unrelated pipeline keeps promoting,
    sandbox.wait_current_in("demo", &first, "uat", TIMEOUT).await;
    // the filtering warehouse says why it found nothing,
    let error = wait::until("the filtering warehouse to fail its discovery", TIMEOUT, || async {
        let (_, warehouses) = sandbox.get("/api/v1/projects/demo/warehouses").await;
        let items = warehouses["items"].as_array().cloned().unwrap_or_default();
        let filtered = items.iter().find(|w| w["metadata"]["name"] == "filtered").cloned().unwrap_or_default();
        filtered["status"]["lastDiscoveryError"]["message"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| filtered.to_string())
    })
    .await;
    assert!(error.contains("expressionFilter: \"[0,1,2,"), "{error}");
    assert!(error.ends_with("ran out of its time budget of 100ms (LADING_EXPRESSION_TIMEOUT)"), "{error}");
    // and the promoter stays up, its memory bounded.
    let pid = running.0.id().to_string();
    assert!(running.0.try_wait().unwrap().is_none(), "the promoter is still running");
    let peak = peak_rss_mib(&pid);
    eprintln!("peak RSS of the promoter process: {peak} MiB");
    assert!(peak < 300, "peak RSS {peak} MiB");

    // When the promoter restarts and new freight arrives,
    drop(running);
    let _restarted = promoter(&sandbox, "second");
    let second = app.commit("app.txt", "v2", "second");
    sandbox.refresh("demo", "app").await;
    sandbox.wait_current_in("demo", &second, "uat", TIMEOUT).await;
    wait::until("the second bomb promotion to fail", TIMEOUT, || async {
        let promotions = bomb_promotions(&sandbox).await;
        let phases: Vec<&str> = promotions.iter().map(|(phase, _)| phase.as_str()).collect();
        if phases == ["Failed", "Failed"] { Ok(()) } else { Err(format!("{phases:?}")) }
    })
    .await;
    // then the failed promotion was not run again: each promotion started and failed once.
    assert_eq!(bomb_events(&sandbox, "promotion-started").await, 2);
    assert_eq!(bomb_events(&sandbox, "promotion-failed").await, 2);
}

#[test]
fn the_expressions_evaluated_together_share_one_budget() {
    // Each expression makes 10 MiB, under the 16 MiB allocation budget; two together do not.
    let big = PromotionVariable { name: "big".into(), value: "x".repeat(5 << 20) };
    let doubled =
        |name: &str| PromotionVariable { name: name.into(), value: "${{ size(vars.big + vars.big) }}".into() };
    let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
    let workspace = tempfile::tempdir().unwrap();
    // Given one doubling in the template's variables and one in a step's, each runs;
    let vars = [big.clone(), doubled("a")];
    let step = PromotionStep { uses: "compose-output".into(), vars: vec![doubled("b")], ..Default::default() };
    EngineRun { vars: &vars, ..EngineRun::new(&freight) }.run(workspace.path(), &[step]).unwrap();
    // given two in the template's variables, the second runs out of their shared budget;
    let vars = [big.clone(), doubled("a"), doubled("b")];
    let error = EngineRun { vars: &vars, ..EngineRun::new(&freight) }.run(workspace.path(), &[]).unwrap_err();
    assert!(
        error.to_string().contains("vars[2].value: ${{ size(vars.big + vars.big) }}: created more than 16 MiB"),
        "{error}"
    );
    // and given two in one step's variables, so does that step.
    let step =
        PromotionStep { uses: "compose-output".into(), vars: vec![doubled("a"), doubled("b")], ..Default::default() };
    let vars = [big];
    let error = EngineRun { vars: &vars, ..EngineRun::new(&freight) }.run(workspace.path(), &[step]).unwrap_err();
    assert!(error.to_string().contains("step 0 (compose-output): vars[1].value: ${{"), "{error}");
}
