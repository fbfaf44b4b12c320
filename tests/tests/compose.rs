//! The Compose stack (docker-compose.yml) on the real Docker engine, as the README runs
//! it: `up -d`, the example applied with the `lading` CLI from the host, freight promoted
//! through `test` and `uat`, and a promoter container killed on the way.
//!
//! Skipped, saying why, where no Docker engine answers. Where one does, the images must
//! have been built by `scripts/docker-images` (`scripts/test` runs it).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

const IMAGES: [&str; 3] = ["lading:latest", "nats:2.10-alpine", "lading-example-git:latest"];
const ADMIN_TOKEN: &str = "compose-test-admin-token";
const READY_TIMEOUT: Duration = Duration::from_secs(180);
const PIPELINE_TIMEOUT: Duration = Duration::from_secs(180);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap()
}

fn run(command: &mut Command) -> Output {
    command.output().unwrap_or_else(|e| panic!("running {command:?}: {e}"))
}

fn stdout_of(command: &mut Command) -> String {
    let output = run(command);
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program).args(args).output().is_ok_and(|o| o.status.success())
}

/// `docker compose` (v2) when the plugin answers, else `docker-compose` (v1, 1.27+).
fn compose_command() -> Option<Vec<&'static str>> {
    if succeeds("docker", &["compose", "version"]) {
        Some(vec!["docker", "compose"])
    } else if succeeds("docker-compose", &["version"]) {
        Some(vec!["docker-compose"])
    } else {
        None
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Polls `check` every 200 ms until it returns `Some`, or panics after `timeout`.
fn until<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match check() {
            Ok(value) => return value,
            Err(last) if Instant::now() > deadline => panic!("timed out after {timeout:?} waiting for {what}: {last}"),
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// One Compose project on its own ports, taken down (volumes included) when dropped.
struct Stack {
    compose: Vec<&'static str>,
    project: String,
    api_port: u16,
    git_port: u16,
    nats_port: u16,
    home: tempfile::TempDir,
}

impl Stack {
    fn compose(&self, args: &[&str]) -> Command {
        let mut command = Command::new(self.compose[0]);
        command
            .args(&self.compose[1..])
            .args(["-p", &self.project, "-f"])
            .arg(root().join("docker-compose.yml"))
            .args(args)
            .env("LADING_API_PORT", self.api_port.to_string())
            .env("LADING_GIT_PORT", self.git_port.to_string())
            .env("LADING_NATS_PORT", self.nats_port.to_string())
            .env("LADING_ADMIN_TOKEN", ADMIN_TOKEN);
        command
    }

    /// The containers of `service` (every service's when `None`).
    fn containers(&self, service: Option<&str>) -> Vec<String> {
        let mut args = vec!["ps", "-q"];
        args.extend(service);
        stdout_of(&mut self.compose(&args)).lines().map(str::to_owned).filter(|l| !l.is_empty()).collect()
    }

    fn lading(&self, args: &[&str]) -> Output {
        run(Command::new(root().join("target/docker-bin/lading"))
            .args(args)
            .env("HOME", self.home.path())
            .env("LADING_SERVER", format!("http://127.0.0.1:{}", self.api_port))
            .env("LADING_TOKEN", ADMIN_TOKEN))
    }

    fn stages(&self) -> Result<Vec<Value>, String> {
        let output = self.lading(&["get", "stages", "-p", "demo", "-o", "json"]);
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).into_owned());
        }
        let list: Value = serde_json::from_slice(&output.stdout).map_err(|e| e.to_string())?;
        Ok(list["items"].as_array().cloned().unwrap_or_default())
    }

    fn git_url(&self, repository: &str) -> String {
        format!("git://127.0.0.1:{}/{repository}", self.git_port)
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = self.compose(&["down", "-v", "--remove-orphans", "-t", "5"]).output();
    }
}

fn health(container: &str) -> String {
    let output = run(Command::new("docker").args(["inspect", "-f", "{{.State.Health.Status}}", container]));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn promotions<'a>(stages: &'a [Value], stage: &str) -> Vec<&'a Value> {
    stages
        .iter()
        .filter(|s| s["metadata"]["name"] == stage)
        .flat_map(|s| s["status"]["promotions"].as_array().into_iter().flatten())
        .collect()
}

#[test]
fn compose_up_promotes_the_example_through_two_stages_and_survives_a_killed_promoter() {
    if !succeeds("docker", &["info"]) {
        eprintln!("SKIPPED: no Docker engine answers `docker info`; this test needs Docker and Compose");
        return;
    }
    let Some(compose) = compose_command() else {
        eprintln!("SKIPPED: neither `docker compose` nor `docker-compose` is installed");
        return;
    };
    for image in IMAGES {
        assert!(
            succeeds("docker", &["image", "inspect", image]),
            "image {image} is missing: build the images with scripts/docker-images (scripts/test does)"
        );
    }
    assert!(
        root().join("target/docker-bin/lading").is_file(),
        "target/docker-bin/lading is missing: run scripts/docker-images"
    );

    let stack = Stack {
        compose,
        project: format!("ladingtest{}", ulid::Ulid::new().to_string().to_lowercase()),
        api_port: free_port(),
        git_port: free_port(),
        nats_port: free_port(),
        home: tempfile::tempdir().unwrap(),
    };
    let started = Instant::now();
    stdout_of(&mut stack.compose(&["up", "-d", "--no-build"]));
    // nats, git, warehouse, two promoters, verifier, api: all healthy.
    let containers = until("every container healthy", READY_TIMEOUT, || {
        let containers = stack.containers(None);
        let states: Vec<String> = containers.iter().map(|c| health(c)).collect();
        if containers.len() == 7 && states.iter().all(|s| s == "healthy") {
            Ok(containers)
        } else {
            Err(format!("{states:?}"))
        }
    });
    let ready = started.elapsed();
    eprintln!("compose stack: `up -d` to every container healthy in {:.1}s", ready.as_secs_f64());
    assert_eq!(containers.len(), 7);
    let promoters = stack.containers(Some("promoter"));
    assert_eq!(promoters.len(), 2, "two promoter replicas: {promoters:?}");

    // The README's example, applied from the host.
    let example = root().join("examples/compose/lading.yaml");
    let applied = stack.lading(&["apply", "-f", example.to_str().unwrap()]);
    assert!(applied.status.success(), "lading apply: {}", String::from_utf8_lossy(&applied.stderr));

    // A promoter is killed once the first promotion exists: the rest of the pipeline
    // (that promotion, if it was the killed one's, and uat's) is the other replica's.
    until("a promotion to test", PIPELINE_TIMEOUT, || {
        let stages = stack.stages()?;
        if promotions(&stages, "test").is_empty() { Err(format!("{stages:?}")) } else { Ok(()) }
    });
    stdout_of(Command::new("docker").args(["kill", &promoters[0]]));

    let stages = until("freight promoted through test and uat", PIPELINE_TIMEOUT, || {
        let stages = stack.stages()?;
        let done = ["test", "uat"].iter().all(|stage| {
            let promotions = promotions(&stages, stage);
            !promotions.is_empty() && promotions.iter().all(|p| p["status"]["phase"] == "Succeeded")
        });
        if done { Ok(stages) } else { Err(format!("{stages:?}")) }
    });

    // One commit per promotion on each stage's branch, carrying the application's commit.
    let clone = tempfile::tempdir().unwrap();
    let gitops = clone.path().join("gitops");
    stdout_of(Command::new("git").args(["clone", "-q", &stack.git_url("gitops.git")]).arg(&gitops));
    let app_head = stdout_of(Command::new("git").args(["ls-remote", &stack.git_url("app.git"), "refs/heads/main"]));
    let app_head = app_head.split_whitespace().next().unwrap().to_owned();
    for stage in ["test", "uat"] {
        let branch = format!("origin/stage/{stage}");
        let log = stdout_of(Command::new("git").arg("-C").arg(&gitops).args(["log", "--format=%s", &branch]));
        let commits: Vec<&str> = log.lines().filter(|l| l.starts_with("promote ")).collect();
        assert_eq!(
            commits.len(),
            promotions(&stages, stage).len(),
            "{stage}: one commit per promotion; commits {commits:?}"
        );
        assert_eq!(commits, [format!("promote {app_head} to {stage}").as_str()], "{stage}");
        let values =
            stdout_of(Command::new("git").arg("-C").arg(&gitops).args(["show", &format!("{branch}:values.yaml")]));
        assert!(values.contains(&app_head), "{stage} values.yaml: {values}");
    }
}
