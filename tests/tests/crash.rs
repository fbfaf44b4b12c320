//! A promoter process killed mid-promotion: another one finishes the promotion, and the
//! GitOps repository gets exactly one commit for it. The promoter runs as a real child
//! process that aborts itself at a failpoint (`LADING_FAILPOINT`).
//!
//! Each promotion also copies `settings.txt` from a settings repository into the GitOps
//! tree, and the settings change while no promoter runs: the resumed run's tree differs
//! from the crashed run's, so only recognising the promotion's own commit (its trailer)
//! keeps a second commit out of the stage branch.

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

/// The quickstart with a `settings.txt` copied from `settings_repo` into every promotion's
/// commit.
fn with_settings(manifests: &str, settings_repo: &str) -> String {
    let copy = format!(
        "      - uses: git-clone\n        config:\n          repoURL: {settings_repo}\n          checkout:\n          \
         - branch: main\n            path: ./settings\n      - uses: copy\n        config:\n          \
         inPath: ./settings/settings.txt\n          outPath: ./out/settings.txt\n      - uses: git-commit\n"
    );
    manifests.replace("      - uses: git-commit\n", &copy)
}

async fn crash_then_recover(failpoint: &str) -> (Sandbox, Repo, String, usize) {
    let sandbox = Sandbox::start_without_promoter().await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let settings = Repo::create(sandbox.dir.path(), "settings");
    settings.commit("settings.txt", "before the crash", "settings");
    let commit = app.commit("app.txt", "v1", "first");
    sandbox.apply(&with_settings(&quickstart(&app.url(), &gitops.url(), "1h"), &settings.url())).await;

    let mut doomed = promoter(&sandbox, "doomed", Some(failpoint));
    let status = wait::until("the promoter to crash at its failpoint", TIMEOUT, || {
        let exited =
            doomed.0.try_wait().map_err(|e| e.to_string()).and_then(|s| s.ok_or_else(|| "still running".to_owned()));
        async move { exited }
    })
    .await;
    assert!(!status.success(), "the promoter aborted");
    let pushed_before_recovery = gitops.log("stage/test").len();
    // The resumed run would write a different tree than the crashed one.
    settings.commit("settings.txt", "after the crash", "settings changed");

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
    let (sandbox, gitops, _, pushed_before) = crash_then_recover("after-step:git-commit").await;
    assert_eq!(pushed_before, 0, "the crash came before the push");
    assert_one_commit_per_promotion(&gitops);
    // The crashed run's commit died with its workspace: the one in Git is the resumed run's.
    assert_eq!(gitops.show("stage/test", "settings.txt"), "after the crash");
    assert_reports_the_commit_in_git(&sandbox, &gitops).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_promoter_killed_between_push_and_ack_is_replaced_without_a_second_commit() {
    let (sandbox, gitops, _, pushed_before) = crash_then_recover("after-step:git-push").await;
    assert_eq!(pushed_before, 1, "the crash came after the push");
    assert_one_commit_per_promotion(&gitops);
    // The pushed commit stands; the resumed run recognised it instead of committing again.
    assert_eq!(gitops.show("stage/test", "settings.txt"), "before the crash");
    assert_eq!(gitops.show("stage/uat", "settings.txt"), "after the crash");
    // The resumed promotion reports the commit the crashed one pushed.
    assert_reports_the_commit_in_git(&sandbox, &gitops).await;
}

/// The test stage's last promotion succeeded with the one commit its branch holds.
async fn assert_reports_the_commit_in_git(sandbox: &Sandbox, gitops: &Repo) {
    let (_, stages) = sandbox.get("/api/v1/projects/demo/stages").await;
    let test = stages["items"].as_array().unwrap().iter().find(|s| s["metadata"]["name"] == "test").unwrap().clone();
    let last = &test["status"]["lastPromotion"];
    assert_eq!(last["status"]["phase"], "Succeeded");
    assert_eq!(last["status"]["commit"], gitops.log("stage/test")[0].id.as_str());
}
