//! Secrets never show: a whole pipeline runs with a Git server and a registry behind
//! credentials, an `http` step carrying a token header and a secret in its URL, a
//! failing step whose error names that URL, and a verification querying a Prometheus
//! that wants a password; every secret is a distinctive random string, and none of them
//! appears in any stored event, any line a service writes to its standard output or
//! error, any status or any api answer. Neither do the api's bearer tokens: the
//! admin's, used for every request, and a person's, used to refresh a warehouse.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use base64::Engine as _;
use futures::StreamExt;
use lading_bus::names::{
    DEAD_LETTER_STREAM, DISCOVERY_STREAM, EVENTS_STREAM, PUBLIC_STREAM, SPECS_BUCKET, TOKENS_BUCKET,
};
use lading_domain::credentials::Credentials;
use lading_domain::secrets::Secrets;
use lading_promoter::steps::GitCredentials;
use lading_tests::git::Repo;
use lading_tests::prometheus::TestPrometheus;
use lading_tests::registry::{RegistryGateway, TestRegistry};
use lading_tests::sandbox::{ADMIN_TOKEN, Sandbox, SandboxOptions, authorized_client, client_with_token};
use lading_tests::wait;

const TIMEOUT: Duration = Duration::from_secs(90);

/// This process's standard output and error (file descriptors 1 and 2), sent to a file
/// from [`Output::capture`] to [`Output::release`]: every service runs in this process
/// (nextest gives each test its own), so this is every line any of them writes, by its
/// logger or otherwise, and what the child processes it starts write.
struct Output {
    file: std::fs::File,
    saved: [libc::c_int; 2],
}

impl Output {
    fn capture(path: &std::path::Path) -> Output {
        let file = std::fs::OpenOptions::new().create(true).truncate(true).read(true).write(true).open(path).unwrap();
        let _ = (std::io::stdout().flush(), std::io::stderr().flush());
        // SAFETY: duplicating and replacing this process's own descriptors 1 and 2.
        let saved = unsafe {
            let saved = [libc::dup(1), libc::dup(2)];
            assert!(saved.iter().all(|fd| *fd >= 0), "stdout and stderr can be saved");
            assert!(libc::dup2(file.as_raw_fd(), 1) >= 0 && libc::dup2(file.as_raw_fd(), 2) >= 0);
            saved
        };
        Output { file, saved }
    }

    /// Puts stdout and stderr back; everything written meanwhile.
    fn release(mut self) -> Vec<u8> {
        let _ = (std::io::stdout().flush(), std::io::stderr().flush());
        // SAFETY: restoring the descriptors saved in `capture`.
        unsafe {
            libc::dup2(self.saved[0], 1);
            libc::dup2(self.saved[1], 2);
            libc::close(self.saved[0]);
            libc::close(self.saved[1]);
        }
        let mut written = Vec::new();
        std::io::Seek::rewind(&mut self.file).unwrap();
        self.file.read_to_end(&mut written).unwrap();
        written
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

fn pipeline(app: &str, gitops: &str, image: &str, hook: &str, closed: &str, prometheus: &str) -> String {
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
  verification:
    analysisTemplates:
    - name: up
---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {{name: up, namespace: demo}}
spec:
  metrics:
  - name: up
    successCondition: result[0] == 1
    provider:
      prometheus:
        address: "{prometheus}"
        query: vector(1)
        headers:
        - key: Authorization
          value: "Basic ${{{{ secret('prometheus').basic }}}}"
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
    let dir = tempfile::tempdir().unwrap();
    let output = Output::capture(&dir.path().join("output.log"));
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(std::io::stdout)
        .try_init()
        .expect("this test's process logs through it");

    let git_password = distinctive("gitpass");
    let registry_password = distinctive("regpass");
    let api_token = distinctive("apitoken");
    let hook_path = distinctive("hookpath");
    let prometheus_password = distinctive("prompass");
    let prometheus_basic = base64::engine::general_purpose::STANDARD.encode(format!("lading:{prometheus_password}"));
    let mut secrets = vec![
        git_password.clone(),
        registry_password.clone(),
        api_token.clone(),
        hook_path.clone(),
        prometheus_password.clone(),
        prometheus_basic.clone(),
    ];

    // Given a Git server, a registry and a Prometheus that want credentials,
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
    let prometheus = TestPrometheus::start_with_password("lading", &prometheus_password).await;

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
             kind: Secret\nmetadata: {{name: hook}}\nstringData: {{path: {hook_path}}}\n---\n\
             kind: Secret\nmetadata: {{name: prometheus, namespace: demo}}\nstringData: {{basic: {prometheus_basic}}}\n"
        ))
        .unwrap(),
        ..SandboxOptions::default()
    };
    let sandbox = Sandbox::start_with_options(options).await;
    let mut places: Vec<(String, Vec<u8>)> = Vec::new();

    // when the pipeline runs: test succeeds (and calls the hook), its verification asks
    // Prometheus, and uat, which takes freight verified in test, fails naming its URL,
    let image = format!("{}/team/app", gateway.addr);
    let (app_url, gitops_url) = (format!("{git}/app.git"), format!("{git}/gitops.git"));
    sandbox.apply(&pipeline(&app_url, &gitops_url, &image, &hook_url, &closed, &prometheus.url)).await;
    sandbox.wait_current_in("demo", &commit, "test", TIMEOUT).await;
    // and a person's token refreshes the warehouse (its name is recorded, never the token),
    let (status, made) = sandbox
        .post_json("/api/v1/tokens", &serde_json::json!({"name": "release-bot", "role": "promoter", "project": "demo"}))
        .await;
    assert_eq!(status, 201, "{made}");
    let person_token = made["token"].as_str().unwrap().to_owned();
    let refreshed = client_with_token(&person_token)
        .post(format!("{}/api/v1/projects/demo/warehouses/app/refresh", sandbox.api_url))
        .send()
        .await
        .unwrap();
    assert!(refreshed.status().is_success(), "{}", refreshed.status());
    secrets.extend([person_token, ADMIN_TOKEN.to_owned()]);
    // A token written as a repoURL's user name (no password part), in a Warehouse and
    // in a step, is refused at apply without the answer repeating it.
    let bare_token = distinctive("ghp");
    let leaky_host = git.trim_start_matches("http://");
    for (kind, manifest) in [
        (
            "Warehouse",
            format!(
                "apiVersion: lading.dev/v1alpha1\nkind: Warehouse\nmetadata: {{name: leaky, namespace: demo}}\n\
                 spec:\n  subscriptions:\n  - git: {{repoURL: \"http://{bare_token}@{leaky_host}/app.git\", branch: main}}\n"
            ),
        ),
        (
            "Stage",
            format!(
                "apiVersion: lading.dev/v1alpha1\nkind: Stage\nmetadata: {{name: leaky, namespace: demo}}\n\
                 spec:\n  requestedFreight:\n  - origin: {{kind: Warehouse, name: app}}\n    sources: {{direct: true}}\n\
                 \x20 promotionTemplate:\n    spec:\n      steps:\n      - uses: git-clone\n        config:\n\
                 \x20         repoURL: \"https://{bare_token}@{leaky_host}/gitops.git\"\n"
            ),
        ),
    ] {
        let (status, answer) = sandbox.post("/api/v1/apply", &manifest).await;
        assert_eq!(status, 422, "{kind}: {answer}");
        assert!(answer.to_string().contains("repoURL"), "{kind}: {answer}");
        places.push((format!("POST /api/v1/apply ({kind} with a bare token)"), answer.to_string().into_bytes()));
    }
    secrets.push(bare_token);
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
    for path in [
        "/projects",
        "/projects/demo/freight",
        "/projects/demo/stages",
        "/projects/demo/warehouses",
        "/projects/demo/promotions",
        "/tokens",
    ] {
        let (_, body) = sandbox.get(&format!("/api/v1{path}")).await;
        places.push((format!("GET {path}"), body.to_string().into_bytes()));
    }
    // Every stream: the log, discovery, public and dead letters, and every KV bucket
    // (specs, tokens, aliases, leases, claims, cursors, snapshots) and object store.
    let bus = sandbox.nats.bus("scanner").await;
    let names: Vec<String> = bus.jetstream().stream_names().filter_map(|n| async { n.ok() }).collect().await;
    for required in [EVENTS_STREAM, DISCOVERY_STREAM, PUBLIC_STREAM, DEAD_LETTER_STREAM] {
        assert!(names.iter().any(|n| n == required), "{required} is not among {names:?}");
    }
    for bucket in [SPECS_BUCKET, TOKENS_BUCKET] {
        assert!(names.iter().any(|n| *n == format!("KV_{bucket}")), "{bucket} is not among {names:?}");
    }
    for name in &names {
        let mut stream = bus.jetstream().get_stream(name).await.unwrap();
        let state = stream.info().await.unwrap().state.clone();
        for seq in state.first_sequence..=state.last_sequence {
            let Ok(message) = stream.get_raw_message(seq).await else { continue };
            let mut bytes = message.subject.as_bytes().to_vec();
            bytes.extend_from_slice(&message.payload);
            for (header, values) in message.headers.iter() {
                bytes.extend_from_slice(header.as_ref());
                for value in values {
                    bytes.extend_from_slice(value.as_str().as_bytes());
                }
            }
            places.push((format!("{name} #{seq} ({})", message.subject), bytes));
        }
    }
    // and the live event feed the UI and `lading events` read.
    let feed = authorized_client()
        .get(format!("{}/api/v1/events?project=demo&since=0", sandbox.api_url))
        .send()
        .await
        .unwrap();
    let mut feed = feed;
    let mut read = Vec::new();
    // The feed stays open: what it sent within a second is what was kept.
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while let Ok(Some(chunk)) = feed.chunk().await {
            read.extend_from_slice(&chunk);
        }
    })
    .await;
    assert!(!read.is_empty(), "the event feed answered nothing");
    places.push(("GET /api/v1/events".to_owned(), read));
    // The verification succeeded (uat ran), with Prometheus's password: its measurement
    // was a value, not an error.
    let (_, stages) = sandbox.get("/api/v1/projects/demo/stages").await;
    let test = stages["items"].as_array().unwrap().iter().find(|s| s["metadata"]["name"] == "test").unwrap().clone();
    let verification = &test["status"]["freightHistory"][0]["verificationHistory"][0];
    assert_eq!(verification["phase"], "Successful", "{verification}");
    let written = output.release();
    assert!(
        String::from_utf8_lossy(&written).contains("promotion succeeded"),
        "the services' log lines were captured ({} bytes)",
        written.len()
    );
    places.push(("every service's stdout and stderr".to_owned(), written));
    assert!(places.len() > 20, "the scan looked at {} places", places.len());
    for (place, bytes) in &places {
        let text = String::from_utf8_lossy(bytes);
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "{place} shows a secret: {}", excerpt_around(&text, secret));
        }
    }
}

fn excerpt_around(text: &str, secret: &str) -> String {
    let at = text.find(secret).unwrap_or(0);
    let start = text[..at].char_indices().rev().nth(120).map_or(0, |(i, _)| i);
    text[start..(at + secret.len()).min(text.len())].to_owned()
}
