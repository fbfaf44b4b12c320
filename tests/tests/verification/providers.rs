//! The `web` and `job` providers end to end: a web endpoint whose answer the test flips,
//! and a local command whose exit code the test sets. While the answer is good, freight
//! reaches uat; when it is bad, the next freight stops in test with `Failed` and a
//! message naming the metric and what it saw; once good again, a re-run verifies it.

use lading_tests::git::Repo;
use lading_tests::sandbox::Sandbox;
use lading_tests::web_answer::WebAnswer;

use super::{HEALTH, OK, TIMEOUT, finished_verification, freight_name, pipeline, stage, web_template};

/// Asks for the stage's current freight to be verified again, as `lading verify stage`.
async fn verify_again(sandbox: &Sandbox, stage_name: &str) {
    let path = format!("/api/v1/projects/demo/stages/{stage_name}/verify");
    let (status, body) = sandbox.post_json(&path, &serde_json::json!({})).await;
    assert_eq!(status, 202, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_web_metric_follows_the_answer_the_test_flips() {
    let sandbox = Sandbox::start(1).await;
    let web = WebAnswer::start(OK).await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let first = app.commit("app.txt", "v1", "first");
    let manifests = pipeline(&app.url(), &gitops.url(), HEALTH, None);
    sandbox.apply(&format!("{manifests}\n{}", web_template(web.url(), ""))).await;
    // Answer "ok": the freight is verified in test and reaches uat.
    sandbox.wait_current_in("demo", &first, "uat", TIMEOUT).await;
    let verified = finished_verification(&sandbox, &first, "test").await;
    assert_eq!(verified["phase"], "Successful", "{verified}");
    assert_eq!(verified["metrics"][0]["measurements"][0]["value"], "ok", "{verified}");

    // Answer "down": the next freight stops in test, Failed, saying what it saw.
    web.set(r#"{"status": "down"}"#);
    let second = app.commit("app.txt", "v2", "second");
    sandbox.refresh("demo", "app").await;
    sandbox.wait_current_in("demo", &second, "test", TIMEOUT).await;
    let failed = finished_verification(&sandbox, &second, "test").await;
    assert_eq!(failed["phase"], "Failed", "{failed}");
    let message = failed["message"].as_str().unwrap();
    for part in ["\"health\"", "value down", r#"successCondition "result == \"ok\"""#] {
        assert!(message.contains(part), "{part:?} missing from {message:?}");
    }
    let uat = stage(&sandbox, "uat").await;
    let freight = sandbox.freight("demo").await;
    assert_eq!(uat["status"]["currentFreight"][0]["name"], freight_name(&freight, &first), "uat keeps the first");

    // "ok" again: verifying the stage again lets it move on.
    web.set(OK);
    verify_again(&sandbox, "test").await;
    sandbox.wait_current_in("demo", &second, "uat", TIMEOUT).await;
}

/// A template whose one metric runs `sh -c` on a local script that prints a line and
/// exits with the code written in `code_file`.
fn job_template(code_file: &std::path::Path) -> String {
    format!(
        r#"---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: smoke
  namespace: demo
spec:
  metrics:
  - name: smoke
    provider:
      job:
        spec:
          activeDeadlineSeconds: 30
          backoffLimit: 0
          template:
            spec:
              restartPolicy: Never
              containers:
              - name: smoke
                image: busybox
                command: [sh, -c]
                args: ["echo smoke test ran; exit $(cat {})"]
"#,
        code_file.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_metric_runs_a_local_command_whose_exit_code_decides() {
    let sandbox = Sandbox::start(1).await;
    let code = sandbox.dir.path().join("exit-code");
    std::fs::write(&code, "1").unwrap();
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let first = app.commit("app.txt", "v1", "first");
    let manifests = pipeline(&app.url(), &gitops.url(), "    - name: smoke\n", None);
    sandbox.apply(&format!("{manifests}\n{}", job_template(&code))).await;
    // `exit 1`: Failed, with the command's output in the message; the freight stays in test.
    sandbox.wait_current_in("demo", &first, "test", TIMEOUT).await;
    let failed = finished_verification(&sandbox, &first, "test").await;
    assert_eq!(failed["phase"], "Failed", "{failed}");
    let message = failed["message"].as_str().unwrap();
    assert!(message.contains("smoke") && message.contains("exited with code 1: smoke test ran"), "{message}");
    let freight = sandbox.freight("demo").await;
    let first_freight = freight.iter().find(|f| f["commits"][0]["id"] == first.as_str()).unwrap();
    assert!(first_freight["status"]["verifiedIn"].get("test").is_none(), "{first_freight}");

    // `exit 0`: a re-run succeeds and the freight moves on.
    std::fs::write(&code, "0").unwrap();
    verify_again(&sandbox, "test").await;
    sandbox.wait_current_in("demo", &first, "uat", TIMEOUT).await;
    let verified = finished_verification(&sandbox, &first, "test").await;
    assert_eq!(verified["phase"], "Successful", "{verified}");
    assert_eq!(
        verified["metrics"][0]["measurements"][0]["message"], "exited with code 0: smoke test ran",
        "{verified}"
    );
}

/// What the guarded endpoint expects, and every `authorization` header it got.
#[derive(Clone)]
struct Guarded {
    token: String,
    path: String,
    seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// Answers `{"status": "ok"}` only to the secret path with the secret bearer token, and
/// (as a careless endpoint might) echoes the header it got back in every answer.
async fn guarded_health(
    axum::extract::State(guarded): axum::extract::State<Guarded>,
    axum::extract::Path(path): axum::extract::Path<String>,
    headers: axum::http::HeaderMap,
) -> (axum::http::StatusCode, String) {
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    guarded.seen.lock().unwrap().push(authorization.clone());
    let echo = serde_json::json!({"status": "ok", "echo": authorization}).to_string();
    if path == guarded.path && authorization == format!("Bearer {}", guarded.token) {
        (axum::http::StatusCode::OK, echo)
    } else {
        (axum::http::StatusCode::UNAUTHORIZED, echo)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_web_metric_reads_its_token_and_path_from_secrets_which_show_nowhere() {
    // Given an endpoint that wants a token and a path known only to the secrets file,
    let token = format!("probe-token-{}", ulid::Ulid::new().to_string().to_lowercase());
    let path = format!("probe-path-{}", ulid::Ulid::new().to_string().to_lowercase());
    let guarded = Guarded { token: token.clone(), path: path.clone(), seen: Default::default() };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router =
        axum::Router::new().route("/health/{path}", axum::routing::get(guarded_health)).with_state(guarded.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let secrets = lading_domain::secrets::Secrets::parse(&format!(
        "kind: Secret\nmetadata: {{name: probe, namespace: demo}}\nstringData: {{token: {token}, path: {path}}}\n"
    ))
    .unwrap();
    let options = lading_tests::sandbox::SandboxOptions { secrets, ..Default::default() };
    let sandbox = Sandbox::start_with_options(options).await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let first = app.commit("app.txt", "v1", "first");
    // and a template reading both with secret(), judging the whole (echoing) answer,
    let template = format!(
        r#"---
apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: health
  namespace: demo
spec:
  metrics:
  - name: health
    successCondition: result.status == "ok"
    provider:
      web:
        url: "{url}/health/${{{{ secret('probe').path }}}}"
        timeoutSeconds: 30
        headers:
        - key: Authorization
          value: "Bearer ${{{{ secret('probe').token }}}}"
"#
    );
    let manifests = pipeline(&app.url(), &gitops.url(), HEALTH, None);
    sandbox.apply(&format!("{manifests}\n{template}")).await;

    // when the freight is verified in test, it reaches uat: the endpoint got the token,
    sandbox.wait_current_in("demo", &first, "uat", TIMEOUT).await;
    let verified = finished_verification(&sandbox, &first, "test").await;
    assert_eq!(verified["phase"], "Successful", "{verified}");
    assert!(guarded.seen.lock().unwrap().contains(&format!("Bearer {token}")));
    let value = verified["metrics"][0]["measurements"][0]["value"].as_str().unwrap_or_default().to_owned();
    assert!(value.contains("Bearer ***"), "the echoed token is cut out of the value: {value}");

    // and then neither secret shows in any event, stream message or api answer.
    let mut places: Vec<(String, String)> = Vec::new();
    for api_path in ["stages", "freight", "promotions", "analysistemplates"] {
        let (_, body) = sandbox.get(&format!("/api/v1/projects/demo/{api_path}")).await;
        places.push((format!("GET {api_path}"), body.to_string()));
    }
    let bus = sandbox.nats.bus("scanner").await;
    let names: Vec<String> =
        futures::StreamExt::collect::<Vec<_>>(bus.jetstream().stream_names()).await.into_iter().flatten().collect();
    for name in &names {
        let mut stream = bus.jetstream().get_stream(name).await.unwrap();
        let state = stream.info().await.unwrap().state.clone();
        for seq in state.first_sequence..=state.last_sequence {
            let Ok(message) = stream.get_raw_message(seq).await else { continue };
            let headers = format!("{:?}", message.headers);
            let payload = String::from_utf8_lossy(&message.payload).into_owned();
            places.push((format!("{name} #{seq}"), format!("{headers}{payload}")));
        }
    }
    assert!(places.len() > 10, "the scan looked at {} places", places.len());
    for (place, text) in &places {
        for secret in [&token, &path] {
            assert!(!text.contains(secret.as_str()), "{place} shows a secret: {text}");
        }
    }
}
