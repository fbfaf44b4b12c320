//! Discovery against real sources: bare Git repositories (branches, annotated and
//! lightweight tags, path layouts) and a real `docker-registry` holding images, a
//! multi-platform index and a re-pushed mutable tag. Each strategy and filter has a
//! test that fails if its rule is wrong.

use std::time::Instant;

use lading_domain::credentials::Credentials;
use lading_domain::expression::ExpressionLimits;
use lading_domain::spec::{
    ChartSubscription, CommitSelectionStrategy, GitSubscription, ImageSelectionStrategy, ImageSubscription,
};
use lading_events::catalog::GitDiscoveryResultV1;
use lading_tests::git::Repo;
use lading_tests::registry::TestRegistry;
use lading_warehouse::git_subscription::{Sync, discover, sync_mirror};
use lading_warehouse::registry::{Registries, RegistryLimits};
use lading_warehouse::{chart_subscription, image_subscription};

fn git_budget() -> lading_remote::GitBudget {
    lading_warehouse::config::Budgets::default().git
}

fn no_credentials() -> git2::RemoteCallbacks<'static> {
    git2::RemoteCallbacks::new()
}

fn git_discover(cache: &std::path::Path, subscription: &GitSubscription) -> GitDiscoveryResultV1 {
    let (repo, _) = sync_mirror(cache, &subscription.repo_url, Instant::now(), no_credentials, &git_budget()).unwrap();
    discover(&repo, subscription, &ExpressionLimits::default()).unwrap()
}

fn subjects(result: &GitDiscoveryResultV1) -> Vec<&str> {
    result.commits.iter().map(|c| c.subject.as_str()).collect()
}

fn tags(result: &GitDiscoveryResultV1) -> Vec<&str> {
    result.commits.iter().map(|c| c.tag.as_str()).collect()
}

#[test]
fn newest_from_branch_lists_newest_first_within_the_limit() {
    let root = tempfile::tempdir().unwrap();
    let app = Repo::create(root.path(), "app");
    for i in 1..=5 {
        app.commit_at("a.txt", &i.to_string(), &format!("c{i}"), &format!("2026-01-0{i}T00:00:00Z"));
    }
    app.branch("release");
    app.commit_at("a.txt", "6", "c6", "2026-01-06T00:00:00Z");
    let cache = tempfile::tempdir().unwrap();
    let sub = GitSubscription { repo_url: app.url(), discovery_limit: Some(3), ..Default::default() };
    let found = git_discover(cache.path(), &sub);
    assert_eq!(subjects(&found), ["c6", "c5", "c4"]);
    assert!(found.commits.iter().all(|c| c.branch == "main"), "the default branch");
    let release = GitSubscription { branch: "release".into(), ..sub };
    assert_eq!(subjects(&git_discover(cache.path(), &release)), ["c5", "c4", "c3"]);
}

#[test]
fn since_stops_the_branch_walk_at_the_first_older_commit() {
    let root = tempfile::tempdir().unwrap();
    let app = Repo::create(root.path(), "app");
    for i in 1..=5 {
        app.commit_at("a.txt", &i.to_string(), &format!("c{i}"), &format!("2026-01-0{i}T00:00:00Z"));
    }
    let cache = tempfile::tempdir().unwrap();
    // Given since at c3's instant (written with another offset), then c3 and newer, newest first.
    let since = chrono::DateTime::parse_from_rfc3339("2026-01-03T02:00:00+02:00").ok();
    let sub = GitSubscription { repo_url: app.url(), since, ..Default::default() };
    assert_eq!(subjects(&git_discover(cache.path(), &sub)), ["c5", "c4", "c3"]);
    // Given a newer commit back-dated before since, then the walk stops there: nothing older is listed.
    app.commit_at("a.txt", "6", "c6 back-dated", "2025-12-31T00:00:00Z");
    app.commit_at("a.txt", "7", "c7", "2026-01-07T00:00:00Z");
    assert_eq!(subjects(&git_discover(cache.path(), &sub)), ["c7"]);
    // As a manifest field: RFC 3339, checked at apply, named when bad.
    let manifest = |since: &str| {
        let text = format!(
            "apiVersion: kargo.akuity.io/v1alpha1\nkind: Warehouse\nmetadata:\n  name: app\n  namespace: demo\nspec:\n  subscriptions:\n  - git:\n      repoURL: https://example.com/app.git\n      since: {since}\n"
        );
        lading_domain::spec::validate_manifest(1, serde_saphyr::from_str::<serde_json::Value>(&text).unwrap())
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    manifest("\"2026-01-03T00:00:00Z\"").unwrap();
    let error = manifest("yesterday").unwrap_err();
    assert!(error.contains("spec.subscriptions[0].git.since"), "{error}");
}

#[test]
fn path_filters_keep_commits_touching_included_paths_and_exclusion_wins() {
    let root = tempfile::tempdir().unwrap();
    let app = Repo::create(root.path(), "app");
    app.commit("apps/web/main.go", "1", "web code");
    app.commit("apps/web/README.md", "1", "web docs");
    app.commit("apps/api/main.go", "1", "api code");
    app.commit("charts/web/values.yaml", "1", "web chart");
    app.commit("apps/webhooks/main.go", "1", "webhooks code");
    let cache = tempfile::tempdir().unwrap();
    let sub = GitSubscription {
        repo_url: app.url(),
        include_paths: vec!["apps/web".into(), "glob:charts/**/*.yaml".into()],
        exclude_paths: vec!["regex:\\.md$".into()],
        ..Default::default()
    };
    assert_eq!(subjects(&git_discover(cache.path(), &sub)), ["web chart", "web code"]);
    let only_exclude =
        GitSubscription { repo_url: app.url(), exclude_paths: vec!["apps".into()], ..Default::default() };
    assert_eq!(subjects(&git_discover(cache.path(), &only_exclude)), ["web chart"]);
}

#[test]
fn expression_filters_see_the_commit() {
    let root = tempfile::tempdir().unwrap();
    let app = Repo::create(root.path(), "app");
    app.commit_at("a", "1", "feature", "2026-01-01T00:00:00Z");
    app.commit_at("a", "2", "bump [skip ci]", "2026-02-01T00:00:00Z");
    app.commit_at("a", "3", "fix", "2026-03-01T00:00:00Z");
    let cache = tempfile::tempdir().unwrap();
    let sub = GitSubscription {
        repo_url: app.url(),
        expression_filter: "!subject.contains('[skip ci]') && commitDate < '2026-02-15'".into(),
        ..Default::default()
    };
    assert_eq!(subjects(&git_discover(cache.path(), &sub)), ["feature"]);
    let broken = GitSubscription { expression_filter: "subject".into(), ..sub };
    let (repo, _) = sync_mirror(cache.path(), &app.url(), Instant::now(), no_credentials, &git_budget()).unwrap();
    assert!(discover(&repo, &broken, &ExpressionLimits::default()).unwrap_err().contains("must yield a bool"));
}

/// Tags v1.9.0, v1.10.0 (annotated), 2.0.0-rc.1, v2.0.0, latest, 1.5 — created in that
/// order, a day apart.
fn tagged_repo(root: &std::path::Path) -> Repo {
    let app = Repo::create(root, "app");
    let tags = [
        ("v1.9.0", None),
        ("v1.10.0", Some("release 1.10")),
        ("2.0.0-rc.1", None),
        ("v2.0.0", Some("release 2.0")),
        ("latest", None),
        ("1.5", None),
    ];
    for (i, (tag, message)) in tags.iter().enumerate() {
        let date = format!("2026-01-{:02}T00:00:00Z", i + 1);
        app.commit_at("version", tag, &format!("release {tag}"), &date);
        app.tag(tag, *message, &date);
    }
    app
}

#[test]
fn tag_strategies_order_semver_lexical_and_newest_tag() {
    let root = tempfile::tempdir().unwrap();
    let app = tagged_repo(root.path());
    let cache = tempfile::tempdir().unwrap();
    let by = |strategy, constraint: &str, strict| GitSubscription {
        repo_url: app.url(),
        commit_selection_strategy: strategy,
        semver_constraint: constraint.into(),
        strict_semvers: strict,
        ..Default::default()
    };
    let semver = git_discover(cache.path(), &by(CommitSelectionStrategy::SemVer, "", true));
    assert_eq!(tags(&semver), ["v2.0.0", "2.0.0-rc.1", "v1.10.0", "v1.9.0"], "numeric order, strict");
    let loose = git_discover(cache.path(), &by(CommitSelectionStrategy::SemVer, "<2", false));
    assert_eq!(tags(&loose), ["v1.10.0", "v1.9.0", "1.5"]);
    let lexical = git_discover(cache.path(), &by(CommitSelectionStrategy::Lexical, "", true));
    assert_eq!(tags(&lexical), ["v2.0.0", "v1.9.0", "v1.10.0", "latest", "2.0.0-rc.1", "1.5"]);
    let newest = git_discover(cache.path(), &by(CommitSelectionStrategy::NewestTag, "", true));
    assert_eq!(tags(&newest), ["1.5", "latest", "v2.0.0", "2.0.0-rc.1", "v1.10.0", "v1.9.0"]);
    // An annotated tag is dated by its tagger, and its commit is the tagged one.
    let annotated = semver.commits.iter().find(|c| c.tag == "v1.10.0").unwrap();
    assert_eq!(annotated.subject, "release v1.10.0");
    assert_eq!(annotated.creator_date_ms, chrono_ms("2026-01-02T00:00:00Z"));
}

fn chrono_ms(date: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(date).unwrap().timestamp_millis()
}

#[test]
fn tag_regexes_and_expressions_filter_tags() {
    let root = tempfile::tempdir().unwrap();
    let app = tagged_repo(root.path());
    let cache = tempfile::tempdir().unwrap();
    let sub = GitSubscription {
        repo_url: app.url(),
        commit_selection_strategy: CommitSelectionStrategy::NewestTag,
        allow_tags_regexes: vec!["^v".into()],
        ignore_tags_regexes: vec!["^v1\\.9".into()],
        ..Default::default()
    };
    assert_eq!(tags(&git_discover(cache.path(), &sub)), ["v2.0.0", "v1.10.0"]);
    let annotated_only =
        GitSubscription { expression_filter: "annotation != ''".into(), allow_tags_regexes: vec![], ..sub };
    assert_eq!(tags(&git_discover(cache.path(), &annotated_only)), ["v2.0.0", "v1.10.0"]);
}

#[test]
fn an_unchanged_remote_is_not_fetched_and_one_sync_serves_a_round() {
    let root = tempfile::tempdir().unwrap();
    let app = Repo::create(root.path(), "app");
    app.commit("a", "1", "one");
    let cache = tempfile::tempdir().unwrap();
    let url = app.url();
    let (_, first) = sync_mirror(cache.path(), &url, Instant::now(), no_credentials, &git_budget()).unwrap();
    assert_eq!(first, Sync::Fetched);
    let round = Instant::now();
    let (_, second) = sync_mirror(cache.path(), &url, round, no_credentials, &git_budget()).unwrap();
    assert_eq!(second, Sync::Unchanged, "ls-remote matched the mirror");
    let (_, third) = sync_mirror(cache.path(), &url, round, no_credentials, &git_budget()).unwrap();
    assert_eq!(third, Sync::Shared, "synced since this round began");
    let two = app.commit("a", "2", "two");
    let (repo, fourth) = sync_mirror(cache.path(), &url, Instant::now(), no_credentials, &git_budget()).unwrap();
    assert_eq!(fourth, Sync::Fetched);
    // A repository on this machine is read directly: the new commit was copied into the
    // mirror as a loose object, not fetched as a pack.
    let mirror = lading_warehouse::git_subscription::mirror_dir(cache.path(), &url);
    assert!(mirror.join("objects").join(&two[..2]).join(&two[2..]).is_file(), "commit {two} copied loose");
    let found = discover(&repo, &GitSubscription { repo_url: url, ..Default::default() }, &ExpressionLimits::default())
        .unwrap();
    assert_eq!(subjects(&found)[0], "two");
}

#[test]
fn a_branch_renamed_into_a_directory_of_its_old_name_reaches_the_mirror_of_a_local_repository() {
    // Given a mirror of a local repository with a branch `release`,
    let root = tempfile::tempdir().unwrap();
    let app = Repo::create(root.path(), "app");
    app.commit("a", "1", "one");
    app.branch("release");
    let cache = tempfile::tempdir().unwrap();
    let url = app.url();
    sync_mirror(cache.path(), &url, Instant::now(), no_credentials, &git_budget()).unwrap();
    // when the branch becomes `release/1.0` and a commit lands on main,
    let bare = url.strip_prefix("file://").unwrap();
    let renamed = std::process::Command::new("git")
        .args(["-C", bare, "branch", "-m", "release", "release/1.0"])
        .status()
        .unwrap();
    assert!(renamed.success());
    let two = app.commit("a", "2", "two");
    let (repo, synced) = sync_mirror(cache.path(), &url, Instant::now(), no_credentials, &git_budget()).unwrap();
    // then the mirror holds the new name and not the old, and the new commit, copied.
    assert_eq!(synced, Sync::Fetched);
    assert!(repo.find_reference("refs/heads/release/1.0").is_ok());
    assert!(repo.find_reference("refs/heads/release").is_err());
    assert_eq!(repo.refname_to_id("refs/heads/main").unwrap().to_string(), two);
}

#[test]
fn a_mirror_fetched_many_times_keeps_a_bounded_number_of_packs_and_discovers_from_them() {
    use lading_remote::packs::MAX_PACKS;
    let root = tempfile::tempdir().unwrap();
    let app = Repo::create(root.path(), "app");
    let cache = tempfile::tempdir().unwrap();
    // Over HTTP: a repository on this machine would be copied from directly, without packs.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let base = runtime.block_on(lading_tests::git_http::serve(root.path(), "bot", "token"));
    let url = format!("{base}/app.git");
    let credentials = Credentials::parse(&format!("- {{repoURL: '{base}', username: bot, password: token}}")).unwrap();
    let no_credentials = || lading_warehouse::discover::git_callbacks(&credentials, &url);
    let pack_dir = lading_warehouse::git_subscription::mirror_dir(cache.path(), &url).join("objects/pack");
    let packs = || {
        let listed = std::fs::read_dir(&pack_dir).unwrap().flatten();
        listed.filter(|p| p.path().extension().is_some_and(|e| e == "pack")).count()
    };
    // Each sync that finds a new commit fetches it: one pack each, merged past the limit.
    let mut most = 0;
    for i in 0..MAX_PACKS + 8 {
        app.commit("a.txt", &i.to_string(), &format!("c{i}"));
        let (repo, synced) = sync_mirror(cache.path(), &url, Instant::now(), no_credentials, &git_budget()).unwrap();
        assert_eq!(synced, Sync::Fetched);
        most = most.max(packs());
        // The handle that fetched reads what the merged pack holds.
        let sub = GitSubscription { repo_url: url.clone(), discovery_limit: Some(100), ..Default::default() };
        let found = discover(&repo, &sub, &ExpressionLimits::default()).unwrap();
        assert_eq!(found.commits.len(), i + 1);
        assert_eq!(subjects(&found)[0], format!("c{i}"));
    }
    assert!(most <= MAX_PACKS, "{most} packs");
}

fn registries() -> Registries {
    Registries::new(Credentials::default(), 1000, RegistryLimits::default())
}

fn image(registry: &TestRegistry, repo: &str) -> ImageSubscription {
    ImageSubscription { repo_url: format!("{}/{repo}", registry.addr), ..Default::default() }
}

fn image_tags(found: &lading_events::catalog::ImageDiscoveryResultV1) -> Vec<&str> {
    found.references.iter().map(|r| r.tag.as_str()).collect()
}

#[test]
fn images_by_semver_lexical_and_newest_build_with_their_digests() {
    let registry = TestRegistry::start();
    let mut digests = std::collections::HashMap::new();
    for (tag, created) in [
        ("1.9.0", "2026-01-05T00:00:00Z"),
        ("1.10.0", "2026-01-02T00:00:00Z"),
        ("2.0.0-rc.1", "2026-01-03T00:00:00Z"),
        ("latest", "2026-01-04T00:00:00Z"),
        ("v1.2", "2026-01-01T00:00:00Z"),
    ] {
        digests.insert(tag, registry.push("team/app", tag, "linux/amd64", created));
    }
    let registries = registries();
    let semver = image_subscription::discover(&registries, &image(&registry, "team/app"), Instant::now()).unwrap();
    assert_eq!(image_tags(&semver), ["2.0.0-rc.1", "1.10.0", "1.9.0"], "strict semver, numeric order");
    assert!(semver.references.iter().all(|r| r.digest == digests[r.tag.as_str()]), "each with its digest");
    let constrained =
        ImageSubscription { constraint: "^1".into(), strict_semvers: false, ..image(&registry, "team/app") };
    let found = image_subscription::discover(&registries, &constrained, Instant::now()).unwrap();
    assert_eq!(image_tags(&found), ["1.10.0", "1.9.0", "v1.2"]);
    let lexical = ImageSubscription {
        image_selection_strategy: ImageSelectionStrategy::Lexical,
        ignore_tags_regexes: vec!["^latest$".into()],
        ..image(&registry, "team/app")
    };
    let found = image_subscription::discover(&registries, &lexical, Instant::now()).unwrap();
    assert_eq!(image_tags(&found), ["v1.2", "2.0.0-rc.1", "1.9.0", "1.10.0"]);
    let newest_build = ImageSubscription {
        image_selection_strategy: ImageSelectionStrategy::NewestBuild,
        discovery_limit: Some(2),
        ..image(&registry, "team/app")
    };
    let found = image_subscription::discover(&registries, &newest_build, Instant::now()).unwrap();
    assert_eq!(image_tags(&found), ["1.9.0", "latest"], "by the config's created time");
    assert_eq!(found.references[0].created_at_ms, chrono_ms("2026-01-05T00:00:00Z"));
}

#[test]
fn a_platform_picks_its_image_from_an_index() {
    let registry = TestRegistry::start();
    let (index, per_platform) =
        registry.push_index("multi", "1.0.0", &["linux/amd64", "linux/arm64"], "2026-01-01T00:00:00Z");
    registry.push("multi", "1.1.0", "linux/amd64", "2026-01-02T00:00:00Z");
    let registries = registries();
    let any = image_subscription::discover(&registries, &image(&registry, "multi"), Instant::now()).unwrap();
    assert_eq!(image_tags(&any), ["1.1.0", "1.0.0"]);
    assert_eq!(any.references[1].digest, index, "without a platform, the index itself");
    let arm = ImageSubscription { platform: "linux/arm64".into(), ..image(&registry, "multi") };
    let found = image_subscription::discover(&registries, &arm, Instant::now()).unwrap();
    assert_eq!(image_tags(&found), ["1.0.0"], "1.1.0 has no arm64 image");
    assert_eq!(found.references[0].digest, per_platform[1]);
    assert_eq!(found.platform, "linux/arm64");
}

#[test]
fn the_digest_strategy_follows_a_mutable_tag() {
    let registry = TestRegistry::start();
    let first = registry.push("app", "stable", "linux/amd64", "2026-01-01T00:00:00Z");
    let registries = registries();
    let sub = ImageSubscription {
        image_selection_strategy: ImageSelectionStrategy::Digest,
        constraint: "stable".into(),
        ..image(&registry, "app")
    };
    let found = image_subscription::discover(&registries, &sub, Instant::now()).unwrap();
    assert_eq!((found.references[0].tag.as_str(), found.references[0].digest.as_str()), ("stable", first.as_str()));
    let second = registry.push("app", "stable", "linux/amd64", "2026-01-02T00:00:00Z");
    assert_ne!(first, second);
    let found = image_subscription::discover(&registries, &sub, Instant::now()).unwrap();
    assert_eq!(found.references[0].digest, second, "re-pushed tag, new digest");
}

#[test]
fn cache_by_tag_keeps_what_a_tag_pointed_at_and_asks_only_for_the_tag_list() {
    // Kargo's cacheByTag: faster, and stale by design when a tag is overwritten.
    let registry = TestRegistry::start();
    let first = registry.push("app", "1.0.0", "linux/amd64", "2026-01-01T00:00:00Z");
    let registries = registries();
    let cached = ImageSubscription { cache_by_tag: true, ..image(&registry, "app") };
    let found = image_subscription::discover(&registries, &cached, Instant::now()).unwrap();
    assert_eq!(found.references[0].digest, first);
    let after_first = registries.counts().requests;
    let second = registry.push("app", "1.0.0", "linux/amd64", "2026-01-02T00:00:00Z");
    let found = image_subscription::discover(&registries, &cached, Instant::now()).unwrap();
    assert_eq!(found.references[0].digest, first, "the tag's digest is not asked again");
    assert_eq!(registries.counts().requests, after_first + 1, "only the tag list");
    // Without it, a new round asks what the tag points at now.
    let found = image_subscription::discover(&registries, &image(&registry, "app"), Instant::now()).unwrap();
    assert_eq!(found.references[0].digest, second);
}

#[test]
fn answers_fetched_since_a_round_began_are_reused() {
    let registry = TestRegistry::start();
    for tag in ["1.0.0", "1.1.0"] {
        registry.push("app", tag, "linux/amd64", "2026-01-01T00:00:00Z");
    }
    let registries = registries();
    let round = Instant::now();
    image_subscription::discover(&registries, &image(&registry, "app"), round).unwrap();
    let after_first = registries.counts().requests;
    assert_eq!(after_first, 3, "one tag list and a HEAD per tag");
    image_subscription::discover(&registries, &image(&registry, "app"), round).unwrap();
    assert_eq!(registries.counts().requests, after_first, "a second warehouse in the same round asks nothing");
    image_subscription::discover(&registries, &image(&registry, "app"), Instant::now()).unwrap();
    assert_eq!(registries.counts().requests, after_first * 2, "a new round asks again");
}

#[test]
fn a_missing_repository_is_a_clear_error() {
    let registry = TestRegistry::start();
    let error = image_subscription::discover(&registries(), &image(&registry, "nope"), Instant::now()).unwrap_err();
    assert_eq!(error, format!("repository {}/nope not found", registry.addr));
}

#[test]
fn oci_charts_list_their_versions() {
    let registry = TestRegistry::start();
    for tag in ["0.9.0", "1.0.0", "1.1.0_build.7", "2.0.0"] {
        registry.push("charts/app", tag, "linux/amd64", "2026-01-01T00:00:00Z");
    }
    let sub = ChartSubscription {
        repo_url: format!("oci://{}/charts/app", registry.addr),
        semver_constraint: "^1".into(),
        ..Default::default()
    };
    let found = chart_subscription::discover(&registries(), &sub, Instant::now()).unwrap();
    assert_eq!(found.versions, ["1.1.0+build.7", "1.0.0"], "_ in a tag stands for +");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_tokens_link_pages_and_retry_after_are_handled() {
    use std::sync::atomic::Ordering::SeqCst;
    let registry = TestRegistry::start();
    for tag in ["1.0.0", "1.1.0", "1.2.0", "2.0.0", "nightly"] {
        registry.push("team/app", tag, "linux/amd64", "2026-01-01T00:00:00Z");
    }
    let gateway = lading_tests::registry::RegistryGateway::start(&registry, "robot", "s3cret").await;
    let sub = ImageSubscription {
        repo_url: format!("localhost:{}/team/app", gateway.addr.rsplit(':').next().unwrap()),
        ..Default::default()
    };
    let anonymous = sub.clone();
    let error =
        tokio::task::spawn_blocking(move || image_subscription::discover(&registries(), &anonymous, Instant::now()))
            .await
            .unwrap()
            .unwrap_err();
    assert_eq!(error, "the registry's token service answered 401");
    let credentials = Credentials::parse(&format!(
        "- type: image\n  repoURL: localhost:{}/team\n  username: robot\n  password: s3cret\n",
        gateway.addr.rsplit(':').next().unwrap()
    ))
    .unwrap();
    let registries = Registries::new(credentials, 1000, RegistryLimits::default());
    let found = tokio::task::spawn_blocking(move || {
        let found = image_subscription::discover(&registries, &sub, Instant::now());
        (found, registries.counts())
    })
    .await
    .unwrap();
    let (found, counts) = (found.0.unwrap(), found.1);
    assert_eq!(image_tags(&found), ["2.0.0", "1.2.0", "1.1.0", "1.0.0"]);
    assert_eq!(gateway.stats.pages.load(SeqCst), 3, "five tags, two per page");
    assert_eq!(counts.waits, 1, "one 429 waited out");
    assert!(gateway.stats.tokens_issued.load(SeqCst) >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_chart_repositories_are_revalidated_with_etags() {
    let repo = lading_tests::chart_repo::ChartRepo::start(&[
        ("app", &["1.0.0", "1.2.0", "2.0.0-beta.1", "1.10.0"]),
        ("other", &["9.0.0"]),
    ])
    .await;
    let registries = std::sync::Arc::new(registries());
    let sub = ChartSubscription { repo_url: repo.url.clone(), name: "app".into(), ..Default::default() };
    let discover = |sub: ChartSubscription| {
        let registries = registries.clone();
        tokio::task::spawn_blocking(move || chart_subscription::discover(&registries, &sub, Instant::now()))
    };
    let found = discover(sub.clone()).await.unwrap().unwrap();
    assert_eq!(found.versions, ["2.0.0-beta.1", "1.10.0", "1.2.0", "1.0.0"]);
    let found = discover(ChartSubscription { semver_constraint: "~1.2".into(), ..sub.clone() }).await.unwrap().unwrap();
    assert_eq!(found.versions, ["1.2.0"]);
    assert_eq!(repo.answers(), (1, 1), "the second read was a 304");
    repo.publish(&[("app", &["1.0.0", "1.3.0"])]);
    let found = discover(sub.clone()).await.unwrap().unwrap();
    assert_eq!(found.versions, ["1.3.0", "1.0.0"]);
    assert_eq!(repo.answers(), (2, 1));
    let missing = discover(ChartSubscription { name: "nope".into(), ..sub }).await.unwrap().unwrap_err();
    assert_eq!(missing, format!("chart \"nope\" is not in {}", repo.url));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_certificate_nothing_trusts_is_refused_unless_the_subscription_skips_the_check() {
    let root = tempfile::tempdir().unwrap();
    let app = Repo::create(root.path(), "app");
    app.commit("a", "1", "one");
    let base = lading_tests::git_http::serve_tls(root.path(), "bot", "s3cret-token").await;
    let url = format!("{base}/app.git");
    let credentials =
        Credentials::parse(&format!("- {{repoURL: '{base}', username: bot, password: s3cret-token}}")).unwrap();
    let sync = |insecure_skip_tls_verify: bool| {
        let (url, credentials) = (url.clone(), credentials.clone());
        tokio::task::spawn_blocking(move || {
            let cache = tempfile::tempdir().unwrap();
            let sub = GitSubscription { repo_url: url.clone(), insecure_skip_tls_verify, ..Default::default() };
            let callbacks = || lading_warehouse::discover::subscription_callbacks(&credentials, &sub);
            sync_mirror(cache.path(), &url, Instant::now(), callbacks, &git_budget())
                .and_then(|(repo, _)| discover(&repo, &sub, &ExpressionLimits::default()))
        })
    };
    let refused = sync(false).await.unwrap().unwrap_err();
    assert!(refused.to_lowercase().contains("certificate"), "{refused}");
    let found = sync(true).await.unwrap().unwrap();
    assert_eq!(subjects(&found), ["one"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_over_authenticated_http_uses_configured_credentials() {
    let root = tempfile::tempdir().unwrap();
    let app = Repo::create(root.path(), "app");
    app.commit("a", "1", "one");
    let base = lading_tests::git_http::serve(root.path(), "bot", "s3cret-token").await;
    let url = format!("{base}/app.git");
    let sync = |credentials: Credentials| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            let cache = tempfile::tempdir().unwrap();
            let callbacks = || lading_warehouse::discover::git_callbacks(&credentials, &url);
            sync_mirror(cache.path(), &url, Instant::now(), callbacks, &git_budget()).and_then(|(repo, _)| {
                let sub = GitSubscription { repo_url: url.clone(), ..Default::default() };
                discover(&repo, &sub, &ExpressionLimits::default())
            })
        })
    };
    let refused = sync(Credentials::default()).await.unwrap().unwrap_err();
    assert!(refused.contains("none are configured"), "{refused}");
    let wrong = Credentials::parse(&format!("- {{repoURL: '{base}', username: bot, password: nope}}")).unwrap();
    let refused = sync(wrong).await.unwrap().unwrap_err();
    assert!(refused.contains("refused the configured credentials") && !refused.contains("nope"), "{refused}");
    let right = Credentials::parse(&format!("- {{repoURL: '{base}', username: bot, password: s3cret-token}}")).unwrap();
    let found = sync(right).await.unwrap().unwrap();
    assert_eq!(subjects(&found), ["one"]);
}
