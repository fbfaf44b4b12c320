//! A running Lading promoting through pull requests on the GitHub stand-in: a `prod`
//! stage waiting on the pull request it opened (parked, holding no worker), resumed on
//! another replica, aborted while parked, its kept workspace swept, and `git-merge-pr`
//! waiting for checks.

use lading_tests::hosted_gitops::prod_pipeline;
use lading_tests::sandbox::{Sandbox, SandboxOptions};

use super::*;

/// Kargo's manifests for a project whose `prod` stage promotes through a pull request.
fn pipeline(app: &str, url: &str) -> String {
    let commit = lading_tests::hosted_gitops::commit_steps("${{ vars.gitopsRepo }}", "stage/prod", app);
    let spec = format!(
        r#"      vars:
      - name: gitopsRepo
        value: {url}
      steps:
{commit}      - uses: git-push
        as: push
        config:
          path: ./out
          generateTargetBranch: true
      - uses: git-open-pr
        as: open-pr
        config:
          repoURL: ${{{{ vars.gitopsRepo }}}}
          sourceBranch: ${{{{ outputs.push.branch }}}}
          targetBranch: stage/${{{{ ctx.stage }}}}
      - uses: git-wait-for-pr
        as: wait-for-pr
        config:
          repoURL: ${{{{ vars.gitopsRepo }}}}
          prNumber: ${{{{ outputs['open-pr'].pr.id }}}}
"#
    );
    prod_pipeline(app, &spec)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_prod_stage_promotes_through_a_pull_request_the_test_merges() {
    // Given a stand-in GitHub with the GitOps repository, and an application repository,
    let (dir, hosting, gitops, url) = hosted().await;
    gitops.branch("stage/prod");
    let app = Repo::create(dir.path(), "app");
    let app_commit = app.commit("main.go", "package main\n", "first");
    let options = SandboxOptions {
        promoter_credentials: credentials(&url),
        promoter_git_providers: providers(&hosting),
        promoter_budgets: budgets(),
        ..SandboxOptions::default()
    };
    let sandbox = Sandbox::start_with_options(options).await;
    // when Kargo's manifests are applied,
    sandbox.apply(&pipeline(&app.url(), &url)).await;
    // then prod's promotion opens a pull request and shows Running with its link,
    let running = wait::until("prod's promotion to wait on its pull request", TIMEOUT, || async {
        let last = last_promotion(&sandbox, "prod").await;
        let steps = last["status"]["stepExecutionMetadata"].as_array().cloned().unwrap_or_default();
        let linked = steps
            .iter()
            .any(|s| s["alias"] == "open-pr" && s["message"].as_str().is_some_and(|m| m.contains("/pull/1")));
        if last["status"]["phase"] == "Running" && linked { Ok(last) } else { Err(last.to_string()) }
    })
    .await;
    assert_eq!(hosting.pulls().len(), 1, "{running}");
    assert_eq!(gitops.show("stage/prod", "app.yaml"), "image: nginx:1.0", "nothing lands before the merge");
    // and once the test merges it through the API, the promotion succeeds with the merge
    // commit as its commit.
    let merged = hosting.merge_through_api("example", "repo", 1).await;
    let last = last_promotion_ends(&sandbox, "prod", "Succeeded").await;
    assert_eq!(last["status"]["commit"], json!(merged), "{last}");
    assert_eq!(gitops.log("stage/prod")[0].id, merged);
    assert!(gitops.show("stage/prod", "app.yaml").contains(&app_commit));
    sandbox.wait_current_in("demo", &app_commit, "prod", TIMEOUT).await;
}

/// A promoter as its own process (one that can be killed), speaking to the stand-in with
/// its token, looking at pull requests every second.
struct PromoterProcess {
    child: std::process::Child,
    work_dir: std::path::PathBuf,
}

impl PromoterProcess {
    fn start(sandbox: &Sandbox, hosting: &GitHosting, url: &str, replica: &str, at_once: usize) -> Self {
        Self::start_polling(sandbox, hosting, url, replica, at_once, "1s")
    }

    /// A promoter looking at pull requests every `poll` (a Go duration).
    fn start_polling(
        sandbox: &Sandbox,
        hosting: &GitHosting,
        url: &str,
        replica: &str,
        at_once: usize,
        poll: &str,
    ) -> Self {
        let dir = sandbox.dir.path();
        let credentials = dir.join(format!("credentials-{replica}.yaml"));
        let base = url.rsplit_once("/example/").unwrap().0;
        std::fs::write(&credentials, format!("- repoURL: {base}/\n  username: robot\n  password: {TOKEN}\n")).unwrap();
        let work_dir = dir.join(format!("work-{replica}"));
        let log = std::fs::File::create(dir.join(format!("promoter-{replica}.log"))).unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_promoter-process"))
            .env("LADING_NATS_URL", sandbox.nats.url())
            .env("LADING_REPLICA", replica)
            .env("LADING_WORK_DIR", &work_dir)
            .env("LADING_GIT_CREDENTIALS_FILE", &credentials)
            .env("LADING_GIT_PROVIDERS", format!("{}=github", hosting.host()))
            .env("LADING_PULL_REQUEST_POLL_INTERVAL", poll)
            .env("LADING_KEPT_WORKSPACE_SWEEP_INTERVAL", "1s")
            .env("LADING_PROMOTIONS_AT_ONCE", at_once.to_string())
            .env("RUST_LOG", "info")
            .env_remove("LADING_FAILPOINT")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("the promoter process starts");
        Self { child, work_dir }
    }

    /// SIGKILL: nothing of the process's own runs after it.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PromoterProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A stage's `lastPromotion`.
async fn last_promotion(sandbox: &Sandbox, stage: &str) -> Value {
    let (_, stages) = sandbox.get("/api/v1/projects/demo/stages").await;
    let found =
        stages["items"].as_array().and_then(|items| items.iter().find(|s| s["metadata"]["name"] == stage).cloned());
    found.map(|s| s["status"]["lastPromotion"].clone()).unwrap_or_default()
}

/// Waits until `stage`'s last promotion is in `phase`, and returns it.
async fn last_promotion_ends(sandbox: &Sandbox, stage: &str, phase: &str) -> Value {
    wait::until(&format!("{stage}'s promotion to end {phase}"), TIMEOUT, || async {
        let last = last_promotion(sandbox, stage).await;
        if last["status"]["phase"] == phase { Ok(last) } else { Err(last.to_string()) }
    })
    .await
}

/// Waits until prod's promotion waits on pull request #1: `Running`, its
/// `git-wait-for-pr` step (step `index`) `Running` with the link, and `currentStep` at
/// that step.
async fn waiting_on_the_pull_request(sandbox: &Sandbox, index: u32) -> Value {
    wait::until("prod's promotion to wait on its pull request", TIMEOUT, || async {
        let last = last_promotion(sandbox, "prod").await;
        let steps = last["status"]["stepExecutionMetadata"].as_array().cloned().unwrap_or_default();
        let waiting = steps.iter().any(|s| {
            s["alias"] == "wait-for-pr"
                && s["status"] == "Running"
                && s["message"].as_str().is_some_and(|m| m.starts_with("pull request http") && m.ends_with("/pull/1"))
        });
        if last["status"]["phase"] == "Running" && waiting && last["status"]["currentStep"] == json!(index) {
            Ok(last)
        } else {
            Err(last.to_string())
        }
    })
    .await
}

/// How often the promotions looked for their own open pull request (once per run of
/// `git-open-pr`).
fn open_pr_runs(hosting: &GitHosting) -> usize {
    hosting.calls().iter().filter(|c| *c == "GET /repos/example/repo/pulls").count()
}

/// The stand-in, the application repository and a sandbox without a promoter.
async fn services() -> (tempfile::TempDir, GitHosting, Repo, String, Repo, String, Sandbox) {
    let (dir, hosting, gitops, url) = hosted().await;
    gitops.branch("stage/prod");
    gitops.branch("stage/uat");
    let app = Repo::create(dir.path(), "app");
    let app_commit = app.commit("main.go", "package main\n", "first");
    let sandbox = Sandbox::start_without_promoter().await;
    (dir, hosting, gitops, url, app, app_commit, sandbox)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_promotion_waiting_on_its_pull_request_leaves_the_promoter_free_for_other_stages() {
    // Given a promoter running one promotion at a time, and prod waiting on its pull request,
    let (_dir, hosting, _gitops, url, app, app_commit, sandbox) = services().await;
    let _promoter = PromoterProcess::start(&sandbox, &hosting, &url, "p1", 1);
    sandbox.apply(&pipeline(&app.url(), &url)).await;
    wait::until("prod's pull request to be open", TIMEOUT, || async {
        let last = last_promotion(&sandbox, "prod").await;
        let steps = last["status"]["stepExecutionMetadata"].as_array().cloned().unwrap_or_default();
        let opened = steps.iter().any(|s| s["alias"] == "open-pr" && s["status"] == "Succeeded");
        if opened { Ok(()) } else { Err(last.to_string()) }
    })
    .await;
    // when another stage needs a promotion,
    let uat = format!(
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata: {{name: uat, namespace: demo}}\nspec:\n  requestedFreight:\n  - origin: {{kind: Warehouse, name: app}}\n    sources: {{direct: true}}\n  promotionTemplate:\n    spec:\n      steps:\n      - uses: git-clone\n        config:\n          repoURL: {url}\n          checkout:\n          - branch: stage/uat\n            path: ./out\n"
    );
    sandbox.apply(&uat).await;
    // then it runs to its end while prod still waits: the wait holds no worker.
    last_promotion_ends(&sandbox, "uat", "Succeeded").await;
    let prod = waiting_on_the_pull_request(&sandbox, 5).await;
    assert!(hosting.pulls()[0].open, "{prod}");
    // And prod ends once its pull request is merged.
    let merged = hosting.merge_through_api("example", "repo", 1).await;
    let last = last_promotion_ends(&sandbox, "prod", "Succeeded").await;
    assert_eq!(last["status"]["commit"], json!(merged), "{last}");
    sandbox.wait_current_in("demo", &app_commit, "prod", TIMEOUT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_promotion_waiting_on_its_pull_request_survives_a_killed_promoter_and_resumes_at_the_wait() {
    // Given prod waiting on its pull request,
    let (_dir, hosting, gitops, url, app, _app_commit, sandbox) = services().await;
    let first = PromoterProcess::start(&sandbox, &hosting, &url, "p1", 4);
    sandbox.apply(&pipeline(&app.url(), &url)).await;
    waiting_on_the_pull_request(&sandbox, 5).await;
    let branch = hosting.pulls()[0].head.clone();
    let pushed = gitops.log(&branch)[0].id.clone();
    // when its promoter is killed and another one (another replica, another work
    // directory) starts, and the test merges the pull request,
    first.kill();
    let _second = PromoterProcess::start(&sandbox, &hosting, &url, "p2", 4);
    let merged = hosting.merge_through_api("example", "repo", 1).await;
    // then the promotion succeeds with the merge commit,
    let last = last_promotion_ends(&sandbox, "prod", "Succeeded").await;
    assert_eq!(last["status"]["commit"], json!(merged), "{last}");
    assert_eq!(gitops.log("stage/prod")[0].id, merged);
    // and the steps before the wait did not run again: one look for its pull request,
    // one pull request, the pushed branch as it was.
    assert_eq!(open_pr_runs(&hosting), 1, "{:?}", hosting.calls());
    assert_eq!(hosting.pulls().len(), 1);
    assert_eq!(gitops.log(&branch)[0].id, pushed);
    let steps = last["status"]["stepExecutionMetadata"].as_array().cloned().unwrap_or_default();
    let wait_step = steps.iter().find(|s| s["alias"] == "wait-for-pr").cloned().unwrap_or_default();
    assert_eq!(wait_step["status"], "Succeeded", "{last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_promotion_waiting_on_its_pull_request_is_aborted_at_once() {
    // Given prod waiting on a pull request it opened from a branch made elsewhere (a
    // promotion that pushed first passed its point of no return and cannot be aborted),
    // its workspace kept by its promoter,
    let (_dir, hosting, gitops, url, app, _app_commit, sandbox) = services().await;
    gitops.commit("app.yaml", "image: nginx:3.0\n", "made elsewhere");
    gitops.branch("feature");
    let promoter = PromoterProcess::start(&sandbox, &hosting, &url, "p1", 4);
    let manifests = pipeline(&app.url(), &url);
    let (head, _) = manifests.split_once("      steps:\n").unwrap();
    let steps = format!(
        "      steps:\n      - uses: git-open-pr\n        as: open-pr\n        config:\n          repoURL: {url}\n          sourceBranch: feature\n          targetBranch: stage/prod\n      - uses: git-wait-for-pr\n        as: wait-for-pr\n        config:\n          repoURL: {url}\n          prNumber: ${{{{ outputs['open-pr'].pr.id }}}}\n"
    );
    sandbox.apply(&format!("{head}{steps}")).await;
    let running = waiting_on_the_pull_request(&sandbox, 1).await;
    let name = running["name"].as_str().unwrap().to_owned();
    let kept = promoter.work_dir.join("promotions").join(&name);
    assert!(kept.join("waiting-since").is_file(), "the workspace is kept while it waits");
    // when it is aborted,
    let (status, body) = sandbox.post("/api/v1/projects/demo/stages/prod/abort", "").await;
    assert_eq!(status, 200, "{body}");
    // then it ends Aborted, showing no step running any more,
    let last = last_promotion_ends(&sandbox, "prod", "Aborted").await;
    let steps = last["status"]["stepExecutionMetadata"].as_array().cloned().unwrap_or_default();
    assert!(steps.iter().all(|s| s["status"] != "Running"), "{last}");
    assert!(last["status"].get("currentStep").is_none(), "{last}");
    // and its promoter lets go of its workspace when it next looks.
    wait::until("the kept workspace to go", TIMEOUT, || async {
        if kept.exists() { Err(format!("{} is still there", kept.display())) } else { Ok(()) }
    })
    .await;
    assert!(!hosting.pulls()[0].merged, "nothing was merged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_promotion_parked_after_its_push_is_aborted_at_once_and_its_stage_moves_on() {
    // Given prod parked on the pull request it opened from the branch it pushed, looked
    // at again only every ten minutes, and a second promotion queued behind it,
    let (_dir, hosting, gitops, url, app, _app_commit, sandbox) = services().await;
    let _promoter = PromoterProcess::start_polling(&sandbox, &hosting, &url, "p1", 4, "10m");
    sandbox.apply(&pipeline(&app.url(), &url)).await;
    let first = waiting_on_the_pull_request(&sandbox, 5).await;
    let first_name = first["name"].as_str().unwrap().to_owned();
    let branch = hosting.pulls()[0].head.clone();
    let pushed = gitops.log(&branch)[0].id.clone();
    let freight = sandbox.freight("demo").await[0]["metadata"]["name"].as_str().unwrap().to_owned();
    let (status, body) =
        sandbox.post_json("/api/v1/projects/demo/stages/prod/promotions", &json!({"freight": freight})).await;
    assert_eq!(status, 201, "{body}");
    // when it is aborted,
    abort_once_parked(&sandbox, &first_name).await;
    // then it ends Aborted well before its next look,
    wait::until("the parked promotion to be aborted", TIMEOUT, || async {
        let (_, list) = sandbox.get("/api/v1/projects/demo/promotions?stage=prod").await;
        let items = list["items"].as_array().cloned().unwrap_or_default();
        let phase =
            items.iter().find(|p| p["metadata"]["name"] == first_name.as_str()).map(|p| p["status"]["phase"].clone());
        if phase == Some(json!("Aborted")) { Ok(()) } else { Err(list.to_string()) }
    })
    .await;
    // the stage's queue moves on: the second promotion runs and waits on its own pull request,
    wait::until("the second promotion to open its pull request", TIMEOUT, || async {
        let last = last_promotion(&sandbox, "prod").await;
        let steps = last["status"]["stepExecutionMetadata"].as_array().cloned().unwrap_or_default();
        let opened = steps
            .iter()
            .any(|s| s["alias"] == "open-pr" && s["message"].as_str().is_some_and(|m| m.ends_with("/pull/2")));
        if last["name"] != first_name.as_str() && opened { Ok(()) } else { Err(last.to_string()) }
    })
    .await;
    // and nothing the aborted one pushed is undone: its branch and its pull request stay.
    assert_eq!(gitops.log(&branch)[0].id, pushed);
    let first_pull = hosting.pulls().into_iter().find(|p| p.number == 1).unwrap();
    assert!(first_pull.open && !first_pull.merged, "{first_pull:?}");
    assert_eq!(gitops.show("stage/prod", "app.yaml"), "image: nginx:1.0", "nothing landed");
}

/// Aborts prod's promotion `name` once its run has parked it: the wait is in the log a
/// moment before the run hands its claim over, and until then an abort is refused (409).
async fn abort_once_parked(sandbox: &Sandbox, name: &str) {
    wait::until("the parked promotion to accept an abort", TIMEOUT, || async {
        let (status, body) =
            sandbox.post_json("/api/v1/projects/demo/stages/prod/abort", &json!({"promotion": name})).await;
        match status {
            200 => Ok(()),
            409 => Err(body.to_string()),
            other => panic!("abort answered {other}: {body}"),
        }
    })
    .await;
}

/// Waits until `path` is gone.
async fn gone(path: &std::path::Path) {
    wait::until("a kept workspace to go", TIMEOUT, || async {
        if path.exists() { Err(format!("{} is still there", path.display())) } else { Ok(()) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kept_workspaces_of_promotions_that_ended_elsewhere_or_waited_too_long_are_swept() {
    // Given prod parked on its pull request, its workspace kept by p1,
    let (_dir, hosting, _gitops, url, app, _app_commit, sandbox) = services().await;
    let p1 = PromoterProcess::start_polling(&sandbox, &hosting, &url, "p1", 4, "10m");
    sandbox.apply(&pipeline(&app.url(), &url)).await;
    let name = waiting_on_the_pull_request(&sandbox, 5).await["name"].as_str().unwrap().to_owned();
    let promotions = p1.work_dir.join("promotions");
    assert!(promotions.join(&name).join("waiting-since").is_file(), "the workspace is kept while it waits");
    // and, beside it, a workspace kept for a wait that began long ago,
    let old = promotions.join("prod.old.0000000");
    std::fs::create_dir_all(old.join("workspace")).unwrap();
    std::fs::write(old.join("waiting-since"), "1").unwrap();
    // when the promotion ends while p1 is not looking at it (its next look is ten minutes
    // away), and p1 stops and starts again,
    abort_once_parked(&sandbox, &name).await;
    p1.kill();
    let p1 = PromoterProcess::start_polling(&sandbox, &hosting, &url, "p1", 4, "10m");
    // then both go,
    gone(&promotions.join(&name)).await;
    gone(&old).await;
    // and a copy kept for the ended promotion that shows up later goes at the next sweep.
    let later = promotions.join(&name);
    std::fs::create_dir_all(later.join("workspace")).unwrap();
    std::fs::write(later.join("waiting-since"), lading_events::now_ms().to_string()).unwrap();
    gone(&later).await;
    drop(p1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_merge_waiting_for_its_pull_request_to_be_mergeable_parks_survives_a_killed_promoter_and_merges_once() {
    // Given prod's steps ending with Kargo's `git-merge-pr` with `wait: true`, and pull
    // requests whose checks are pending when opened,
    let (_dir, hosting, gitops, url, app, _app_commit, sandbox) = services().await;
    hosting.set_new_pulls_mergeable(false);
    let manifests = pipeline(&app.url(), &url);
    let (head, _) = manifests.split_once("      - uses: git-wait-for-pr\n").unwrap();
    let merge = format!(
        "      - uses: git-merge-pr\n        as: merge-pr\n        config:\n          repoURL: {url}\n          prNumber: ${{{{ outputs['open-pr'].pr.id }}}}\n          wait: true\n"
    );
    let first = PromoterProcess::start(&sandbox, &hosting, &url, "p1", 4);
    sandbox.apply(&format!("{head}{merge}")).await;
    // when the merge step finds it not mergeable yet,
    let parked = wait::until("prod's promotion to wait to merge", TIMEOUT, || async {
        let last = last_promotion(&sandbox, "prod").await;
        let steps = last["status"]["stepExecutionMetadata"].as_array().cloned().unwrap_or_default();
        let waiting = steps.iter().any(|s| {
            s["alias"] == "merge-pr"
                && s["status"] == "Running"
                && s["message"].as_str().is_some_and(|m| m.starts_with("pull request #1: "))
        });
        if last["status"]["phase"] == "Running" && waiting && last["status"]["currentStep"] == json!(5) {
            Ok(last)
        } else {
            Err(last.to_string())
        }
    })
    .await;
    // then the run parks there (its promoter killed, another replica takes the next look),
    assert!(hosting.pulls()[0].open && !hosting.pulls()[0].merged, "{parked}");
    first.kill();
    let _second = PromoterProcess::start(&sandbox, &hosting, &url, "p2", 4);
    // and once the checks pass, the look merges it: the promotion succeeds with the merge
    // commit, and the steps before the merge did not run again.
    hosting.set_mergeable(1, true);
    let last = last_promotion_ends(&sandbox, "prod", "Succeeded").await;
    let merged = gitops.log("stage/prod")[0].id.clone();
    assert_eq!(last["status"]["commit"], json!(merged), "{last}");
    assert!(hosting.pulls()[0].merged);
    assert_eq!((hosting.pulls().len(), open_pr_runs(&hosting)), (1, 1), "{:?}", hosting.calls());
}
