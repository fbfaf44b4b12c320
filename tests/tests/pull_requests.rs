//! The pull-request steps against a stand-in for GitHub (`lading_tests::git_hosting`:
//! real smart-HTTP Git plus GitHub's documented pulls API): the examples of Kargo's
//! `git-open-pr`, `git-wait-for-pr` and `git-merge-pr` pages as printed but for URLs,
//! and a `prod` stage of a running Lading promoting through a pull request the test merges;
//! then the same flows against the stand-in's GitLab merge-request API.

#[path = "pull_requests/gitlab.rs"]
mod gitlab;

use std::collections::BTreeMap;
use std::time::Duration;

use lading_domain::Freight;
use lading_domain::spec::{PromotionStep, PromotionVariable, Spec, validate_manifest};
use lading_promoter::engine::{PromotionError, PromotionOutcome};
use lading_promoter::steps::{GitCredentials, RemoteBudgets};
use lading_tests::engine_run::EngineRun;
use lading_tests::git::Repo;
use lading_tests::git_hosting::GitHosting;
use lading_tests::sandbox::{Sandbox, SandboxOptions};
use lading_tests::wait;
use serde_json::{Value, json};

const TOKEN: &str = "ghp_stand-in-token";
const TIMEOUT: Duration = Duration::from_secs(60);

/// A stand-in GitHub holding `example/repo` with `main` and `stage/test`, the clone
/// URL, and the repository.
async fn hosted() -> (tempfile::TempDir, GitHosting, Repo, String) {
    let dir = tempfile::tempdir().unwrap();
    let owner = dir.path().join("example");
    std::fs::create_dir_all(&owner).unwrap();
    let repo = Repo::create(&owner, "repo");
    repo.commit("app.yaml", "image: nginx:1.0\n", "first");
    repo.branch("stage/test");
    let hosting = GitHosting::start(dir.path(), "robot", TOKEN).await;
    let url = hosting.repo_url("example", "repo");
    (dir, hosting, repo, url)
}

fn credentials(url: &str) -> GitCredentials {
    let base = url.rsplit_once("/example/").unwrap().0;
    GitCredentials::parse(&format!("- repoURL: {base}/\n  username: robot\n  password: {TOKEN}\n")).unwrap()
}

fn providers(hosting: &GitHosting) -> BTreeMap<String, String> {
    BTreeMap::from([(hosting.host(), "github".to_owned())])
}

fn apply(template: &str) -> (Vec<PromotionVariable>, Vec<PromotionStep>) {
    let indented: String = template.lines().map(|l| format!("      {l}\n")).collect();
    let manifest = format!(
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata:\n  name: test\n  namespace: demo\nspec:\n  requestedFreight:\n  - origin: {{kind: Warehouse, name: app}}\n    sources: {{direct: true}}\n  promotionTemplate:\n    spec:\n{indented}"
    );
    let value: Value = serde_saphyr::from_str(&manifest).expect("the example is YAML");
    match validate_manifest(1, value).unwrap_or_else(|e| panic!("the example applies: {e}")).spec {
        Spec::Stage(spec) => (spec.vars().to_vec(), spec.steps().to_vec()),
        _ => unreachable!(),
    }
}

/// The steps Kargo's examples open with ("Clone, prepare the contents of ./out, commit,
/// etc..."), then the example's own steps.
fn prepared(url: &str, example: &str) -> String {
    format!(
        "steps:\n- uses: git-clone\n  config:\n    repoURL: {url}\n    checkout:\n    - branch: stage/test\n      path: ./out\n- uses: file-write\n  config:\n    path: ./out/app.yaml\n    contents: \"image: nginx:2.0\\n\"\n    overwrite: true\n- uses: git-commit\n  config:\n    path: ./out\n    message: promote nginx 2.0\n{example}"
    )
}

fn budgets() -> RemoteBudgets {
    RemoteBudgets { pull_request_poll: Some(Duration::from_millis(50)), ..RemoteBudgets::default() }
}

/// Runs `template` on a blocking thread with the stand-in's credentials and provider.
async fn run(hosting: &GitHosting, url: &str, template: String) -> Result<PromotionOutcome, PromotionError> {
    let (credentials, providers) = (credentials(url), providers(hosting));
    tokio::task::spawn_blocking(move || {
        let (vars, steps) = apply(&template);
        let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
        let workspace = tempfile::tempdir().unwrap();
        EngineRun { vars: &vars, credentials, git_providers: providers, budgets: budgets(), ..EngineRun::new(&freight) }
            .run(workspace.path(), &steps)
    })
    .await
    .unwrap()
}

/// Merges the first pull request through the API as soon as it is open.
async fn merge_when_open(hosting: &GitHosting) -> String {
    wait::until("a pull request to be opened", TIMEOUT, || async {
        if hosting.pulls().is_empty() { Err("none yet".to_owned()) } else { Ok(()) }
    })
    .await;
    hosting.merge_through_api("example", "repo", hosting.pulls()[0].number).await
}

const OPEN_COMMON: &str = "- uses: git-push
  as: push
  config:
    path: ./out
    generateTargetBranch: true
- uses: git-open-pr
  as: open-pr
  config:
    repoURL: __URL__
    sourceBranch: ${{ outputs.push.branch }} # Or task.outputs in a (Cluster)PromotionTask
    targetBranch: stage/${{ ctx.stage }}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_open_pr_common_usage_opens_a_pull_request_from_the_pushed_branch() {
    let (_dir, hosting, repo, url) = hosted().await;
    let outcome = run(&hosting, &url, prepared(&url, &OPEN_COMMON.replace("__URL__", &url))).await.unwrap();
    let pulls = hosting.pulls();
    assert_eq!(pulls.len(), 1);
    assert_eq!((pulls[0].head.as_str(), pulls[0].base.as_str()), ("lading/promotion/p", "stage/test"));
    assert_eq!(outcome.outputs["open-pr"]["pr"]["id"], json!(1));
    assert_eq!(outcome.outputs["open-pr"]["pr"]["url"], json!(format!("{}/example/repo/pull/1", hosting.base_url)));
    assert_eq!(repo.show("stage/test", "app.yaml"), "image: nginx:1.0", "nothing merged yet");
    // Opened again (a promotion resumed after a restart): the open pull request is taken.
    let again = format!(
        "steps:\n- uses: git-open-pr\n  as: open-pr\n  config:\n    repoURL: {url}\n    sourceBranch: lading/promotion/p\n    targetBranch: stage/test\n"
    );
    let outcome = run(&hosting, &url, again).await.unwrap();
    assert_eq!(outcome.outputs["open-pr"]["pr"]["id"], json!(1));
    assert_eq!(hosting.pulls().len(), 1, "no second pull request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_open_pr_custom_title_and_labels_then_waits_for_the_merge() {
    let (_dir, hosting, repo, url) = hosted().await;
    let example = format!(
        "- uses: git-push
  as: push
  config:
    path: ./out
    generateTargetBranch: true
- uses: git-open-pr
  as: open-pr
  config:
    repoURL: {url}
    sourceBranch: ${{{{ outputs.push.branch }}}} # Or task.outputs in a (Cluster)PromotionTask
    targetBranch: stage/${{{{ ctx.stage }}}}
    title: Deploy to ${{{{ ctx.stage }}}}
    labels: [\"infra\", \"needs-review\"]
- if: ${{{{ status('open-pr') != 'Skipped' }}}}
  uses: git-wait-for-pr
  as: wait-for-pr
  config:
    repoURL: {url}
    prNumber: ${{{{ outputs['open-pr'].pr.id }}}}
"
    );
    let promotion = run(&hosting, &url, prepared(&url, &example));
    let (outcome, merged) = tokio::join!(promotion, merge_when_open(&hosting));
    let outcome = outcome.unwrap();
    let pr = &hosting.pulls()[0];
    assert_eq!(pr.title, "Deploy to test");
    assert_eq!(pr.labels, ["infra", "needs-review"]);
    assert_eq!(outcome.outputs["wait-for-pr"]["commit"], json!(merged));
    assert_eq!(outcome.outputs["wait-for-pr"]["pr"]["merged"], json!(true));
    assert_eq!(outcome.commit, merged, "the promotion's commit is the merge commit");
    assert_eq!(repo.log("stage/test")[0].id, merged);
    assert_eq!(repo.show("stage/test", "app.yaml"), "image: nginx:2.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_open_pr_skipped_example_and_git_wait_for_pr_common_usage() {
    let (_dir, hosting, _repo, url) = hosted().await;
    // The "Skipped" example of git-open-pr, and git-wait-for-pr's (with createTargetBranch).
    for wait_config in ["", "    createTargetBranch: true\n"] {
        let (_dir, hosting, _repo, url) = hosted().await;
        let example = format!(
            "- uses: git-push
  as: push
  config:
    path: ./out
    generateTargetBranch: true
- uses: git-open-pr
  as: open-pr
  config:
    repoURL: {url}
{wait_config}    sourceBranch: ${{{{ outputs.push.branch }}}} # Or task.outputs in a (Cluster)PromotionTask
    targetBranch: stage/${{{{ ctx.stage }}}}
- if: ${{{{ status('open-pr') != 'Skipped' }}}}
  uses: git-wait-for-pr
  as: wait-for-pr
  config:
    repoURL: {url}
    prNumber: ${{{{ outputs['open-pr'].pr.id }}}}
"
        );
        let promotion = run(&hosting, &url, prepared(&url, &example));
        let (outcome, merged) = tokio::join!(promotion, merge_when_open(&hosting));
        assert_eq!(outcome.unwrap().commit, merged);
    }
    // A pull request closed unmerged fails the wait, naming it.
    let example = format!(
        "{}- uses: git-wait-for-pr\n  config:\n    repoURL: {url}\n    prNumber: ${{{{ outputs['open-pr'].pr.id }}}}\n",
        OPEN_COMMON.replace("__URL__", &url)
    );
    let promotion = run(&hosting, &url, prepared(&url, &example));
    let close = async {
        wait::until("a pull request", TIMEOUT, || async {
            if hosting.pulls().is_empty() { Err("none".to_owned()) } else { Ok(()) }
        })
        .await;
        hosting.close_through_api("example", "repo", 1).await;
    };
    let (outcome, ()) = tokio::join!(promotion, close);
    let error = outcome.unwrap_err().to_string();
    assert!(error.contains("pull request #1") && error.contains("was closed without being merged"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_merge_pr_examples_merge_wait_for_mergeable_and_squash() {
    // Basic usage: merged at once.
    let (_dir, hosting, repo, url) = hosted().await;
    let open = prepared(&url, &OPEN_COMMON.replace("__URL__", &url));
    run(&hosting, &url, open.clone()).await.unwrap();
    let basic = format!("steps:\n- uses: git-merge-pr\n  config:\n    repoURL: {url}\n    prNumber: 1\n");
    let outcome = run(&hosting, &url, basic).await.unwrap();
    assert_eq!(outcome.commit, repo.log("stage/test")[0].id);
    assert_eq!(repo.parent_count(&outcome.commit), 2, "a merge commit");

    // Not mergeable without wait: fails with the provider's reason.
    let (_dir, hosting, repo, url) = hosted().await;
    run(&hosting, &url, prepared(&url, &OPEN_COMMON.replace("__URL__", &url))).await.unwrap();
    hosting.set_mergeable(1, false);
    let basic = format!("steps:\n- uses: git-merge-pr\n  config:\n    repoURL: {url}\n    prNumber: 1\n");
    let error = run(&hosting, &url, basic).await.unwrap_err().to_string();
    assert!(error.contains("pull request #1 cannot be merged: GitHub says it is not mergeable"), "{error}");
    // With wait: merged once checks pass.
    let waiting =
        format!("steps:\n- uses: git-merge-pr\n  config:\n    repoURL: {url}\n    prNumber: 1\n    wait: true\n");
    let promotion = run(&hosting, &url, waiting);
    let checks_pass = async {
        wait::until("the merge step to ask twice", TIMEOUT, || async {
            let asked = hosting.calls().iter().filter(|c| c.starts_with("GET /repos/example/repo/pulls/1")).count();
            if asked >= 2 { Ok(()) } else { Err(format!("asked {asked} times")) }
        })
        .await;
        hosting.set_mergeable(1, true);
    };
    let (outcome, ()) = tokio::join!(promotion, checks_pass);
    assert_eq!(outcome.unwrap().commit, repo.log("stage/test")[0].id);

    // Specifying a merge method: squash makes one commit with one parent.
    let (_dir, hosting, repo, url) = hosted().await;
    run(&hosting, &url, prepared(&url, &OPEN_COMMON.replace("__URL__", &url))).await.unwrap();
    let squash = format!(
        "steps:\n- uses: git-merge-pr\n  config:\n    repoURL: {url}\n    prNumber: 1\n    mergeMethod: squash\n"
    );
    let outcome = run(&hosting, &url, squash).await.unwrap();
    let head = &repo.log("stage/test")[0];
    assert_eq!((outcome.commit.as_str(), repo.parent_count(&head.id)), (head.id.as_str(), 1));
    assert_eq!(repo.show("stage/test", "app.yaml"), "image: nginx:2.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_request_steps_refuse_bad_tokens_unknown_hosts_and_bad_config() {
    let (_dir, hosting, _repo, url) = hosted().await;
    // A wrong token: GitHub's 401 message, and never the token.
    let template = format!("steps:\n- uses: git-merge-pr\n  config:\n    repoURL: {url}\n    prNumber: 1\n");
    let wrong = GitCredentials::parse(&format!(
        "- repoURL: {}/\n  username: robot\n  password: wrong-token\n",
        hosting.base_url
    ))
    .unwrap();
    let providers = providers(&hosting);
    let error = tokio::task::spawn_blocking(move || {
        let (vars, steps) = apply(&template);
        let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
        let workspace = tempfile::tempdir().unwrap();
        EngineRun { vars: &vars, credentials: wrong, git_providers: providers, ..EngineRun::new(&freight) }
            .run(workspace.path(), &steps)
    })
    .await
    .unwrap()
    .unwrap_err()
    .to_string();
    assert!(error.contains("status 401: Bad credentials"), "{error}");
    assert!(!error.contains("wrong-token"), "{error}");
    // A host whose provider nobody named.
    let template = format!("steps:\n- uses: git-wait-for-pr\n  config:\n    repoURL: {url}\n    prNumber: 1\n");
    let error = tokio::task::spawn_blocking(move || {
        let (vars, steps) = apply(&template);
        let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
        let workspace = tempfile::tempdir().unwrap();
        EngineRun { vars: &vars, ..EngineRun::new(&freight) }.run(workspace.path(), &steps)
    })
    .await
    .unwrap()
    .unwrap_err()
    .to_string();
    assert!(error.contains("config.provider: cannot tell the Git hosting provider of 127.0.0.1:"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_for_a_pull_request_that_never_merges_ends_at_its_budget() {
    let (_dir, hosting, _repo, url) = hosted().await;
    run(&hosting, &url, prepared(&url, &OPEN_COMMON.replace("__URL__", &url))).await.unwrap();
    let template = format!("steps:\n- uses: git-wait-for-pr\n  config:\n    repoURL: {url}\n    prNumber: 1\n");
    let (credentials, providers) = (credentials(&url), providers(&hosting));
    let error = tokio::task::spawn_blocking(move || {
        let (vars, steps) = apply(&template);
        let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
        let workspace = tempfile::tempdir().unwrap();
        let budgets = RemoteBudgets {
            pull_request_wait: lading_domain::limits::Limit::new(
                Duration::from_millis(300),
                "LADING_PULL_REQUEST_WAIT",
            ),
            ..budgets()
        };
        EngineRun { vars: &vars, credentials, git_providers: providers, budgets, ..EngineRun::new(&freight) }
            .run(workspace.path(), &steps)
    })
    .await
    .unwrap()
    .unwrap_err()
    .to_string();
    assert!(error.contains("pull request #1: still waiting after 300ms (LADING_PULL_REQUEST_WAIT)"), "{error}");
}

#[test]
fn pull_request_configs_are_checked_at_apply() {
    let bad = |config: &str| {
        let manifest = format!(
            "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata: {{name: prod, namespace: demo}}\nspec:\n  requestedFreight:\n  - origin: {{kind: Warehouse, name: app}}\n    sources: {{direct: true}}\n  promotionTemplate:\n    spec:\n      steps:\n      - uses: git-merge-pr\n        config: {config}\n"
        );
        validate_manifest(1, serde_saphyr::from_str(&manifest).unwrap()).unwrap_err().to_string()
    };
    let error = bad("{repoURL: https://github.com/example/repo.git}");
    assert!(error.contains("spec.promotionTemplate.spec.steps[0].config.prNumber: is required"), "{error}");
    let error = bad("{repoURL: r, prNumber: 1, provider: sourceforge}");
    assert!(error.contains("config.provider: \"sourceforge\" is not one of azure, bitbucket"), "{error}");
    let error = bad("{repoURL: r, prNumber: 1, merge: true}");
    assert!(error.contains("config.merge: unknown field"), "{error}");
}

/// Kargo's manifests for a project whose `prod` stage promotes through a pull request.
fn pipeline(app: &str, url: &str) -> String {
    format!(
        r#"apiVersion: kargo.akuity.io/v1alpha1
kind: Project
metadata: {{name: demo}}
spec:
  promotionPolicies:
  - stageSelector: {{name: "glob:*"}}
    autoPromotionEnabled: true
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata: {{name: app, namespace: demo}}
spec:
  interval: 1h
  subscriptions:
  - git: {{repoURL: "{app}", branch: main}}
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Stage
metadata: {{name: prod, namespace: demo}}
spec:
  requestedFreight:
  - origin: {{kind: Warehouse, name: app}}
    sources: {{direct: true}}
  promotionTemplate:
    spec:
      vars:
      - name: gitopsRepo
        value: {url}
      steps:
      - uses: git-clone
        config:
          repoURL: ${{{{ vars.gitopsRepo }}}}
          checkout:
          - branch: stage/prod
            path: ./out
      - uses: yaml-update
        config:
          path: ./out/app.yaml
          updates:
          - key: commit
            value: ${{{{ commitFrom('{app}').ID }}}}
      - uses: git-commit
        config:
          path: ./out
          message: promote to prod
      - uses: git-push
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
    )
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
        let (_, stages) = sandbox.get("/api/v1/projects/demo/stages").await;
        let prod = stages["items"]
            .as_array()
            .and_then(|items| items.iter().find(|s| s["metadata"]["name"] == "prod").cloned());
        let last = prod.map(|s| s["status"]["lastPromotion"].clone()).unwrap_or_default();
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
    let last = wait::until("prod's promotion to succeed", TIMEOUT, || async {
        let (_, stages) = sandbox.get("/api/v1/projects/demo/stages").await;
        let prod = stages["items"]
            .as_array()
            .and_then(|items| items.iter().find(|s| s["metadata"]["name"] == "prod").cloned());
        let last = prod.map(|s| s["status"]["lastPromotion"].clone()).unwrap_or_default();
        if last["status"]["phase"] == "Succeeded" { Ok(last) } else { Err(last.to_string()) }
    })
    .await;
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
    wait::until("uat's promotion to succeed", TIMEOUT, || async {
        let last = last_promotion(&sandbox, "uat").await;
        if last["status"]["phase"] == "Succeeded" { Ok(()) } else { Err(last.to_string()) }
    })
    .await;
    let prod = waiting_on_the_pull_request(&sandbox, 5).await;
    assert!(hosting.pulls()[0].open, "{prod}");
    // And prod ends once its pull request is merged.
    let merged = hosting.merge_through_api("example", "repo", 1).await;
    let last = wait::until("prod's promotion to succeed", TIMEOUT, || async {
        let last = last_promotion(&sandbox, "prod").await;
        if last["status"]["phase"] == "Succeeded" { Ok(last) } else { Err(last.to_string()) }
    })
    .await;
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
    let last = wait::until("prod's promotion to succeed", TIMEOUT, || async {
        let last = last_promotion(&sandbox, "prod").await;
        if last["status"]["phase"] == "Succeeded" { Ok(last) } else { Err(last.to_string()) }
    })
    .await;
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
    let last = wait::until("prod's promotion to be aborted", TIMEOUT, || async {
        let last = last_promotion(&sandbox, "prod").await;
        if last["status"]["phase"] == "Aborted" { Ok(last) } else { Err(last.to_string()) }
    })
    .await;
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
    let (status, body) =
        sandbox.post_json("/api/v1/projects/demo/stages/prod/abort", &json!({"promotion": first_name})).await;
    assert_eq!(status, 200, "{body}");
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
    // when p1 stops, the promotion ends while no promoter runs, and p1 starts again,
    p1.kill();
    let (status, body) = sandbox.post("/api/v1/projects/demo/stages/prod/abort", "").await;
    assert_eq!(status, 200, "{body}");
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
    let last = wait::until("prod's promotion to succeed", TIMEOUT, || async {
        let last = last_promotion(&sandbox, "prod").await;
        if last["status"]["phase"] == "Succeeded" { Ok(last) } else { Err(last.to_string()) }
    })
    .await;
    let merged = gitops.log("stage/prod")[0].id.clone();
    assert_eq!(last["status"]["commit"], json!(merged), "{last}");
    assert!(hosting.pulls()[0].merged);
    assert_eq!((hosting.pulls().len(), open_pr_runs(&hosting)), (1, 1), "{:?}", hosting.calls());
}
