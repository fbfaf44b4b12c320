//! Kubernetes mode against a real kube-apiserver and etcd on loopback: the quickstart
//! pipeline applied with `kubectl` makes freight, `kubectl get` shows it, alias edits by
//! `kubectl` reach the log, and an invalid Stage says which field is wrong.

mod common;

use std::time::Duration;

use lading_tests::git::Repo;
use lading_tests::kube::TestKube;
use lading_tests::sandbox::{ADMIN_TOKEN, Sandbox, SandboxOptions, quickstart};
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
    let id = wait::until("a Freight object in demo", TIMEOUT, || async {
        let list = get_json(&kube, &["freight", "-n", "demo"]).await;
        match list["items"].as_array().and_then(|items| items.first()) {
            Some(item) => Ok(item["metadata"]["name"].as_str().unwrap().to_owned()),
            None => Err(format!("{list}")),
        }
    })
    .await;
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
    assert_eq!(table(&stages)[0], ["NAME", "CURRENT", "FREIGHT", "READY", "VERIFIED", "AGE"], "{stages}");

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

/// A job metric that runs `sh -c script` (the verifier runs a job's command as a local
/// process outside a cluster).
fn job_template(kind: &str, name: &str, namespace: Option<&str>, script: &str) -> String {
    let namespace = namespace.map(|n| format!("  namespace: {n}\n")).unwrap_or_default();
    format!(
        "apiVersion: lading.dev/v1alpha1\nkind: {kind}\nmetadata:\n  name: {name}\n{namespace}spec:\n  metrics:\n  \
         - name: {name}\n    provider:\n      job:\n        spec:\n          template:\n            spec:\n              \
         containers:\n              - name: check\n                image: busybox\n                command: [sh, -c, {script:?}]\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage_verifying_with_analysis_templates_applied_by_kubectl_verifies() {
    let (kube, sandbox) = cluster_with_lading().await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    app.commit("app.txt", "v1", "first feature");

    // The templates first (a namespaced one needs the project's namespace), each Ready once
    // ingested into the spec store.
    apply_project(&kube).await;
    let cluster_template = job_template("ClusterAnalysisTemplate", "smoke", None, "echo smoke passed");
    let template = job_template("AnalysisTemplate", "health", Some("demo"), "echo healthy");
    let (ok, out, err) =
        kube.kubectl_with_input(&["apply", "-f", "-"], Some(&format!("{cluster_template}---\n{template}"))).await;
    assert!(ok, "kubectl apply: {out}{err}");
    for args in [["clusteranalysistemplate", "smoke", "", ""], ["analysistemplate", "health", "-n", "demo"]] {
        let args: Vec<&str> = args.into_iter().filter(|a| !a.is_empty()).collect();
        wait::until(&format!("{} {} to be Ready", args[0], args[1]), TIMEOUT, || async {
            let object = get_json(&kube, &args).await;
            let ready = conditions_of(&object, "Ready");
            if ready.len() == 1 && ready[0]["status"] == "True" { Ok(()) } else { Err(format!("{}", object["status"])) }
        })
        .await;
    }

    // `test` verifies with both; `uat` takes freight only once `test` verified it.
    let pipeline = quickstart(&app.url(), &gitops.url(), "1h").replacen(
        "  promotionTemplate:\n",
        "  verification:\n    analysisTemplates:\n    - name: health\n    - name: smoke\n      kind: ClusterAnalysisTemplate\n  promotionTemplate:\n",
        1,
    );
    apply_until_ok(&kube, &pipeline).await;
    let stage = wait::until("test verified and the freight in uat", TIMEOUT, || async {
        let test = get_json(&kube, &["stage", "test", "-n", "demo"]).await;
        let uat = get_json(&kube, &["stage", "uat", "-n", "demo"]).await;
        let verified = conditions_of(&test, "Verified");
        let in_uat = uat["status"]["freightSummary"].as_str().is_some_and(|s| !s.is_empty());
        if verified.iter().any(|c| c["status"] == "True") && in_uat {
            Ok(test)
        } else {
            Err(format!("test: {}; uat: {}", test["status"], uat["status"]))
        }
    })
    .await;
    let verification = &stage["status"]["freightHistory"][0]["verificationHistory"][0];
    assert_eq!(verification["phase"], "Successful", "{verification}");
    let metrics: Vec<&str> =
        verification["metrics"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(metrics, ["health", "smoke"], "{verification}");
    let messages = verification["metrics"].to_string();
    assert!(messages.contains("healthy") && messages.contains("smoke passed"), "{messages}");
}

/// `sha256=` and the HMAC-SHA256 of `body` keyed with `secret`, as GitHub signs.
fn hub_signature(secret: &str, body: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body.as_bytes());
    let digest: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={digest}")
}

/// A GitHub push of `reference` to the repository cloned from `clone_url` (the fields
/// receivers read, in GitHub's shape).
fn github_push(clone_url: &str, reference: &str) -> String {
    serde_json::json!({
        "ref": reference,
        "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "after": "59b20b8d5c6ff8d09518454d4dd8b7b30f095ab5",
        "repository": {"id": 186853002, "name": "app", "full_name": "example-org/app", "clone_url": clone_url,
            "html_url": "https://github.com/example-org/app", "default_branch": "main"},
        "pusher": {"name": "dev", "email": "dev@example.com"},
        "head_commit": {"id": "59b20b8d5c6ff8d09518454d4dd8b7b30f095ab5", "message": "Update app"},
    })
    .to_string()
}

/// `POST`s a GitHub `push` with `signature` to `path`, with no token: (status, answer).
async fn deliver_push(sandbox: &Sandbox, path: &str, signature: &str, body: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", sandbox.api_url))
        .header("X-GitHub-Event", "push")
        .header("X-Hub-Signature-256", signature)
        .body(body.to_owned())
        .timeout(TIMEOUT)
        .send()
        .await
        .expect("the api answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The ProjectConfig object's `Ready` condition and its receiver's path, once `ready`.
async fn receiver_when(kube: &TestKube, ready: &str) -> (Value, String) {
    wait::until(&format!("the ProjectConfig to be Ready={ready}"), TIMEOUT, || async {
        let config = get_json(kube, &["projectconfig", "demo", "-n", "demo"]).await;
        let condition = conditions_of(&config, "Ready").first().cloned().unwrap_or_default();
        let path = config["status"]["webhookReceivers"][0]["path"].as_str().unwrap_or_default().to_owned();
        if condition["status"] == ready { Ok((condition, path)) } else { Err(format!("{}", config["status"])) }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_receiver_authenticates_with_a_secret_made_by_kubectl() {
    let (kube, sandbox) = cluster_with_lading().await;
    let app = Repo::create(sandbox.dir.path(), "app");
    app.commit("app.txt", "v1", "first feature");
    apply_project(&kube).await;
    let manifests = format!(
        "apiVersion: lading.dev/v1alpha1\nkind: ProjectConfig\nmetadata: {{name: demo, namespace: demo}}\n\
         spec:\n  webhookReceivers:\n  - name: gh\n    github: {{secretRef: {{name: github-webhook}}}}\n---\n\
         apiVersion: lading.dev/v1alpha1\nkind: Warehouse\nmetadata: {{name: app, namespace: demo}}\n\
         spec:\n  interval: 1h\n  subscriptions:\n  - git: {{repoURL: \"{}\", branch: main}}\n",
        app.url()
    );
    let (ok, out, err) = kube.kubectl_with_input(&["apply", "-f", "-"], Some(&manifests)).await;
    assert!(ok, "kubectl apply: {out}{err}");

    // No Secret yet: the receiver does not listen, and the ProjectConfig says why.
    let (condition, path) = receiver_when(&kube, "False").await;
    assert_eq!(condition["reason"], "MissingSecret", "{condition}");
    assert!(condition["message"].as_str().unwrap().contains("github-webhook"), "{condition}");
    assert!(path.is_empty(), "{path}");

    // The Secret made with kubectl in the project's namespace: the receiver listens.
    let first_secret = "kubectl-made-3e1f9a7c";
    kube.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "github-webhook",
        "-n",
        "demo",
        "--from-literal",
        &format!("secret={first_secret}"),
    ])
    .await;
    let (_, path) = receiver_when(&kube, "True").await;
    assert!(path.starts_with("/webhooks/github/"), "{path}");
    let freight = || async {
        let list = get_json(&kube, &["freight", "-n", "demo"]).await;
        list["items"].as_array().map(Vec::len).unwrap_or_default()
    };
    wait::until("the first freight", TIMEOUT, || async {
        match freight().await {
            1 => Ok(()),
            n => Err(format!("{n} freight")),
        }
    })
    .await;

    // A push signed with another key is refused; one signed with the Secret's value makes
    // the warehouse (interval 1 h) discover the new commit now.
    let second = app.commit("app.txt", "v2", "second feature");
    let body = github_push(&app.url(), "refs/heads/main");
    let (status, answer) = deliver_push(&sandbox, &path, &hub_signature("not-the-secret", &body), &body).await;
    assert_eq!(status, 401, "{answer}");
    let (status, answer) = deliver_push(&sandbox, &path, &hub_signature(first_secret, &body), &body).await;
    assert_eq!((status, answer["refreshed"].clone()), (200, serde_json::json!(1)), "{answer}");
    wait::until("a Freight object of the new commit", TIMEOUT, || async {
        let list = get_json(&kube, &["freight", "-n", "demo"]).await;
        let found = list["items"].as_array().into_iter().flatten().any(|f| f["commits"][0]["id"] == second.as_str());
        if found {
            Ok(())
        } else {
            Err(format!("{} freight", list["items"].as_array().map(Vec::len).unwrap_or_default()))
        }
    })
    .await;

    // The Secret changed with kubectl: the receiver moves to the new path, and the old
    // one (and the old key) no longer work.
    let patch = r#"{"stringData":{"secret":"kubectl-rotated-8b2d4c6e"}}"#;
    kube.kubectl_ok(&["patch", "secret", "github-webhook", "-n", "demo", "--type", "merge", "-p", patch]).await;
    let moved = wait::until("the receiver to move", TIMEOUT, || async {
        let (_, now) = receiver_when(&kube, "True").await;
        if now != path && !now.is_empty() { Ok(now) } else { Err(now) }
    })
    .await;
    let (status, answer) = deliver_push(&sandbox, &path, &hub_signature(first_secret, &body), &body).await;
    assert_eq!(status, 404, "{answer}");
    let (status, answer) =
        deliver_push(&sandbox, &moved, &hub_signature("kubectl-rotated-8b2d4c6e", &body), &body).await;
    assert_eq!(status, 200, "{answer}");
}

/// An api in Kubernetes mode on `kube` and the sandbox's NATS, beside the sandbox's own.
struct KubeApi {
    shutdown: lading_runtime::Shutdown,
    task: tokio::task::JoinHandle<()>,
}

async fn start_kube_api(sandbox: &Sandbox, kube: &TestKube) -> KubeApi {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let nats = sandbox.nats.url_for(lading_bus::nats_users::NatsUser::Api);
    let mut config = lading_api::Config::new(nats, addr);
    config.kube = Some(kube.lading_settings().await);
    let shutdown = lading_runtime::Shutdown::new();
    let stop = shutdown.clone();
    let task = tokio::spawn(async move {
        let _ = lading_api::serve(listener, config, lading_runtime::Readiness::new(), stop).await;
    });
    wait::until("the Kubernetes-mode api to be ready", TIMEOUT, || async move {
        let response = reqwest::get(format!("http://{addr}/readyz")).await.map_err(|e| e.to_string())?;
        if response.status().is_success() { Ok(()) } else { Err(response.status().to_string()) }
    })
    .await;
    KubeApi { shutdown, task }
}

/// How many Kubernetes Events with `reason` the project's namespace holds.
async fn events_with_reason(kube: &TestKube, reason: &str) -> usize {
    let selector = format!("reason={reason}");
    let list = get_json(kube, &["events", "-n", "demo", "--field-selector", &selector]).await;
    list["items"].as_array().map(Vec::len).unwrap_or_default()
}

/// Patches the Freight's alias field to an invalid value and waits until it is set back
/// to `alias`.
async fn invalid_alias_set_back(kube: &TestKube, id: &str, invalid: &str, alias: &str) {
    let patch = format!(r#"{{"alias":"{invalid}"}}"#);
    kube.kubectl_ok(&["patch", "freight", id, "-n", "demo", "--type", "merge", "-p", &patch]).await;
    wait::until(&format!("{invalid} to be set back to {alias}"), TIMEOUT, || async {
        let object = get_json(kube, &["freight", id, "-n", "demo"]).await;
        if object["alias"] == alias { Ok(()) } else { Err(format!("{}", object["alias"])) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_apis_in_kubernetes_mode_act_on_an_edit_once_and_one_takes_over_from_the_other() {
    let kube = TestKube::start().await;
    kube.install_crds().await;
    // The sandbox's own api keeps specs itself; two more run in Kubernetes mode.
    let sandbox = Sandbox::start_with_options(SandboxOptions::default()).await;
    let first = start_kube_api(&sandbox, &kube).await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    app.commit("app.txt", "v1", "first feature");
    apply_until_ok(&kube, &quickstart(&app.url(), &gitops.url(), "1h")).await;
    let (id, alias) = wait::until("a Freight object in demo", TIMEOUT, || async {
        let list = get_json(&kube, &["freight", "-n", "demo"]).await;
        match list["items"].as_array().and_then(|items| items.first()) {
            Some(item) => {
                Ok((item["metadata"]["name"].as_str().unwrap().to_owned(), item["alias"].as_str().unwrap().to_owned()))
            }
            None => Err(format!("{list}")),
        }
    })
    .await;

    // The first api holds the lease (it made the Freight object alone); a second starts.
    let second = start_kube_api(&sandbox, &kube).await;
    // An invalid alias is set back with one Event, not one per api; a later valid edit,
    // handled after it, bounds the wait for a second Event.
    invalid_alias_set_back(&kube, &id, "Not_A_Label", &alias).await;
    let patch = r#"{"alias":"mellow-yak"}"#;
    kube.kubectl_ok(&["patch", "freight", &id, "-n", "demo", "--type", "merge", "-p", patch]).await;
    wait_alias_agrees(&kube, &sandbox, &id, "mellow-yak").await;
    assert_eq!(events_with_reason(&kube, "InvalidAlias").await, 1);

    // The first api stops: the second takes over, and acts on the next edit.
    first.shutdown.cancel();
    first.task.await.unwrap();
    invalid_alias_set_back(&kube, &id, "Also_Not_A_Label", "mellow-yak").await;
    assert_eq!(events_with_reason(&kube, "InvalidAlias").await, 2);
    second.shutdown.cancel();
    second.task.await.unwrap();
}

/// `lading approve` of freight `id` for `uat`, with `token`.
fn lading_approve(sandbox: &Sandbox, token: &str, id: &str) -> std::process::Output {
    std::process::Command::new(common::LADING)
        .args(["approve", "--freight", id, "--stage", "uat", "--project", "demo"])
        .env("LADING_SERVER", &sandbox.api_url)
        .env("LADING_TOKEN", token)
        .env("XDG_CONFIG_HOME", common::NO_CONFIG)
        .env_remove("LADING_PROJECT")
        .output()
        .expect("lading runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kubernetes_user_approves_only_when_rbac_lets_them_promote_the_stage() {
    use lading_tests::kube::{ALICE, BOB};
    let (kube, sandbox) = cluster_with_lading().await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    app.commit("app.txt", "v1", "first feature");
    apply_until_ok(&kube, &quickstart(&app.url(), &gitops.url(), "1h")).await;
    let id = wait::until("a Freight object in demo", TIMEOUT, || async {
        let list = get_json(&kube, &["freight", "-n", "demo"]).await;
        match list["items"].as_array().and_then(|items| items.first()) {
            Some(item) => Ok(item["metadata"]["name"].as_str().unwrap().to_owned()),
            None => Err(format!("{list}")),
        }
    })
    .await;

    // Bob may not promote uat: refused, naming the verb Kubernetes RBAC would need.
    let refused = lading_approve(&sandbox, BOB.1, &id);
    assert!(!refused.status.success());
    let said = common::stderr(&refused);
    assert!(said.contains("\"bob\"") && said.contains("\"promote\"") && said.contains("lading-promoter"), "{said}");

    // Alice, given the ClusterRole lading-promoter in the project's namespace, approves.
    kube.kubectl_ok(&[
        "create",
        "rolebinding",
        "alice-promotes",
        "-n",
        "demo",
        "--clusterrole",
        "lading-promoter",
        "--user",
        ALICE.0,
    ])
    .await;
    wait::until("alice to be allowed to promote", TIMEOUT, || async {
        let (_, out, err) =
            kube.kubectl(&["auth", "can-i", "promote", "stages.lading.dev/uat", "-n", "demo", "--as", ALICE.0]).await;
        if out.trim() == "yes" { Ok(()) } else { Err(format!("{out}{err}")) }
    })
    .await;
    let approved = lading_approve(&sandbox, ALICE.1, &id);
    assert!(approved.status.success(), "{}", common::stderr(&approved));
    wait::until("the Freight object to show the approval", TIMEOUT, || async {
        let object = get_json(&kube, &["freight", &id, "-n", "demo"]).await;
        if object["status"]["approvedFor"]["uat"].is_object() { Ok(()) } else { Err(format!("{}", object["status"])) }
    })
    .await;

    // A Kubernetes identity has no Lading role: the rest goes through kubectl.
    let output = std::process::Command::new(common::LADING)
        .args(["get", "freight", "--project", "demo"])
        .env("LADING_SERVER", &sandbox.api_url)
        .env("LADING_TOKEN", ALICE.1)
        .env("XDG_CONFIG_HOME", common::NO_CONFIG)
        .env_remove("LADING_PROJECT")
        .output()
        .expect("lading runs");
    assert!(!output.status.success() && common::stderr(&output).contains("Kubernetes identity"), "{output:?}");
    // A token neither Lading nor the cluster knows is refused.
    let unknown = lading_approve(&sandbox, "not-a-token-anyone-knows", &id);
    assert!(common::stderr(&unknown).contains("not valid"), "{}", common::stderr(&unknown));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lading_apply_in_kubernetes_mode_writes_the_custom_resources() {
    let (kube, sandbox) = cluster_with_lading().await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    app.commit("app.txt", "v1", "first feature");

    // The whole pipeline in one request: the Project and its namespace first, then the
    // rest, each in the spec store when the answer comes.
    let (status, answer) = sandbox.post("/api/v1/apply", &quickstart(&app.url(), &gitops.url(), "1h")).await;
    assert_eq!(status, 200, "{answer}");
    let actions: Vec<&str> =
        answer["results"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["applied"; 5], "{answer}");
    let stage = get_json(&kube, &["stage", "uat", "-n", "demo", "--show-managed-fields"]).await;
    let managers: Vec<&str> = stage["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["operation"] == "Apply" && f["fieldsV1"]["f:spec"].is_object())
        .map(|f| f["manager"].as_str().unwrap())
        .collect();
    assert_eq!(managers, ["lading-apply"], "the spec's manager: {stage}");
    assert_eq!(stage["spec"]["requestedFreight"][0]["sources"]["stages"][0], "test", "{stage}");
    wait::until("freight from the applied warehouse", TIMEOUT, || async {
        let list = get_json(&kube, &["freight", "-n", "demo"]).await;
        if list["items"].as_array().is_some_and(|i| !i.is_empty()) { Ok(()) } else { Err(format!("{list}")) }
    })
    .await;

    // An invalid manifest is refused as standalone, naming the field, and nothing is
    // written.
    let bad = "apiVersion: lading.dev/v1alpha1\nkind: Stage\nmetadata: {name: bad, namespace: demo}\nspec:\n  \
               requestedFreight:\n  - origin: {kind: Bucket, name: app}\n    sources: {direct: true}\n";
    let (status, answer) = sandbox.post("/api/v1/apply", bad).await;
    assert_eq!(status, 422, "{answer}");
    assert!(answer.to_string().contains("spec.requestedFreight[0].origin.kind"), "{answer}");
    let (found, _, _) = kube.kubectl(&["get", "stage", "bad", "-n", "demo"]).await;
    assert!(!found, "an invalid stage was written to the cluster");

    // Deleting goes through kubectl: the api refuses, and the stage stays.
    let response = reqwest::Client::new()
        .delete(format!("{}/api/v1/projects/demo/stages/uat", sandbox.api_url))
        .bearer_auth(lading_tests::sandbox::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 409);
    assert!(stage_in_api(&sandbox, "uat").await.is_some());
}

/// How long a fact on the log takes to show in `kubectl get`, with 1,000 freight in the
/// project: `FreightCreated` events published on the log, timed until a watch on the
/// cluster sees each Freight object (what `kubectl get freight` then prints).
/// Reference: within a second. Run with
/// `cargo test -p lading-cli --test kubernetes -- --ignored --nocapture status_latency`
/// (`LADING_KUBE_SAMPLES`, default 100).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: prints p50/p99 instead of asserting"]
async fn status_latency_with_1000_freight_in_the_project() {
    use futures::StreamExt;
    use kube::runtime::watcher;
    use lading_events::Event;
    use lading_events::catalog::FreightCreatedV1;
    use std::time::Instant;

    const IN_PROJECT: u32 = 1_000;
    let samples: u32 = std::env::var("LADING_KUBE_SAMPLES").ok().and_then(|s| s.parse().ok()).unwrap_or(100);
    let freight = |n: u32| {
        Event::FreightCreated(FreightCreatedV1 {
            project: "demo".into(),
            freight_id: format!("{n:040x}"),
            alias: format!("bench-{n}"),
            origin_kind: "Warehouse".into(),
            origin_name: "app".into(),
            commits: vec![],
            images: vec![],
            charts: vec![],
            created_at_ms: chrono::Utc::now().timestamp_millis(),
        })
    };
    let kube = TestKube::start().await;
    kube.install_crds().await;
    let options =
        SandboxOptions { with_promoter: false, kube: Some(kube.lading_settings().await), ..SandboxOptions::default() };
    let sandbox = Sandbox::start_with_options(options).await;
    let project = "apiVersion: lading.dev/v1alpha1\nkind: Project\nmetadata:\n  name: demo\n";
    let (ok, out, err) = kube.kubectl_with_input(&["apply", "-f", "-"], Some(project)).await;
    assert!(ok, "{out}{err}");
    wait::until("namespace demo", TIMEOUT, || async {
        let (ok, out, err) = kube.kubectl(&["get", "namespace", "demo"]).await;
        if ok { Ok(()) } else { Err(format!("{out}{err}")) }
    })
    .await;

    let resource = lading_api::kubernetes::crds::FREIGHT.api_resource();
    let api: kube::Api<kube::api::DynamicObject> = kube::Api::namespaced_with(kube.client().await, "demo", &resource);
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel::<(String, Instant)>();
    let watch = tokio::spawn(async move {
        let mut stream = watcher(api, watcher::Config::default()).boxed();
        while let Some(event) = stream.next().await {
            if let Ok(watcher::Event::Apply(object) | watcher::Event::InitApply(object)) = event {
                let _ = seen_tx.send((object.metadata.name.unwrap_or_default(), Instant::now()));
            }
        }
    });
    let bus = sandbox.nats.bus("measure").await;
    let trace = lading_bus::tracing_context::new_root;
    let started = Instant::now();
    for n in 1..=IN_PROJECT {
        bus.publish(&freight(n), &trace()).await.unwrap();
    }
    let mut shown = std::collections::HashSet::new();
    while shown.len() < IN_PROJECT as usize {
        let (name, _) = tokio::time::timeout(Duration::from_secs(300), seen_rx.recv()).await.unwrap().unwrap();
        shown.insert(name);
    }
    println!("{IN_PROJECT} freight published and shown in the cluster in {:.2?}", started.elapsed());

    let mut latencies = Vec::new();
    for i in 0..samples {
        let n = IN_PROJECT + 1 + i;
        let name = format!("{n:040x}");
        let published = Instant::now();
        bus.publish(&freight(n), &trace()).await.unwrap();
        let at = loop {
            let (seen, at) = tokio::time::timeout(Duration::from_secs(30), seen_rx.recv()).await.unwrap().unwrap();
            if seen == name {
                break at;
            }
        };
        latencies.push(at - published);
    }
    latencies.sort();
    let at = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "event -> visible in kubectl get ({samples} samples, {} freight in the project): p50 {:.1?}, p99 {:.1?}, max {:.1?}; reference: within 1 s",
        IN_PROJECT + samples,
        at(0.5),
        at(0.99),
        latencies[latencies.len() - 1],
    );
    watch.abort();
}
