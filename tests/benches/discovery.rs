//! Discovery cost.
//!
//! 1. Newest-SemVer selection from an image repository with 10,000 tags in a real
//!    `docker-registry` (tag list, semver order, HEAD digests of the discoveryLimit
//!    newest), beside `skopeo list-tags` of the same repository in the same run.
//! 2. Discovery for 50 warehouses on one 10,000-commit monorepo (each includes its own
//!    `apps/appN` path): with the shared mirror (fetches made, wall time) for a cold
//!    round, an unchanged round and a round after one new commit; and with one mirror
//!    per warehouse, as a clone per warehouse would do.
//!
//! `cargo bench -p lading-tests --bench discovery [-- ROUNDS]`

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lading_domain::credentials::Credentials;
use lading_domain::spec::{GitSubscription, ImageSubscription};
use lading_tests::registry::TestRegistry;
use lading_warehouse::config::Budgets;
use lading_warehouse::git_subscription::{Sync, discover, sync_mirror};
use lading_warehouse::image_subscription;
use lading_warehouse::registry::{DEFAULT_RATE, Registries};

const TAGS: usize = 10_000;
const COMMITS: usize = 10_000;
const WAREHOUSES: usize = 50;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn semver_selection(rounds: usize) {
    let registry = TestRegistry::start();
    let tags: Vec<String> = (0..TAGS).map(|i| format!("{}.{}.{}", i / 1000, (i / 10) % 100, i % 10)).collect();
    let pushing = Instant::now();
    registry.push_tags("bench/app", &tags, "linux/amd64", "2026-01-01T00:00:00Z");
    println!("pushed {TAGS} tags in {:.1} s", pushing.elapsed().as_secs_f64());
    let sub = ImageSubscription { repo_url: format!("{}/bench/app", registry.addr), ..Default::default() };
    for (label, rate) in [("default rate limit (20/s)", DEFAULT_RATE), ("rate limit raised to 1000/s", 1000)] {
        let mut lading = Vec::new();
        let mut skopeo = Vec::new();
        let mut requests = 0;
        for _ in 0..rounds {
            let registries = Registries::new(Credentials::default(), rate, Default::default());
            let start = Instant::now();
            let found = image_subscription::discover(&registries, &sub, Instant::now()).unwrap();
            lading.push(start.elapsed());
            requests = registries.counts().requests;
            assert_eq!(found.references[0].tag, "9.99.9");
            let start = Instant::now();
            let output = Command::new("skopeo")
                .args(["list-tags", "--tls-verify=false", &format!("docker://{}/bench/app", registry.addr)])
                .output()
                .expect("skopeo (apt-get install skopeo)");
            skopeo.push(start.elapsed());
            assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        }
        let (lading, skopeo) = (median(lading), median(skopeo));
        println!(
            "newest SemVer of {TAGS} tags, {label}: Lading {:.0} ms ({requests} requests: tag list + 20 HEADs) | skopeo list-tags {:.0} ms | ratio {:.2}",
            ms(lading),
            ms(skopeo),
            ms(lading) / ms(skopeo)
        );
    }
}

/// A bare monorepo: commit i changes `apps/app{i % 50}/values.yaml`.
fn monorepo(root: &Path) -> String {
    let bare = root.join("mono.git");
    assert!(
        Command::new("git")
            .args(["init", "-q", "--bare", "--initial-branch=main"])
            .arg(&bare)
            .status()
            .unwrap()
            .success()
    );
    let mut stream = String::new();
    for commit in 0..COMMITS {
        let message = format!("change {commit}");
        stream.push_str(&format!(
            "commit refs/heads/main\nmark :{}\ncommitter Dev <dev@example.com> {} +0000\ndata {}\n{message}\n",
            commit + 1,
            1_700_000_000 + commit,
            message.len()
        ));
        let content = format!("version: {commit}\n");
        stream.push_str(&format!(
            "M 100644 inline apps/app{}/values.yaml\ndata {}\n{content}\n",
            commit % WAREHOUSES,
            content.len()
        ));
    }
    let mut import =
        Command::new("git").args(["fast-import", "--quiet"]).current_dir(&bare).stdin(Stdio::piped()).spawn().unwrap();
    import.stdin.take().unwrap().write_all(stream.as_bytes()).unwrap();
    assert!(import.wait().unwrap().success());
    format!("file://{}", bare.display())
}

/// One round: every warehouse syncs (through `cache(i)`) and discovers. Returns the wall
/// time and how many syncs fetched.
fn round(url: &str, cache: impl Fn(usize) -> std::path::PathBuf) -> (Duration, usize) {
    let asked = Instant::now();
    let mut fetches = 0;
    for i in 0..WAREHOUSES {
        let sub = GitSubscription {
            repo_url: url.to_owned(),
            include_paths: vec![format!("apps/app{i}")],
            ..Default::default()
        };
        let (repo, sync) =
            sync_mirror(&cache(i), url, asked, git2::RemoteCallbacks::new, &Budgets::default().git).unwrap();
        if sync == Sync::Fetched {
            fetches += 1;
        }
        let found = discover(&repo, &sub, &lading_domain::expression::ExpressionLimits::default()).unwrap();
        assert_eq!(found.commits.len(), 20);
    }
    (asked.elapsed(), fetches)
}

fn commit_one(url: &str, root: &Path) {
    let work = root.join("work");
    if !work.exists() {
        assert!(Command::new("git").args(["clone", "-q", url]).arg(&work).status().unwrap().success());
    }
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .args(args)
            .current_dir(&work)
            .env("GIT_AUTHOR_NAME", "Dev")
            .env("GIT_AUTHOR_EMAIL", "dev@example.com")
            .env("GIT_COMMITTER_NAME", "Dev")
            .env("GIT_COMMITTER_EMAIL", "dev@example.com")
            .status()
            .unwrap();
        assert!(status.success());
    };
    std::fs::write(work.join("apps/app0/values.yaml"), format!("version: {:?}\n", Instant::now())).unwrap();
    git(&["commit", "-qam", "one more"]);
    git(&["push", "-q", "origin", "main"]);
}

fn monorepo_discovery() {
    let root = tempfile::tempdir().unwrap();
    let url = monorepo(root.path());
    let shared = root.path().join("shared-cache");
    let (cold, cold_fetches) = round(&url, |_| shared.clone());
    let (warm, warm_fetches) = round(&url, |_| shared.clone());
    commit_one(&url, root.path());
    let (changed, changed_fetches) = round(&url, |_| shared.clone());
    println!(
        "{WAREHOUSES} warehouses on one {COMMITS}-commit repository, shared mirror: cold round {:.0} ms ({cold_fetches} fetch), unchanged round {:.0} ms ({warm_fetches} fetches), after one commit {:.0} ms ({changed_fetches} fetch)",
        ms(cold),
        ms(warm),
        ms(changed)
    );
    let separate = root.path().join("separate");
    let (per_warehouse, fetches) = round(&url, |i| separate.join(i.to_string()));
    println!(
        "{WAREHOUSES} warehouses, one mirror each (a clone per warehouse): {:.0} ms ({fetches} fetches)",
        ms(per_warehouse)
    );
}

fn main() {
    let rounds: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(3);
    semver_selection(rounds);
    monorepo_discovery();
}
