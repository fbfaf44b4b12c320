//! Who may do what, as a person meets it at the command line, on a fresh `lading up`:
//! the admin token it prints logs the CLI in (saved, or with `lading login`); a viewer
//! token made with it is refused `approve`, naming the permission; a promoter approves a
//! hotfix that reaches `prod` past `uat`; an alias given with `lading update freight`
//! shows in `get freight` and works in `promote`.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use lading_tests::git::Repo;
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(90);

/// test takes freight from the warehouse and auto-promotes; uat takes it from test and
/// does not auto-promote; prod takes it from uat and auto-promotes.
fn pipeline(app: &str, gitops: &str) -> String {
    let stage = |name: &str, sources: &str| {
        format!(
            r#"---
apiVersion: lading.dev/v1alpha1
kind: Stage
metadata: {{name: {name}, namespace: demo}}
spec:
  requestedFreight:
  - origin: {{kind: Warehouse, name: app}}
    sources: {sources}
  promotionTemplate:
    spec:
      steps:
      - uses: git-clone
        config:
          repoURL: "{gitops}"
          checkout: [{{branch: stage/{name}, create: true, path: ./out}}]
      - uses: file-write
        config: {{path: ./out/freight, contents: "${{{{ ctx.targetFreight.name }}}}", overwrite: true}}
      - uses: git-commit
        config: {{path: ./out, message: "{name}"}}
      - uses: git-push
        config: {{path: ./out}}
"#
        )
    };
    format!(
        r#"apiVersion: lading.dev/v1alpha1
kind: Project
metadata: {{name: demo}}
spec:
  promotionPolicies:
  - stageSelector: {{name: test}}
    autoPromotionEnabled: true
  - stageSelector: {{name: prod}}
    autoPromotionEnabled: true
---
apiVersion: lading.dev/v1alpha1
kind: Warehouse
metadata: {{name: app, namespace: demo}}
spec:
  interval: 1h
  subscriptions:
  - git: {{repoURL: "{app}", branch: main}}
{}{}{}"#,
        stage("test", "{direct: true}"),
        stage("uat", "{stages: [test]}"),
        stage("prod", "{stages: [uat]}")
    )
}

/// A fresh `lading up`: no admin token given, its own config home.
struct Fresh {
    _up: Up,
    server: String,
    /// The config home `lading up` saved its admin token in.
    home: PathBuf,
    admin_token: String,
}

fn fresh_up(root: &Path) -> Fresh {
    let port = free_port();
    let home = root.join("up-home");
    let mut child = std::process::Command::new(LADING)
        .args(["up", "--data-dir", root.join("data").to_str().unwrap(), "--api-addr", &format!("127.0.0.1:{port}")])
        .env_remove("LADING_ADMIN_TOKEN")
        .env_remove("LADING_TOKEN")
        .env("XDG_CONFIG_HOME", &home)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read what lading up says, for as long as it runs, so it never blocks on a full pipe.
    let (lines_tx, lines) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let up = Up(child);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut announced = false;
    let admin_token = loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = lines.recv_timeout(left).expect("lading up prints the admin token within a minute");
        announced |= line.contains("server admin token (shown only now");
        if announced && line.trim().starts_with("lading_") {
            break line.trim().to_owned();
        }
    };
    Fresh { _up: up, server: format!("http://127.0.0.1:{port}"), home, admin_token }
}

fn json(output: &std::process::Output) -> Value {
    serde_json::from_str(&ok(output)).expect("JSON")
}

#[test]
fn a_fresh_lading_up_from_admin_token_to_a_hotfix_in_prod() {
    let dir = tempfile::tempdir().unwrap();
    let app = Repo::create(dir.path(), "app");
    let gitops = Repo::create(dir.path(), "gitops");
    let first = app.commit("app.txt", "v1", "first");
    let up = fresh_up(dir.path());

    // The printed admin token was saved for the CLI: commands work with no flags.
    ok(&lading_as(&["get", "projects"], &up.home, &[], None));
    let saved = std::fs::read_to_string(up.home.join("lading/config.yaml")).unwrap();
    assert!(saved.contains(&up.admin_token) && saved.contains(&up.server), "{saved}");

    // `lading login` checks a token before saving it: a wrong one is refused, nothing saved.
    let home = dir.path().join("home");
    let wrong = refused(&lading_as(&["login", &up.server, "--token", "lading_not-a-token"], &home, &[], None));
    assert!(wrong.contains("the token is not valid") && wrong.contains("401"), "{wrong}");
    assert!(!home.join("lading/config.yaml").exists(), "nothing saved");
    // `lading login` with the admin token works, from another config home; the token is
    // never shown.
    let login = ok(&lading_as(&["login", &up.server, "--token", &up.admin_token], &home, &[], None));
    assert!(login.contains(&format!("Logged in to {} as admin (admin of the server)", up.server)), "{login}");
    let view = ok(&lading_as(&["config", "view"], &home, &[], None));
    assert!(view.contains("token: \"***\"") && !view.contains(&up.admin_token), "{view}");
    let version = ok(&lading_as(&["version"], &home, &[], None));
    assert!(version.contains("Client Version: 0.") && version.contains("Server Version: 0."), "{version}");

    let me = |args: &[&str]| lading_as(args, &home, &[], None);
    let applied = ok(&lading_as(&["apply", "-f", "-"], &home, &[], Some(&pipeline(&app.url(), &gitops.url()))));
    assert!(applied.contains("stage/prod created"), "{applied}");
    // No default project yet: the CLI says how to give one.
    assert!(refused(&me(&["get", "freight"])).contains("no project given: pass -p PROJECT"));
    ok(&me(&["config", "set-project", "demo"]));
    assert_eq!(ok(&me(&["get", "projects", "-o", "name"])), "project/demo\n");

    let freight = poll("the first freight to be verified in test", TIMEOUT, || {
        let list = json(&me(&["get", "freight", "-o", "json"]));
        let first = list["items"].as_array()?.first()?.clone();
        first["status"]["verifiedIn"].get("test").is_some().then_some(first)
    });
    let (name, alias) = (freight["metadata"]["name"].as_str().unwrap(), freight["alias"].as_str().unwrap());

    // Tokens made with the admin token: a viewer and a promoter in demo.
    let viewer = ok(&me(&["token", "create", "watcher", "--role", "viewer"])).trim().to_owned();
    let promoter = ok(&me(&["token", "create", "release-bot", "--role", "promoter"])).trim().to_owned();
    let listed = ok(&me(&["token", "list"]));
    assert!(listed.contains("watcher") && listed.contains("release-bot") && !listed.contains(&viewer), "{listed}");
    let as_viewer = |args: &[&str]| lading_as(args, &home, &[("LADING_TOKEN", viewer.as_str())], None);
    let as_promoter = |args: &[&str]| lading_as(args, &home, &[("LADING_TOKEN", promoter.as_str())], None);

    // The viewer reads, but is refused approve, naming the permission it lacks.
    assert_eq!(ok(&as_viewer(&["get", "freight", alias, "-o", "jsonpath={.metadata.name}"])), name);
    let refusal = refused(&as_viewer(&["approve", "--freight", alias, "--stage", "prod"]));
    assert!(
        refusal.contains(
            "token \"watcher\" (viewer in project demo) may not promote in project demo: that needs the promoter role"
        ) && refusal.contains("403"),
        "{refusal}"
    );
    // A typo in the stage gets the close name.
    let typo = refused(&as_promoter(&["approve", "--freight", alias, "--stage", "prdo"]));
    assert!(typo.contains("stage \"prdo\" not found in project \"demo\" (did you mean \"prod\"?)"), "{typo}");

    // The promoter approves the freight for prod: it reaches prod, and uat was passed by.
    let approved = ok(&as_promoter(&["approve", "--freight", alias, "--stage", "prod"]));
    assert_eq!(approved, format!("freight/{name} approved for stage prod\n"));
    poll("the hotfix to reach prod", TIMEOUT, || {
        let current = ok(&me(&["get", "stages", "prod", "-o", "jsonpath={.status.currentFreight[*].name}"]));
        (current == name).then_some(())
    });
    assert!(gitops.log("stage/uat").is_empty(), "uat was passed by");
    assert_eq!(ok(&me(&["get", "stages", "uat", "-o", "jsonpath={.status.currentFreight[*].name}"])), "");
    let promotions = ok(&me(&["get", "promotions", "--stage", "prod", "--no-headers", "-o", "wide"]));
    assert!(promotions.contains("Succeeded") && promotions.contains("lading/promoter"), "{promotions}");

    // A new alias shows in get freight at once, and promote takes it.
    let renamed = ok(&as_promoter(&["update", "freight", alias, "--alias", "frozen-tauntaun"]));
    assert_eq!(renamed, format!("freight/{name} is now frozen-tauntaun\n"));
    let table = ok(&me(&["get", "freight"]));
    assert!(table.starts_with("NAME") && table.lines().next().unwrap().contains("ORIGIN"), "{table}");
    assert!(table.lines().any(|l| l.contains(name) && l.contains("frozen-tauntaun") && l.contains("app")), "{table}");
    assert_eq!(ok(&me(&["get", "freight", "frozen-tauntaun", "-o", "name"])), format!("freight/{name}\n"));
    let promoted = ok(&as_promoter(&["promote", "--freight", "frozen-tauntaun", "--stage", "uat", "--wait"]));
    assert!(promoted.trim_end().ends_with("Succeeded"), "{promoted}");
    assert!(gitops.show("stage/uat", "freight").contains(name));

    // A refresh returns once the warehouse handled it; --downstream-from takes what test
    // then holds into uat.
    let second = app.commit("app.txt", "v2", "second");
    let refreshed = ok(&as_promoter(&["refresh", "warehouse", "app", "--wait", "--timeout", "60s"]));
    assert!(refreshed.ends_with("warehouse/app refreshed\n"), "{refreshed}");
    let newer = poll("the second freight to be in test", TIMEOUT, || {
        let list = json(&me(&["get", "freight", "-o", "json"]));
        let found = list["items"].as_array()?.iter().find(|f| f["commits"][0]["id"] == second.as_str())?.clone();
        found["status"]["verifiedIn"].get("test").is_some().then_some(found)
    });
    ok(&as_promoter(&["promote", "--downstream-from", "test", "--wait"]));
    let in_uat = ok(&me(&["get", "stages", "uat", "-o", "jsonpath={.status.currentFreight[0].name}"]));
    assert_eq!(in_uat, newer["metadata"]["name"].as_str().unwrap());
    let _ = first;

    // Freight by warehouse, the project's config, and deletes refused while in use.
    let from_app = ok(&me(&["get", "freight", "--warehouse", "app", "-o", "name"]));
    assert_eq!(from_app.lines().count(), 2, "{from_app}");
    let none = lading_as(&["get", "freight", "--warehouse", "web"], &home, &[], None);
    assert!(ok(&none).is_empty() && stderr(&none).contains("No freight found in project demo."));
    assert_eq!(
        ok(&me(&["get", "projectconfig", "-o", "jsonpath={.kind} {.spec.promotionPolicies[*].stageSelector.name}"])),
        "ProjectConfig test prod"
    );
    assert!(refused(&me(&["delete", "stage", "test"])).contains("stage \"test\" is upstream of uat"));
    assert!(refused(&me(&["delete", "warehouse", "app"])).contains("supplies stage(s)"));
    let not_yours = refused(&as_promoter(&["delete", "project", "demo"]));
    assert!(not_yours.contains("needs the admin role of the server (403 Forbidden)"), "{not_yours}");

    // A deleted token is refused; the message says how to log in.
    ok(&me(&["token", "delete", "watcher"]));
    let gone = refused(&as_viewer(&["get", "freight"]));
    assert!(gone.contains("401") && gone.contains(&format!("lading login {} --token TOKEN", up.server)), "{gone}");
    // The admin deletes the project, and everything in it.
    assert_eq!(ok(&me(&["delete", "project", "demo"])), "project/demo deleted\n");
    assert_eq!(ok(&me(&["get", "projects", "-o", "name"])), "");
    // Logged out, the CLI has no token and says the same.
    ok(&me(&["logout"]));
    assert!(refused(&me(&["get", "projects"])).contains("lading login"));
}

#[test]
fn an_unreachable_server_is_named_with_where_it_came_from_and_how_to_change_it() {
    let home = tempfile::tempdir().unwrap();
    let error =
        refused(&lading_as(&["get", "projects"], home.path(), &[("LADING_SERVER", "http://127.0.0.1:9")], None));
    assert!(error.contains("cannot reach the Lading api at http://127.0.0.1:9 (from LADING_SERVER)"), "{error}");
    assert!(error.contains("--server URL") && error.contains("lading login URL --token TOKEN"), "{error}");
}

#[test]
fn a_token_for_no_project_must_be_asked_for_as_server_wide() {
    let home = tempfile::tempdir().unwrap();
    let env = [("LADING_SERVER", "http://127.0.0.1:9")];
    let error = refused(&lading_as(&["token", "create", "ci", "--role", "viewer"], home.path(), &env, None));
    assert!(error.contains("-p PROJECT") && error.contains("--server-wide"), "{error}");
    // With --server-wide the request is made (and here, finds no server).
    let asked =
        refused(&lading_as(&["token", "create", "ci", "--role", "viewer", "--server-wide"], home.path(), &env, None));
    assert!(asked.contains("cannot reach"), "{asked}");
}

#[test]
fn completion_scripts_come_from_the_grammar() {
    let home = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let script = ok(&lading_as(&["completion", shell], home.path(), &[], None));
        assert!(script.contains("approve") && script.contains("downstream-from"), "{shell}: {script}");
    }
}
