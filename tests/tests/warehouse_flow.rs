//! A warehouse end to end: discovered artifacts in its status, the Manual policy and
//! `lading create freight`'s API, freightCreationCriteria, and discovery failures shown
//! with their reason — against real Git repositories and a real registry.

use std::time::Duration;

use lading_tests::git::Repo;
use lading_tests::registry::TestRegistry;
use lading_tests::sandbox::{Sandbox, SandboxOptions};
use lading_tests::wait;
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(30);

/// Project `demo`.
const PROJECT: &str = "apiVersion: lading.dev/v1alpha1\nkind: Project\nmetadata: {name: demo}\n";

/// A sandbox without promoter, a registry, the Git repository `app` and the image
/// repository `team/app` in that registry (nothing pushed yet).
struct Sources {
    sandbox: Sandbox,
    registry: TestRegistry,
    app: Repo,
    image: String,
}

async fn sources() -> Sources {
    let sandbox = Sandbox::start_without_promoter().await;
    let registry = TestRegistry::start_async().await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let image = format!("{}/team/app", registry.addr);
    Sources { sandbox, registry, app, image }
}

/// A sandbox without promoter whose warehouse has the default budgets as `change` leaves them.
async fn sandbox_with_budgets(change: impl FnOnce(&mut lading_warehouse::config::Budgets)) -> Sandbox {
    let mut budgets = lading_warehouse::config::Budgets::default();
    change(&mut budgets);
    let options = SandboxOptions { with_promoter: false, warehouse_budgets: budgets, ..SandboxOptions::default() };
    Sandbox::start_with_options(options).await
}

/// Warehouse `name` of project `demo`, watching the Git repository `url` hourly.
fn git_warehouse(name: &str, url: &str) -> String {
    format!(
        "apiVersion: lading.dev/v1alpha1\nkind: Warehouse\nmetadata: {{name: {name}, namespace: demo}}\n\
         spec:\n  interval: 1h\n  subscriptions:\n  - git: {{repoURL: '{url}'}}\n"
    )
}

fn manifests(app: &str, image: &str, extra: &str) -> String {
    format!(
        "{PROJECT}---\n\
         apiVersion: lading.dev/v1alpha1\nkind: Warehouse\nmetadata: {{name: app, namespace: demo}}\n\
         spec:\n  interval: 1h\n{extra}  subscriptions:\n\
         \x20 - git: {{repoURL: '{app}', commitSelectionStrategy: NewestTag}}\n\
         \x20 - image: {{repoURL: '{image}', imageSelectionStrategy: SemVer}}\n"
    )
}

async fn warehouse(sandbox: &Sandbox) -> Value {
    let (_, list) = sandbox.get("/api/v1/projects/demo/warehouses").await;
    list["items"][0].clone()
}

async fn discovered(sandbox: &Sandbox, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
    wait::until(what, TIMEOUT, || async {
        let w = warehouse(sandbox).await;
        if ready(&w["status"]) { Ok(w["status"].clone()) } else { Err(w["status"].to_string()) }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn manual_warehouses_show_discoveries_and_take_hand_made_freight() {
    let Sources { sandbox, registry, app, image } = sources().await;
    app.commit_at("v", "1", "one", "2026-01-01T00:00:00Z");
    app.tag("v1.0.0", Some("first"), "2026-01-01T00:00:00Z");
    let digest = {
        let registry = &registry;
        registry.push("team/app", "1.0.0", "linux/amd64", "2026-01-01T00:00:00Z");
        registry.push("team/app", "1.1.0", "linux/amd64", "2026-01-02T00:00:00Z")
    };
    sandbox.apply(&manifests(&app.url(), &image, "  freightCreationPolicy: Manual\n")).await;
    let status = discovered(&sandbox, "discovered artifacts", |s| !s["discoveredArtifacts"].is_null()).await;
    let found = &status["discoveredArtifacts"];
    assert_eq!(found["git"][0]["commits"][0]["tag"], "v1.0.0");
    assert_eq!(found["images"][0]["repoURL"], image.as_str());
    assert_eq!(found["images"][0]["references"][0], json!({"tag": "1.1.0", "digest": digest}));
    assert_eq!(found["images"][0]["references"][1]["tag"], "1.0.0");
    assert!(sandbox.freight("demo").await.is_empty(), "Manual: no freight on its own");

    let (status, body) = sandbox
        .post(
            "/api/v1/projects/demo/freight",
            &json!({"warehouse": "app", "commits": [{"id": "v1.0.0"}], "images": [{"tag": "9.9.9"}]}).to_string(),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str().unwrap()),
        (400, format!("images: tag \"9.9.9\" was not discovered in {image}").as_str())
    );
    let request = json!({"warehouse": "app", "commits": [{"id": "v1.0.0"}], "images": [{"tag": "1.0.0"}]}).to_string();
    let (status, created) = sandbox.post("/api/v1/projects/demo/freight", &request).await;
    assert_eq!(status, 201, "{created}");
    let freight = sandbox.wait_for_freight("demo", "hand-made freight", TIMEOUT).await;
    assert_eq!(freight["metadata"]["name"], created["name"]);
    assert_eq!(freight["images"][0]["tag"], "1.0.0");
    assert_eq!(freight["commits"][0]["tag"], "v1.0.0");
    assert_eq!(sandbox.freight("demo").await.len(), 1, "the warehouse made none itself");
    let (again, _) = sandbox.post("/api/v1/projects/demo/freight", &request).await;
    assert_eq!(again, 200, "the same freight is not made twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn creation_criteria_hold_back_freight_until_they_are_met() {
    let Sources { sandbox, registry, app, image } = sources().await;
    app.commit_at("v", "1", "one", "2026-01-01T00:00:00Z");
    app.tag("v1.0.0", None, "2026-01-01T00:00:00Z");
    registry.push("team/app", "1.1.0", "linux/amd64", "2026-01-02T00:00:00Z");
    let criteria = format!(
        "  freightCreationCriteria:\n    expression: \"'v' + imageFrom('{image}').Tag == commitFrom('{}').Tag\"\n",
        app.url()
    );
    sandbox.apply(&manifests(&app.url(), &image, &criteria)).await;
    discovered(&sandbox, "discovered artifacts", |s| !s["discoveredArtifacts"].is_null()).await;
    assert!(sandbox.freight("demo").await.is_empty(), "v1.0.0 and 1.1.0 do not match");
    app.commit_at("v", "2", "two", "2026-01-02T00:00:00Z");
    app.tag("v1.1.0", None, "2026-01-02T00:00:00Z");
    sandbox.refresh("demo", "app").await;
    let freight = sandbox.wait_for_freight("demo", "freight once the criteria hold", TIMEOUT).await;
    assert_eq!(
        (freight["commits"][0]["tag"].as_str(), freight["images"][0]["tag"].as_str()),
        (Some("v1.1.0"), Some("1.1.0"))
    );
    assert_eq!(sandbox.freight("demo").await.len(), 1, "none was made while the criteria did not hold");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_discovery_is_shown_with_its_reason_and_cleared_by_the_next_success() {
    let Sources { sandbox, registry, app, image } = sources().await;
    app.commit("v", "1", "one");
    app.tag("v1.0.0", None, "2026-01-01T00:00:00Z");
    sandbox.apply(&manifests(&app.url(), &image, "")).await;
    let status = discovered(&sandbox, "a discovery error", |s| !s["lastDiscoveryError"].is_null()).await;
    assert_eq!(
        status["lastDiscoveryError"]["message"],
        format!("subscriptions[1] (image {image}): repository {image} not found")
    );
    registry.push("team/app", "1.0.0", "linux/amd64", "2026-01-01T00:00:00Z");
    sandbox.refresh("demo", "app").await;
    let status = discovered(&sandbox, "the error cleared", |s| s["lastDiscoveryError"].is_null()).await;
    assert_eq!(status["discoveredArtifacts"]["images"][0]["references"][0]["tag"], "1.0.0");
    sandbox.wait_for_freight("demo", "freight", TIMEOUT).await;
}

/// The freight of `warehouse` in the `demo` project.
async fn freight_of(sandbox: &Sandbox, warehouse: &str) -> Vec<Value> {
    let all = sandbox.freight("demo").await;
    all.into_iter().filter(|f| f["origin"]["name"] == warehouse).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hung_source_fails_its_warehouse_while_another_keeps_producing_freight() {
    use lading_domain::limits::Limit;
    use lading_tests::hostile::Tarpit;
    use lading_warehouse::config::GIT_IDLE_TIMEOUT_ENV;

    const IDLE: Duration = Duration::from_secs(5);
    let tarpit = Tarpit::start().await;
    let sandbox =
        sandbox_with_budgets(|budgets| budgets.git.timeouts.idle = Limit::new(IDLE, GIT_IDLE_TIMEOUT_ENV)).await;
    let good = Repo::create(sandbox.dir.path(), "good");
    good.commit("v", "1", "one");
    // `broken` comes first in every round, so its discovery starts first.
    let hung_url = format!("http://{}/app.git", tarpit.addr);
    sandbox
        .apply(&format!(
            "{PROJECT}---\n{}---\n{}",
            git_warehouse("broken", &hung_url),
            git_warehouse("web", &good.url())
        ))
        .await;
    wait::until("the hung warehouse to reach the tarpit", TIMEOUT, || async {
        if tarpit.accepted() > 0 { Ok(()) } else { Err("no connection yet".into()) }
    })
    .await;
    let attack = std::time::Instant::now();
    wait::until("the good warehouse's first freight", TIMEOUT, || async {
        let found = freight_of(&sandbox, "web").await.len();
        if found == 1 { Ok(()) } else { Err(format!("{found} freight")) }
    })
    .await;
    let mut during = Vec::new();
    for version in 2..=3 {
        good.commit("v", &version.to_string(), &format!("version {version}"));
        let asked = std::time::Instant::now();
        sandbox.refresh("demo", "web").await;
        wait::until("the good warehouse's next freight", TIMEOUT, || async {
            let found = freight_of(&sandbox, "web").await.len();
            if found == version { Ok(()) } else { Err(format!("{found} freight")) }
        })
        .await;
        during.push(asked.elapsed());
    }
    assert!(attack.elapsed() < IDLE, "the good warehouse made freight while the hung one waited: {during:?}");
    eprintln!("good warehouse: freight 2 and 3 discovered in {during:?} while the other hung");
    let hung = wait::until("the hung warehouse's error", TIMEOUT, || async {
        let (_, list) = sandbox.get("/api/v1/projects/demo/warehouses").await;
        let items = list["items"].as_array().cloned().unwrap_or_default();
        let hung = items.into_iter().find(|w| w["metadata"]["name"] == "broken").unwrap_or_default();
        if hung["status"]["lastDiscoveryError"].is_null() { Err(hung.to_string()) } else { Ok(hung) }
    })
    .await;
    assert_eq!(
        hung["status"]["lastDiscoveryError"]["message"],
        format!("subscriptions[0] (git {hung_url}): fetching {hung_url}: no data for 5s (LADING_GIT_IDLE_TIMEOUT)")
    );
    eprintln!("hung warehouse: error recorded {:?} after the attack began", attack.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_discovery_past_its_deadline_is_abandoned_with_a_clear_error() {
    use lading_domain::limits::Limit;
    use lading_tests::hostile::Tarpit;
    use lading_warehouse::config::{DISCOVERY_TIMEOUT_ENV, GIT_IDLE_TIMEOUT_ENV};

    let tarpit = Tarpit::start().await;
    let sandbox = sandbox_with_budgets(|budgets| {
        budgets.git.timeouts.idle = Limit::new(Duration::from_secs(4), GIT_IDLE_TIMEOUT_ENV);
        budgets.discovery_timeout = Limit::new(Duration::from_secs(1), DISCOVERY_TIMEOUT_ENV);
    })
    .await;
    let url = format!("http://{}/app.git", tarpit.addr);
    sandbox.apply(&format!("{PROJECT}---\n{}", git_warehouse("app", &url))).await;
    let status = discovered(&sandbox, "a discovery error", |s| !s["lastDiscoveryError"].is_null()).await;
    assert_eq!(
        status["lastDiscoveryError"]["message"],
        format!("subscriptions[0] (git {url}): discovery not finished within 1s (LADING_DISCOVERY_TIMEOUT)")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn named_subscriptions_are_recorded_on_discoveries_and_freight_as_kargo_does() {
    let Sources { sandbox, registry, app, image } = sources().await;
    app.commit_at("v", "1", "one", "2026-01-01T00:00:00Z");
    app.tag("v1.0.0", None, "2026-01-01T00:00:00Z");
    registry.push("team/app", "1.0.0", "linux/amd64", "2026-01-01T00:00:00Z");
    registry.push("team/app", "2.0.0", "linux/amd64", "2026-01-02T00:00:00Z");
    // Given two subscriptions of one image repository told apart by name, and an unnamed
    // Git subscription,
    sandbox
        .apply(&format!(
            "{PROJECT}---\n\
             apiVersion: lading.dev/v1alpha1\nkind: Warehouse\nmetadata: {{name: app, namespace: demo}}\n\
             spec:\n  interval: 1h\n  subscriptions:\n\
             \x20 - git: {{repoURL: '{}', commitSelectionStrategy: NewestTag}}\n\
             \x20 - name: stable\n    image: {{repoURL: '{image}', constraint: '^1.0.0'}}\n\
             \x20 - name: canary\n    image: {{repoURL: '{image}'}}\n",
            app.url()
        ))
        .await;
    // when the warehouse discovers and makes freight,
    let freight = sandbox.wait_for_freight("demo", "freight", TIMEOUT).await;
    // then each image names its subscription, the commit none,
    let images = &freight["images"];
    assert_eq!((images[0]["tag"].as_str(), images[0]["subscriptionName"].as_str()), (Some("1.0.0"), Some("stable")));
    assert_eq!((images[1]["tag"].as_str(), images[1]["subscriptionName"].as_str()), (Some("2.0.0"), Some("canary")));
    assert!(freight["commits"][0].get("subscriptionName").is_none(), "{}", freight["commits"][0]);
    // the name is part of the freight's ID (Kargo's canonical form),
    let parsed: lading_domain::Freight = serde_json::from_value(freight.clone()).unwrap();
    let id = lading_domain::freight_id::compute(&parsed).unwrap();
    assert_eq!(freight["metadata"]["name"], id.as_str());
    let mut unnamed = parsed.clone();
    unnamed.images.iter_mut().for_each(|i| i.subscription_name.clear());
    assert_ne!(lading_domain::freight_id::compute(&unnamed).unwrap(), id);
    // and the warehouse's discoveries say which subscription found what.
    let status = discovered(&sandbox, "discovered artifacts", |s| !s["discoveredArtifacts"].is_null()).await;
    let found = &status["discoveredArtifacts"];
    assert_eq!(found["images"][0]["subscriptionName"], "stable");
    assert_eq!(found["images"][1]["subscriptionName"], "canary");
    assert!(found["git"][0].get("subscriptionName").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifacts_whose_record_failed_are_recorded_by_the_next_discovery_that_finds_the_same() {
    use lading_bus::names::DISCOVERY_STREAM;
    use lading_bus::publish::PublishTiming;
    use lading_warehouse::discover::{DiscoveryError, discover};
    let nats = lading_tests::nats::TestNats::start().await;
    // Publishes give up within moments, as they would after a long outage.
    let timing = PublishTiming { ack_timeout: Duration::from_millis(200), first_pause: Duration::from_millis(10) };
    let bus = nats.bus("warehouse").await.with_publish_timing(timing);
    let admin = nats.bus("test").await;
    let shutdown = lading_runtime::Shutdown::new();
    let specs = lading_bus::SpecStore::watch(&bus, shutdown.clone()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let app = Repo::create(dir.path(), "app");
    app.commit("app.txt", "v1", "first");
    let config = lading_warehouse::Config::new(nats.url(), dir.path().join("cache"));
    let context = std::sync::Arc::new(lading_warehouse::Context::new(bus.clone(), specs, config));
    let spec: lading_domain::spec::WarehouseSpec =
        serde_json::from_value(json!({"subscriptions": [{"git": {"repoURL": app.url()}}]})).unwrap();
    let trace = lading_bus::tracing_context::new_root();
    let asked = std::time::Instant::now;
    discover(&context, "demo", "app", &spec, asked(), &trace).await.unwrap();
    // Given a new commit whose discovery could not be recorded (the stream was away),
    let second = app.commit("app.txt", "v2", "second");
    admin.jetstream().delete_stream(DISCOVERY_STREAM).await.unwrap();
    let failed = discover(&context, "demo", "app", &spec, asked(), &trace).await;
    assert!(matches!(failed, Err(DiscoveryError::Bus(_))), "{failed:?}");
    // when the stream is back and the next discovery finds the same,
    admin.provision().await.unwrap();
    discover(&context, "demo", "app", &spec, asked(), &trace).await.unwrap();
    // then that discovery records it.
    let stream = admin.jetstream().get_stream(DISCOVERY_STREAM).await.unwrap();
    let last = stream.get_last_raw_message_by_subject("lading.evt.demo.warehouse.app.artifacts-discovered").await;
    let last = last.expect("the discovered artifacts recorded");
    let ce_type = last.headers.get(lading_events::headers::CE_TYPE).map(|v| v.as_str().to_owned());
    let Ok(lading_events::Event::WarehouseArtifactsDiscovered(found)) =
        lading_events::decode(ce_type.as_deref(), &last.payload)
    else {
        panic!("not discovered artifacts");
    };
    assert_eq!(found.git[0].commits[0].id, second);
    shutdown.cancel();
}
