//! Promotion speed.
//!
//! 1. One promotion (git-clone → yaml-update → git-commit → git-push) on a repository of
//!    5,000 files and 2,000 commits, beside the `git` CLI doing the same operations in a
//!    shell script, in the same run. Lading clones through its mirror, as the promoter
//!    does: the first round fills the mirror, later rounds fetch only what is new.
//! 2. Promotions per second when one freight is auto-promoted into 200 stages at once,
//!    through NATS, with one and with two promoter replicas.
//!
//! `cargo bench -p lading-tests --bench promotion [-- ROUNDS]`

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lading_domain::spec::PromotionStep;
use lading_domain::{Freight, freight_id};
use lading_promoter::engine::{StepObserver, StepReport};
use lading_tests::engine_run::EngineRun;
use lading_tests::git::Repo;
use lading_tests::sandbox::Sandbox;
use serde_json::json;

const FILES: usize = 5_000;
const COMMITS: usize = 2_000;

/// A bare repository with `FILES` files and `COMMITS` commits on `main`, via fast-import.
fn big_repository(root: &Path) -> String {
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
    format!("file://{}", bare.display())
}

fn step(uses: &str, config: serde_json::Value) -> PromotionStep {
    PromotionStep { uses: uses.into(), config: Some(config), ..Default::default() }
}

/// Records how long each step took.
#[derive(Default)]
struct StepTimes(Vec<(String, i64)>);

impl StepObserver for StepTimes {
    fn step_finished(&mut self, report: StepReport) {
        self.0.push((report.uses, report.finished_at_ms - report.started_at_ms));
    }
}

fn lading_promotion(url: &str, mirrors: &Path, round: usize, times: &mut StepTimes) -> Duration {
    let workspace = tempfile::tempdir().unwrap();
    let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", &format!("{round:040x}"));
    let id = freight_id::compute(&freight).unwrap();
    let steps = [
        step("git-clone", json!({"repoURL": url, "checkout": [{"branch": "main", "path": "./out"}]})),
        step(
            "yaml-update",
            json!({"path": "./out/values.yaml", "updates": [{"key": "image.tag", "value": format!("lading-{round}")}]}),
        ),
        step("git-commit", json!({"path": "./out", "message": "promote"})),
        step("git-push", json!({"path": "./out"})),
    ];
    let promotion = format!("bench.{round}.{}", id.short());
    let run = EngineRun { promotion: &promotion, mirrors: Some(mirrors), ..EngineRun::new(&freight) };
    let started = Instant::now();
    run.run_observed(workspace.path(), &steps, times).unwrap();
    started.elapsed()
}

fn git_cli_promotion(url: &str, round: usize) -> Duration {
    let workspace = tempfile::tempdir().unwrap();
    let script = format!(
        "set -e; git clone -q --branch main '{url}' out; cd out; \
         sed -i 's/^  tag: .*/  tag: cli-{round}/' values.yaml; \
         git -c user.name=Bench -c user.email=bench@example.com commit -qam promote; git push -q origin main"
    );
    let started = Instant::now();
    let status = Command::new("sh").arg("-c").arg(&script).current_dir(workspace.path()).status().unwrap();
    assert!(status.success());
    started.elapsed()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
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

async fn many_stages(replicas: usize, stages: usize) -> (Duration, usize) {
    let sandbox = Sandbox::start(replicas).await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    app.commit("app.txt", "v1", "first");
    let started = Instant::now();
    sandbox.apply(&stages_manifest(&app.url(), &gitops.url(), stages)).await;
    loop {
        let (_, list) = sandbox.get("/api/v1/projects/bench/stages").await;
        let done = list["items"]
            .as_array()
            .map(|items| {
                items.iter().filter(|s| s["status"]["lastPromotion"]["status"]["phase"] == "Succeeded").count()
            })
            .unwrap_or(0);
        if done == stages {
            return (started.elapsed(), done);
        }
        assert!(started.elapsed() < Duration::from_secs(600), "only {done} of {stages} stages promoted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let rounds = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(5);
    let root = tempfile::tempdir().unwrap();
    let built = Instant::now();
    let url = big_repository(root.path());
    println!("repository: {FILES} files, {COMMITS} commits (built in {:.1}s)", built.elapsed().as_secs_f64());
    let mut lading = Vec::new();
    let mut cli = Vec::new();
    let mut times = StepTimes::default();
    for round in 0..rounds {
        lading.push(lading_promotion(&url, &root.path().join("mirrors"), round, &mut times));
        cli.push(git_cli_promotion(&url, round));
    }
    let (lading, cli) = (median(lading), median(cli));
    println!(
        "one promotion (clone, yaml-update, commit, push), median of {rounds}: lading {:.1} ms, git CLI script {:.1} ms (ratio {:.2})",
        ms(lading),
        ms(cli),
        lading.as_secs_f64() / cli.as_secs_f64()
    );
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
    println!("  lading per step (median): {}", breakdown.join(", "));
    for replicas in [1, 2] {
        let (elapsed, done) = many_stages(replicas, 200).await;
        println!(
            "200 stages promoting one freight, {replicas} promoter replica(s): {done} promotions in {:.2}s = {:.1} promotions/s",
            elapsed.as_secs_f64(),
            done as f64 / elapsed.as_secs_f64()
        );
    }
}
