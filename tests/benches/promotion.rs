//! Promotion speed, each figure printed beside its reference and its goal in one run.
//!
//! 1. One promotion (git-clone → yaml-update → git-commit → git-push) on a repository of
//!    5,000 files and 2,000 commits, beside a `git` CLI script doing the same work. Both
//!    keep what they fetched between rounds: Lading its mirror (as the promoter does), the
//!    script a persistent clone it fetches into and moves with `checkout -B` and
//!    `reset --hard`. Round 1 is cold (empty mirror, fresh clone), later rounds warm. Each
//!    side pushes to its own copy of the repository; after every round both copies must
//!    hold the same tree and a commit with the same message, author and
//!    `Lading-Promotion` trailer, or the bench fails. Goal: warm Lading ≤ 0.1× the script.
//! 2. Promotions per second when one freight is auto-promoted into 200 stages at once,
//!    through NATS, with one and with two promoter replicas, timed on the bus from the
//!    freight's `freight-created` event to the last `promotion-succeeded`. Goal: ≥ 50/s.
//!
//! `cargo bench -p lading-tests --bench promotion [-- ROUNDS] [one|stages]` (`one`: part 1
//! alone; `stages`: part 2 alone)

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use lading_domain::spec::PromotionStep;
use lading_domain::{Freight, freight_id};
use lading_events::Event;
use lading_promoter::engine::{StepObserver, StepReport};
use lading_tests::engine_run::EngineRun;
use lading_tests::git::Repo;
use lading_tests::sandbox::Sandbox;
use serde_json::json;

const FILES: usize = 5_000;
const COMMITS: usize = 2_000;
/// Warm Lading over the warm `git` CLI script.
const RATIO_GOAL: f64 = 0.1;
/// Promotions per second for 200 stages.
const THROUGHPUT_GOAL: f64 = 50.0;
const STAGES: usize = 200;
/// The author `git-commit` uses when a step names none.
const AUTHOR_NAME: &str = "Lading";
const AUTHOR_EMAIL: &str = "lading@localhost";
const MESSAGE: &str = "promote";

/// A bare repository with `FILES` files and `COMMITS` commits on `main`, via fast-import.
fn big_repository(root: &Path) -> std::path::PathBuf {
    let bare = root.join("big.git");
    let init = Command::new("git").args(["init", "-q", "--bare", "--initial-branch=main"]).arg(&bare).status().unwrap();
    assert!(init.success());
    let mut stream = String::new();
    for commit in 0..COMMITS {
        let mark = commit + 1;
        let message = format!("change {commit}");
        stream.push_str(&format!(
            "commit refs/heads/main\nmark :{}\ncommitter Dev <dev@example.com> {} +0000\ndata {}\n{message}\n",
            mark,
            1_700_000_000 + commit,
            message.len()
        ));
        if commit == 0 {
            for file in 0..FILES {
                let content = format!("file: {file}\nversion: 0\n");
                stream.push_str(&format!(
                    "M 100644 inline dir{}/file{file}.yaml\ndata {}\n{content}\n",
                    file % 50,
                    content.len()
                ));
            }
            let values = "image:\n  tag: v0\n";
            stream.push_str(&format!("M 100644 inline values.yaml\ndata {}\n{values}\n", values.len()));
        } else {
            let file = commit % FILES;
            let content = format!("file: {file}\nversion: {commit}\n");
            stream.push_str(&format!(
                "M 100644 inline dir{}/file{file}.yaml\ndata {}\n{content}\n",
                file % 50,
                content.len()
            ));
        }
    }
    let mut import =
        Command::new("git").args(["fast-import", "--quiet"]).current_dir(&bare).stdin(Stdio::piped()).spawn().unwrap();
    import.stdin.take().unwrap().write_all(stream.as_bytes()).unwrap();
    assert!(import.wait().unwrap().success());
    bare
}

fn step(uses: &str, config: serde_json::Value) -> PromotionStep {
    PromotionStep { uses: uses.into(), config: Some(config), ..Default::default() }
}

fn url(bare: &Path) -> String {
    format!("file://{}", bare.display())
}

/// Records how long each step took.
#[derive(Default)]
struct StepTimes(Vec<(String, i64)>);

impl StepObserver for StepTimes {
    fn step_finished(&mut self, report: StepReport) {
        self.0.push((report.uses, report.finished_at_ms - report.started_at_ms));
    }
}

/// What one round sets `image.tag` to, on both sides.
fn tag(round: usize) -> String {
    format!("release-{round}")
}

/// Lading's promotion of round `round`: its name is the trailer's value.
fn lading_promotion(remote: &Path, mirrors: &Path, round: usize, times: &mut StepTimes) -> (Duration, String) {
    let workspace = tempfile::tempdir().unwrap();
    let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", &format!("{round:040x}"));
    let id = freight_id::compute(&freight).unwrap();
    let steps = [
        step("git-clone", json!({"repoURL": url(remote), "checkout": [{"branch": "main", "path": "./out"}]})),
        step(
            "yaml-update",
            json!({"path": "./out/values.yaml", "updates": [{"key": "image.tag", "value": tag(round)}]}),
        ),
        step("git-commit", json!({"path": "./out", "message": MESSAGE})),
        step("git-push", json!({"path": "./out"})),
    ];
    let promotion = format!("bench.{round}.{}", id.short());
    let run = EngineRun { promotion: &promotion, mirrors: Some(mirrors), ..EngineRun::new(&freight) };
    let started = Instant::now();
    run.run_observed(workspace.path(), &steps, times).unwrap();
    // As the promoter does after each promotion: the working tree goes back to its pool.
    lading_promoter::steps::keep_working_trees(workspace.path(), mirrors);
    (started.elapsed(), promotion)
}

/// The same promotion by the `git` CLI, in a clone kept between rounds: cloned in round 0,
/// then fetched into and moved to the remote's head. Same edit, author, message and trailer.
fn git_cli_promotion(remote: &Path, clone: &Path, round: usize, promotion: &str) -> Duration {
    let script = format!(
        "set -e; [ -d '{clone}' ] || git clone -q --branch main '{url}' '{clone}'; cd '{clone}'; \
         git fetch -q origin main; git checkout -q -B main FETCH_HEAD; git reset -q --hard FETCH_HEAD; \
         sed -i 's/^  tag: .*/  tag: {tag}/' values.yaml; \
         git -c user.name={AUTHOR_NAME} -c user.email={AUTHOR_EMAIL} commit -q -a -m {MESSAGE} \
           -m 'Lading-Promotion: {promotion}'; \
         git push -q origin main",
        clone = clone.display(),
        url = url(remote),
        tag = tag(round),
    );
    let started = Instant::now();
    let status = Command::new("sh").arg("-c").arg(&script).status().unwrap();
    let elapsed = started.elapsed();
    assert!(status.success(), "the git CLI script failed in round {round}");
    elapsed
}

/// The head of `main` on `remote`: tree id, author, committer, message, trailer value.
fn remote_head(remote: &Path) -> [String; 5] {
    let format = "%T%x00%an <%ae>%x00%cn <%ce>%x00%B%x00%(trailers:key=Lading-Promotion,valueonly,separator=%x2C)";
    let output = Command::new("git")
        .arg("-C")
        .arg(remote)
        .args(["log", "-1", &format!("--format={format}"), "main"])
        .output()
        .unwrap();
    assert!(output.status.success(), "git log in {}", remote.display());
    let text = String::from_utf8(output.stdout).unwrap();
    let mut fields = text.split('\0').map(|f| f.trim().to_owned());
    std::array::from_fn(|_| fields.next().unwrap_or_default())
}

/// Fails the bench unless both remotes hold the same result of round `round`.
fn assert_same_result(lading: &Path, cli: &Path, round: usize, promotion: &str) {
    let (l, c) = (remote_head(lading), remote_head(cli));
    let names = ["tree", "author", "committer", "message", "trailer"];
    for (i, name) in names.iter().enumerate() {
        assert_eq!(l[i], c[i], "round {round}: the {name} differs between Lading's and the git CLI's push");
    }
    let author = format!("{AUTHOR_NAME} <{AUTHOR_EMAIL}>");
    assert_eq!(l[1], author, "round {round}: author");
    assert_eq!(l[4], promotion, "round {round}: trailer");
    assert_eq!(l[3], format!("{MESSAGE}\n\nLading-Promotion: {promotion}"), "round {round}: message");
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

fn per_step(times: &StepTimes) -> String {
    let mut per_step: Vec<(String, Vec<i64>)> = Vec::new();
    for (uses, ms) in &times.0 {
        match per_step.iter_mut().find(|(u, _)| u == uses) {
            Some((_, all)) => all.push(*ms),
            None => per_step.push((uses.clone(), vec![*ms])),
        }
    }
    let breakdown: Vec<String> = per_step
        .into_iter()
        .map(|(uses, mut all)| {
            all.sort();
            format!("{uses} {} ms", all[all.len() / 2])
        })
        .collect();
    breakdown.join(", ")
}

fn one_promotion(root: &Path, rounds: usize, summary: &mut Vec<String>) {
    let built = Instant::now();
    let lading_remote = big_repository(root);
    let cli_remote = root.join("big-cli.git");
    let copied = Command::new("cp").arg("-a").arg(&lading_remote).arg(&cli_remote).status().unwrap();
    assert!(copied.success());
    println!(
        "repository: {FILES} files, {COMMITS} commits (built in {:.1}s), one copy per side",
        built.elapsed().as_secs_f64()
    );
    let (mirrors, clone) = (root.join("mirrors"), root.join("cli-clone"));
    let (mut lading, mut cli) = (Vec::new(), Vec::new());
    let (mut cold_steps, mut warm_steps) = (StepTimes::default(), StepTimes::default());
    for round in 0..rounds {
        let steps = if round == 0 { &mut cold_steps } else { &mut warm_steps };
        let (elapsed, promotion) = lading_promotion(&lading_remote, &mirrors, round, steps);
        lading.push(elapsed);
        cli.push(git_cli_promotion(&cli_remote, &clone, round, &promotion));
        assert_same_result(&lading_remote, &cli_remote, round, &promotion);
    }
    figure(
        summary,
        format!(
            "one promotion (clone, yaml-update, commit, push): same tree, message, author and trailer on both remotes in all {rounds} rounds"
        ),
    );
    let ratio = |l: Duration, c: Duration| l.as_secs_f64() / c.as_secs_f64();
    figure(
        summary,
        format!(
            "  cold (round 1):             lading {:>8.1} ms   git CLI {:>8.1} ms   ratio {:.2}x",
            ms(lading[0]),
            ms(cli[0]),
            ratio(lading[0], cli[0])
        ),
    );
    figure(summary, format!("    lading per step: {}", per_step(&cold_steps)));
    if rounds > 1 {
        let (l, c) = (median(lading[1..].to_vec()), median(cli[1..].to_vec()));
        let r = ratio(l, c);
        figure(
            summary,
            format!(
                "  warm (median of rounds 2-{rounds}): lading {:>8.1} ms   git CLI {:>8.1} ms   ratio {r:.2}x   goal <= {RATIO_GOAL:.2}x: {}",
                ms(l),
                ms(c),
                verdict(r <= RATIO_GOAL)
            ),
        );
        figure(summary, format!("    lading per step (median): {}", per_step(&warm_steps)));
    }
}

fn stages_manifest(app: &str, gitops: &str, stages: usize) -> String {
    let mut yaml = format!(
        "apiVersion: lading.dev/v1alpha1\nkind: Project\nmetadata: {{name: bench}}\n---\n\
         apiVersion: lading.dev/v1alpha1\nkind: ProjectConfig\nmetadata: {{name: bench, namespace: bench}}\n\
         spec:\n  promotionPolicies:\n  - stageSelector: {{name: 'glob:*'}}\n    autoPromotionEnabled: true\n---\n\
         apiVersion: lading.dev/v1alpha1\nkind: Warehouse\nmetadata: {{name: app, namespace: bench}}\n\
         spec:\n  interval: 1h\n  subscriptions:\n  - git: {{repoURL: '{app}', branch: main}}\n"
    );
    for i in 0..stages {
        yaml.push_str(&format!(
            "---\napiVersion: lading.dev/v1alpha1\nkind: Stage\nmetadata: {{name: s{i}, namespace: bench}}\nspec:\n\
             \x20 requestedFreight:\n  - origin: {{kind: Warehouse, name: app}}\n    sources: {{direct: true}}\n\
             \x20 promotionTemplate:\n    spec:\n      steps:\n\
             \x20     - uses: git-clone\n        config:\n          repoURL: '{gitops}'\n          checkout:\n\
             \x20         - {{branch: 'stage/${{{{ ctx.stage }}}}', create: true, path: ./out}}\n\
             \x20     - uses: yaml-update\n        config:\n          path: ./out/values.yaml\n\
             \x20         updates: [{{key: app.commit, value: '${{{{ ctx.targetFreight.name }}}}'}}]\n\
             \x20     - uses: git-commit\n        config: {{path: ./out, message: promote}}\n\
             \x20     - uses: git-push\n        config: {{path: ./out}}\n"
        ));
    }
    yaml
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// What one 200-stage run measured.
struct ManyStages {
    /// From the freight's `freight-created` to the last promotion's end, both on the bus.
    elapsed: Duration,
    /// From `apply` to `freight-created` (discovery, not promotion).
    discovery: Duration,
    succeeded: usize,
    /// Stage and reason of each failed promotion.
    failed: Vec<(String, String)>,
    /// Stages whose last promotion the api shows as succeeded with the freight.
    shown: usize,
}

/// 200 stages auto-promoting one freight, until every promotion has ended.
async fn many_stages(replicas: usize, stages: usize) -> ManyStages {
    let sandbox = Sandbox::start(replicas).await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    app.commit("app.txt", "v1", "first");
    let client = sandbox.nats.client().await;
    let mut events = futures::stream::select_all([
        client.subscribe("lading.evt.bench.freight.*.created").await.unwrap(),
        client.subscribe("lading.evt.bench.stage.*.promotion-succeeded").await.unwrap(),
        client.subscribe("lading.evt.bench.stage.*.promotion-failed").await.unwrap(),
    ]);
    client.flush().await.unwrap();
    let applied_at = now_ms();
    sandbox.apply(&stages_manifest(&app.url(), &gitops.url(), stages)).await;
    let mut created: Option<(String, i64)> = None;
    // Stage → (finished at, failure reason if it failed); a redelivered event counts once.
    let mut ended: BTreeMap<String, (i64, Option<String>)> = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    while ended.len() < stages {
        let message = tokio::time::timeout_at(deadline, events.next())
            .await
            .unwrap_or_else(|_| panic!("only {} of {stages} promotions ended within 600s", ended.len()))
            .expect("the subscriptions stay open");
        let ce_type = message.headers.as_ref().and_then(|h| h.get(lading_events::headers::CE_TYPE)).map(|v| v.as_str());
        match lading_events::codec::decode(ce_type, &message.payload).expect("an event") {
            Event::FreightCreated(e) => {
                assert!(
                    created.is_none() || created.as_ref().is_some_and(|(id, _)| *id == e.freight_id),
                    "one freight"
                );
                created = Some((e.freight_id, e.created_at_ms));
            }
            Event::PromotionSucceeded(e) => {
                ended.insert(e.stage, (e.finished_at_ms, None));
            }
            Event::PromotionFailed(e) => {
                ended.insert(e.stage, (e.finished_at_ms, Some(e.reason)));
            }
            _ => {}
        }
    }
    let (freight, created_at) = created.expect("freight-created precedes its promotions");
    let succeeded = ended.values().filter(|(_, failure)| failure.is_none()).count();
    let failed: Vec<(String, String)> =
        ended.iter().filter_map(|(stage, (_, failure))| failure.clone().map(|f| (stage.clone(), f))).collect();
    // The read model follows the bus; give it a bounded moment to show every success.
    let shown_by = Instant::now() + Duration::from_secs(60);
    let shown = loop {
        let (_, list) = sandbox.get("/api/v1/projects/bench/stages").await;
        let shown = list["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .filter(|s| {
                        s["status"]["lastPromotion"]["status"]["phase"] == "Succeeded"
                            && s["status"]["lastPromotion"]["freight"]["name"] == freight.as_str()
                    })
                    .count()
            })
            .unwrap_or(0);
        if shown == succeeded || Instant::now() > shown_by {
            break shown;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let last = ended.values().map(|(at, _)| *at).max().unwrap_or(created_at);
    let ms = |d: i64| Duration::from_millis(u64::try_from(d).unwrap_or(0));
    ManyStages { elapsed: ms(last - created_at), discovery: ms(created_at - applied_at), succeeded, failed, shown }
}

/// Prints a figure now and keeps it for the summary at the end (services log in between).
fn figure(summary: &mut Vec<String>, line: String) {
    println!("{line}");
    summary.push(line);
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let rounds = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(6).max(2);
    let root = tempfile::tempdir().unwrap();
    let mut summary = Vec::new();
    // `stages`: the 200-stage runs alone.
    if !std::env::args().any(|a| a == "stages") {
        one_promotion(root.path(), rounds, &mut summary);
    }
    // `one`: the single promotion alone.
    let stage_runs: &[usize] = if std::env::args().any(|a| a == "one") { &[] } else { &[1, 2] };
    let mut failures = Vec::new();
    for &replicas in stage_runs {
        let run = many_stages(replicas, STAGES).await;
        let rate = run.succeeded as f64 / run.elapsed.as_secs_f64();
        figure(
            &mut summary,
            format!(
                "{STAGES} stages promoting one freight, {replicas} promoter replica(s): {} succeeded, {} failed, in {:.2}s from freight-created to the last promotion's end = {rate:.1} promotions/s   goal >= {THROUGHPUT_GOAL:.0}/s: {}   (apply -> freight-created {:.2}s)",
                run.succeeded,
                run.failed.len(),
                run.elapsed.as_secs_f64(),
                verdict(rate >= THROUGHPUT_GOAL && run.failed.is_empty()),
                run.discovery.as_secs_f64(),
            ),
        );
        if let Some((stage, reason)) = run.failed.first() {
            figure(&mut summary, format!("  first failure: stage {stage}: {reason}"));
        }
        assert_eq!(run.shown, run.succeeded, "the api shows every succeeded promotion");
        failures.extend(run.failed);
    }
    println!("\nsummary ({}):", lading_tests::machine::conditions());
    for line in &summary {
        println!("{line}");
    }
    assert!(
        failures.is_empty(),
        "{} promotions failed; the figures above count only those that succeeded",
        failures.len()
    );
}
