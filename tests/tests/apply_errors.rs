//! Bad requests to the api as users send them: each gets an error in the api's JSON
//! shape naming what is wrong, and nothing of a refused request is stored.

use std::time::Duration;

use lading_tests::sandbox::Sandbox;
use serde_json::Value;

const PROJECT: &str = "apiVersion: lading.dev/v1alpha1\nkind: Project\nmetadata:\n  name: demo\n";

fn stage(name: &str, upstream: &[&str]) -> String {
    let sources = if upstream.is_empty() {
        "      direct: true\n".to_owned()
    } else {
        format!("      stages: [{}]\n", upstream.join(", "))
    };
    format!(
        "---\napiVersion: lading.dev/v1alpha1\nkind: Stage\nmetadata:\n  name: {name}\n  namespace: demo\nspec:\n  requestedFreight:\n  - origin: {{kind: Warehouse, name: app}}\n    sources:\n{sources}"
    )
}

fn details(body: &Value) -> Vec<Value> {
    body["details"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_larger_than_a_nats_message_stores_nothing_and_is_named() {
    let sandbox = Sandbox::start(1).await;
    // Given a Project and a Stage whose variable holds 1.5 MiB,
    let huge = "x".repeat(1_536 * 1024);
    let manifests = format!(
        "{PROJECT}{}  promotionTemplate:\n    spec:\n      vars:\n      - name: big\n        value: {huge}\n",
        stage("test", &[])
    );
    // when they are applied,
    let (status, body) = sandbox.post("/api/v1/apply", &manifests).await;
    // then the answer is a 413 naming the second document and the limit,
    assert_eq!(status, 413, "{body}");
    assert!(body["error"].as_str().unwrap().contains("document 2"), "{body}");
    let detail = &details(&body)[0];
    assert_eq!(detail["document"], 2);
    assert_eq!(detail["kind"], "Stage");
    assert!(detail["reason"].as_str().unwrap().contains("the limit is 1048576 bytes"), "{detail}");
    // and the Project before it was not stored.
    let (status, _) = sandbox.get("/api/v1/projects/demo/stages").await;
    assert_eq!(status, 404, "the project must not exist");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_400_digit_duration_is_a_field_error_not_a_dropped_connection() {
    let sandbox = Sandbox::start(1).await;
    let warehouse = format!(
        "---\napiVersion: lading.dev/v1alpha1\nkind: Warehouse\nmetadata:\n  name: app\n  namespace: demo\nspec:\n  interval: {}h\n  subscriptions:\n  - git:\n      repoURL: https://example.com/app.git\n",
        "9".repeat(400)
    );
    let (status, body) = sandbox.post("/api/v1/apply", &format!("{PROJECT}{warehouse}")).await;
    assert_eq!(status, 422, "{body}");
    let detail = &details(&body)[0];
    assert_eq!(detail["field"], "spec.interval");
    assert!(detail["reason"].as_str().unwrap().contains("longest duration"), "{detail}");
    // The api is still there.
    let (status, _) = sandbox.get("/readyz").await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stages_forming_a_cycle_are_refused_naming_the_stages() {
    let sandbox = Sandbox::start(1).await;
    // Given stages c1 ← c2 ← c3 ← c1 (each takes freight from the next),
    let manifests = format!("{PROJECT}{}{}{}", stage("c1", &["c2"]), stage("c3", &["c1"]), stage("c2", &["c3"]));
    let (status, body) = sandbox.post("/api/v1/apply", &manifests).await;
    assert_eq!(status, 422, "{body}");
    let detail = &details(&body)[0];
    assert!(detail["reason"].as_str().unwrap().contains("c1 → c3 → c2 → c1"), "{detail}");
    assert_eq!(detail["field"], "spec.requestedFreight[0].sources.stages");
    // A cycle closed against stored stages is refused too.
    sandbox.apply(&format!("{PROJECT}{}{}", stage("a", &[]), stage("b", &["a"]))).await;
    let (status, body) = sandbox.post("/api/v1/apply", &stage("a", &["b"])).await;
    assert_eq!(status, 422, "{body}");
    assert!(details(&body)[0]["reason"].as_str().unwrap().contains("a → b → a"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_very_long_name_is_quoted_as_an_excerpt() {
    let sandbox = Sandbox::start(1).await;
    let name = "n".repeat(100_000);
    let manifest = format!("apiVersion: lading.dev/v1alpha1\nkind: Project\nmetadata:\n  name: {name}\n");
    let response = lading_tests::sandbox::authorized_client()
        .post(format!("{}/api/v1/apply", sandbox.api_url))
        .body(manifest)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let text = response.text().await.unwrap();
    assert!(text.len() < 2_000, "the error is {} bytes: {:.300}", text.len(), text);
    assert!(text.contains("at most 63 characters"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_answer_has_the_json_error_shape() {
    let sandbox = Sandbox::start(1).await;
    let http = lading_tests::sandbox::authorized_client();
    let url = |path: &str| format!("{}{path}", sandbox.api_url);
    let cases = [
        ("405 wrong method", http.delete(url("/api/v1/apply")), 405),
        ("404 unknown path", http.get(url("/api/v1/nowhere")), 404),
        ("415 not JSON", http.post(url("/api/v1/projects/demo/stages/test/promotions")).body("freight: x"), 415),
        (
            "413 body over the limit",
            http.post(url("/api/v1/apply")).body(vec![b'#'; lading_api::config::DEFAULT_MAX_BODY_BYTES + 1]),
            413,
        ),
    ];
    for (what, request, expected) in cases {
        let response = request.send().await.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(response.status().as_u16(), expected, "{what}");
        let body: Value = response.json().await.unwrap_or_else(|e| panic!("{what}: not JSON: {e}"));
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{what}: {body}");
        assert!(body["details"].is_array(), "{what}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage_with_missing_references_says_why_in_its_status() {
    let sandbox = Sandbox::start(1).await;
    // Given a stage whose warehouse, upstream stage and promotion task do not exist,
    let manifests = format!(
        "{PROJECT}{}  promotionTemplate:\n    spec:\n      steps:\n      - task: {{name: deploy}}\n",
        stage("late", &["ghost"])
    );
    sandbox.apply(&manifests).await;
    // when its status is read, then Ready is False and names each missing object.
    let (_, stages) = sandbox.get("/api/v1/projects/demo/stages").await;
    let late = &stages["items"][0];
    let ready = &late["status"]["conditions"][0];
    assert_eq!(ready["type"], "Ready");
    assert_eq!(ready["status"], "False", "{late}");
    assert_eq!(ready["reason"], "MissingWarehouse");
    let message = ready["message"].as_str().unwrap();
    for missing in ["warehouse \"app\"", "upstream stage \"ghost\"", "PromotionTask \"deploy\""] {
        assert!(message.contains(missing), "{message}");
    }
    // Once they exist, the stage is Ready.
    let rest = format!(
        "{}---\napiVersion: lading.dev/v1alpha1\nkind: Warehouse\nmetadata:\n  name: app\n  namespace: demo\nspec:\n  subscriptions:\n  - git:\n      repoURL: https://example.com/app.git\n---\napiVersion: lading.dev/v1alpha1\nkind: PromotionTask\nmetadata:\n  name: deploy\n  namespace: demo\nspec:\n  steps:\n  - uses: fail\n",
        stage("ghost", &[])
    );
    sandbox.apply(&rest).await;
    let (_, stages) = sandbox.get("/api/v1/projects/demo/stages").await;
    let late = stages["items"].as_array().unwrap().iter().find(|s| s["metadata"]["name"] == "late").unwrap().clone();
    assert_eq!(late["status"]["conditions"][0]["status"], "True", "{late}");
    let _ = Duration::ZERO;
}
