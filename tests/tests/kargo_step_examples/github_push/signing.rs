//! `github-push` and signed commits: what the promoter's key signed is replayed for
//! GitHub to sign; a step's own key keeps its author; with every commit verified an
//! unsigned one is replayed crediting its author.

use super::*;

/// Runs `template` unguarded with `author` (its name, email and promoter-wide key).
async fn run_as(url: &str, template: String, author: lading_promoter::steps::CommitAuthor) -> PromotionOutcome {
    run_as_with(url, template, author, false).await
}

/// [`run_as`] with `LADING_GITHUB_PUSH_VERIFY_UNTRUSTED_COMMITS` set to `verify_untrusted`.
async fn run_as_with(
    url: &str,
    template: String,
    author: lading_promoter::steps::CommitAuthor,
    verify_untrusted: bool,
) -> PromotionOutcome {
    let base = url.rsplit_once("/example/").unwrap().0.to_owned();
    tokio::task::spawn_blocking(move || {
        let credentials =
            GitCredentials::parse(&format!("- repoURL: {base}/\n  username: robot\n  password: {TOKEN}\n")).unwrap();
        let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
        let workspace = tempfile::tempdir().unwrap();
        let run = EngineRun {
            credentials,
            author,
            github_verify_untrusted_commits: verify_untrusted,
            ..EngineRun::new(&freight)
        };
        run_with(run, workspace.path(), &template).unwrap()
    })
    .await
    .unwrap()
}

/// Author, committer and message of the head of `branch` in the stand-in's repository.
fn head_commit(dir: &tempfile::TempDir, branch: &str) -> String {
    let bare = dir.path().join("example/repo.git");
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(&bare)
        .args(["log", "-1", "--format=%an <%ae>|%cn <%ce>|%B", branch])
        .output()
        .unwrap();
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn signing(gpg: &lading_tests::gpg::Gpg, user_id: &str) -> lading_promoter::steps::CommitAuthor {
    let key = gpg.export_secret(&gpg.generate(user_id, None));
    lading_promoter::steps::CommitAuthor {
        signing_key: Some(std::sync::Arc::new(
            lading_promoter::steps::commit_signing::SigningKey::parse(&key).unwrap(),
        )),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_the_promoter_key_signed_is_replayed_for_github_to_sign() {
    // Given the promoter's key, whose identity is the commit author's (Lading's),
    let gpg = lading_tests::gpg::Gpg::new();
    let author = signing(&gpg, "Lading <lading@localhost>");
    let (dir, hosting, _repo, url) = hosted().await;
    run_as(&url, prepared(&url, COMMON_USAGE), author).await;
    // then the commit is replayed without author and committer: GitHub makes it as the
    // App (here the stand-in's robot) and signs it; nobody else to credit.
    let head = head_commit(&dir, "stage/test");
    assert!(head.starts_with("lading-robot[bot] <robot@users.noreply.github.com>|lading-robot[bot]"), "{head}");
    assert!(!head.contains("Co-authored-by"), "{head}");
    assert!(head.contains("Lading-Promotion: p"), "{head}");
    assert_eq!(hosting.commits_created(), 1);

    // Given a key whose identity is not the commit author's, the author is credited.
    let author = signing(&gpg, "Release Key <release@example.com>");
    let (dir, _hosting, _repo, url) = hosted().await;
    run_as(&url, prepared(&url, COMMON_USAGE), author).await;
    let head = head_commit(&dir, "stage/test");
    assert!(head.starts_with("lading-robot[bot]"), "{head}");
    assert!(head.ends_with("Lading-Promotion: p\nCo-authored-by: Lading <lading@localhost>"), "{head}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_signed_by_a_steps_own_key_keeps_its_author_as_kargo_trusts_only_its_key() {
    let gpg = lading_tests::gpg::Gpg::new();
    let own = gpg.export_secret(&gpg.generate("Release Bot <release@example.com>", None));
    let promoter = signing(&gpg, "Lading <lading@localhost>");
    let (dir, _hosting, _repo, url) = hosted().await;
    let key: String = own.lines().map(|l| format!("          {l}\n")).collect();
    let example = format!(
        "- uses: git-commit\n  config:\n    path: ./out\n    message: rendered updated manifests\n    author:\n      name: Release Bot\n      email: release@example.com\n      signingKey: |\n{key}- uses: github-push\n  config:\n    path: ./out\n"
    );
    run_as(&url, prepared(&url, &example), promoter).await;
    let head = head_commit(&dir, "stage/test");
    assert!(head.starts_with("Release Bot <release@example.com>|Release Bot <release@example.com>|"), "{head}");
    assert!(!head.contains("Co-authored-by"), "{head}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_every_commit_verified_an_unsigned_commit_is_replayed_for_github_crediting_its_author() {
    // Given no signing key and the operator's switch, the unsigned commit is replayed
    // without author and committer, its author credited, as Kargo does.
    let (dir, _hosting, _repo, url) = hosted().await;
    run_as_with(&url, prepared(&url, COMMON_USAGE), Default::default(), true).await;
    let head = head_commit(&dir, "stage/test");
    assert!(head.starts_with("lading-robot[bot] <robot@users.noreply.github.com>|"), "{head}");
    assert!(head.ends_with("Lading-Promotion: p\nCo-authored-by: Lading <lading@localhost>"), "{head}");
}

/// A template cloning `stage/test` with `author` as the clone's author, updating the
/// image, committing and pushing through GitHub.
fn cloned_as(url: &str, author: &str) -> String {
    format!(
        "steps:\n- uses: git-clone\n  config:\n    repoURL: {url}\n    checkout:\n    - branch: stage/test\n      path: ./out\n    author:\n{author}- uses: yaml-update\n  config:\n    path: ./out/app.yaml\n    updates:\n    - key: image\n      value: nginx:2.0\n{COMMON_USAGE}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_signed_by_the_clones_author_key_is_trusted_as_the_repositorys_key() {
    // Given a clone whose author has a key, on a promoter with another key,
    let gpg = lading_tests::gpg::Gpg::new();
    let own = gpg.export_secret(&gpg.generate("Release Key <release@example.com>", None));
    let promoter = signing(&gpg, "Lading <lading@localhost>");
    let (dir, _hosting, _repo, url) = hosted().await;
    let key: String = own.lines().map(|l| format!("        {l}\n")).collect();
    let author = format!("      name: Ada\n      email: ada@example.com\n      signingKey: |\n{key}");
    run_as(&url, cloned_as(&url, &author), promoter.clone()).await;
    // then the commit that key signed is replayed for GitHub to sign, its author credited.
    let head = head_commit(&dir, "stage/test");
    assert!(head.starts_with("lading-robot[bot] <robot@users.noreply.github.com>|"), "{head}");
    assert!(head.ends_with("Lading-Promotion: p\nCo-authored-by: Ada <ada@example.com>"), "{head}");

    // Given a clone whose author has no key, its unsigned commit keeps its author, as the
    // promoter's key is not the repository's.
    let (dir, _hosting, _repo, url) = hosted().await;
    run_as(&url, cloned_as(&url, "      name: Ada\n      email: ada@example.com\n"), promoter).await;
    let head = head_commit(&dir, "stage/test");
    assert!(head.starts_with("Ada <ada@example.com>|Ada <ada@example.com>|"), "{head}");
    assert!(!head.contains("Co-authored-by"), "{head}");
}
