//! `github-push`: the examples of Kargo's reference page against the GitHub stand-in
//! (real smart-HTTP Git plus the Git Database endpoints), a branch that moved meanwhile,
//! a token the API refuses, a run that loses its turn mid-push, the replay limit, a run
//! again after a restart, and a running Lading promoting with it under its turn guard.
//!
//! - [`signing`]: signed commits replayed through the API.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use lading_promoter::engine::{Effect, EffectGuard};
use lading_promoter::steps::GitCredentials;
use lading_tests::git_hosting::GitHosting;

use super::*;

#[path = "github_push/signing.rs"]
mod signing;

const TOKEN: &str = "ghp_github-push-token";

/// A stand-in GitHub holding `example/repo` with `app.yaml` on `main` and `stage/test`.
async fn hosted() -> (tempfile::TempDir, GitHosting, Repo, String) {
    lading_tests::hosted_gitops::hosted(TOKEN).await
}

/// Clone `stage/test` into ./out and update its image ("Clone, prepare the contents of
/// ./out, etc..."), then `example`.
fn prepared(url: &str, example: &str) -> String {
    format!(
        "steps:\n- uses: git-clone\n  config:\n    repoURL: {url}\n    checkout:\n    - branch: stage/test\n      path: ./out\n- uses: yaml-update\n  config:\n    path: ./out/app.yaml\n    updates:\n    - key: image\n      value: nginx:2.0\n{example}"
    )
}

const COMMON_USAGE: &str = "# Clone, prepare the contents of ./out, etc...
- uses: git-commit
  config:
    path: ./out
    message: rendered updated manifests
- uses: github-push
  config:
    path: ./out
";

const FOR_A_PULL_REQUEST: &str = "# Clone, prepare the contents of ./out, etc...
- uses: git-commit
  config:
    path: ./out
    message: rendered updated manifests
- uses: github-push
  as: push
  config:
    path: ./out
    generateTargetBranch: true
# Open a PR and wait for it to be merged or closed...
";

/// Runs `template` on a blocking thread with the stand-in's credentials and `effects`.
async fn run(url: &str, template: String, effects: &'static dyn EffectGuard) -> Result<PromotionOutcome, String> {
    run_under(url, template, effects, Default::default()).await
}

/// [`run`] under the push integration policy `policy`.
async fn run_under(
    url: &str,
    template: String,
    effects: &'static dyn EffectGuard,
    push_integration_policy: lading_domain::push_integration::PushIntegrationPolicy,
) -> Result<PromotionOutcome, String> {
    let base = url.rsplit_once("/example/").unwrap().0.to_owned();
    tokio::task::spawn_blocking(move || {
        let credentials =
            GitCredentials::parse(&format!("- repoURL: {base}/\n  username: robot\n  password: {TOKEN}\n")).unwrap();
        let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
        let workspace = tempfile::tempdir().unwrap();
        let run = EngineRun { credentials, effects, push_integration_policy, ..EngineRun::new(&freight) };
        run_with(run, workspace.path(), &template).map_err(|e| e.to_string())
    })
    .await
    .unwrap()
}

/// Keeps what each step reported.
#[derive(Default)]
struct Reports(Vec<lading_promoter::engine::StepReport>);

impl lading_promoter::engine::StepObserver for Reports {
    fn step_finished(&mut self, report: lading_promoter::engine::StepReport) {
        self.0.push(report);
    }
}

/// Runs `template` unguarded, with what each step reported.
async fn run_reported(url: &str, template: String) -> (PromotionOutcome, Vec<lading_promoter::engine::StepReport>) {
    let base = url.rsplit_once("/example/").unwrap().0.to_owned();
    tokio::task::spawn_blocking(move || {
        let credentials =
            GitCredentials::parse(&format!("- repoURL: {base}/\n  username: robot\n  password: {TOKEN}\n")).unwrap();
        let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
        let workspace = tempfile::tempdir().unwrap();
        let (vars, steps) = apply(&template);
        let mut reports = Reports::default();
        let run = EngineRun { credentials, vars: &vars, ..EngineRun::new(&freight) };
        let outcome = run.run_observed(workspace.path(), &steps, &mut reports).unwrap();
        (outcome, reports.0)
    })
    .await
    .unwrap()
}

fn writes(hosting: &GitHosting) -> Vec<String> {
    hosting.calls().into_iter().filter(|c| !c.starts_with("GET ")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_push_common_usage_lands_the_working_tree_through_the_api() {
    let (_dir, hosting, repo, url) = hosted().await;
    let expected = hosting.tree_with("example", "repo", "stage/test", &[("app.yaml", "image: nginx:2.0\n")]);
    let (outcome, reports) = run_reported(&url, prepared(&url, COMMON_USAGE)).await;
    // The remote branch moved to a commit GitHub made, whose tree is the working tree's.
    let log = repo.log("stage/test");
    assert_eq!(log.len(), 2);
    assert!(log[0].message.starts_with("rendered updated manifests"), "{log:?}");
    assert_eq!(hosting.tree_of("example", "repo", "stage/test"), expected);
    assert_eq!(outcome.commit, log[0].id);
    assert_eq!(hosting.commits_created(), 1);
    assert_eq!(
        writes(&hosting),
        [
            "POST /repos/example/repo/git/commits",
            "PATCH /repos/example/repo/git/refs/heads/stage/test",
            "DELETE /repos/example/repo/git/refs/lading/staging/p",
        ]
    );
    assert!(hosting.refs_under("example", "repo", "refs/lading/").is_empty(), "the staging ref is deleted");
    // What it pushed is recorded as a git-push's is (the promotion's `status.pushes`).
    let pushed = reports.iter().find(|r| r.uses == "github-push").and_then(|r| r.pushed.clone()).unwrap();
    assert_eq!(
        (pushed.repo_url.as_str(), pushed.branch.as_str(), pushed.commit.as_str()),
        (url.as_str(), "stage/test", log[0].id.as_str())
    );
    assert_eq!(pushed.changed_files, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_push_for_use_with_a_pull_request_creates_the_generated_branch() {
    let (_dir, hosting, repo, url) = hosted().await;
    let outcome = run(&url, prepared(&url, FOR_A_PULL_REQUEST), &lading_promoter::engine::Unguarded).await.unwrap();
    let push = &outcome.outputs["push"];
    assert_eq!(push["branch"], json!("lading/promotion/p"));
    let log = repo.log("lading/promotion/p");
    assert_eq!(push["commit"], json!(log[0].id));
    assert_eq!(push["repoURL"], json!(url), "commitURL too, for an https host");
    assert_eq!(push["changedFiles"], json!(1));
    assert_eq!(repo.show("lading/promotion/p", "app.yaml"), "image: nginx:2.0");
    assert_eq!(repo.show("stage/test", "app.yaml"), "image: nginx:1.0", "the checked-out branch stays");
    assert!(writes(&hosting).contains(&"POST /repos/example/repo/git/refs".to_owned()), "{:?}", hosting.calls());

    // A new branch with nothing new on it is made at the checked-out commit.
    let (_dir, hosting, repo, url) = hosted().await;
    let template = format!(
        "steps:\n- uses: git-clone\n  config:\n    repoURL: {url}\n    checkout:\n    - branch: stage/test\n      path: ./out\n- uses: github-push\n  as: push\n  config:\n    path: ./out\n    targetBranch: release\n"
    );
    let outcome = run(&url, template, &lading_promoter::engine::Unguarded).await.unwrap();
    assert_eq!(repo.log("release")[0].id, repo.log("stage/test")[0].id);
    assert_eq!(outcome.outputs["push"]["commit"], json!(repo.log("stage/test")[0].id));
    assert_eq!(hosting.commits_created(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_push_rebases_onto_a_branch_that_moved_and_pushes_again() {
    let (_dir, hosting, repo, url) = hosted().await;
    // Another writer lands a commit on stage/test right before the step moves it:
    // GitHub's 422 "not a fast forward", then a rebase onto it and a second attempt.
    hosting.move_branch_before_next_update("stage/test", "other.yaml", "x: 1\n");
    let outcome = run(&url, prepared(&url, COMMON_USAGE), &lading_promoter::engine::Unguarded).await.unwrap();
    let log = repo.log("stage/test");
    let messages: Vec<&str> = log.iter().map(|c| c.message.lines().next().unwrap_or_default()).collect();
    assert_eq!(messages, ["rendered updated manifests", "change other.yaml meanwhile", "first"]);
    assert_eq!(outcome.commit, log[0].id);
    assert_eq!(repo.show("stage/test", "other.yaml"), "x: 1");
    assert_eq!(repo.show("stage/test", "app.yaml"), "image: nginx:2.0");
    let updates = hosting.calls().iter().filter(|c| c.starts_with("PATCH ")).count();
    assert_eq!((updates, hosting.commits_created()), (2, 2));

    // The same lines changed meanwhile: the rebase conflicts and the step fails.
    let (_dir, hosting, repo, url) = hosted().await;
    hosting.move_branch_before_next_update("stage/test", "app.yaml", "image: nginx:3.0\n");
    let error = run(&url, prepared(&url, COMMON_USAGE), &lading_promoter::engine::Unguarded).await.unwrap_err();
    assert!(error.contains("the remote branch stage/test changed the same lines; rebase conflict"), "{error}");
    assert_eq!(repo.show("stage/test", "app.yaml"), "image: nginx:3.0");
    assert!(hosting.refs_under("example", "repo", "refs/lading/").is_empty(), "the staging ref is deleted");

    // With one attempt allowed, the moved branch fails the step with GitHub's reason.
    let (_dir, hosting, _repo, url) = hosted().await;
    hosting.move_branch_before_next_update("stage/test", "other.yaml", "x: 1\n");
    let one = format!("{COMMON_USAGE}    maxAttempts: 1\n");
    let error = run(&url, prepared(&url, &one), &lading_promoter::engine::Unguarded).await.unwrap_err();
    assert!(
        error.contains(
            "the push failed after 1 attempt(s): GitHub refused to move stage/test: Update is not a fast forward"
        ),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_push_under_always_merge_replays_a_merge_of_the_branch_that_moved() {
    let (_dir, hosting, repo, url) = hosted().await;
    hosting.move_branch_before_next_update("stage/test", "other.yaml", "x: 1\n");
    let policy = lading_domain::push_integration::PushIntegrationPolicy::AlwaysMerge;
    let outcome =
        run_under(&url, prepared(&url, COMMON_USAGE), &lading_promoter::engine::Unguarded, policy).await.unwrap();
    let log = repo.log("stage/test");
    // GitHub holds a merge of the remote's commit and the promotion's, both parents kept.
    assert!(log[0].message.starts_with("Merge branch 'stage/test' of "), "{log:?}");
    assert_eq!(repo.parent_count("stage/test"), 2);
    assert_eq!(outcome.commit, log[0].id);
    assert_eq!(repo.show("stage/test^2", "other.yaml"), "x: 1", "the remote's commit as it was");
    assert_eq!(repo.show("stage/test^1", "app.yaml"), "image: nginx:2.0");
    assert_eq!(repo.show("stage/test", "other.yaml"), "x: 1");
    assert_eq!(repo.show("stage/test", "app.yaml"), "image: nginx:2.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_push_of_a_sparse_checkout_leaves_its_working_tree_sparse() {
    let (_dir, hosting, repo, url) = hosted().await;
    repo.commit("apps/b/config.yaml", "app: b\n", "app b");
    repo.branch("stage/test");
    // The branch moves meanwhile: a rebase, then the branch GitHub made is taken.
    hosting.move_branch_before_next_update("stage/test", "other.yaml", "x: 1\n");
    let template = prepared(&url, COMMON_USAGE)
        .replace("path: ./out\n- uses: yaml-update", "sparse: [apps/a]\n      path: ./out\n- uses: yaml-update");
    let base = url.rsplit_once("/example/").unwrap().0.to_owned();
    let workspace = tempfile::tempdir().unwrap();
    let at = workspace.path().to_owned();
    tokio::task::spawn_blocking(move || {
        let credentials =
            GitCredentials::parse(&format!("- repoURL: {base}/\n  username: robot\n  password: {TOKEN}\n")).unwrap();
        let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
        run_with(EngineRun { credentials, ..EngineRun::new(&freight) }, &at, &template).map_err(|e| e.to_string())
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(repo.show("stage/test", "app.yaml"), "image: nginx:2.0");
    assert_eq!(repo.show("stage/test", "apps/b/config.yaml"), "app: b");
    assert_eq!(repo.show("stage/test", "other.yaml"), "x: 1");
    let out = workspace.path().join("out");
    assert_eq!(std::fs::read_to_string(out.join("app.yaml")).unwrap(), "image: nginx:2.0\n");
    assert!(!out.join("apps/b").exists(), "outside the cone was written");
    assert_eq!(std::fs::read_to_string(out.join("other.yaml")).unwrap(), "x: 1\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_push_with_a_token_the_api_refuses_fails_clearly_without_the_token() {
    let (_dir, hosting, repo, url) = hosted().await;
    hosting.revoke_api_token();
    let error = run(&url, prepared(&url, COMMON_USAGE), &lading_promoter::engine::Unguarded).await.unwrap_err();
    assert!(error.contains("GitHub refused reading ref heads/stage/test: status 401: Bad credentials"), "{error}");
    assert!(!error.contains(TOKEN), "{error}");
    assert_eq!(repo.log("stage/test").len(), 1, "nothing pushed");
    assert!(hosting.refs_under("example", "repo", "refs/lading/").is_empty(), "no staging ref pushed");
}

/// Allows the first `allowed` effects, then refuses every one: a replica that lost its
/// turn while its promotion ran. Records the kinds asked for.
struct LosesTurnAfter {
    allowed: usize,
    pushes: AtomicUsize,
    lost: AtomicBool,
    asked: std::sync::Mutex<Vec<Effect>>,
}

impl EffectGuard for LosesTurnAfter {
    fn before_effect(&self, effect: Effect) -> Result<(), String> {
        self.asked.lock().unwrap().push(effect);
        if self.pushes.fetch_add(1, Ordering::SeqCst) >= self.allowed {
            self.lost.store(true, Ordering::SeqCst);
        }
        if self.lost.load(Ordering::SeqCst) { Err("the stage's turn was lost".to_owned()) } else { Ok(()) }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_lost_its_turn_pushes_nothing_more() {
    // Refused before the staging push, before the commit is made, before the branch moves.
    for allowed in [0, 1, 2] {
        let (_dir, hosting, repo, url) = hosted().await;
        let guard: &'static LosesTurnAfter = Box::leak(Box::new(LosesTurnAfter {
            allowed,
            pushes: AtomicUsize::new(0),
            lost: AtomicBool::new(false),
            asked: Default::default(),
        }));
        let error = run(&url, prepared(&url, COMMON_USAGE), guard).await.unwrap_err();
        assert!(error.contains("the stage's turn was lost"), "{allowed}: {error}");
        assert_eq!(repo.log("stage/test").len(), 1, "{allowed}: the branch did not move");
        let staged = hosting.refs_under("example", "repo", "refs/lading/");
        assert_eq!(staged.is_empty(), allowed == 0, "{allowed}: {staged:?}");
        assert_eq!(hosting.commits_created(), allowed.saturating_sub(1), "{allowed}");
        assert!(!writes(&hosting).iter().any(|c| c.starts_with("PATCH")), "{allowed}");
        // Only moving the branch is the point of no return; the staging push and the
        // commit GitHub makes are not yet seen by anyone.
        let asked = guard.asked.lock().unwrap().clone();
        assert_eq!(asked[..allowed + 1], [Effect::Call, Effect::Call, Effect::Push][..allowed + 1], "{allowed}");
    }
}

#[test]
fn github_push_configs_are_checked_at_apply() {
    let error = refused(
        "steps:\n- uses: github-push\n  config:\n    path: ./out\n    targetBranch: main\n    generateTargetBranch: true\n",
    );
    assert!(
        error.contains("steps[0].config.targetBranch: set either targetBranch or generateTargetBranch, not both"),
        "{error}"
    );
    let error = refused("steps:\n- uses: github-push\n  config:\n    path: ./out\n    signed: true\n");
    assert!(error.contains("steps[0].config.signed: unknown field"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_push_replays_at_most_ten_commits_at_once() {
    // main is ahead of stage/test by `ahead` commits; pushing main's clone to stage/test
    // replays them and the promotion's own commit, each with its parent.
    for (ahead, pushed) in [(2, true), (10, false)] {
        let (_dir, hosting, repo, url) = hosted().await;
        for n in 0..ahead {
            repo.commit(&format!("f{n}.txt"), "x\n", &format!("commit {n} on main"));
        }
        let template = format!(
            "steps:\n- uses: git-clone\n  config:\n    repoURL: {url}\n    checkout:\n    - branch: main\n      path: ./out\n- uses: git-commit\n  config:\n    path: ./out\n    message: promote\n- uses: github-push\n  config:\n    path: ./out\n    targetBranch: stage/test\n"
        );
        let template = template.replace("- uses: git-commit", "- uses: file-write\n  config:\n    path: ./out/app.yaml\n    contents: \"image: nginx:2.0\\n\"\n    overwrite: true\n- uses: git-commit");
        let result = run(&url, template, &lading_promoter::engine::Unguarded).await;
        if pushed {
            result.unwrap();
            assert_eq!(hosting.commits_created(), ahead + 1);
            let log: Vec<String> = repo.log("stage/test").into_iter().map(|c| c.message).collect();
            assert_eq!(log.len(), ahead + 2, "{log:?}");
            assert!(log[0].starts_with("promote") && log[1] == "commit 1 on main", "{log:?}");
            let expected = hosting.tree_with("example", "repo", "main", &[("app.yaml", "image: nginx:2.0\n")]);
            assert_eq!(hosting.tree_of("example", "repo", "stage/test"), expected);
        } else {
            let error = result.unwrap_err();
            assert!(error.contains("11 commits to push, more than the 10 github-push replays at once"), "{error}");
            assert_eq!(hosting.commits_created(), 0);
            assert_eq!(repo.log("stage/test").len(), 1, "the branch did not move");
        }
    }
}

/// Clone main (ahead of stage/test by two commits), write app.yaml, commit "promote" and
/// github-push to stage/test.
fn main_to_stage(url: &str, target: &str) -> String {
    format!(
        "steps:\n- uses: git-clone\n  config:\n    repoURL: {url}\n    checkout:\n    - branch: main\n      path: ./out\n- uses: file-write\n  config:\n    path: ./out/app.yaml\n    contents: \"image: nginx:2.0\\n\"\n    overwrite: true\n- uses: git-commit\n  config:\n    path: ./out\n    message: promote\n- uses: github-push\n  config:\n    path: ./out\n    targetBranch: {target}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_push_replays_the_local_commits_whatever_the_compare_answer_lists() {
    let (_dir, hosting, repo, url) = hosted().await;
    repo.commit("f0.txt", "x\n", "commit 0 on main");
    repo.commit("f1.txt", "x\n", "commit 1 on main");
    // GitHub's answer lists the commits newest first, with other messages and trees, and
    // one commit the local branch does not have.
    let forged_tree = hosting.tree_with("example", "repo", "main", &[("evil.yaml", "x: 1\n")]);
    hosting.rewrite_compare(move |answer| {
        let commits = answer["commits"].as_array_mut().unwrap();
        commits.reverse();
        for commit in commits.iter_mut() {
            commit["commit"]["message"] = json!("forged");
            commit["commit"]["tree"]["sha"] = json!(forged_tree);
        }
        let mut unknown = commits[0].clone();
        unknown["sha"] = json!("1".repeat(40));
        commits.push(unknown);
    });
    run(&url, main_to_stage(&url, "stage/test"), &lading_promoter::engine::Unguarded).await.unwrap();
    let log: Vec<String> =
        repo.log("stage/test").into_iter().map(|c| c.message.lines().next().unwrap_or_default().to_owned()).collect();
    assert_eq!(log, ["promote", "commit 1 on main", "commit 0 on main", "first"]);
    let expected = hosting.tree_with("example", "repo", "main", &[("app.yaml", "image: nginx:2.0\n")]);
    assert_eq!(hosting.tree_of("example", "repo", "stage/test"), expected);
    assert_eq!(hosting.commits_created(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_push_refuses_branch_names_and_commit_ids_that_could_leave_their_path() {
    let (_dir, hosting, repo, url) = hosted().await;
    let error = run(&url, main_to_stage(&url, "\"../../x\""), &lading_promoter::engine::Unguarded).await.unwrap_err();
    assert!(error.contains("config.targetBranch: \"../../x\" is not a valid branch name"), "{error}");
    assert!(writes(&hosting).is_empty(), "{:?}", hosting.calls());

    // A merge base that is not a commit id never reaches a path or a commit.
    hosting.rewrite_compare(|answer| answer["merge_base_commit"]["sha"] = json!("../../../refs/heads/main"));
    let error = run(&url, main_to_stage(&url, "stage/test"), &lading_promoter::engine::Unguarded).await.unwrap_err();
    assert!(error.contains("not a commit id"), "{error}");
    assert_eq!((hosting.commits_created(), repo.log("stage/test").len()), (0, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_branch_is_made_even_when_the_checked_out_one_moved_on() {
    // GitHub says the local branch and the checked-out one diverged: a new branch does not
    // need either, and is made where the local branch leads, at the first attempt.
    let (_dir, hosting, repo, url) = hosted().await;
    hosting.rewrite_compare(|answer| answer["status"] = json!("diverged"));
    let new_branch = format!("{COMMON_USAGE}    targetBranch: release\n    maxAttempts: 2\n");
    run(&url, prepared(&url, &new_branch), &lading_promoter::engine::Unguarded).await.unwrap();
    assert_eq!(repo.show("release", "app.yaml"), "image: nginx:2.0");
    assert_eq!(hosting.calls().iter().filter(|c| c.contains("/compare/")).count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_promotion_run_again_finds_its_pushed_commit_and_pushes_nothing_twice() {
    let (_dir, hosting, repo, url) = hosted().await;
    let first = run(&url, prepared(&url, COMMON_USAGE), &lading_promoter::engine::Unguarded).await.unwrap();
    // The replayed commit keeps the trailer naming the promotion.
    assert!(repo.log("stage/test")[0].message.contains("Lading-Promotion: p"), "{:?}", repo.log("stage/test"));
    let again = run(&url, prepared(&url, COMMON_USAGE), &lading_promoter::engine::Unguarded).await.unwrap();
    assert_eq!(again.commit, first.commit);
    assert_eq!((repo.log("stage/test").len(), hosting.commits_created()), (2, 1));

    // A run again whose workspace holds its own commit of the promotion (cloned from a
    // branch without the pushed one, with other contents): github-push finds the pushed commit on the target
    // and makes none, on the branch as on a forced or a generated one.
    for (target, config, second_clone) in [
        ("stage/test", "    targetBranch: stage/test\n", "main"),
        ("release", "    targetBranch: release\n    force: true\n", "stage/test"),
        ("lading/promotion/p", "    generateTargetBranch: true\n", "stage/test"),
    ] {
        let (_dir, hosting, repo, url) = hosted().await;
        let template = |clone: &str, image: &str| {
            format!(
                "steps:\n- uses: git-clone\n  config:\n    repoURL: {url}\n    checkout:\n    - branch: {clone}\n      path: ./out\n- uses: yaml-update\n  config:\n    path: ./out/app.yaml\n    updates:\n    - key: image\n      value: {image}\n- uses: git-commit\n  config:\n    path: ./out\n    message: promote\n- uses: github-push\n  as: push\n  config:\n    path: ./out\n{config}"
            )
        };
        let first = run(&url, template("stage/test", "nginx:2.0"), &lading_promoter::engine::Unguarded).await.unwrap();
        let again = run(&url, template(second_clone, "nginx:2.1"), &lading_promoter::engine::Unguarded).await.unwrap();
        assert_eq!((hosting.commits_created(), repo.log(target).len()), (1, 2), "{target}");
        assert_eq!(again.outputs["push"]["commit"], json!(repo.log(target)[0].id), "{target}");
        assert_eq!(again.outputs["push"]["commit"], first.outputs["push"]["commit"], "{target}");
        assert_eq!(repo.show(target, "app.yaml"), "image: nginx:2.0", "{target}");
    }
}

/// Kargo's manifests for a project whose `prod` stage pushes with `github-push`.
fn pipeline(app: &str, url: &str) -> String {
    let commit = lading_tests::hosted_gitops::commit_steps(url, "stage/test", app);
    let spec = format!(
        r#"      steps:
{commit}      - uses: github-push
        config:
          path: ./out
"#
    );
    lading_tests::hosted_gitops::prod_pipeline(app, &spec)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_running_lading_promotes_with_github_push_and_records_the_push() {
    // Given a stand-in GitHub with the GitOps repository, and an application repository,
    let (dir, hosting, gitops, url) = hosted().await;
    let app = Repo::create(dir.path(), "app");
    let app_commit = app.commit("main.go", "package main\n", "first");
    let base = url.rsplit_once("/example/").unwrap().0.to_owned();
    let options = lading_tests::sandbox::SandboxOptions {
        promoter_credentials: GitCredentials::parse(&format!(
            "- repoURL: {base}/\n  username: robot\n  password: {TOKEN}\n"
        ))
        .unwrap(),
        ..Default::default()
    };
    let sandbox = lading_tests::sandbox::Sandbox::start_with_options(options).await;
    // when Kargo's manifests are applied,
    sandbox.apply(&pipeline(&app.url(), &url)).await;
    // then prod's promotion succeeds with the commit GitHub made, recorded as its push.
    let last = lading_tests::wait::until("prod's promotion to succeed", Duration::from_secs(60), || async {
        let (_, listed) = sandbox.get("/api/v1/projects/demo/promotions?stage=prod").await;
        let last = listed["items"][0].clone();
        if last["status"]["phase"] == "Succeeded" { Ok(last) } else { Err(last.to_string()) }
    })
    .await;
    let tip = gitops.log("stage/test")[0].id.clone();
    assert_eq!(last["status"]["commit"], json!(tip), "{last}");
    let push = &last["status"]["pushes"][0];
    assert_eq!((push["branch"].as_str(), push["commit"].as_str()), (Some("stage/test"), Some(tip.as_str())), "{last}");
    assert!(gitops.show("stage/test", "app.yaml").contains(&app_commit));
    assert_eq!(hosting.commits_created(), 1);
}
