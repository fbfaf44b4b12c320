//! Kubernetes mode against a real kube-apiserver and etcd on loopback: the quickstart
//! pipeline applied with `kubectl` makes freight, `kubectl get` shows it, alias edits by
//! `kubectl` reach the log, and an invalid Stage says which field is wrong.

mod common;

#[path = "kubernetes/access.rs"]
mod access;
#[path = "kubernetes/latency.rs"]
mod latency;
#[path = "kubernetes/refresh.rs"]
mod refresh;
#[path = "kubernetes/replicas.rs"]
mod replicas;
#[path = "kubernetes/verification.rs"]
mod verification;
#[path = "kubernetes/webhooks.rs"]
mod webhooks;

use std::time::Duration;

use lading_tests::git::Repo;
use lading_tests::kube::TestKube;
use lading_tests::sandbox::{ADMIN_TOKEN, Sandbox, SandboxOptions, quickstart, with_verification};
use lading_tests::wait;
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(60);

/// A cluster with Lading's CRDs and a Lading whose api runs in Kubernetes mode on it.
async fn cluster_with_lading() -> (TestKube, Sandbox) {
    let kube = TestKube::start().await;
    kube.install_crds().await;
    let settings = kube.lading_settings().await;
    let sandbox =
        Sandbox::start_with_options(SandboxOptions { kube: Some(settings), ..SandboxOptions::default() }).await;
    (kube, sandbox)
}

async fn get_json(kube: &TestKube, args: &[&str]) -> Value {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&kube.kubectl_ok(&all).await).expect("kubectl prints JSON")
}

/// `lading get freight` against the sandbox's api.
fn lading_get_freight(sandbox: &Sandbox) -> String {
    let output = std::process::Command::new(common::LADING)
        .args(["get", "freight", "--project", "demo"])
        .env("LADING_SERVER", &sandbox.api_url)
        .env("LADING_TOKEN", ADMIN_TOKEN)
        .env("XDG_CONFIG_HOME", common::NO_CONFIG)
        .env_remove("LADING_PROJECT")
        .output()
        .expect("lading runs");
    assert!(output.status.success(), "lading get freight: {}", common::stderr(&output));
    common::stdout(&output)
}

/// Waits until the Freight object's alias field and label, and `lading get freight`, all
/// say `alias`.
async fn wait_alias_agrees(kube: &TestKube, sandbox: &Sandbox, id: &str, alias: &str) {
    wait::until(&format!("field, label and lading to say {alias}"), TIMEOUT, || async move {
        let object = get_json(kube, &["freight", id, "-n", "demo"]).await;
        let field = object["alias"].as_str().unwrap_or_default().to_owned();
        let label = object["metadata"]["labels"]["lading.dev/alias"].as_str().unwrap_or_default().to_owned();
        let listed = lading_get_freight(sandbox);
        let row = listed.lines().find(|l| l.starts_with(id)).unwrap_or_default().to_owned();
        if field == alias && label == alias && row.split_whitespace().nth(1) == Some(alias) {
            Ok(())
        } else {
            Err(format!("field {field:?}, label {label:?}, lading: {row:?}"))
        }
    })
    .await;
}

/// The first Freight object in `demo`, once there is one.
async fn first_freight(kube: &TestKube) -> Value {
    wait::until("a Freight object in demo", TIMEOUT, || async {
        let list = get_json(kube, &["freight", "-n", "demo"]).await;
        match list["items"].as_array().and_then(|items| items.first()) {
            Some(item) => Ok(item.clone()),
            None => Err(format!("{list}")),
        }
    })
    .await
}

/// A stage as the api serves it (what `lading get stages` reads).
async fn stage_in_api(sandbox: &Sandbox, name: &str) -> Option<Value> {
    let (_, body) = sandbox.get("/api/v1/projects/demo/stages").await;
    body["items"].as_array()?.iter().find(|s| s["metadata"]["name"] == name).cloned()
}

/// The whitespace-separated cells of each line of a `kubectl get` table.
fn table(text: &str) -> Vec<Vec<String>> {
    text.lines().map(|l| l.split_whitespace().map(str::to_owned).collect()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_applies_the_pipeline_shows_freight_and_stages_and_edits_aliases() {
    let (kube, sandbox) = cluster_with_lading().await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    app.commit("app.txt", "v1", "first feature");
    let pipeline = quickstart(&app.url(), &gitops.url(), "1h");
    apply_until_ok(&kube, &pipeline).await;

    // The Project made its namespace; the warehouse made freight, shown by kubectl.
    let id = first_freight(&kube).await["metadata"]["name"].as_str().unwrap().to_owned();
    let namespace = get_json(&kube, &["namespace", "demo"]).await;
    assert_eq!(namespace["metadata"]["labels"]["lading.dev/project"], "true");
    let printed = kube.kubectl_ok(&["get", "freight", "-n", "demo"]).await;
    let rows = table(&printed);
    assert_eq!(rows[0], ["NAME", "ALIAS", "ORIGIN", "AGE"], "{printed}");
    let alias = rows[1][1].clone();
    assert_eq!(rows[1][0], id, "{printed}");
    assert!(lading_domain::alias::looks_like_alias(&alias), "{printed}");
    assert_eq!(rows[1][2], "app", "{printed}");

    // Stages show their current freight and Ready once promoted.
    let stages = wait::until("test and uat to show the freight and Ready", TIMEOUT, || {
        let kube = &kube;
        let alias = alias.clone();
        async move {
            let printed = kube.kubectl_ok(&["get", "stages", "-n", "demo"]).await;
            let rows = table(&printed);
            let shows =
                |stage: &str| rows.iter().any(|r| r.len() >= 3 && r[0] == stage && r[1] == alias && r[2] == "True");
            if shows("test") && shows("uat") { Ok(printed) } else { Err(printed) }
        }
    })
    .await;
    // HEALTH stays empty for a stage whose promotions update no Argo CD Application.
    assert_eq!(table(&stages)[0], ["NAME", "CURRENT", "FREIGHT", "HEALTH", "READY", "VERIFIED", "AGE"], "{stages}");

    // The field cleared and the label overwritten: the label's value is the alias.
    kube.kubectl_ok(&["patch", "freight", &id, "-n", "demo", "--type", "merge", "-p", r#"{"alias":null}"#]).await;
    kube.kubectl_ok(&["label", "freight", &id, "-n", "demo", "lading.dev/alias=frozen-tauntaun", "--overwrite"]).await;
    wait_alias_agrees(&kube, &sandbox, &id, "frozen-tauntaun").await;

    // The field patched: the label follows.
    kube.kubectl_ok(&["patch", "freight", &id, "-n", "demo", "--type", "merge", "-p", r#"{"alias":"mellow-yak"}"#])
        .await;
    wait_alias_agrees(&kube, &sandbox, &id, "mellow-yak").await;

    // An alias that is not a DNS label is refused and set back, with an Event saying why.
    kube.kubectl_ok(&["patch", "freight", &id, "-n", "demo", "--type", "merge", "-p", r#"{"alias":"Not_A_Label"}"#])
        .await;
    wait_alias_agrees(&kube, &sandbox, &id, "mellow-yak").await;
    let events = kube.kubectl_ok(&["get", "events", "-n", "demo", "--field-selector", "reason=InvalidAlias"]).await;
    assert!(events.contains("Not_A_Label"), "{events}");

    // The refresh annotation makes the warehouse discover the new commit now (its interval
    // is an hour), and comes back as status.lastHandledRefresh.
    app.commit("app.txt", "v2", "second feature");
    kube.kubectl_ok(&["annotate", "warehouse", "app", "-n", "demo", "lading.dev/refresh=first", "--overwrite"]).await;
    wait::until("a second Freight object and the refresh handled", TIMEOUT, || async {
        let list = get_json(&kube, &["freight", "-n", "demo"]).await;
        let warehouse = get_json(&kube, &["warehouse", "app", "-n", "demo"]).await;
        let freight = list["items"].as_array().map(Vec::len).unwrap_or_default();
        let handled = &warehouse["status"]["lastHandledRefresh"];
        if freight == 2 && handled == "first" { Ok(()) } else { Err(format!("{freight} freight; handled {handled}")) }
    })
    .await;

    // The second freight given the first's alias: refused, set back, and an Event says
    // which freight has it.
    let list = get_json(&kube, &["freight", "-n", "demo"]).await;
    let other = list["items"].as_array().unwrap().iter().find(|f| f["metadata"]["name"] != id.as_str()).unwrap();
    let (other_id, other_alias) = (other["metadata"]["name"].as_str().unwrap(), other["alias"].as_str().unwrap());
    kube.kubectl_ok(&[
        "patch",
        "freight",
        other_id,
        "-n",
        "demo",
        "--type",
        "merge",
        "-p",
        r#"{"alias":"mellow-yak"}"#,
    ])
    .await;
    wait_alias_agrees(&kube, &sandbox, other_id, other_alias).await;
    let events = kube.kubectl_ok(&["get", "events", "-n", "demo", "--field-selector", "reason=AliasConflict"]).await;
    assert!(events.contains("mellow-yak") && events.contains(&id[..7]), "{events}");

    // A Promotion made with kubectl promotes (the first freight back into test), and
    // `kubectl get promotions` shows its stage, freight and phase.
    let promotion = format!(
        "apiVersion: lading.dev/v1alpha1\nkind: Promotion\nmetadata:\n  name: back-to-first\n  namespace: demo\n\
         spec:\n  stage: test\n  freight: {id}\n"
    );
    let (ok, out, err) = kube.kubectl_with_input(&["apply", "-f", "-"], Some(&promotion)).await;
    assert!(ok, "{out}{err}");
    let printed = wait::until("the Promotion to succeed", TIMEOUT, || async {
        let printed = kube.kubectl_ok(&["get", "promotions", "-n", "demo"]).await;
        if printed.contains("Succeeded") { Ok(printed) } else { Err(printed) }
    })
    .await;
    let rows = table(&printed);
    assert_eq!(rows[0], ["NAME", "STAGE", "FREIGHT", "PHASE", "AGE"], "{printed}");
    assert_eq!(rows[1][..4], ["back-to-first", "test", id.as_str(), "Succeeded"], "{printed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_stage_is_not_ready_naming_the_field_and_the_previous_spec_keeps_running() {
    let (kube, sandbox) = cluster_with_lading().await;
    let pipeline = quickstart("file:///nonexistent/app.git", "file:///nonexistent/gitops.git", "1h");
    apply_until_ok(&kube, &pipeline).await;
    wait::until("stage test in the spec store", TIMEOUT, || async {
        stage_in_api(&sandbox, "test").await.map(|_| ()).ok_or_else(|| "not yet".to_owned())
    })
    .await;

    // An origin kind Lading does not know.
    let patch =
        r#"{"spec":{"requestedFreight":[{"origin":{"kind":"Bucket","name":"app"},"sources":{"direct":true}}]}}"#;
    kube.kubectl_ok(&["patch", "stage", "test", "-n", "demo", "--type", "merge", "-p", patch]).await;
    let condition = wait::until("stage test to be Ready=False", TIMEOUT, || async {
        let stage = get_json(&kube, &["stage", "test", "-n", "demo"]).await;
        let ready = stage["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == "Ready" && c["status"] == "False")
            .cloned();
        ready.ok_or_else(|| format!("{}", stage["status"]))
    })
    .await;
    let message = condition["message"].as_str().unwrap();
    assert!(message.contains("spec.requestedFreight[0].origin.kind"), "{condition}");
    let printed = kube.kubectl_ok(&["get", "stage", "test", "-n", "demo"]).await;
    let row = &table(&printed)[1];
    assert!(row[0] == "test" && row.iter().any(|cell| cell == "False"), "{printed}");
    // The previous valid spec still runs.
    let stage = stage_in_api(&sandbox, "test").await.expect("stage test still runs");
    assert_eq!(stage["spec"]["requestedFreight"][0]["origin"]["kind"], "Warehouse", "{stage}");

    // Deleting an object removes its spec.
    kube.kubectl_ok(&["delete", "stage", "uat", "-n", "demo"]).await;
    wait::until("stage uat to be gone", TIMEOUT, || async {
        match stage_in_api(&sandbox, "uat").await {
            None => Ok(()),
            Some(stage) => Err(format!("{stage}")),
        }
    })
    .await;
}

/// The conditions of `kind` on an object, as the cluster holds them.
fn conditions_of(object: &Value, kind: &str) -> Vec<Value> {
    object["status"]["conditions"].as_array().into_iter().flatten().filter(|c| c["type"] == kind).cloned().collect()
}

/// `kubectl apply` of `manifests`, again until it succeeds, as Argo CD retries: objects in
/// a project's namespace are refused until the Project (applied with them) has made it.
async fn apply_until_ok(kube: &TestKube, manifests: &str) {
    wait::until("kubectl apply to succeed", TIMEOUT, || async {
        let (ok, out, err) = kube.kubectl_with_input(&["apply", "-f", "-"], Some(manifests)).await;
        if ok { Ok(()) } else { Err(format!("{out}{err}")) }
    })
    .await;
}

/// Applies Project `demo` and waits for the namespace it makes (objects in it can only be
/// created then).
async fn apply_project(kube: &TestKube) {
    let project = "apiVersion: lading.dev/v1alpha1\nkind: Project\nmetadata:\n  name: demo\n";
    let (ok, out, err) = kube.kubectl_with_input(&["apply", "-f", "-"], Some(project)).await;
    assert!(ok, "kubectl apply: {out}{err}");
    wait::until("namespace demo", TIMEOUT, || async {
        let (ok, out, err) = kube.kubectl(&["get", "namespace", "demo"]).await;
        if ok { Ok(()) } else { Err(format!("{out}{err}")) }
    })
    .await;
}
