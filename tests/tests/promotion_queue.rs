//! The promotion queue end to end: manual promotions and the hold they put on
//! auto-promotion, newer freight superseding pending promotions, aborts, and per-step
//! status, against real NATS and Git.

use std::time::Duration;

use lading_tests::git::Repo;
use lading_tests::sandbox::{Sandbox, quickstart};
use lading_tests::wait;
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(60);

async fn promotions(sandbox: &Sandbox, stage: &str) -> Vec<Value> {
    let (_, stages) = sandbox.get("/api/v1/projects/demo/stages").await;
    stages["items"]
        .as_array()
        .and_then(|items| items.iter().find(|s| s["metadata"]["name"] == stage))
        .and_then(|s| s["status"]["promotions"].as_array().cloned())
        .unwrap_or_default()
}

async fn promote(sandbox: &Sandbox, stage: &str, freight: &str) -> (u16, Value) {
    let path = format!("/api/v1/projects/demo/stages/{stage}/promotions");
    let response = lading_tests::sandbox::authorized_client()
        .post(format!("{}{path}", sandbox.api_url))
        .json(&json!({"freight": freight}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn alias_of(sandbox: &Sandbox, commit: &str) -> String {
    let items = sandbox.freight("demo").await;
    items.iter().find(|f| f["commits"][0]["id"] == commit).unwrap()["alias"].as_str().unwrap().to_owned()
}

/// Waits until `stage` has a promotion of `commit`'s freight in `phase`.
async fn wait_phase(sandbox: &Sandbox, stage: &str, alias: &str, phase: &str) -> Value {
    wait::until(&format!("{alias} to be {phase} in {stage}"), TIMEOUT, || async {
        let all = promotions(sandbox, stage).await;
        match all.iter().find(|p| p["freight"]["alias"] == alias) {
            Some(p) if p["status"]["phase"] == phase => Ok(p.clone()),
            Some(p) => Err(p["status"].to_string()),
            None => Err(format!("no promotion of {alias}: {all:?}")),
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_manual_promotion_holds_auto_promotion_until_the_candidate_is_promoted_again() {
    let sandbox = Sandbox::start(1).await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let a = app.commit("app.txt", "a", "a");
    sandbox.apply(&quickstart(&app.url(), &gitops.url(), "1h")).await;
    sandbox.wait_current_in("demo", &a, "uat", TIMEOUT).await;
    let b = app.commit("app.txt", "b", "b");
    sandbox.refresh("demo", "app").await;
    sandbox.wait_current_in("demo", &b, "test", TIMEOUT).await;

    // Roll test back to a by hand.
    let alias_a = alias_of(&sandbox, &a).await;
    let (status, body) = promote(&sandbox, "test", &alias_a).await;
    assert_eq!(status, 201, "{body}");
    assert!(body["name"].as_str().unwrap().starts_with("test."));
    sandbox.wait_current_in("demo", &a, "test", TIMEOUT).await;

    // New freight c is not auto-promoted into the held stage; promoting it by hand
    // lifts the hold, so d after it flows in on its own.
    let c = app.commit("app.txt", "c", "c");
    sandbox.refresh("demo", "app").await;
    wait::until("freight c", TIMEOUT, || async {
        let n = sandbox.freight("demo").await.len();
        if n == 3 { Ok(()) } else { Err(format!("{n} freight")) }
    })
    .await;
    let alias_c = alias_of(&sandbox, &c).await;
    let (status, body) = promote(&sandbox, "test", &alias_c).await;
    assert_eq!(status, 201, "{body}");
    sandbox.wait_current_in("demo", &c, "test", TIMEOUT).await;
    let d = app.commit("app.txt", "d", "d");
    sandbox.refresh("demo", "app").await;
    sandbox.wait_current_in("demo", &d, "test", TIMEOUT).await;

    let test = promotions(&sandbox, "test").await;
    let of_c: Vec<&str> = test
        .iter()
        .filter(|p| p["freight"]["alias"] == alias_c.as_str())
        .map(|p| p["trigger"].as_str().unwrap())
        .collect();
    assert_eq!(of_c, vec!["Manual"], "c was held back from auto-promotion: {test:#?}");
    let of_d =
        test.iter().find(|p| p["freight"]["alias"] != alias_c.as_str() && p["freight"]["name"].as_str().is_some());
    assert!(of_d.is_some());
    assert_eq!(test.last().unwrap()["trigger"], "Auto", "d was auto-promoted once the hold lifted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn manual_promotion_of_unavailable_or_unknown_freight_is_refused() {
    let sandbox = Sandbox::start(1).await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let a = app.commit("app.txt", "a", "a");
    // uat takes freight only after test verified it; test is not auto-promoted here.
    let manifests = quickstart(&app.url(), &gitops.url(), "1h").replace(
        "      name: test\n    autoPromotionEnabled: true",
        "      name: test\n    autoPromotionEnabled: false",
    );
    sandbox.apply(&manifests).await;
    wait::until("freight a", TIMEOUT, || async {
        if sandbox.freight("demo").await.len() == 1 { Ok(()) } else { Err("none yet".into()) }
    })
    .await;
    let alias = alias_of(&sandbox, &a).await;
    let (status, body) = promote(&sandbox, "uat", &alias).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("must first be verified in test"), "{body}");
    let (status, _) = promote(&sandbox, "uat", "no-such-freight").await;
    assert_eq!(status, 404);
    let (status, _) = promote(&sandbox, "nowhere", &alias).await;
    assert_eq!(status, 404);
}

/// A TCP listener that accepts connections and never answers: a `git-clone` from it
/// hangs until the listener goes away, so promotions queue up behind it.
struct Blackhole {
    addr: std::net::SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
}

async fn blackhole() -> Blackhole {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            tokio::select! {
                _ = &mut stopped => return,
                accepted = listener.accept() => {
                    if let Ok((socket, _)) = accepted {
                        held.push(socket);
                    }
                }
            }
        }
    });
    Blackhole { addr, stop }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn newer_freight_supersedes_pending_promotions_and_aborts_stop_the_queue_head() {
    let sandbox = Sandbox::start(1).await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let hole = blackhole().await;
    app.commit("app.txt", "a", "a");
    sandbox.apply(&quickstart(&app.url(), &format!("http://{}/gitops.git", hole.addr), "1h")).await;
    let alias_a = wait::until("freight a", TIMEOUT, || async {
        let items = sandbox.freight("demo").await;
        items.first().map(|f| f["alias"].as_str().unwrap().to_owned()).ok_or_else(|| "none".to_owned())
    })
    .await;
    wait_phase(&sandbox, "test", &alias_a, "Running").await;

    let b = app.commit("app.txt", "b", "b");
    sandbox.refresh("demo", "app").await;
    let alias_b = wait::until("freight b", TIMEOUT, || async {
        let items = sandbox.freight("demo").await;
        let found = items.iter().find(|f| f["commits"][0]["id"] == b.as_str());
        found.map(|f| f["alias"].as_str().unwrap().to_owned()).ok_or_else(|| "none".to_owned())
    })
    .await;
    wait_phase(&sandbox, "test", &alias_b, "Pending").await;

    let c = app.commit("app.txt", "c", "c");
    sandbox.refresh("demo", "app").await;
    let superseded = wait_phase(&sandbox, "test", &alias_b, "Aborted").await;
    assert!(
        superseded["status"]["message"].as_str().unwrap().starts_with("superseded by newer freight"),
        "{superseded}"
    );
    let alias_c = alias_of(&sandbox, &c).await;
    wait_phase(&sandbox, "test", &alias_c, "Pending").await;

    // Abort the running head of the queue; then let its clone fail.
    let abort = lading_tests::sandbox::authorized_client()
        .post(format!("{}/api/v1/projects/demo/stages/test/abort", sandbox.api_url))
        .send()
        .await
        .unwrap();
    assert_eq!(abort.status().as_u16(), 200);
    let aborted = wait_phase(&sandbox, "test", &alias_a, "Aborted").await;
    assert_eq!(aborted["status"]["message"], "aborted by admin");
    let _ = hole.stop.send(());

    // c runs next; its clone now fails, the failed step says why, and the steps after it
    // are listed as skipped.
    let failed = wait_phase(&sandbox, "test", &alias_c, "Failed").await;
    assert!(failed["status"]["message"].as_str().unwrap().starts_with("step 0 (git-clone)"), "{failed}");
    let steps = wait::until("every step recorded", TIMEOUT, || async {
        let test = promotions(&sandbox, "test").await;
        let c = test.iter().find(|p| p["freight"]["alias"] == alias_c.as_str()).cloned().unwrap_or_default();
        let steps = c["status"]["stepExecutionMetadata"].as_array().cloned().unwrap_or_default();
        if steps.len() > 1 { Ok(steps) } else { Err(format!("{steps:?}")) }
    })
    .await;
    assert_eq!(steps[0]["status"], "Failed");
    assert_eq!(steps[0]["uses"], "git-clone");
    for step in &steps[1..] {
        assert_eq!(step["status"], "Skipped", "{step}");
        assert!(step["message"].as_str().unwrap().contains("success()"), "{step}");
    }
    // The aborted promotion stays aborted even though its clone failed afterwards.
    let test = promotions(&sandbox, "test").await;
    let a_phase = test.iter().find(|p| p["freight"]["alias"] == alias_a.as_str()).unwrap()["status"]["phase"].clone();
    assert_eq!(a_phase, "Aborted");
    let (status, _) = sandbox.post("/api/v1/projects/demo/stages/test/abort", "").await;
    assert_eq!(status, 409, "nothing left to abort");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn freight_from_two_warehouses_combines_in_a_stage() {
    let sandbox = Sandbox::start(1).await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let config = Repo::create(sandbox.dir.path(), "config");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    app.commit("app.txt", "v1", "app v1");
    let config_commit = config.commit("config.txt", "c1", "config c1");
    let manifests = format!(
        "apiVersion: lading.dev/v1alpha1\nkind: Project\nmetadata: {{name: demo}}\n---\n\
         apiVersion: lading.dev/v1alpha1\nkind: ProjectConfig\nmetadata: {{name: demo, namespace: demo}}\n\
         spec:\n  promotionPolicies:\n  - stageSelector: {{name: test}}\n    autoPromotionEnabled: true\n---\n\
         apiVersion: lading.dev/v1alpha1\nkind: Warehouse\nmetadata: {{name: app, namespace: demo}}\n\
         spec:\n  interval: 1h\n  subscriptions:\n  - git: {{repoURL: '{app}', branch: main}}\n---\n\
         apiVersion: lading.dev/v1alpha1\nkind: Warehouse\nmetadata: {{name: config, namespace: demo}}\n\
         spec:\n  interval: 1h\n  subscriptions:\n  - git: {{repoURL: '{config}', branch: main}}\n---\n\
         apiVersion: lading.dev/v1alpha1\nkind: Stage\nmetadata: {{name: test, namespace: demo}}\nspec:\n\
         \x20 requestedFreight:\n  - origin: {{kind: Warehouse, name: app}}\n    sources: {{direct: true}}\n\
         \x20 - origin: {{kind: Warehouse, name: config}}\n    sources: {{direct: true}}\n\
         \x20 promotionTemplate:\n    spec:\n      steps:\n\
         \x20     - uses: git-clone\n        config:\n          repoURL: '{gitops}'\n          checkout: [{{branch: stage/test, create: true, path: ./out}}]\n\
         \x20     - uses: yaml-update\n        config:\n          path: ./out/values.yaml\n          updates:\n\
         \x20         - {{key: app, value: \"${{{{ ctx.targetFreight.origin.name == 'app' ? commitFrom('{app}').ID : 'unchanged' }}}}\"}}\n\
         \x20         - {{key: config, value: \"${{{{ commitFrom('{config}').ID }}}}\"}}\n\
         \x20     - uses: git-commit\n        config: {{path: ./out, message: promote}}\n\
         \x20     - uses: git-push\n        config: {{path: ./out}}\n",
        app = app.url(),
        config = config.url(),
        gitops = gitops.url(),
    );
    sandbox.apply(&manifests).await;
    sandbox.wait_current_in("demo", &config_commit, "test", TIMEOUT).await;
    // New app freight: its promotion still sees the config freight the stage runs.
    let app_v2 = app.commit("app.txt", "v2", "app v2");
    sandbox.refresh("demo", "app").await;
    sandbox.wait_current_in("demo", &app_v2, "test", TIMEOUT).await;
    let values = gitops.show("stage/test", "values.yaml");
    assert!(values.contains(&format!("app: {app_v2}")), "{values}");
    assert!(values.contains(&format!("config: {config_commit}")), "{values}");
    // Both origins are current in the stage at once.
    let current = sandbox.wait_current_in("demo", &config_commit, "test", TIMEOUT).await;
    assert!(current["status"]["currentlyIn"].get("test").is_some());
}
