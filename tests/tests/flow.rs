//! End to end: a commit in a real Git repository becomes freight and is promoted through
//! `test` and `uat` by real commits to a real GitOps repository, over real NATS.

use std::collections::HashSet;
use std::time::Duration;

use lading_tests::git::{LoggedCommit, Repo};
use lading_tests::sandbox::{Sandbox, quickstart};
use lading_tests::wait;
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(60);

fn trailers(log: &[LoggedCommit]) -> Vec<String> {
    log.iter()
        .filter_map(|c| c.message.lines().find_map(|l| l.strip_prefix("Lading-Promotion: ").map(str::to_owned)))
        .collect()
}

async fn stage_promotions(sandbox: &Sandbox, stage: &str) -> Vec<Value> {
    let (_, stages) = sandbox.get("/api/v1/projects/demo/stages").await;
    let stage = stages["items"].as_array().unwrap().iter().find(|s| s["metadata"]["name"] == stage).unwrap().clone();
    stage["status"]["promotions"].as_array().cloned().unwrap_or_default()
}

/// Asserts each stage branch holds exactly one commit per successful promotion, newest
/// first in the order of `commits` (newest last), each naming its promotion once.
async fn assert_one_commit_per_promotion(sandbox: &Sandbox, gitops: &Repo, app_commits: &[&str]) {
    for stage in ["test", "uat"] {
        let log = gitops.log(&format!("stage/{stage}"));
        assert_eq!(log.len(), app_commits.len(), "{stage}: {log:#?}");
        let names = trailers(&log);
        assert_eq!(names.len(), log.len(), "every commit names its promotion");
        assert_eq!(names.iter().collect::<HashSet<_>>().len(), names.len(), "no promotion committed twice");
        let promotions = stage_promotions(sandbox, stage).await;
        assert_eq!(promotions.len(), app_commits.len(), "{stage}: one promotion per freight: {promotions:#?}");
        for p in &promotions {
            assert_eq!(p["status"]["phase"], "Succeeded", "{p}");
            assert!(names.contains(&p["name"].as_str().unwrap().to_owned()), "{p} has no commit");
        }
        // Newest GitOps commit is the newest app commit; they were promoted in order.
        for (gitops_commit, app_commit) in log.iter().zip(app_commits.iter().rev()) {
            assert!(
                gitops_commit.message.contains(app_commit),
                "{stage}: {gitops_commit:?} should promote {app_commit}"
            );
        }
    }
}

async fn run_flow(replicas: usize) {
    let sandbox = Sandbox::start(replicas).await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let first = app.commit("app.txt", "v1", "first feature");
    sandbox.apply(&quickstart(&app.url(), &gitops.url(), "1h")).await;

    sandbox.wait_current_in("demo", &first, "uat", TIMEOUT).await;
    // Verification follows the promotion: wait for it rather than assume it.
    let freight = sandbox.wait_verified_in("demo", &first, "uat", TIMEOUT).await;
    let alias = freight["alias"].as_str().unwrap();
    assert!(lading_domain::alias::looks_like_alias(alias), "{alias}");
    assert_eq!(freight["metadata"]["labels"]["lading.dev/alias"], alias);
    assert_eq!(freight["metadata"]["namespace"], "demo");
    assert_eq!(freight["origin"]["kind"], "Warehouse");
    assert_eq!(freight["commits"][0]["message"], "first feature");
    assert_eq!(freight["commits"][0]["branch"], "main");
    for stage in ["test", "uat"] {
        assert!(freight["status"]["verifiedIn"].get(stage).is_some(), "verified in {stage}: {freight}");
    }
    assert!(gitops.show("stage/uat", "values.yaml").contains(&first));

    // Two more commits, each discovered on its own: two more freight, promoted in order.
    let second = app.commit("app.txt", "v2", "second feature");
    sandbox.refresh("demo", "app").await;
    sandbox.wait_current_in("demo", &second, "test", TIMEOUT).await;
    let third = app.commit("app.txt", "v3", "third feature");
    sandbox.refresh("demo", "app").await;
    sandbox.refresh("demo", "app").await;
    sandbox.wait_current_in("demo", &third, "uat", TIMEOUT).await;
    sandbox.wait_current_in("demo", &third, "test", TIMEOUT).await;

    let all = sandbox.freight("demo").await;
    assert_eq!(all.len(), 3, "one freight per distinct commit: {all:#?}");
    let aliases: HashSet<_> = all.iter().map(|f| f["alias"].as_str().unwrap().to_owned()).collect();
    assert_eq!(aliases.len(), 3, "aliases are unique in a project");
    for f in &all {
        if f["commits"][0]["id"] != third.as_str() {
            assert!(f["status"]["currentlyIn"].as_object().unwrap().is_empty(), "only the newest is current: {f}");
        }
    }
    // Let any straggling duplicate work surface before counting commits.
    let _ = sandbox.wait_current_in("demo", &third, "uat", TIMEOUT).await;
    assert_one_commit_per_promotion(&sandbox, &gitops, &[&first, &second, &third]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn freight_moves_through_test_and_uat_in_order() {
    run_flow(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_of_every_service_create_each_freight_once_and_commit_once_per_promotion() {
    run_flow(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_invalid_document_is_named_and_nothing_is_stored() {
    let sandbox = Sandbox::start(1).await;
    let manifests = quickstart("https://example.com/app.git", "https://example.com/gitops.git", "1h")
        .replace("sources:\n      direct: true", "sources:\n      direct: maybe");
    let (status, body) = sandbox.post("/api/v1/apply", &manifests).await;
    assert_eq!(status, 422, "{body}");
    let detail = &body["details"][0];
    assert_eq!(detail["document"], 4);
    assert_eq!(detail["kind"], "Stage");
    assert_eq!(detail["name"], "test");
    assert_eq!(detail["field"], "spec.requestedFreight[0].sources.direct");
    let (status, _) = sandbox.get("/api/v1/projects/demo/warehouses").await;
    assert_eq!(status, 404, "the valid documents were not stored either");

    let (status, body) = sandbox.post("/api/v1/apply", "kind: [unclosed").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["details"][0]["field"], "(yaml)");

    let orphan = "apiVersion: lading.dev/v1alpha1\nkind: Warehouse\nmetadata: {name: w, namespace: nowhere}\nspec:\n  subscriptions:\n  - git: {repoURL: 'https://example.com/x.git'}\n";
    let (status, body) = sandbox.post("/api/v1/apply", orphan).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["details"][0]["reason"].as_str().unwrap().contains("does not exist"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn applying_twice_reports_unchanged_and_unknown_warehouses_are_not_found() {
    let sandbox = Sandbox::start(1).await;
    let manifests = quickstart("file:///nonexistent/app.git", "file:///nonexistent/gitops.git", "1h");
    let first = sandbox.apply(&manifests).await;
    assert!(first["results"].as_array().unwrap().iter().all(|r| r["action"] == "created"), "{first}");
    let second = sandbox.apply(&manifests).await;
    assert!(second["results"].as_array().unwrap().iter().all(|r| r["action"] == "unchanged"), "{second}");
    let (status, body) = sandbox.post("/api/v1/projects/demo/warehouses/nope/refresh", "").await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = sandbox.get("/api/v1/projects/nope/freight").await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_discovery_is_reported_and_the_warehouse_keeps_running() {
    let sandbox = Sandbox::start(1).await;
    let missing = sandbox.dir.path().join("missing.git");
    let manifests = quickstart(&format!("file://{}", missing.display()), "file:///nonexistent/gitops.git", "1h");
    sandbox.apply(&manifests).await;
    let message = lading_tests::wait::until("the discovery error in warehouse status", TIMEOUT, || async {
        let (_, list) = sandbox.get("/api/v1/projects/demo/warehouses").await;
        match list["items"][0]["status"]["lastDiscoveryError"]["message"].as_str() {
            Some(m) => Ok(m.to_owned()),
            None => Err(list.to_string()),
        }
    })
    .await;
    assert!(!message.is_empty());
    // The repository appears: the next refresh succeeds.
    let app = Repo::create(sandbox.dir.path(), "missing");
    let commit = app.commit("a.txt", "1", "now it exists");
    sandbox.refresh("demo", "app").await;
    lading_tests::wait::until("freight after the repository appeared", TIMEOUT, || async {
        let items = sandbox.freight("demo").await;
        if items.iter().any(|f| f["commits"][0]["id"] == commit.as_str()) { Ok(()) } else { Err(format!("{items:?}")) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stage_whose_gitops_remote_hangs_fails_its_promotion_while_another_stage_keeps_promoting() {
    use lading_domain::limits::Limit;
    use lading_promoter::config::GIT_IDLE_TIMEOUT_ENV;
    use lading_tests::hostile::Tarpit;
    use lading_tests::sandbox::SandboxOptions;

    const IDLE: Duration = Duration::from_secs(8);
    let tarpit = Tarpit::start().await;
    let mut options = SandboxOptions::default();
    options.promoter_budgets.git.timeouts.idle = Limit::new(IDLE, GIT_IDLE_TIMEOUT_ENV);
    let sandbox = Sandbox::start_with_options(options).await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let first = app.commit("app.txt", "v1", "first feature");
    // `uat` takes freight straight from the warehouse too, and pushes to the tarpit.
    let hung_url = format!("http://{}/gitops.git", tarpit.addr);
    let manifests = quickstart(&app.url(), &gitops.url(), "1h");
    let (others, uat) = manifests.rsplit_once("\n---\n").unwrap();
    let uat = uat.replace("      stages:\n      - test", "      direct: true").replace(&gitops.url(), &hung_url);
    sandbox.apply(&format!("{others}\n---\n{uat}")).await;
    sandbox.wait_current_in("demo", &first, "test", TIMEOUT).await;
    wait::until("uat's promotion to reach the tarpit", TIMEOUT, || async {
        if tarpit.accepted() > 0 { Ok(()) } else { Err("no connection yet".into()) }
    })
    .await;
    let attack = std::time::Instant::now();
    let mut during = Vec::new();
    for (i, change) in ["second feature", "third feature"].into_iter().enumerate() {
        let commit = app.commit("app.txt", &format!("v{}", i + 2), change);
        let asked = std::time::Instant::now();
        sandbox.refresh("demo", "app").await;
        sandbox.wait_current_in("demo", &commit, "test", TIMEOUT).await;
        during.push(asked.elapsed());
    }
    assert!(attack.elapsed() < IDLE, "test promoted while uat's promotion hung: {during:?}");
    eprintln!("test stage: freight 2 and 3 promoted in {during:?} while uat's promotion hung");
    let failed = wait::until("uat's promotion to fail", TIMEOUT, || async {
        let promotions = stage_promotions(&sandbox, "uat").await;
        promotions.into_iter().find(|p| p["status"]["phase"] == "Failed").ok_or_else(|| "none failed yet".to_owned())
    })
    .await;
    let message = failed["status"]["message"].as_str().unwrap_or_default();
    assert!(
        message.ends_with(&format!("(git-clone): listing {hung_url}: no data for 8s (LADING_GIT_IDLE_TIMEOUT)")),
        "{failed}"
    );
    eprintln!("uat's promotion failed {:?} after the attack began", attack.elapsed());
}
