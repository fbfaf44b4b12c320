//! Promotion steps against hostile remotes: `git-clone` from a Git remote that accepts
//! and never answers (through a mirror and straight), `git-push` to a remote that hangs
//! on pushes, and `http` steps answered slowly, never, or with too much. Each step fails
//! with an error naming the remote and the limit, within the (short) budgets set here.

use std::time::{Duration, Instant};

use lading_domain::Freight;
use lading_domain::limits::Limit;
use lading_domain::spec::PromotionStep;
use lading_promoter::config::{
    GIT_IDLE_TIMEOUT_ENV, GIT_TIMEOUT_ENV, HTTP_IDLE_TIMEOUT_ENV, HTTP_STEP_MAX_RESPONSE_ENV, HTTP_STEP_TIMEOUT_ENV,
};
use lading_promoter::steps::{GitCredentials, RemoteBudgets};
use lading_tests::engine_run::EngineRun;
use lading_tests::git::Repo;
use lading_tests::hostile::Tarpit;
use serde_json::json;

fn step(uses: &str, config: serde_json::Value) -> PromotionStep {
    PromotionStep { uses: uses.into(), config: Some(config), ..Default::default() }
}

/// Short budgets, so attacks end within seconds.
fn budgets() -> RemoteBudgets {
    let mut budgets = RemoteBudgets::default();
    budgets.git.timeouts.idle = Limit::new(Duration::from_secs(1), GIT_IDLE_TIMEOUT_ENV);
    budgets.git.timeouts.total = Limit::new(Duration::from_secs(5), GIT_TIMEOUT_ENV);
    budgets.http.idle = Limit::new(Duration::from_secs(1), HTTP_IDLE_TIMEOUT_ENV);
    budgets.http.default_timeout = Limit::new(Duration::from_secs(3), HTTP_STEP_TIMEOUT_ENV);
    budgets.http.max_response = Limit::new(64 << 10, HTTP_STEP_MAX_RESPONSE_ENV);
    budgets
}

/// Runs `steps`, through a mirror directory when `mirrored`; returns the error (or
/// nothing) and how long the run took.
async fn run(steps: Vec<PromotionStep>, mirrored: bool, credentials: GitCredentials) -> (Result<(), String>, Duration) {
    tokio::task::spawn_blocking(move || {
        let workspace = tempfile::tempdir().unwrap();
        let mirrors = tempfile::tempdir().unwrap();
        let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
        let run = EngineRun {
            promotion: "test.01.hostile",
            credentials,
            budgets: budgets(),
            mirrors: mirrored.then_some(mirrors.path()),
            ..EngineRun::new(&freight)
        };
        let started = Instant::now();
        let result = run.run(workspace.path(), &steps).map(|_| ()).map_err(|e| e.to_string());
        (result, started.elapsed())
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_clone_from_a_remote_that_never_answers_fails_at_the_idle_timeout() {
    let tarpit = Tarpit::start().await;
    let url = format!("http://{}/gitops.git", tarpit.addr);
    let clone = step("git-clone", json!({"repoURL": url, "checkout": [{"branch": "main", "path": "./out"}]}));
    for (mirrored, doing) in [(true, "fetching"), (false, "cloning")] {
        let (result, took) = run(vec![clone.clone()], mirrored, GitCredentials::default()).await;
        assert_eq!(
            result.unwrap_err(),
            format!("step 0 (git-clone): {doing} {url}: no data for 1s (LADING_GIT_IDLE_TIMEOUT)")
        );
        assert!(took < Duration::from_secs(4), "{took:?}");
        eprintln!("git-clone from a tarpit (mirrored: {mirrored}): failed in {took:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_push_to_a_remote_that_hangs_fails_at_the_idle_timeout() {
    let root = tempfile::tempdir().unwrap();
    let gitops = Repo::create(root.path(), "gitops");
    gitops.commit("README.md", "gitops\n", "start");
    let base = lading_tests::git_http::serve_with_hung_pushes(root.path(), "bot", "token").await;
    let url = format!("{base}/gitops.git");
    let credentials =
        GitCredentials::parse(&format!("- {{repoURL: '{base}', username: bot, password: token}}")).unwrap();
    let steps = vec![
        step("git-clone", json!({"repoURL": url, "checkout": [{"branch": "main", "path": "./out"}]})),
        step("file-write", json!({"path": "./out/values.yaml", "contents": "tag: v2\n"})),
        step("git-commit", json!({"path": "./out", "message": "promote"})),
        step("git-push", json!({"path": "./out"})),
    ];
    let (result, took) = run(steps, true, credentials).await;
    assert_eq!(
        result.unwrap_err(),
        format!("step 3 (git-push): pushing to {url}: no data for 1s (LADING_GIT_IDLE_TIMEOUT)")
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(gitops.log("main").len(), 1, "nothing was pushed");
    eprintln!("git-push to a hanging remote: failed in {took:?}");
}

/// A loopback HTTP server: `/drip` sends a byte every 50 ms, `/stall` its headers and
/// then nothing, `/huge` 1 MiB.
async fn hostile_http() -> String {
    use axum::body::{Body, Bytes};
    use axum::routing::get;
    let drip = || async {
        let stream = futures::stream::unfold(0u32, |sent| async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            (sent < 10_000).then(|| (Ok::<_, std::io::Error>(Bytes::from_static(b" ")), sent + 1))
        });
        Body::from_stream(stream)
    };
    let stall = || async {
        let stream = futures::stream::once(async {
            std::future::pending::<()>().await;
            Ok::<_, std::io::Error>(Bytes::new())
        });
        Body::from_stream(stream)
    };
    let app = axum::Router::new()
        .route("/drip", get(drip))
        .route("/stall", get(stall))
        .route("/huge", get(|| async { "x".repeat(1 << 20) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_steps_answered_slowly_never_or_with_too_much_fail_cleanly() {
    let base = hostile_http().await;
    let call = |path: &str| step("http", json!({"url": format!("{base}{path}?token=s3cret")}));
    let (drip, took) = run(vec![call("/drip")], false, GitCredentials::default()).await;
    assert_eq!(
        drip.unwrap_err(),
        format!("step 0 (http): GET {base}/drip: not finished within 3s (LADING_HTTP_STEP_TIMEOUT)")
    );
    eprintln!("http step, dripped answer: failed in {took:?}");
    let (stall, took) = run(vec![call("/stall")], false, GitCredentials::default()).await;
    assert_eq!(
        stall.unwrap_err(),
        format!("step 0 (http): GET {base}/stall: no data for 1s (LADING_HTTP_IDLE_TIMEOUT)")
    );
    eprintln!("http step, stalled answer: failed in {took:?}");
    let (huge, took) = run(vec![call("/huge")], false, GitCredentials::default()).await;
    assert_eq!(
        huge.unwrap_err(),
        format!(
            "step 0 (http): GET {base}/huge: the answer is larger than 64 KiB (LADING_HTTP_STEP_MAX_RESPONSE_BYTES)"
        )
    );
    eprintln!("http step, 1 MiB answer: failed in {took:?}");
    let own_timeout = step("http", json!({"url": format!("{base}/drip"), "timeout": "1500ms"}));
    let (own, _) = run(vec![own_timeout], false, GitCredentials::default()).await;
    assert!(own.unwrap_err().ends_with("not finished within 1.5s (config.timeout)"));
}
