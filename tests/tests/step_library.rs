//! The step library and per-step options against real files: what each step writes,
//! and how `if`, `continueOnError`, `retry` and step `vars` change a run.

use std::path::Path;

use lading_domain::Freight;
use lading_domain::spec::{PromotionStep, PromotionVariable, StepRetry};
use lading_promoter::engine::{PromotionError, PromotionOutcome, StepObserver, StepOutcome, StepReport};
use lading_tests::engine_run::EngineRun;
use lading_tests::git::Repo;
use serde_json::json;

fn step(uses: &str, config: serde_json::Value) -> PromotionStep {
    PromotionStep { uses: uses.into(), config: Some(config), ..Default::default() }
}

fn named(mut step: PromotionStep, alias: &str) -> PromotionStep {
    step.alias = Some(alias.into());
    step
}

fn run(workspace: &Path, steps: &[PromotionStep]) -> Result<PromotionOutcome, PromotionError> {
    let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
    let vars = [PromotionVariable { name: "env".into(), value: "test".into() }];
    EngineRun { promotion: "test.01.aaaaaaa", vars: &vars, ..EngineRun::new(&freight) }.run(workspace, steps)
}

#[test]
fn file_steps_write_copy_and_delete_inside_the_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let outcome = run(
        dir.path(),
        &[
            step("file-write", json!({"path": "src/app.conf", "contents": "env=${{ vars.env }}\n"})),
            step("copy", json!({"inPath": "src", "outPath": "out/copied"})),
            step("delete", json!({"path": "src"})),
            named(step("compose-output", json!({"env": "${{ vars.env }}", "n": "${{ 1 + 1 }}"})), "info"),
        ],
    )
    .unwrap();
    assert_eq!(std::fs::read_to_string(dir.path().join("out/copied/app.conf")).unwrap(), "env=test\n");
    assert!(!dir.path().join("src").exists());
    assert_eq!(outcome.outputs["info"], json!({"env": "test", "n": 2}));
    let escape = run(dir.path(), &[step("copy", json!({"inPath": "out", "outPath": "../elsewhere"}))]).unwrap_err();
    assert!(
        escape.to_string().contains("config.outPath: \"../elsewhere\" leads outside the promotion's workspace"),
        "{escape}"
    );
    let strict = run(dir.path(), &[step("delete", json!({"path": "missing", "strict": true}))]).unwrap_err();
    assert!(strict.to_string().contains("does not exist"), "{strict}");
}

#[test]
fn toml_update_keeps_comments_and_layout() {
    let dir = tempfile::tempdir().unwrap();
    let before = "# app settings\n[image]\nname = \"nginx\"   # the image\ntag  = \"1.0.0\" # promoted\n\n[scaling]\nreplicas = 2\n";
    std::fs::write(dir.path().join("app.toml"), before).unwrap();
    run(
        dir.path(),
        &[step(
            "toml-update",
            json!({"path": "app.toml", "updates": [
                {"key": "image.tag", "value": "1.2.3"},
                {"key": "scaling.replicas", "value": "${{ 3 }}"},
                {"key": "scaling.zone", "value": "eu"},
            ]}),
        )],
    )
    .unwrap();
    let after = std::fs::read_to_string(dir.path().join("app.toml")).unwrap();
    assert!(
        after.starts_with("# app settings\n[image]\nname = \"nginx\"   # the image\ntag  = \"1.2.3\" # promoted\n"),
        "{after}"
    );
    assert!(after.contains("replicas = 3\n") && after.contains("zone = \"eu\""), "{after}");
}

#[test]
fn json_update_keeps_layout_for_existing_keys() {
    let dir = tempfile::tempdir().unwrap();
    let before = "{\n    \"image\": {\"tag\": \"1.0.0\", \"name\": \"nginx\"},\n    \"replicas\": 2\n}\n";
    std::fs::write(dir.path().join("app.json"), before).unwrap();
    run(
        dir.path(),
        &[step("json-update", json!({"path": "app.json", "updates": [{"key": "image.tag", "value": "1.2.3"}]}))],
    )
    .unwrap();
    let after = std::fs::read_to_string(dir.path().join("app.json")).unwrap();
    assert_eq!(after, before.replace("1.0.0", "1.2.3"));
    run(
        dir.path(),
        &[step("json-update", json!({"path": "app.json", "updates": [{"key": "extra.deep", "value": true}]}))],
    )
    .unwrap();
    let added: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("app.json")).unwrap()).unwrap();
    assert_eq!(added["extra"]["deep"], true);
    assert_eq!(added["image"]["tag"], "1.2.3");
}

#[test]
fn continue_on_error_lets_the_promotion_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut flaky = named(step("fail", json!({"message": "optional check failed"})), "check");
    flaky.continue_on_error = true;
    let mut reacts = step("file-write", json!({"path": "status.txt", "contents": "${{ status('check') }}"}));
    reacts.condition = Some("${{ status('check') == 'Errored' }}".into());
    run(dir.path(), &[flaky, reacts]).unwrap();
    assert_eq!(std::fs::read_to_string(dir.path().join("status.txt")).unwrap(), "Errored");
}

#[test]
fn after_a_failure_only_failure_and_always_steps_run_and_the_first_error_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let skipped = step("file-write", json!({"path": "skipped.txt", "contents": "x"}));
    let mut cleanup = step("file-write", json!({"path": "cleanup.txt", "contents": "cleaned"}));
    cleanup.condition = Some("${{ failure() }}".into());
    let mut always = step("file-write", json!({"path": "always.txt", "contents": "yes"}));
    always.condition = Some("always()".into());
    let error = run(dir.path(), &[step("fail", json!({"message": "boom"})), skipped, cleanup, always]).unwrap_err();
    assert_eq!(error.to_string(), "step 0 (fail): boom");
    assert!(!dir.path().join("skipped.txt").exists());
    assert!(dir.path().join("cleanup.txt").exists() && dir.path().join("always.txt").exists());
}

/// Collects what the engine reports of each step.
#[derive(Default)]
struct Reports(Vec<StepReport>);

impl StepObserver for Reports {
    fn step_finished(&mut self, report: StepReport) {
        self.0.push(report);
    }
}

#[test]
fn every_step_is_reported_as_succeeded_failed_errored_or_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let mut optional = step("fail", json!({"message": "optional"}));
    optional.continue_on_error = true;
    let mut on_failure = step("file-write", json!({"path": "f.txt", "contents": "x"}));
    on_failure.condition = Some("${{ failure() }}".into());
    let steps = [
        step("file-write", json!({"path": "a.txt", "contents": "a"})),
        optional,
        on_failure,
        step("fail", json!({"message": "boom"})),
        step("file-write", json!({"path": "b.txt", "contents": "b"})),
    ];
    let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
    let mut reports = Reports::default();
    EngineRun::new(&freight).run_observed(dir.path(), &steps, &mut reports).unwrap_err();
    let outcomes: Vec<_> = reports.0.iter().map(|r| (r.index, r.outcome)).collect();
    assert_eq!(
        outcomes,
        [
            (0, StepOutcome::Succeeded),
            (1, StepOutcome::Errored),
            (2, StepOutcome::Skipped),
            (3, StepOutcome::Failed),
            (4, StepOutcome::Skipped)
        ]
    );
    assert_eq!(reports.0[1].message, "optional");
    assert_eq!(reports.0[4].message, "skipped: `if: success()` was false");
}

#[test]
fn retry_tries_again_up_to_the_error_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let mut retried = step("fail", json!({"message": "still failing"}));
    retried.retry = Some(StepRetry { timeout: None, error_threshold: Some(3) });
    let error = run(dir.path(), &[retried]).unwrap_err();
    assert_eq!(error.to_string(), "step 0 (fail): still failing (after 3 attempts)");
}

#[test]
fn step_vars_add_to_the_template_vars() {
    let dir = tempfile::tempdir().unwrap();
    let mut write = step("file-write", json!({"path": "out.txt", "contents": "${{ vars.env }}/${{ vars.region }}"}));
    write.vars = vec![PromotionVariable { name: "region".into(), value: "eu-${{ vars.env }}".into() }];
    run(dir.path(), &[write]).unwrap();
    assert_eq!(std::fs::read_to_string(dir.path().join("out.txt")).unwrap(), "test/eu-test");
}

#[test]
fn git_clear_empties_a_working_tree_for_rendered_output() {
    let root = tempfile::tempdir().unwrap();
    let gitops = Repo::create(root.path(), "gitops");
    gitops.commit("stale.yaml", "old: true\n", "stale output");
    let dir = tempfile::tempdir().unwrap();
    run(
        dir.path(),
        &[
            step("git-clone", json!({"repoURL": gitops.url(), "checkout": [{"branch": "main", "path": "./out"}]})),
            step("git-clear", json!({"path": "./out"})),
            step("file-write", json!({"path": "./out/fresh.yaml", "contents": "new: true\n"})),
            step("git-commit", json!({"path": "./out", "message": "render"})),
            step("git-push", json!({"path": "./out"})),
        ],
    )
    .unwrap();
    assert_eq!(gitops.show("main", "fresh.yaml"), "new: true");
    let listed = std::process::Command::new("git")
        .args(["ls-tree", "--name-only", "main"])
        .current_dir(root.path().join("gitops.git"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&listed.stdout), "fresh.yaml\n");
}

/// A loopback HTTP server answering `/ready` with JSON and `/broken` with 503.
async fn http_server() -> String {
    use axum::routing::get;
    let app = axum::Router::new()
        .route(
            "/ready",
            get(|query: axum::extract::RawQuery| async move {
                axum::Json(json!({"ready": true, "version": "1.2.3", "query": query.0.unwrap_or_default()}))
            }),
        )
        .route("/broken", get(|| async { (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down") }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_decides_from_the_response_and_exposes_outputs() {
    let base = http_server().await;
    let dir = tempfile::tempdir().unwrap();
    let workspace = dir.path().to_path_buf();
    let check = named(
        step(
            "http",
            json!({
                "url": format!("{base}/ready"),
                "queryParams": [{"name": "stage", "value": "${{ ctx.stage }}"}],
                "successExpression": "response.status == 200 && response.body.ready",
                "outputs": [{"name": "version", "fromExpression": "response.body.version"},
                            {"name": "query", "fromExpression": "response.body.query"}],
            }),
        ),
        "check",
    );
    let outcome = tokio::task::spawn_blocking(move || run(&workspace, &[check])).await.unwrap().unwrap();
    assert_eq!(outcome.outputs["check"], json!({"version": "1.2.3", "query": "stage=test"}));

    let workspace = dir.path().to_path_buf();
    let broken = step("http", json!({"url": format!("{base}/broken"), "failureExpression": "response.status >= 500"}));
    let error = tokio::task::spawn_blocking(move || run(&workspace, &[broken])).await.unwrap().unwrap_err();
    assert!(error.to_string().contains("failureExpression \"response.status >= 500\" matched (status 503)"), "{error}");
    let workspace = dir.path().to_path_buf();
    let plain = step("http", json!({"url": format!("{base}/broken")}));
    let error = tokio::task::spawn_blocking(move || run(&workspace, &[plain])).await.unwrap().unwrap_err();
    assert!(error.to_string().ends_with("status 503"), "{error}");
}
