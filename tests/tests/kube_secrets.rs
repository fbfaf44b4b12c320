//! Kubernetes mode's secrets against a real kube-apiserver: the promoter, as its own
//! ServiceAccount with only the ClusterRole `lading-secret-reader` of `k8s/base/rbac.yaml`,
//! reads `${{ secret('name').key }}` and Git credentials from the Secrets of the project's
//! namespace labelled as Kargo labels them. A Secret without the label, and a Secret of
//! another project's namespace, cannot be read; and no value read shows in an api answer,
//! a status, an event or a log line.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use futures::StreamExt;
use lading_secret_source::SecretSource;
use lading_tests::git::Repo;
use lading_tests::kube::{PROMOTER, TestKube};
use lading_tests::sandbox::{Sandbox, SandboxOptions};
use lading_tests::wait;
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(60);

/// Every log line of this test process (every service runs in it).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The authorization headers the hook endpoint received.
type Calls = Arc<Mutex<Vec<String>>>;

async fn hook(State(calls): State<Calls>, Path(_rest): Path<String>, headers: HeaderMap) -> &'static str {
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    calls.lock().unwrap().push(authorization.to_owned());
    "{}"
}

fn distinctive(what: &str) -> String {
    format!("{what}-{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// A Secret of `namespace`, with the cred-type label when `cred_type` is given.
fn secret(namespace: &str, name: &str, cred_type: Option<&str>, data: &[(&str, &str)]) -> Value {
    let mut metadata = serde_json::json!({"name": name, "namespace": namespace});
    if let Some(cred_type) = cred_type {
        metadata["labels"] = serde_json::json!({"kargo.akuity.io/cred-type": cred_type});
    }
    let data: serde_json::Map<String, Value> = data.iter().map(|(k, v)| (k.to_string(), Value::from(*v))).collect();
    serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "stringData": data})
}

fn stage(name: &str, steps: &str) -> String {
    format!(
        "---\napiVersion: lading.dev/v1alpha1\nkind: Stage\nmetadata: {{name: {name}, namespace: demo}}\nspec:\n\
         \x20 requestedFreight:\n  - origin: {{kind: Warehouse, name: app}}\n    sources: {{direct: true}}\n\
         \x20 promotionTemplate:\n    spec:\n      steps:\n{steps}"
    )
}

fn http_step(hook: &str, secret: &str) -> String {
    format!(
        "      - uses: http\n        config:\n          method: POST\n          url: \"{hook}/hooks/x\"\n\
         \x20         headers:\n          - name: Authorization\n            value: \"Bearer ${{{{ secret('{secret}').token }}}}\"\n"
    )
}

/// The last promotion of `stage` once it failed.
async fn failed_promotion(sandbox: &Sandbox, stage: &str) -> Value {
    wait::until(&format!("{stage}'s promotion to fail"), TIMEOUT, || async {
        let (_, stages) = sandbox.get("/api/v1/projects/demo/stages").await;
        let found = stages["items"].as_array().unwrap().iter().find(|s| s["metadata"]["name"] == stage).cloned();
        let last = found.map(|s| s["status"]["lastPromotion"].clone()).unwrap_or_default();
        if last["status"]["phase"] == "Failed" || last["status"]["phase"] == "Errored" {
            Ok(last)
        } else {
            Err(last.to_string())
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn steps_read_only_their_projects_labelled_secrets_from_kubernetes_and_never_show_them() {
    let logs = Logs::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .try_init()
        .expect("this test's process logs through it");
    let (token, unlabelled, foreign, git_password) =
        (distinctive("k8stoken"), distinctive("unlabelled"), distinctive("foreign"), distinctive("gitpass"));

    // Given a Git server behind a password, and an endpoint for the http step,
    let dir = tempfile::tempdir().unwrap();
    let repos = dir.path().join("repos");
    std::fs::create_dir_all(&repos).unwrap();
    let app = Repo::create(&repos, "app");
    let commit = app.commit("app.txt", "v1", "first");
    let gitops = Repo::create(&repos, "gitops");
    gitops.commit("values.yaml", "image: none\n", "start");
    let git = lading_tests::git_http::serve(&repos, "robot", &git_password).await;
    let calls: Calls = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}", listener.local_addr().unwrap());
    let router = axum::Router::new().route("/hooks/{*rest}", axum::routing::post(hook)).with_state(calls.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });

    // and a cluster whose project namespace holds a generic Secret, a Secret without the
    // label and Git credentials, while another project's namespace holds a generic one,
    let kube = TestKube::start().await;
    kube.install_crds().await;
    kube.grant_api_role().await;
    // (the promoter's ServiceAccount may list Secrets, and do nothing else with them)
    for (verb, allowed) in [("list", "yes"), ("get", "no"), ("watch", "no"), ("create", "no")] {
        let (_, out, _) = kube.kubectl(&["auth", "can-i", verb, "secrets", "-n", "demo", "--as", PROMOTER.1]).await;
        assert_eq!(out.trim(), allowed, "may the promoter {verb} secrets?");
    }
    let secrets = [
        secret("demo", "api", Some("generic"), &[("token", &token)]),
        secret("demo", "plain", None, &[("token", &unlabelled)]),
        secret(
            "demo",
            "gitops",
            Some("git"),
            &[("repoURL", &format!("{git}/")), ("username", "robot"), ("password", &git_password)],
        ),
        secret("other", "elsewhere", Some("generic"), &[("token", &foreign)]),
    ];
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}},
    ]});
    let (ok, out, err) = kube.kubectl_with_input(&["apply", "-f", "-"], Some(&list.to_string())).await;
    assert!(ok, "the namespaces apply: {out}{err}");
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": secrets});
    let (ok, out, err) = kube.kubectl_with_input(&["apply", "-f", "-"], Some(&list.to_string())).await;
    assert!(ok, "the Secrets apply: {out}{err}");

    // when Lading's promoter reads secrets from that cluster as its own ServiceAccount,
    let options = SandboxOptions {
        service_secrets: Some(SecretSource::kubernetes(Some(kube.config_as(PROMOTER.0).await))),
        with_verifier: false,
        ..SandboxOptions::default()
    };
    let sandbox = Sandbox::start_with_options(options).await;
    let gitops_url = format!("{git}/gitops.git");
    let clone = format!(
        "      - uses: git-clone\n        config:\n          repoURL: \"{gitops_url}\"\n\
         \x20         checkout: [{{branch: main, path: ./out}}]\n"
    );
    let manifests = format!(
        "apiVersion: lading.dev/v1alpha1\nkind: Project\nmetadata: {{name: demo}}\nspec:\n  promotionPolicies:\n\
         \x20 - stageSelector: {{name: \"glob:*\"}}\n    autoPromotionEnabled: true\n---\n\
         apiVersion: lading.dev/v1alpha1\nkind: Warehouse\nmetadata: {{name: app, namespace: demo}}\n\
         spec:\n  interval: 1h\n  subscriptions:\n  - git: {{repoURL: \"{}\", branch: main}}\n{}{}{}",
        app.url(),
        stage("test", &format!("{clone}{}", http_step(&hook_url, "api"))),
        stage("unlabelled", &http_step(&hook_url, "plain")),
        stage("foreign", &http_step(&hook_url, "elsewhere")),
    );
    sandbox.apply(&manifests).await;

    // then the labelled Secret and the Git credentials of the project's namespace serve,
    sandbox.wait_current_in("demo", &commit, "test", TIMEOUT).await;
    assert_eq!(calls.lock().unwrap().clone(), vec![format!("Bearer {token}")]);
    // a Secret without the label is not found, nor is another project's,
    for (stage, name) in [("unlabelled", "plain"), ("foreign", "elsewhere")] {
        let failed = failed_promotion(&sandbox, stage).await;
        let message = failed["status"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(&format!("secret \"{name}\" not found in project \"demo\"")), "{stage}: {failed}");
    }
    assert_eq!(calls.lock().unwrap().len(), 1, "only the test stage called the hook");

    // and no value read shows in an api answer, a status, an event or a log line.
    let mut places: Vec<(String, Vec<u8>)> = Vec::new();
    for path in ["/projects/demo/freight", "/projects/demo/stages", "/projects/demo/promotions"] {
        let (_, body) = sandbox.get(&format!("/api/v1{path}")).await;
        places.push((format!("GET {path}"), body.to_string().into_bytes()));
    }
    let bus = sandbox.nats.bus("scanner").await;
    let names: Vec<String> = bus.jetstream().stream_names().filter_map(|n| async { n.ok() }).collect().await;
    for name in &names {
        let mut stream = bus.jetstream().get_stream(name).await.unwrap();
        let state = stream.info().await.unwrap().state.clone();
        for seq in state.first_sequence..=state.last_sequence {
            let Ok(message) = stream.get_raw_message(seq).await else { continue };
            places.push((format!("{name} #{seq} ({})", message.subject), message.payload.to_vec()));
        }
    }
    places.push(("logs".to_owned(), logs.0.lock().unwrap().clone()));
    assert!(places.len() > 10, "the scan looked at {} places", places.len());
    for (place, bytes) in &places {
        let text = String::from_utf8_lossy(bytes);
        for secret in [&token, &unlabelled, &foreign, &git_password] {
            assert!(!text.contains(secret.as_str()), "{place} shows a secret");
        }
    }
}
