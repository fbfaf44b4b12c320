//! The pull-request steps against a stand-in for GitHub (`lading_tests::git_hosting`:
//! real smart-HTTP Git plus GitHub's documented pulls API): the examples of Kargo's
//! `git-open-pr`, `git-wait-for-pr` and `git-merge-pr` pages as printed but for URLs,
//! and a `prod` stage of a running Lading promoting through a pull request the test merges;
//! then the same flows against the stand-in's GitLab, Gitea, Bitbucket Cloud and Azure
//! DevOps APIs.

#[path = "pull_requests/gitlab.rs"]
mod gitlab;
#[path = "pull_requests/other_providers.rs"]
mod other_providers;
#[path = "pull_requests/running.rs"]
mod running;

use std::collections::BTreeMap;
use std::time::Duration;

use lading_domain::Freight;
use lading_domain::spec::{PromotionStep, PromotionVariable, Spec, validate_manifest};
use lading_promoter::engine::{PromotionError, PromotionOutcome};
use lading_promoter::steps::{GitCredentials, RemoteBudgets};
use lading_tests::engine_run::EngineRun;
use lading_tests::git::Repo;
use lading_tests::git_hosting::GitHosting;
use lading_tests::wait;
use serde_json::{Value, json};

const TOKEN: &str = "ghp_stand-in-token";
const TIMEOUT: Duration = Duration::from_secs(60);

/// A stand-in GitHub holding `example/repo` with `main` and `stage/test`, the clone
/// URL, and the repository.
async fn hosted() -> (tempfile::TempDir, GitHosting, Repo, String) {
    lading_tests::hosted_gitops::hosted(TOKEN).await
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
    run_with(providers(hosting), url, template).await
}

/// Runs `template` on a blocking thread with the stand-in's credentials and `providers`.
async fn run_with(
    providers: BTreeMap<String, String>,
    url: &str,
    template: String,
) -> Result<PromotionOutcome, PromotionError> {
    let credentials = credentials(url);
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

/// The number of the first pull request, once one is open.
async fn first_opened(hosting: &GitHosting) -> u64 {
    wait::until("a pull request to be opened", TIMEOUT, || async {
        hosting.pulls().first().map(|pr| pr.number).ok_or_else(|| "none yet".to_owned())
    })
    .await
}

/// Merges the first pull request through the API as soon as it is open.
async fn merge_when_open(hosting: &GitHosting) -> String {
    hosting.merge_through_api("example", "repo", first_opened(hosting).await).await
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
