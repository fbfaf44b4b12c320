//! Secrets never show: a whole pipeline runs with a Git server and a registry behind
//! credentials, an `http` step carrying a token header and a secret in its URL, and a
//! failing step whose error names that URL; every secret is a distinctive random
//! string, and none of them appears in any stored event, any log line, any status or
//! any api answer.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use futures::StreamExt;
use lading_bus::names::{DEAD_LETTER_STREAM, DISCOVERY_STREAM, EVENTS_STREAM, PUBLIC_STREAM, SPECS_BUCKET};
use lading_domain::credentials::Credentials;
use lading_domain::secrets::Secrets;
use lading_promoter::steps::GitCredentials;
use lading_tests::git::Repo;
use lading_tests::registry::{RegistryGateway, TestRegistry};
use lading_tests::sandbox::{Sandbox, SandboxOptions, authorized_client};
use lading_tests::wait;

const TIMEOUT: Duration = Duration::from_secs(90);

/// Every log line of this test process.
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

/// What the hook endpoint saw: (path, authorization header).
type Calls = Arc<Mutex<Vec<(String, String)>>>;

async fn hook(State(calls): State<Calls>, Path(rest): Path<String>, headers: HeaderMap) -> &'static str {
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    calls.lock().unwrap().push((rest, authorization.to_owned()));
    "{\"ok\": true}"
}

fn distinctive(what: &str) -> String {
    format!("{what}-{}", ulid::Ulid::new().to_string().to_lowercase())
}

fn pipeline(app: &str, gitops: &str, image: &str, hook: &str, closed: &str) -> String {
    format!(
        r#"apiVersion: lading.dev/v1alpha1
kind: Project
metadata: {{name: demo}}
spec:
  promotionPolicies:
  - stageSelector: {{name: "glob:*"}}
    autoPromotionEnabled: true
---
apiVersion: lading.dev/v1alpha1
kind: Warehouse
metadata: {{name: app, namespace: demo}}
spec:
  interval: 1h
  subscriptions:
  - git: {{repoURL: "{app}", branch: main}}
  - image: {{repoURL: "{image}", insecureSkipTLSVerify: true}}
---
apiVersion: lading.dev/v1alpha1
kind: Stage
metadata: {{name: test, namespace: demo}}
spec:
  requestedFreight:
  - origin: {{kind: Warehouse, name: app}}
    sources: {{direct: true}}
  promotionTemplate:
    spec:
      steps:
      - uses: git-clone
        config:
          repoURL: "{gitops}"
          checkout: [{{branch: stage/test, create: true, path: ./out}}]
      - uses: yaml-update
        config:
          path: ./out/values.yaml
          updates:
          - {{key: commit, value: "${{{{ commitFrom('{app}').ID }}}}"}}
          - {{key: image, value: "${{{{ imageFrom('{image}').Tag }}}}"}}
      - uses: git-commit
        config: {{path: ./out, message: promote}}
      - uses: git-push
        config: {{path: ./out}}
      - uses: http
        config:
          method: POST
          url: "{hook}/hooks/${{{{ secret('hook').path }}}}"
          headers:
          - name: Authorization
            value: "Bearer ${{{{ secret('api').token }}}}"
---
apiVersion: lading.dev/v1alpha1
kind: Stage
metadata: {{name: uat, namespace: demo}}
spec:
  requestedFreight:
  - origin: {{kind: Warehouse, name: app}}
    sources: {{stages: [test]}}
  promotionTemplate:
    spec:
      steps:
      - uses: http
        config:
          url: "{closed}/hooks/${{{{ secret('hook').path }}}}?token=${{{{ secret('api').token }}}}"
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_secret_appears_in_events_logs_status_or_api_answers() {
    let logs = Logs::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .try_init()
        .expect("this test's process logs through it");

    let git_password = distinctive("gitpass");
    let registry_password = distinctive("regpass");
    let api_token = distinctive("apitoken");
    let hook_path = distinctive("hookpath");
    let secrets = [&git_password, &registry_password, &api_token, &hook_path];

    // Given a Git server and a registry that want credentials,
    let dir = tempfile::tempdir().unwrap();
    let repos = dir.path().join("repos");
    std::fs::create_dir_all(&repos).unwrap();
    let app = Repo::create(&repos, "app");
    let _gitops = Repo::create(&repos, "gitops");
    let commit = app.commit("app.txt", "v1", "first");
    let git = lading_tests::git_http::serve(&repos, "robot", &git_password).await;
    let registry = TestRegistry::start();
    registry.push("team/app", "1.0.0", "linux/amd64", "2026-01-01T00:00:00Z");
    let gateway = RegistryGateway::start(&registry, "puller", &registry_password).await;
    // an endpoint for the http step, and a port nobody listens on for the failing one,
    let calls: Calls = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}", listener.local_addr().unwrap());
    let app_router = axum::Router::new().route("/hooks/{*rest}", axum::routing::post(hook)).with_state(calls.clone());
    tokio::spawn(async move { axum::serve(listener, app_router).await });
    let closed = format!("http://{}", std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap());

    let options = SandboxOptions {
        warehouse_credentials: Credentials::parse(&format!(
            "- repoURL: {git}/\n  username: robot\n  password: {git_password}\n\
             - type: image\n  repoURL: {}/\n  username: puller\n  password: {registry_password}\n",
            gateway.addr
        ))
        .unwrap(),
        promoter_credentials: GitCredentials::parse(&format!(
            "- repoURL: {git}/\n  username: robot\n  password: {git_password}\n"
        ))
        .unwrap(),
        secrets: Secrets::parse(&format!(
            "kind: Secret\nmetadata: {{name: api, namespace: demo}}\nstringData: {{token: {api_token}}}\n---\n\
             kind: Secret\nmetadata: {{name: hook}}\nstringData: {{path: {hook_path}}}\n"
        ))
        .unwrap(),
        ..SandboxOptions::default()
    };
    let sandbox = Sandbox::start_with_options(options).await;

    // when the pipeline runs: test succeeds (and calls the hook), uat fails naming its URL,
    let image = format!("{}/team/app", gateway.addr);
    sandbox.apply(&pipeline(&format!("{git}/app.git"), &format!("{git}/gitops.git"), &image, &hook_url, &closed)).await;
    sandbox.wait_current_in("demo", &commit, "test", TIMEOUT).await;
    let uat_failed = wait::until("uat's promotion to fail", TIMEOUT, || async {
        let (_, stages) = sandbox.get("/api/v1/projects/demo/stages").await;
        let uat = stages["items"].as_array().unwrap().iter().find(|s| s["metadata"]["name"] == "uat").cloned();
        let last = uat.map(|s| s["status"]["lastPromotion"].clone()).unwrap_or_default();
        if last["status"]["phase"] == "Failed" { Ok(last) } else { Err(last.to_string()) }
    })
    .await;
    // (the secrets were used: the hook got the token and the path, the failure names the URL)
    let seen = calls.lock().unwrap().clone();
    assert_eq!(seen, vec![(hook_path.clone(), format!("Bearer {api_token}"))]);
    let message = uat_failed["status"]["message"].as_str().unwrap().to_owned();
    assert!(message.contains(&closed) && message.contains("/hooks/***"), "{message}");

    // then no secret appears anywhere a person or a tool can read.
    let mut places: Vec<(String, Vec<u8>)> = Vec::new();
    let mut paths = vec!["/api/v1/projects".to_owned()];
    for path in ["freight", "stages", "warehouses", "promotions", "projectconfig"] {
        paths.push(format!("/api/v1/projects/demo/{path}"));
    }
    for stage in ["test", "uat"] {
        paths.push(format!("/api/v1/projects/demo/stages/{stage}"));
        paths.push(format!("/api/v1/projects/demo/stages/{stage}/promotions"));
    }
    paths.push("/api/v1/projects/demo/warehouses/app".to_owned());
    for path in paths {
        let (_, body) = sandbox.get(&path).await;
        places.push((format!("GET {path}"), body.to_string().into_bytes()));
    }
    // Every stream on the server: the events, discovery, public and dead-letter streams, and
    // every KV bucket (a bucket is the stream KV_<name>), each message with its headers.
    let bus = sandbox.nats.bus("scanner").await;
    let names: Vec<String> = bus.jetstream().stream_names().filter_map(|n| async move { n.ok() }).collect().await;
    let specs_stream = format!("KV_{SPECS_BUCKET}");
    for wanted in [EVENTS_STREAM, DISCOVERY_STREAM, PUBLIC_STREAM, DEAD_LETTER_STREAM, specs_stream.as_str()] {
        assert!(names.iter().any(|n| n == wanted), "{wanted} is not among the streams {names:?}");
    }
    let mut public_events = 0;
    for name in &names {
        let mut stream = bus.jetstream().get_stream(name).await.unwrap();
        let state = stream.info().await.unwrap().state.clone();
        if name == PUBLIC_STREAM {
            public_events = state.messages;
        }
        for seq in state.first_sequence..=state.last_sequence {
            let Ok(message) = stream.get_raw_message(seq).await else { continue };
            let mut bytes = message.payload.to_vec();
            for (header, values) in message.headers.iter() {
                bytes.extend_from_slice(header.as_ref());
                for value in values {
                    bytes.extend_from_slice(value.as_str().as_bytes());
                }
            }
            places.push((format!("{name} #{seq} ({})", message.subject), bytes));
        }
    }
    // What a follower of the project's events reads over SSE, from the first event on
    // (read until every public event arrived, or for at most 10 s).
    assert!(public_events > 0, "the pipeline published no public events");
    let mut response = authorized_client()
        .get(format!("{}/api/v1/events?project=demo&since=0", sandbox.api_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut sse = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let count = |sse: &[u8]| String::from_utf8_lossy(sse).lines().filter(|l| l.starts_with("data:")).count() as u64;
    while count(&sse) < public_events {
        match tokio::time::timeout_at(deadline, response.chunk()).await {
            Ok(Ok(Some(chunk))) => sse.extend_from_slice(&chunk),
            _ => break,
        }
    }
    assert!(count(&sse) > 0, "SSE gave no event: {}", String::from_utf8_lossy(&sse));
    places.push((format!("SSE /api/v1/events ({} events)", count(&sse)), sse));
    places.push(("logs".to_owned(), logs.0.lock().unwrap().clone()));
    assert!(places.len() > 20, "the scan looked at {} places", places.len());
    for (place, bytes) in &places {
        let text = String::from_utf8_lossy(bytes);
        for secret in secrets {
            assert!(!text.contains(secret.as_str()), "{place} shows a secret: {}", excerpt_around(&text, secret));
        }
    }
}

fn excerpt_around(text: &str, secret: &str) -> String {
    let at = text.find(secret).unwrap_or(0);
    let start = text[..at].char_indices().rev().nth(120).map_or(0, |(i, _)| i);
    text[start..(at + secret.len()).min(text.len())].to_owned()
}
