//! The web UI in a real browser (headless Chromium over WebDriver) against a running
//! Lading: the graph shows `test` and `uat` with the freight's alias (its name on hover);
//! a new commit appears live in the timeline and moves into `test` without a reload;
//! promote and approve by clicking, which the API then shows; a viewer has no buttons.
//! Screenshots of the main pages are saved in `target/ui-screenshots/`.

use std::time::Duration;

use lading_tests::browser::Browser;
use lading_tests::git::Repo;
use lading_tests::sandbox::{ADMIN_TOKEN, Sandbox, quickstart};
use lading_tests::wait;
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(60);

/// The quickstart with `uat` promoted by hand only (its auto-promotion policy removed).
fn manifests(app: &Repo, gitops: &Repo) -> String {
    let all = quickstart(&app.url(), &gitops.url(), "1h");
    let uat_policy = "  - stageSelector:\n      name: uat\n    autoPromotionEnabled: true\n";
    assert!(all.contains(uat_policy), "the quickstart's uat policy");
    all.replace(uat_policy, "")
}

/// The freight of `commit`, as the API lists it.
async fn freight_of(sandbox: &Sandbox, commit: &str) -> Value {
    let items = sandbox.freight("demo").await;
    items.into_iter().find(|f| f["commits"][0]["id"] == commit).expect("the commit's freight")
}

/// A script: whether the stage card `stage` shows `alias` as its current freight.
fn holds(stage: &str, alias: &str) -> String {
    format!(
        "const c = document.querySelector('.card[data-stage=\"{stage}\"] .current'); return !!c && c.textContent.includes('{alias}')"
    )
}

/// The text of the stage card `stage` (empty when there is none).
fn card_text(stage: &str) -> String {
    format!("const c = document.querySelector('.card[data-stage=\"{stage}\"] .current'); return c ? c.textContent : ''")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_pipeline_shows_aliases_updates_live_and_promotes_and_approves_by_clicking() {
    let sandbox = Sandbox::start(1).await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let first = app.commit("app.txt", "v1", "first feature");
    sandbox.apply(&manifests(&app, &gitops)).await;
    sandbox.wait_verified_in("demo", &first, "test", TIMEOUT).await;
    let first_freight = freight_of(&sandbox, &first).await;
    let (first_name, first_alias) =
        (first_freight["metadata"]["name"].as_str().unwrap(), first_freight["alias"].as_str().unwrap());

    let browser = Browser::start().await;
    browser.login(&sandbox.api_url, ADMIN_TOKEN).await;
    browser.open(&format!("{}/#/p/demo", sandbox.api_url)).await;

    // The graph: test holds the freight, shown by alias with its name on hover; uat none.
    browser.wait_until("test to hold the first freight", &holds("test", first_alias)).await;
    let tag = browser.wait_for(".card[data-stage=\"test\"] .freight").await;
    browser.hover(&tag).await;
    assert_eq!(tag.attr("title").await.unwrap().as_deref(), Some(first_name), "the full name on hover");
    assert_eq!(tag.text().await.unwrap(), first_alias);
    assert!(browser.count(".card[data-stage=\"uat\"]").await == 1, "uat is in the graph");
    assert!(browser.eval(&card_text("uat")).await.as_str().unwrap().contains("no freight"));
    let auto = browser.eval("return [...document.querySelectorAll('.card.stage')].map(c => c.dataset.stage + ':' + !!c.querySelector('.badge.auto')).join(',')").await;
    assert_eq!(auto, json!("test:true,uat:false"), "the auto-promotion badge follows the policies");
    browser.screenshot("pipeline").await;

    // A new commit appears in the timeline and moves into test, with no reload.
    browser.eval("window.__sameDocument = true; location.hash = '#/p/demo/freight'; return true").await;
    browser.wait_for("#freight-rows").await;
    browser.wait_until("the live stream", "return !document.getElementById('live').hidden").await;
    let second = app.commit("app.txt", "v2", "second feature");
    sandbox.refresh("demo", "app").await;
    let second_freight = wait::until("the second freight", TIMEOUT, || async {
        sandbox
            .freight("demo")
            .await
            .into_iter()
            .find(|f| f["commits"][0]["id"] == second.as_str())
            .ok_or("none".to_owned())
    })
    .await;
    let (second_name, second_alias) = (
        second_freight["metadata"]["name"].as_str().unwrap().to_owned(),
        second_freight["alias"].as_str().unwrap().to_owned(),
    );
    browser
        .wait_until(
            "the second freight in the timeline",
            &format!("return !!document.querySelector('[data-freight-row=\"{second_name}\"]')"),
        )
        .await;
    let newest = browser.eval("return document.querySelector('#freight-rows .row').dataset.freightRow").await;
    assert_eq!(newest, json!(second_name), "newest first");
    browser.eval("location.hash = '#/p/demo'; return true").await;
    browser.wait_until("test to hold the second freight", &holds("test", &second_alias)).await;
    assert_eq!(browser.eval("return window.__sameDocument === true").await, json!(true), "no reload happened");
    sandbox.wait_verified_in("demo", &second, "test", TIMEOUT).await;

    // Promote by clicking: uat's Promote, pick the second freight, confirm.
    browser.click(".card[data-stage=\"uat\"] button[data-action=\"promote-stage\"]").await;
    browser.wait_until("the dialog", "return document.getElementById('dialog').open").await;
    let unavailable =
        browser.eval(&format!("return document.querySelector('#dialog input[value=\"{first_name}\"]').disabled")).await;
    // The first freight was verified in test too: both are available to uat.
    assert_eq!(unavailable, json!(false));
    browser.click(&format!("#dialog input[value=\"{second_name}\"]")).await;
    browser.click("#confirm").await;
    let promotion = wait::until("a promotion to uat made by the button", TIMEOUT, || async {
        let (_, body) = sandbox.get("/api/v1/projects/demo/promotions?stage=uat").await;
        body["items"].as_array().and_then(|items| items.first().cloned()).ok_or(body.to_string())
    })
    .await;
    assert_eq!(promotion["spec"]["freight"], json!(second_name));
    assert_eq!(promotion["trigger"], json!("Manual"));
    assert_eq!(promotion["metadata"]["annotations"]["lading.dev/created-by"], json!("admin"));
    sandbox.wait_current_in("demo", &second, "uat", TIMEOUT).await;
    browser.wait_until("uat to hold the second freight", &holds("uat", &second_alias)).await;

    // Approve by clicking: the first freight, for uat, from the timeline.
    browser.eval("location.hash = '#/p/demo/freight'; return true").await;
    browser.click(&format!("[data-freight-row=\"{first_name}\"] button[data-action=\"approve\"]")).await;
    browser.click("#dialog input[value=\"uat\"]").await;
    browser.click("#confirm").await;
    wait::until("the first freight approved for uat", TIMEOUT, || async {
        let f = freight_of(&sandbox, &first).await;
        if f["status"]["approvedFor"].get("uat").is_some() { Ok(()) } else { Err(f["status"].to_string()) }
    })
    .await;
    browser
        .wait_until(
            "the approval in the timeline",
            &format!("return !!document.querySelector('[data-freight-row=\"{first_name}\"] .chip.approved')"),
        )
        .await;
    browser.screenshot("timeline").await;
    assert_eq!(browser.eval("return window.__sameDocument === true").await, json!(true), "no reload happened");

    // Promotion details: steps with their status.
    browser.eval("location.hash = '#/p/demo/stage/uat'; return true").await;
    browser
        .wait_until("the steps of the promotion", "return document.querySelectorAll('.steps tbody tr').length >= 4")
        .await;
    browser.screenshot("promotion").await;
    browser.eval("location.hash = '#/p/demo/warehouse/app'; return true").await;
    browser.wait_for("#picks input[type=radio]").await;
    browser.screenshot("warehouse").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_viewer_sees_no_buttons_and_a_bad_token_is_refused_at_login() {
    let sandbox = Sandbox::start_without_promoter().await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let first = app.commit("app.txt", "v1", "first feature");
    sandbox.apply(&manifests(&app, &gitops)).await;
    wait::until("the first freight", TIMEOUT, || async {
        let items = sandbox.freight("demo").await;
        if items.iter().any(|f| f["commits"][0]["id"] == first.as_str()) { Ok(()) } else { Err("none".to_owned()) }
    })
    .await;
    let (status, made) =
        sandbox.post_json("/api/v1/tokens", &json!({"name": "watcher", "role": "viewer", "project": "demo"})).await;
    assert_eq!(status, 201, "{made}");
    let viewer = made["token"].as_str().unwrap();

    let browser = Browser::start().await;
    browser.open(&format!("{}/#/login", sandbox.api_url)).await;
    browser.wait_for("#token").await.send_keys("not-a-token").await.unwrap();
    browser.click("#login-button").await;
    let refused = browser.wait_for("#login-error").await.text().await.unwrap();
    assert!(refused.contains("not valid"), "{refused}");

    browser.login(&sandbox.api_url, viewer).await;
    browser.open(&format!("{}/#/p/demo", sandbox.api_url)).await;
    browser.wait_for(".card[data-stage=\"uat\"]").await;
    browser.wait_for(".card[data-warehouse=\"app\"] .freight").await;
    assert_eq!(browser.count("button[data-action]").await, 0, "no action buttons on the pipeline for a viewer");
    browser.eval("location.hash = '#/p/demo/freight'; return true").await;
    browser.wait_for("#freight-rows .row").await;
    assert_eq!(browser.count("button[data-action]").await, 0, "no action buttons on the timeline for a viewer");
    browser.screenshot("viewer-timeline").await;

    // What the page would send on the viewer's behalf is refused by the api.
    let answer = browser
        .client
        .execute_async(
            "const done = arguments[0]; fetch('/api/v1/projects/demo/stages/uat/promotions', {method: 'POST', \
             headers: {Authorization: 'Bearer ' + sessionStorage.getItem('lading.token'), 'Content-Type': 'application/json'}, \
             body: JSON.stringify({freight: 'x'})}).then(r => done(r.status))",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(answer, json!(403));
}
