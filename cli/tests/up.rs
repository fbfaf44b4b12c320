//! `lading up` as users run it: it reads the same environment and credential files as
//! the separate services, holds its data dir alone, takes its nats-server down with it
//! however it dies, and cleans up the workspaces a killed run left.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

fn start_up(data: &Path, port: u16, extra: &[&str], env: &[(&str, &str)]) -> Up {
    let mut command = up_command();
    command
        .args(["--data-dir", data.to_str().unwrap(), "--api-addr", &format!("127.0.0.1:{port}")])
        .args(extra)
        .env_remove("LADING_CREDENTIALS_FILE")
        .env_remove("LADING_GIT_CREDENTIALS_FILE")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    Up(command.spawn().unwrap())
}

fn wait_ready(server: &str) {
    poll("lading up to be ready", Duration::from_secs(60), || {
        let out = lading(&["get", "freight", "-p", "none"], Some(server), None);
        stderr(&out).contains("not found").then_some(())
    });
}

fn alive(pid: i32) -> bool {
    // A process that exited but was not reaped yet has an empty command line.
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty())
}

#[test]
fn lading_up_reads_credential_files_and_promotes_from_a_private_repository() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repos");
    std::fs::create_dir_all(&root).unwrap();
    let app = lading_tests::git::Repo::create(&root, "app");
    let _gitops = lading_tests::git::Repo::create(&root, "gitops");
    let commit = app.commit("app.txt", "v1", "first");
    // Given repositories served over HTTP only to robot:s3cret,
    let base = runtime.block_on(lading_tests::git_http::serve(&root, "robot", "s3cret"));
    let credentials = dir.path().join("credentials.yaml");
    std::fs::write(&credentials, format!("- type: git\n  repoURL: {base}/\n  username: robot\n  password: s3cret\n"))
        .unwrap();
    let git_credentials = dir.path().join("git-credentials.yaml");
    std::fs::write(&git_credentials, format!("- repoURL: {base}/\n  username: robot\n  password: s3cret\n")).unwrap();

    // when lading up runs with the warehouse's file from the environment and the
    // promoter's from its flag,
    let port = free_port();
    let server = format!("http://127.0.0.1:{port}");
    let _up = start_up(
        &dir.path().join("data"),
        port,
        &["--git-credentials-file", git_credentials.to_str().unwrap()],
        &[("LADING_CREDENTIALS_FILE", credentials.to_str().unwrap())],
    );
    wait_ready(&server);
    let manifests = include_str!("../../examples/quickstart/lading.yaml")
        .replace("__APP_REPO__", &format!("{base}/app.git"))
        .replace("__GITOPS_REPO__", &format!("{base}/gitops.git"));
    let applied = lading(&["apply", "-f", "-"], Some(&server), Some(&manifests));
    assert!(applied.status.success(), "{}", stderr(&applied));

    // then the private application repository becomes freight promoted to uat.
    poll("the freight to reach uat", Duration::from_secs(60), || {
        let out = lading(&["get", "freight", "-p", "demo", "-o", "json"], Some(&server), None);
        let list: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        let first = list["items"].as_array()?.first()?.clone();
        (first["commits"][0]["id"] == commit.as_str() && first["status"]["currentlyIn"].get("uat").is_some())
            .then_some(())
    });
}

#[test]
fn a_bad_credentials_file_stops_lading_up_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(LADING)
        .args(["up", "--data-dir", dir.path().to_str().unwrap(), "--api-addr", "127.0.0.1:0"])
        .args(["--credentials-file", dir.path().join("missing.yaml").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("LADING_CREDENTIALS_FILE") && message.contains("missing.yaml"), "{message}");
}

#[test]
fn a_killed_lading_up_takes_its_nats_server_along_and_the_next_one_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let server = format!("http://127.0.0.1:{port}");
    let mut first = start_up(&data, port, &[], &[]);
    wait_ready(&server);
    let pid_file = data.join("nats/nats-server.pid");
    let nats_pid: i32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    assert!(alive(nats_pid));

    // A second lading up on the same data dir is refused while the first runs.
    let second = Command::new(LADING)
        .args(["up", "--data-dir", data.to_str().unwrap(), "--api-addr", &format!("127.0.0.1:{}", free_port())])
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(stderr(&second).contains("another `lading up` is using the data dir"), "{}", stderr(&second));

    // Given a workspace a promotion left behind, when lading up is killed outright,
    std::fs::create_dir_all(data.join("work/.tmpLeftover/out")).unwrap();
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    // then its nats-server dies too,
    poll("the nats-server to die with its parent", Duration::from_secs(10), || (!alive(nats_pid)).then_some(()));

    // and the next lading up starts on the same store and removes the leftover workspace.
    let port = free_port();
    let server = format!("http://127.0.0.1:{port}");
    let _next = start_up(&data, port, &[], &[]);
    wait_ready(&server);
    assert!(!data.join("work/.tmpLeftover").exists(), "the leftover workspace is removed");
}

#[test]
fn a_nats_server_left_on_the_store_is_stopped_before_a_new_one_starts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let store = data.join("nats");
    std::fs::create_dir_all(&store).unwrap();
    // Given a nats-server running on the store, not a child of any lading up,
    let stray_port = free_port();
    let mut stray = Up(Command::new("nats-server")
        .args(["-a", "127.0.0.1", "-p", &stray_port.to_string(), "-js", "-sd"])
        .arg(&store)
        .arg("-P")
        .arg(store.join("nats-server.pid"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nats-server runs"));
    poll("the stray server to write its pid file", Duration::from_secs(10), || {
        store.join("nats-server.pid").exists().then_some(())
    });
    // when lading up starts on that data dir,
    let port = free_port();
    let _up = start_up(&data, port, &[], &[]);
    wait_ready(&format!("http://127.0.0.1:{port}"));
    // then the stray server was stopped and a single server holds the store.
    poll("the stray nats-server to stop", Duration::from_secs(10), || stray.0.try_wait().unwrap());
    let pid: i32 = std::fs::read_to_string(store.join("nats-server.pid")).unwrap().trim().parse().unwrap();
    assert_ne!(pid as u32, stray.0.id(), "a new server holds the store");
}

#[test]
fn the_cli_shows_the_servers_answer_to_a_request_too_large() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = format!("http://127.0.0.1:{port}");
    let _up = start_up(&dir.path().join("data"), port, &[], &[]);
    wait_ready(&server);
    let file = dir.path().join("big.yaml");
    std::fs::write(&file, "#".repeat(20 * 1024 * 1024)).unwrap();
    let output = lading(&["apply", "-f", file.to_str().unwrap()], Some(&server), None);
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("larger than the limit"), "{message}");
    assert!(message.contains("413"), "{message}");
    assert!(!message.contains("cannot reach"), "{message}");
}

/// `curl` with `args`: its output as JSON.
fn curl(args: &[&str]) -> serde_json::Value {
    let output = Command::new("curl").arg("-sS").args(args).output().expect("curl runs");
    assert!(output.status.success(), "curl {args:?}: {}", stderr(&output));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("curl {args:?}: {e}: {}", stdout(&output)))
}

#[test]
fn lading_up_serves_webhook_receivers_with_its_secrets_file_under_its_external_url() {
    let dir = tempfile::tempdir().unwrap();
    let app = lading_tests::git::Repo::create(dir.path(), "app");
    app.commit("app.txt", "v1", "first");
    // Given a secrets file passed by flag and an external URL from the environment,
    let secrets = dir.path().join("secrets.yaml");
    std::fs::write(&secrets, "hook:\n  secret: generic-s3cret-for-lading-up\n").unwrap();
    let port = free_port();
    let server = format!("http://127.0.0.1:{port}");
    let _up = start_up(
        &dir.path().join("data"),
        port,
        &["--secrets-file", secrets.to_str().unwrap()],
        &[("LADING_API_EXTERNAL_URL", "https://lading.example.com/")],
    );
    wait_ready(&server);
    let manifests = format!(
        "apiVersion: lading.dev/v1alpha1\nkind: Project\nmetadata: {{name: demo}}\n---\napiVersion: lading.dev/v1alpha1\nkind: ProjectConfig\nmetadata: {{name: demo, namespace: demo}}\nspec:\n  webhookReceivers:\n  - name: hook\n    generic:\n      secretRef: {{name: hook}}\n      actions:\n      - action: Refresh\n        targetSelectionCriteria:\n        - kind: Warehouse\n          name: \"${{{{ request.body.warehouse }}}}\"\n---\napiVersion: lading.dev/v1alpha1\nkind: Warehouse\nmetadata: {{name: app, namespace: demo}}\nspec:\n  interval: 1h\n  subscriptions:\n  - git: {{repoURL: \"{}\"}}\n",
        app.url()
    );
    let applied = lading(&["apply", "-f", "-"], Some(&server), Some(&manifests));
    assert!(applied.status.success(), "{}", stderr(&applied));
    // when the receiver's URL is read from the ProjectConfig's status,
    let authorization = format!("Authorization: Bearer {TOKEN}");
    let config = curl(&["-H", &authorization, &format!("{server}/api/v1/projects/demo/projectconfig")]);
    let receiver = &config["status"]["webhookReceivers"][0];
    let path = receiver["path"].as_str().unwrap_or_else(|| panic!("{config}"));
    // then it is under the external URL, and a POST to its path refreshes the warehouse.
    assert_eq!(receiver["url"], format!("https://lading.example.com{path}"));
    assert!(path.starts_with("/webhooks/generic/"), "{path}");
    let answer = curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"warehouse": "app"}"#,
        &format!("{server}{path}"),
    ]);
    assert_eq!(answer["refreshed"], 1, "{answer}");
    assert_eq!(answer["warehouses"], serde_json::json!(["app"]), "{answer}");
}

/// Checks NATS as a client outside Lading sees it: a connection without a user is
/// refused; `subscriber` reads the public stream but may not create a consumer on the log.
const NATS_PROBE: &str = r#"
import asyncio, json, sys
import nats
from nats.js.api import DeliverPolicy

async def main(url, password):
    try:
        await nats.connect(url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2)
        print("anonymous: admitted")
    except Exception as error:
        print(f"anonymous: refused ({type(error).__name__})")
    host = url.split("://", 1)[1]
    nc = await nats.connect(f"nats://subscriber:{password}@{host}")
    js = nc.jetstream()
    info = await js.stream_info("LADING_PUBLIC")
    print(f"public: {info.config.name}")
    try:
        await js.stream_info("LADING_EVENTS")
        print("log: readable")
    except Exception as error:
        print(f"log: refused ({type(error).__name__})")
    await nc.close()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"#;

#[test]
fn lading_up_runs_nats_with_users_and_keeps_their_passwords_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let server = format!("http://127.0.0.1:{port}");
    let _up = start_up(&data, port, &[], &[]);
    wait_ready(&server);
    // The passwords are made once, readable by their owner only.
    let users = data.join("nats/users.json");
    assert_eq!(std::fs::metadata(&users).unwrap().permissions().mode() & 0o777, 0o600);
    let passwords: serde_json::Value = serde_json::from_slice(&std::fs::read(&users).unwrap()).unwrap();
    let subscriber = passwords["subscriber"].as_str().unwrap();
    // NATS listens where the nats-server's command line says.
    let pid: i32 = std::fs::read_to_string(data.join("nats/nats-server.pid")).unwrap().trim().parse().unwrap();
    let cmdline = String::from_utf8(std::fs::read(format!("/proc/{pid}/cmdline")).unwrap()).unwrap();
    let args: Vec<&str> = cmdline.split('\0').collect();
    let nats_port = args[args.iter().position(|a| *a == "-p").unwrap() + 1];
    let python = std::env::var("LADING_TEST_PYTHON")
        .unwrap_or_else(|_| format!("{}/../.tools/venv/bin/python", env!("CARGO_MANIFEST_DIR")));
    let probe = dir.path().join("probe.py");
    std::fs::write(&probe, NATS_PROBE).unwrap();
    let out = Command::new(&python)
        .arg(&probe)
        .args([&format!("nats://127.0.0.1:{nats_port}"), subscriber])
        .output()
        .unwrap_or_else(|e| panic!("{python}: {e}"));
    let printed = stdout(&out);
    assert!(out.status.success(), "{printed}{}", stderr(&out));
    assert!(printed.contains("anonymous: refused"), "{printed}");
    assert!(printed.contains("public: LADING_PUBLIC"), "{printed}");
    assert!(printed.contains("log: refused"), "{printed}");
}

#[test]
fn lading_events_follows_a_project_and_resumes_after_a_given_event() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repos");
    std::fs::create_dir_all(&root).unwrap();
    let app = lading_tests::git::Repo::create(&root, "app");
    let gitops = lading_tests::git::Repo::create(&root, "gitops");
    app.commit("app.txt", "v1", "first");
    let port = free_port();
    let server = format!("http://127.0.0.1:{port}");
    let _up = start_up(&dir.path().join("data"), port, &[], &[]);
    wait_ready(&server);
    // Given a follower started before anything happens in the project,
    let applied = lading(
        &["apply", "-f", "-"],
        Some(&server),
        Some("apiVersion: lading.dev/v1alpha1\nkind: Project\nmetadata: {name: demo}\n"),
    );
    assert!(applied.status.success(), "{}", stderr(&applied));
    let follow = |extra: &[&str]| {
        let mut command = Command::new(LADING);
        command
            .args(["events", "-p", "demo"])
            .args(extra)
            .env("LADING_TOKEN", TOKEN)
            .env("XDG_CONFIG_HOME", NO_CONFIG)
            .env("LADING_SERVER", &server)
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        Up(command.spawn().unwrap())
    };
    let mut live = follow(&["--type", "freight.created,promotion.succeeded"]);
    // when the quickstart pipeline runs,
    let manifests = include_str!("../../examples/quickstart/lading.yaml")
        .replace("__APP_REPO__", &app.url())
        .replace("__GITOPS_REPO__", &gitops.url());
    let applied = lading(&["apply", "-f", "-"], Some(&server), Some(&manifests));
    assert!(applied.status.success(), "{}", stderr(&applied));
    // then the follower prints the freight's creation and its promotion, a line each.
    let lines = read_lines(&mut live, 2);
    assert!(lines[0].contains("freight.created.v1") && lines[0].contains("projects/demo/freight/"), "{lines:?}");
    assert!(lines[1].contains("promotion.succeeded.v1") && lines[1].contains("projects/demo/promotions/"), "{lines:?}");
    // And a follower given the first one's sequence starts right after it, as JSON.
    let first: u64 = lines[0].split_whitespace().next().unwrap().parse().unwrap();
    let mut resumed = follow(&["--since", &first.to_string(), "-o", "json", "--type", "promotion.succeeded"]);
    let event: serde_json::Value = serde_json::from_str(&read_lines(&mut resumed, 1)[0]).unwrap();
    assert_eq!(event["type"], "dev.lading.promotion.succeeded.v1");
    // A type that does not exist is refused with the nearest one.
    let out = lading(&["events", "-p", "demo", "--type", "promotion.suceeded"], Some(&server), None);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("did you mean \"promotion.succeeded\""), "{}", stderr(&out));
}

/// The first `count` lines a running command prints, within a minute.
fn read_lines(running: &mut Up, count: usize) -> Vec<String> {
    use std::io::BufRead as _;
    let stdout = running.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    (0..count)
        .map(|i| {
            rx.recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("line {} of {count} did not come", i + 1))
        })
        .collect()
}

/// The newest freight's commit and whether it is in `stage`.
fn newest_freight_in(server: &str, commit: &str, stage: &str) -> Option<()> {
    let out = lading(&["get", "freight", "-p", "demo", "-o", "json"], Some(server), None);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let found = list["items"]
        .as_array()?
        .iter()
        .any(|freight| freight["commits"][0]["id"] == commit && freight["status"]["currentlyIn"].get(stage).is_some());
    found.then_some(())
}

#[test]
fn a_service_that_fails_inside_lading_up_is_started_again_and_the_pipeline_goes_on() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let nats = runtime.block_on(lading_tests::nats::TestNats::start());
    let dir = tempfile::tempdir().unwrap();
    let app = lading_tests::git::Repo::create(dir.path(), "app");
    let gitops = lading_tests::git::Repo::create(dir.path(), "gitops");
    let first = app.commit("app.txt", "v1", "first");
    // Given lading up promoting to uat, its log kept,
    let port = free_port();
    let server = format!("http://127.0.0.1:{port}");
    let log_path = dir.path().join("up.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let _up = Up(up_command()
        .args(["--data-dir", dir.path().join("data").to_str().unwrap(), "--api-addr", &format!("127.0.0.1:{port}")])
        .args(["--nats-url", &nats.url()])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap());
    wait_ready(&server);
    let manifests = include_str!("../../examples/quickstart/lading.yaml")
        .replace("__APP_REPO__", &app.url())
        .replace("__GITOPS_REPO__", &gitops.url());
    let applied = lading(&["apply", "-f", "-"], Some(&server), Some(&manifests));
    assert!(applied.status.success(), "{}", stderr(&applied));
    poll("the first freight to reach uat", Duration::from_secs(60), || newest_freight_in(&server, &first, "uat"));

    // when the promoter's durable consumer is deleted from outside (an operator's
    // mistake, a restored NATS), so that its loop fails,
    runtime.block_on(async {
        let bus = nats.bus("test").await;
        let stream = bus.jetstream().get_stream(lading_bus::names::EVENTS_STREAM).await.unwrap();
        stream.delete_consumer("promoter-run").await.unwrap();
    });
    // then lading up logs the failure and starts the promoter again,
    poll("lading up to restart the promoter", Duration::from_secs(30), || {
        let log = std::fs::read_to_string(&log_path).ok()?;
        log.lines().any(|l| l.contains("service failed; restarting") && l.contains("promoter")).then_some(())
    });
    // and the pipeline goes on: a new commit still reaches uat.
    let second = app.commit("app.txt", "v2", "second");
    let refreshed = lading(&["refresh", "warehouse", "app", "-p", "demo"], Some(&server), None);
    assert!(refreshed.status.success(), "{}", stderr(&refreshed));
    poll("the second freight to reach uat", Duration::from_secs(60), || newest_freight_in(&server, &second, "uat"));
    let log = std::fs::read_to_string(&log_path).unwrap();
    let restarts = log.lines().filter(|l| l.contains("service failed; restarting")).count();
    assert_eq!(restarts, 1, "only the promoter failed, once:\n{log}");
}
