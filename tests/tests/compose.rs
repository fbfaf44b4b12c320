//! The Compose stack (docker-compose.yml) on the real Docker engine, as the README runs
//! it: `up -d`, the example applied with the `lading` CLI from the host, freight promoted
//! through `test` and `uat`, and the promoter container running `test`'s promotion killed
//! mid-way (while the Git server is paused), which loses nothing.
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
    let image_size =
        stdout_of(Command::new("docker").args(["image", "inspect", "lading:latest", "--format", "{{.Size}}"]));
    eprintln!(
        "compose stack: `up -d` to every container healthy in {:.1}s; lading:latest is {} bytes",
        ready.as_secs_f64(),
        image_size.trim()
    );
    assert_eq!(containers.len(), 7);
    let promoters = stack.containers(Some("promoter"));
    assert_eq!(promoters.len(), 2, "two promoter replicas: {promoters:?}");
    let git = stack.containers(Some("git"));
    assert_eq!(git.len(), 1, "one Git server: {git:?}");

    // The README's example, applied from the host, with `test`'s auto-promotion off: the
    // test starts that promotion itself, once the Git server cannot answer it.
    let example = std::fs::read_to_string(root().join("examples/compose/lading.yaml")).unwrap();
    let auto_test = "      name: test\n    autoPromotionEnabled: true\n";
    assert!(example.contains(auto_test), "the example auto-promotes into test: {example}");
    let manual_test = example.replace(auto_test, "      name: test\n    autoPromotionEnabled: false\n");
    let applied_file = stack.home.path().join("lading.yaml");
    std::fs::write(&applied_file, manual_test).unwrap();
    let applied = stack.lading(&["apply", "-f", applied_file.to_str().unwrap()]);
    assert!(applied.status.success(), "lading apply: {}", String::from_utf8_lossy(&applied.stderr));

    let freight = until("the warehouse's freight", PIPELINE_TIMEOUT, || {
        let output = stack.lading(&["get", "freight", "-p", "demo", "-o", "json"]);
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).into_owned());
        }
        let list: Value = serde_json::from_slice(&output.stdout).map_err(|e| e.to_string())?;
        list["items"][0]["metadata"]["name"].as_str().map(str::to_owned).ok_or_else(|| list.to_string())
    });

    // A paused Git server still completes TCP handshakes in the kernel but never answers,
    // so the promotion hangs in its `git-clone` while Running (within the promoter's Git
    // idle timeout, 30 s), on whichever replica holds the stage's lease.
    stdout_of(Command::new("docker").args(["pause", &git[0]]));
    let promoted = stack.lading(&["promote", "-p", "demo", "--freight", &freight, "--stage", "test"]);
    let promoted_out = String::from_utf8_lossy(&promoted.stdout).into_owned();
    assert!(promoted.status.success(), "lading promote: {promoted_out}{}", String::from_utf8_lossy(&promoted.stderr));
    let promotion = promoted_out
        .trim()
        .strip_prefix("promotion/")
        .and_then(|rest| rest.strip_suffix(" created"))
        .unwrap_or_else(|| panic!("lading promote printed {promoted_out:?}"))
        .to_owned();
    let running = until("a promoter replica running the promotion", Duration::from_secs(20), || {
        let running: Vec<&String> = promoters
            .iter()
            .filter(|c| {
                let logs = run(Command::new("docker").args(["logs", c.as_str()]));
                let text = String::from_utf8_lossy(&logs.stdout).into_owned() + &String::from_utf8_lossy(&logs.stderr);
                text.lines().any(|l| l.contains("promotion running") && l.contains(&promotion))
            })
            .collect();
        match running.as_slice() {
            [one] => Ok((*one).clone()),
            _ => Err(format!("replicas running {promotion}: {running:?}")),
        }
    });
    // Mid-way: Running, and it cannot finish while Git is paused.
    until("the promotion Running", Duration::from_secs(20), || {
        let stages = stack.stages()?;
        let phases: Vec<&Value> = promotions(&stages, "test").iter().map(|p| &p["status"]["phase"]).collect();
        if phases == [&Value::from("Running")] { Ok(()) } else { Err(format!("{phases:?}")) }
    });
    stdout_of(Command::new("docker").args(["kill", &running]));
    stdout_of(Command::new("docker").args(["unpause", &git[0]]));
    eprintln!("killed promoter {running} while it ran {promotion}");

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
