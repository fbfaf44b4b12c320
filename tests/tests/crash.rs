//! A promoter process killed mid-promotion: another one finishes the promotion, and the
//! GitOps repository gets exactly one commit for it. The promoter runs as a real child
//! process that aborts itself at a failpoint (`LADING_FAILPOINT`).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use lading_tests::git::Repo;
use lading_tests::sandbox::{Sandbox, quickstart};
use lading_tests::wait;

const TIMEOUT: Duration = Duration::from_secs(90);

struct Promoter(Child);

impl Drop for Promoter {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn promoter(sandbox: &Sandbox, name: &str, failpoint: Option<&str>) -> Promoter {
    let mut command = Command::new(env!("CARGO_BIN_EXE_promoter-process"));
    command
        .env("LADING_NATS_URL", sandbox.nats.url())
        .env("LADING_REPLICA", name)
        .env("LADING_WORK_DIR", sandbox.dir.path().join(format!("work-{name}")))
        .env_remove("LADING_FAILPOINT")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(failpoint) = failpoint {
        command.env("LADING_FAILPOINT", failpoint);
    }
    Promoter(command.spawn().expect("the promoter process starts"))
}

async fn crash_then_recover(failpoint: &str) -> (Sandbox, Repo, String, usize) {
    let sandbox = Sandbox::start_without_promoter().await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let commit = app.commit("app.txt", "v1", "first");
    sandbox.apply(&quickstart(&app.url(), &gitops.url(), "1h")).await;

    let mut doomed = promoter(&sandbox, "doomed", Some(failpoint));
    let status = wait::until("the promoter to crash at its failpoint", TIMEOUT, || {
        let exited =
            doomed.0.try_wait().map_err(|e| e.to_string()).and_then(|s| s.ok_or_else(|| "still running".to_owned()));
        async move { exited }
    })
    .await;
    assert!(!status.success(), "the promoter aborted");
    let pushed_before_recovery = gitops.log("stage/test").len();

    let _rescuer = promoter(&sandbox, "rescuer", None);
    sandbox.wait_current_in("demo", &commit, "uat", TIMEOUT).await;
    (sandbox, gitops, commit, pushed_before_recovery)
}

fn assert_one_commit_per_promotion(gitops: &Repo) {
    for stage in ["test", "uat"] {
        let log = gitops.log(&format!("stage/{stage}"));
        assert_eq!(log.len(), 1, "{stage}: exactly one commit: {log:#?}");
        assert!(log[0].message.contains("Lading-Promotion: "), "{log:#?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_promoter_killed_between_commit_and_push_is_replaced_without_a_second_commit() {
    let (_sandbox, gitops, _, pushed_before) = crash_then_recover("after-step:git-commit").await;
    assert_eq!(pushed_before, 0, "the crash came before the push");
    assert_one_commit_per_promotion(&gitops);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_promoter_killed_between_push_and_ack_is_replaced_without_a_second_commit() {
    let (sandbox, gitops, _, pushed_before) = crash_then_recover("after-step:git-push").await;
    assert_eq!(pushed_before, 1, "the crash came after the push");
    assert_one_commit_per_promotion(&gitops);
    // The resumed promotion reports the commit the crashed one pushed.
    let (_, stages) = sandbox.get("/api/v1/projects/demo/stages").await;
    let test = stages["items"].as_array().unwrap().iter().find(|s| s["metadata"]["name"] == "test").unwrap().clone();
    let last = &test["status"]["lastPromotion"];
    assert_eq!(last["status"]["phase"], "Succeeded");
    assert_eq!(last["status"]["commit"], gitops.log("stage/test")[0].id.as_str());
}
