//! Discovery against hostile sources: a registry front whose `Link` loops, whose tag
//! list drips, stalls or is huge, whose digests lie; a chart index that is an alias bomb
//! or huge; a Git remote that accepts and never answers. Each fails cleanly, with an
//! error naming the source and the limit, within the (short) budgets set here.

use std::time::{Duration, Instant};

use lading_domain::credentials::Credentials;
use lading_domain::limits::{Limit, Timeouts};
use lading_domain::spec::{ChartSubscription, GitSubscription, ImageSelectionStrategy, ImageSubscription};
use lading_remote::GitBudget;
use lading_tests::git::Repo;
use lading_tests::hostile::{Attack, EVIL_DIGEST, HostileChartRepo, HostileRegistry, Tarpit};
use lading_tests::registry::TestRegistry;
use lading_warehouse::config::{
    CHART_INDEX_MAX_ENV, GIT_CONNECT_TIMEOUT_ENV, GIT_IDLE_TIMEOUT_ENV, GIT_MAX_TRANSFER_ENV, GIT_TIMEOUT_ENV,
    HTTP_CONNECT_TIMEOUT_ENV, HTTP_IDLE_TIMEOUT_ENV, HTTP_TIMEOUT_ENV, REGISTRY_MAX_MANIFEST_ENV,
    REGISTRY_MAX_TAG_LIST_ENV, REGISTRY_MAX_TAG_PAGES_ENV,
};
use lading_warehouse::git_subscription::sync_mirror;
use lading_warehouse::registry::{Registries, RegistryLimits};
use lading_warehouse::{chart_subscription, image_subscription};

fn seconds(value: u64, setting: &'static str) -> Limit<Duration> {
    Limit::new(Duration::from_secs(value), setting)
}

/// Short budgets, so attacks end within seconds.
fn limits() -> RegistryLimits {
    RegistryLimits {
        timeouts: Timeouts {
            connect: seconds(1, HTTP_CONNECT_TIMEOUT_ENV),
            idle: seconds(1, HTTP_IDLE_TIMEOUT_ENV),
            total: seconds(3, HTTP_TIMEOUT_ENV),
        },
        max_tag_list: Limit::new(1 << 20, REGISTRY_MAX_TAG_LIST_ENV),
        max_tag_pages: Limit::new(50, REGISTRY_MAX_TAG_PAGES_ENV),
        max_manifest: Limit::new(1 << 20, REGISTRY_MAX_MANIFEST_ENV),
        max_chart_index: Limit::new(8 << 20, CHART_INDEX_MAX_ENV),
    }
}

fn git_budget() -> GitBudget {
    GitBudget {
        timeouts: Timeouts {
            connect: seconds(1, GIT_CONNECT_TIMEOUT_ENV),
            idle: seconds(1, GIT_IDLE_TIMEOUT_ENV),
            total: seconds(5, GIT_TIMEOUT_ENV),
        },
        max_transfer: Limit::new(64 << 20, GIT_MAX_TRANSFER_ENV),
    }
}

/// Discovers `sub` from a fresh client; returns the error and how long it took.
async fn discover_image(sub: ImageSubscription) -> (Result<Vec<String>, String>, Duration) {
    tokio::task::spawn_blocking(move || {
        let registries = Registries::new(Credentials::default(), 1000, limits());
        let started = Instant::now();
        let found = image_subscription::discover(&registries, &sub, Instant::now());
        (found.map(|f| f.references.into_iter().map(|r| r.digest).collect()), started.elapsed())
    })
    .await
    .unwrap()
}

async fn hostile(attack: Attack) -> (TestRegistry, HostileRegistry, ImageSubscription) {
    let registry = tokio::task::spawn_blocking(|| {
        let registry = TestRegistry::start();
        registry.push("app", "1.0.0", "linux/amd64", "2026-01-01T00:00:00Z");
        registry
    })
    .await
    .unwrap();
    let front = HostileRegistry::start(&registry, attack).await;
    let sub = ImageSubscription { repo_url: format!("{}/app", front.addr), ..Default::default() };
    (registry, front, sub)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_header_that_loops_ends_paging_with_an_error() {
    let (_registry, front, sub) = hostile(Attack::LinkLoop).await;
    let (found, took) = discover_image(sub).await;
    let error = found.unwrap_err();
    assert_eq!(
        error,
        format!(
            "listing tags of {0}/app: its Link header leads back to a page already read (http://{0}/v2/app/tags/list?n=1000)",
            front.addr
        )
    );
    assert_eq!(front.requests(), 1, "the loop is seen on the first page");
    eprintln!("Link loop: refused after {} request(s) in {took:?}", front.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_that_repeat_or_never_end_stop_with_an_error() {
    let (_registry, front, sub) = hostile(Attack::LinkRepeats).await;
    let error = discover_image(sub).await.0.unwrap_err();
    assert!(error.ends_with("its page 2 repeats earlier pages and still links to another"), "{error}");
    assert_eq!(front.requests(), 2);

    let (_registry, front, sub) = hostile(Attack::EndlessPages).await;
    let (found, took) = discover_image(sub).await;
    let error = found.unwrap_err();
    assert!(error.ends_with("it has more pages than 50 (LADING_REGISTRY_MAX_TAG_PAGES)"), "{error}");
    assert_eq!(front.requests(), 50, "no page past the cap is asked for");
    eprintln!("endless pages: refused after {} requests in {took:?}", front.requests());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dripped_tag_list_runs_into_the_total_timeout() {
    let (_registry, front, sub) = hostile(Attack::Drip).await;
    let (found, took) = discover_image(sub).await;
    assert_eq!(
        found.unwrap_err(),
        format!("GET http://{}/v2/app/tags/list: not finished within 3s (LADING_HTTP_TIMEOUT)", front.addr)
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    eprintln!("dripped tag list: refused in {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_tag_list_runs_into_the_idle_timeout() {
    let (_registry, front, sub) = hostile(Attack::Stall).await;
    let (found, took) = discover_image(sub).await;
    assert_eq!(
        found.unwrap_err(),
        format!("GET http://{}/v2/app/tags/list: no data for 1s (LADING_HTTP_IDLE_TIMEOUT)", front.addr)
    );
    assert!(took < Duration::from_secs(3), "{took:?}");
    eprintln!("stalled tag list: refused in {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_tag_list_is_refused_at_its_limit_without_being_read() {
    let (_registry, front, sub) = hostile(Attack::HugeTagList).await;
    let (found, took) = discover_image(sub).await;
    assert_eq!(
        found.unwrap_err(),
        format!(
            "GET http://{}/v2/app/tags/list: the answer is larger than 1 MiB (LADING_REGISTRY_MAX_TAG_LIST_BYTES)",
            front.addr
        )
    );
    assert!(took < Duration::from_secs(3), "{took:?}");
    eprintln!("256 MiB tag list: refused in {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_that_is_no_digest_never_reaches_freight() {
    let (_registry, front, sub) = hostile(Attack::MalformedDigest).await;
    let error = discover_image(sub).await.0.unwrap_err();
    assert!(error.starts_with(&format!("{}/app:1.0.0: \"sha256:../../evil", front.addr)), "{error}");
    assert!(error.ends_with("is not a digest like sha256:<64 lowercase hex>"), "{error}");
    assert!(!error.contains(EVIL_DIGEST), "quoted escaped: {error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_that_does_not_match_its_digest_is_refused() {
    let (_registry, front, sub) = hostile(Attack::TamperedManifest).await;
    let newest_build = ImageSubscription { image_selection_strategy: ImageSelectionStrategy::NewestBuild, ..sub };
    let error = discover_image(newest_build).await.0.unwrap_err();
    assert!(error.starts_with(&format!("{}/app@sha256:", front.addr)), "{error}");
    assert!(error.contains(": the content does not match its digest sha256:"), "{error}");
}

async fn discover_chart(repo_url: String) -> (Result<Vec<String>, String>, Duration) {
    tokio::task::spawn_blocking(move || {
        let registries = Registries::new(Credentials::default(), 1000, limits());
        let sub = ChartSubscription { repo_url, name: "app".into(), ..Default::default() };
        let started = Instant::now();
        (chart_subscription::discover(&registries, &sub, Instant::now()).map(|f| f.versions), started.elapsed())
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chart_index_bombs_and_huge_indexes_are_refused() {
    let repo = HostileChartRepo::start().await;
    let (bomb, took) = discover_chart(format!("{}/bomb", repo.base)).await;
    let error = bomb.unwrap_err();
    assert!(error.starts_with(&format!("{}/bomb/index.yaml: not a chart repository index: ", repo.base)), "{error}");
    assert!(error.contains("alias replay limit exceeded"), "{error}");
    eprintln!("index.yaml alias bomb: refused in {took:?}");
    let (huge, took) = discover_chart(format!("{}/huge", repo.base)).await;
    assert_eq!(
        huge.unwrap_err(),
        format!("GET {}/huge/index.yaml: the answer is larger than 8 MiB (LADING_CHART_INDEX_MAX_BYTES)", repo.base)
    );
    eprintln!("256 MiB index.yaml: refused in {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_git_remote_that_never_answers_fails_discovery_at_the_idle_timeout() {
    let tarpit = Tarpit::start().await;
    for url in [format!("http://{}/app.git", tarpit.addr), format!("git://{}/app.git", tarpit.addr)] {
        let (result, took) = tokio::task::spawn_blocking({
            let url = url.clone();
            move || {
                let cache = tempfile::tempdir().unwrap();
                let started = Instant::now();
                let synced = sync_mirror(cache.path(), &url, Instant::now(), git2::RemoteCallbacks::new, &git_budget());
                (synced.map(|_| ()), started.elapsed())
            }
        })
        .await
        .unwrap();
        assert_eq!(result.unwrap_err(), format!("fetching {url}: no data for 1s (LADING_GIT_IDLE_TIMEOUT)"));
        assert!(took < Duration::from_secs(4), "{took:?}");
        eprintln!("Git tarpit ({url}): refused in {took:?}");
    }
    assert!(tarpit.accepted() >= 2, "the tarpit took the connections");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_git_fetch_past_its_size_budget_or_deadline_is_stopped() {
    let root = tempfile::tempdir().unwrap();
    let app = Repo::create(root.path(), "app");
    let noise: String = (0..400_000u32).map(|i| format!("{:08x}", i.wrapping_mul(2_654_435_761))).collect();
    app.commit("blob.txt", &noise, "a large file that does not compress");
    let base = lading_tests::git_http::serve(root.path(), "bot", "token").await;
    let url = format!("{base}/app.git");
    let credentials = Credentials::parse(&format!("- {{repoURL: '{base}', username: bot, password: token}}")).unwrap();
    let sync = |budget: GitBudget| {
        let (url, credentials) = (url.clone(), credentials.clone());
        tokio::task::spawn_blocking(move || {
            let cache = tempfile::tempdir().unwrap();
            let callbacks = || lading_warehouse::discover::git_callbacks(&credentials, &url);
            sync_mirror(cache.path(), &url, Instant::now(), callbacks, &budget).map(|_| ())
        })
    };
    // (Only the size is short here: a loaded machine may leave the server silent for a
    // second, which is the idle timeout's business, not this test's.)
    let generous = Timeouts {
        connect: seconds(30, GIT_CONNECT_TIMEOUT_ENV),
        idle: seconds(30, GIT_IDLE_TIMEOUT_ENV),
        total: seconds(120, GIT_TIMEOUT_ENV),
    };
    let small = GitBudget { max_transfer: Limit::new(256 << 10, GIT_MAX_TRANSFER_ENV), timeouts: generous };
    assert_eq!(
        sync(small).await.unwrap().unwrap_err(),
        format!("fetching {url}: the answer is larger than 256 KiB (LADING_GIT_MAX_TRANSFER_BYTES)")
    );
    let mut hurried = git_budget();
    hurried.timeouts.total = Limit::new(Duration::from_millis(1), GIT_TIMEOUT_ENV);
    assert_eq!(
        sync(hurried).await.unwrap().unwrap_err(),
        format!("fetching {url}: not finished within 1ms (LADING_GIT_TIMEOUT)")
    );
    sync(GitBudget { timeouts: generous, ..git_budget() }).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_git_subscription_to_a_tarpit_names_it_in_the_error() {
    let tarpit = Tarpit::start().await;
    let sub =
        GitSubscription { repo_url: format!("http://bot:s3cret@{}/app.git?x=1", tarpit.addr), ..Default::default() };
    let error = tokio::task::spawn_blocking(move || {
        let cache = tempfile::tempdir().unwrap();
        sync_mirror(cache.path(), &sub.repo_url, Instant::now(), git2::RemoteCallbacks::new, &git_budget()).map(|_| ())
    })
    .await
    .unwrap()
    .unwrap_err();
    assert_eq!(error, format!("fetching http://***@{}/app.git: no data for 1s (LADING_GIT_IDLE_TIMEOUT)", tarpit.addr));
}
