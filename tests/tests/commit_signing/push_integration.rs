//! The push integration policy (`LADING_GIT_PUSH_INTEGRATION_POLICY`, Kargo's): when the
//! remote branch moved on before the push, its commits come in by a rebase or by a merge,
//! as the policy and the signatures a rebase would make again decide. Checked on real
//! repositories with `git` and GnuPG.

use lading_domain::push_integration::PushIntegrationPolicy;

use super::*;

/// Runs `steps` as [`run_while_the_branch_moves`] does, under `policy`.
fn run_with_policy(
    policy: PushIntegrationPolicy,
    author: CommitAuthor,
    repo: &Repo,
    steps: Vec<PromotionStep>,
) -> Result<PromotionOutcome, String> {
    run_while_moving(author, policy, repo, steps, ("other.yaml", "x: 1\n"))
}

/// [`promotion`] whose `git-commit` is signed by a key of its own (`author.signingKey`),
/// not the repository's.
fn promotion_signed_by_step(url: &str, keys: &Gpg, fingerprint: &str) -> Vec<PromotionStep> {
    let author = json!({"name": "Ada", "email": "ada@example.com", "signingKey": keys.export_secret(fingerprint)});
    promotion(url, json!({"author": author}))
}

#[test]
fn always_merge_merges_the_moved_branch_and_a_run_again_finds_the_merge_pushed() {
    let root = tempfile::tempdir().unwrap();
    let (repo, _bare) = remote(root.path());
    let mut steps = promotion(&repo.url(), json!({}));
    steps[3].alias = Some("push".into());
    let outcome = run_with_policy(PushIntegrationPolicy::AlwaysMerge, author_with(None), &repo, steps).unwrap();
    let log = repo.log("main");
    // The merge on top, its parents the promotion's commit as made and someone else's.
    assert_eq!(repo.parent_count("main"), 2, "{log:?}");
    assert_eq!(log[0].message, format!("Merge branch 'main' of {} into main\n\nLading-Promotion: p", repo.url()));
    assert_eq!(outcome.commit, log[0].id, "the output is the commit pushed");
    assert!(repo.rev("main^1^{commit}") != repo.rev("main^2^{commit}"));
    assert!(repo.show("main^1", "app.yaml").contains("nginx:2.0"), "the first parent is the promotion's");
    assert_eq!(repo.show("main^2", "other.yaml"), "x: 1", "the second is the remote's");
    assert_eq!(repo.rev("main^1^"), repo.rev("main^2^"), "the promotion's commit was not made again");
    assert_eq!(repo.show("main", "app.yaml"), "image: nginx:2.0");
    assert_eq!(repo.show("main", "other.yaml"), "x: 1");
    // What the push changed on the remote: the promotion's file, not the remote's own.
    assert_eq!(outcome.outputs["push"]["changedFiles"], 1, "{:?}", outcome.outputs);
    assert_eq!(outcome.outputs["push"]["changes"], json!([{"path": "app.yaml", "added": 1, "removed": 1}]));
    // A run of the same promotion again (a resumed promotion) finds its merge pushed.
    let again = run(author_with(None), &promotion(&repo.url(), json!({}))).unwrap();
    assert_eq!(again.commit, log[0].id);
    assert_eq!(repo.log("main").len(), log.len(), "nothing pushed twice");
}

#[test]
fn a_merge_is_signed_by_the_repository_key_and_keeps_the_step_signature() {
    let keys = Gpg::new();
    let lading = keys.generate(LADING, None);
    let ada = keys.generate("Ada <ada@example.com>", None);
    let root = tempfile::tempdir().unwrap();
    let (repo, bare) = remote(root.path());
    // Given a commit signed by a step's own key, which a rebase would sign anew with the
    // repository's: RebaseOrMerge merges instead.
    let author = author_with(Some(&keys.export_secret(&lading)));
    let steps = promotion_signed_by_step(&repo.url(), &keys, &ada);
    let outcome = run_with_policy(PushIntegrationPolicy::RebaseOrMerge, author, &repo, steps).unwrap();
    assert_eq!(repo.parent_count("main"), 2);
    assert_eq!(outcome.commit, repo.rev("main"));
    let verifier = verifier(&keys, &[&lading, &ada]);
    assert_eq!(verifier.verdict(&bare, "main"), format!("G:{lading}"), "the merge is the repository's");
    assert_eq!(verifier.verdict(&bare, "main^1"), format!("G:{ada}"), "the step's commit keeps its signature");
    assert_eq!(verifier.verdict(&bare, "main^2"), "N:", "someone else's stays as it was");
}

#[test]
fn rebase_or_merge_rebases_commits_whose_signatures_a_rebase_makes_alike() {
    // Given the repository's key and a commit it signed: a rebase, signed again.
    let keys = Gpg::new();
    let lading = keys.generate(LADING, None);
    let root = tempfile::tempdir().unwrap();
    let (repo, bare) = remote(root.path());
    let author = author_with(Some(&keys.export_secret(&lading)));
    let outcome =
        run_with_policy(PushIntegrationPolicy::RebaseOrMerge, author, &repo, promotion(&repo.url(), json!({})))
            .unwrap();
    assert_eq!(repo.parent_count("main"), 1, "linear history");
    assert_eq!(repo.log("main").len(), 3);
    assert_eq!(outcome.commit, repo.rev("main"));
    assert_eq!(verifier(&keys, &[&lading]).verdict(&bare, "main"), format!("G:{lading}"));
    // Given no key and unsigned commits: a rebase too, unsigned.
    let other = tempfile::tempdir().unwrap();
    let (repo, bare) = remote(other.path());
    run_with_policy(PushIntegrationPolicy::RebaseOrFail, author_with(None), &repo, promotion(&repo.url(), json!({})))
        .unwrap();
    assert_eq!(repo.parent_count("main"), 1);
    assert_eq!(repo.log("main").len(), 3);
    assert_eq!(Gpg::new().verdict(&bare, "main"), "N:");
}

#[test]
fn rebase_or_fail_refuses_a_commit_a_rebase_would_sign_anew_and_pushes_nothing() {
    let keys = Gpg::new();
    let lading = keys.generate(LADING, None);
    let ada = keys.generate("Ada <ada@example.com>", None);
    let root = tempfile::tempdir().unwrap();
    let (repo, _bare) = remote(root.path());
    let author = author_with(Some(&keys.export_secret(&lading)));
    let steps = promotion_signed_by_step(&repo.url(), &keys, &ada);
    let error = run_with_policy(PushIntegrationPolicy::RebaseOrFail, author, &repo, steps).unwrap_err();
    assert!(
        error.contains("push integration policy RebaseOrFail allows neither a merge nor rebasing commit"),
        "{error}"
    );
    assert!(error.contains("signed by a key other than the repository's"), "{error}");
    let log = repo.log("main");
    assert_eq!(log[0].message, "someone else's change", "the remote is left as it was: {log:?}");
}

#[test]
fn rebase_or_merge_merges_an_unsigned_commit_when_the_repository_signs() {
    // Given a step that names its author without a key (unsigned, as Kargo), in a
    // repository with a key: a rebase would sign it, so it merges.
    let keys = Gpg::new();
    let lading = keys.generate(LADING, None);
    let root = tempfile::tempdir().unwrap();
    let (repo, bare) = remote(root.path());
    let author = author_with(Some(&keys.export_secret(&lading)));
    let steps = promotion(&repo.url(), json!({"author": {"name": "Ada", "email": "ada@example.com"}}));
    run_with_policy(PushIntegrationPolicy::RebaseOrMerge, author, &repo, steps).unwrap();
    assert_eq!(repo.parent_count("main"), 2);
    let verifier = verifier(&keys, &[&lading]);
    assert_eq!(verifier.verdict(&bare, "main"), format!("G:{lading}"));
    assert_eq!(verifier.verdict(&bare, "main^1"), "N:", "the step's commit stays unsigned");
}

#[test]
fn a_merge_conflict_fails_the_push_and_pushes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let (repo, _bare) = remote(root.path());
    let error = run_while_moving(
        author_with(None),
        PushIntegrationPolicy::AlwaysMerge,
        &repo,
        promotion(&repo.url(), json!({})),
        ("app.yaml", "image: nginx:3.0\n"),
    )
    .unwrap_err();
    assert!(error.contains("the remote branch main changed the same lines; merge conflict"), "{error}");
    assert_eq!(repo.show("main", "app.yaml"), "image: nginx:3.0");
}

#[test]
fn a_push_with_no_commit_of_its_own_fast_forwards_under_every_policy() {
    // Given a promotion that changed nothing (its git-commit made no commit), whose
    // branch moved on before the push, then the branch is the remote's: no merge commit.
    for (_, policy) in lading_domain::push_integration::POLICIES {
        let root = tempfile::tempdir().unwrap();
        let (repo, _bare) = remote(root.path());
        let mut steps = promotion(&repo.url(), json!({}));
        steps[1] =
            step("file-write", json!({"path": "./out/app.yaml", "contents": "image: nginx:1.0\n", "overwrite": true}));
        let outcome = run_with_policy(policy, author_with(None), &repo, steps).unwrap();
        let log = repo.log("main");
        assert_eq!(log.len(), 2, "{policy}: {log:?}");
        assert_eq!(log[0].message, "someone else's change", "{policy}");
        assert_eq!(outcome.commit, log[0].id, "{policy}");
    }
}

#[test]
fn a_branch_replaced_by_an_unrelated_history_is_neither_merged_nor_rebased_onto() {
    for (_, policy) in lading_domain::push_integration::POLICIES {
        let root = tempfile::tempdir().unwrap();
        let (repo, _bare) = remote(root.path());
        let mut steps = promotion(&repo.url(), json!({}));
        let push = steps.pop().unwrap();
        let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
        let workspace = tempfile::tempdir().unwrap();
        let engine =
            EngineRun { author: author_with(None), push_integration_policy: policy, ..EngineRun::new(&freight) };
        engine.run(workspace.path(), &steps).unwrap();
        // Given main replaced, meanwhile, by a history that shares no commit with the clone's,
        let work = root.path().join("orphan");
        git_bytes(root.path(), &["clone", "--quiet", &repo.url(), work.to_str().unwrap()]);
        git_bytes(&work, &["checkout", "--quiet", "--orphan", "fresh"]);
        std::fs::write(work.join("other.yaml"), "x: 1\n").unwrap();
        git_bytes(&work, &["add", "-A"]);
        git_bytes(&work, &["commit", "--quiet", "-m", "a new start"]);
        git_bytes(&work, &["push", "--quiet", "--force", "origin", "fresh:main"]);
        // then the push brings nothing in and says why, as git does.
        let error = engine.run(workspace.path(), &[push]).unwrap_err().to_string();
        assert!(error.contains("the remote branch main shares no history with the local branch"), "{policy}: {error}");
        let log = repo.log("main");
        assert_eq!(log.len(), 1, "{policy}: {log:?}");
        assert_eq!(log[0].message, "a new start");
    }
}
