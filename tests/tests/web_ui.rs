//! The web UI in a real browser (headless Chromium over WebDriver) against a running
//! Lading: the graph shows `test` and `uat` with the freight's alias (its name on hover);
//! a new commit appears live in the timeline and moves into `test` without a reload;
//! promote and approve by clicking, which the API then shows; a viewer has no buttons; a
//! stage's card and page show its latest verification's phase, and Re-verify runs it again;
//! what a promotion pushed (files and lines; a commit link for an https Git host); abort a
//! running promotion and edit an alias by clicking.
//! Screenshots of the main pages are saved in `target/ui-screenshots/`.

use std::path::Path;
use std::time::Duration;

use lading_events::catalog::{
    FileChangeV1, PromotionCreatedV2, PromotionPushedV1, PromotionStartedV1, PromotionSucceededV1, PromotionTrigger,
};
use lading_events::{Event, now_ms};
use lading_tests::browser::Browser;
use lading_tests::gate::Gate;
use lading_tests::git::Repo;
use lading_tests::sandbox::{ADMIN_TOKEN, Sandbox, SandboxOptions, quickstart, with_verification};
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

    // Promotion details: steps with their status, and what the push changed (a file://
    // remote has no web page: the files and lines, no link).
    let (_, listed) = sandbox.get("/api/v1/projects/demo/promotions?stage=uat").await;
    let uat = listed["items"][0].clone();
    assert_eq!(uat["metadata"]["name"], promotion["metadata"]["name"]);
    let push = &uat["status"]["pushes"][0];
    assert_eq!(push["repoURL"], json!(gitops.url()), "{uat}");
    assert_eq!(push["branch"], "stage/uat", "{uat}");
    assert_eq!(push["commit"], uat["status"]["commit"], "{uat}");
    assert!(push.get("commitURL").is_none(), "no page for a file:// remote: {push}");
    let changes = push["changes"].as_array().unwrap();
    let values = changes.iter().find(|c| c["path"] == "values.yaml").unwrap_or_else(|| panic!("{push}"));
    assert!(values["added"].as_u64().unwrap() > 0, "{push}");
    assert_eq!(push["changedFiles"].as_u64(), Some(changes.len() as u64), "{push}");
    browser.eval("location.hash = '#/p/demo/stage/uat'; return true").await;
    browser
        .wait_until("the steps of the promotion", "return document.querySelectorAll('.steps tbody tr').length >= 4")
        .await;
    let shown = browser
        .wait_until(
            "the pushed files",
            "const li = document.querySelector('.pushed li[data-path=\"values.yaml\"]'); return li ? li.textContent : null",
        )
        .await;
    assert!(shown.as_str().unwrap().contains(&format!("+{}", values["added"])), "{shown}");
    assert_eq!(browser.count(".pushed a.commit").await, 0, "no link for a file:// remote");
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

    // A push to an https Git host links to the commit's page: the events a promotion
    // pushing to GitHub records, published as the promoter publishes them.
    let id = freight_of(&sandbox, &first).await["metadata"]["name"].as_str().unwrap().to_owned();
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let (project, stage, promotion, at) = ("demo".to_owned(), "test".to_owned(), "test.pushed".to_owned(), now_ms());
    let bus = sandbox.nats.bus("test").await;
    let trace = lading_bus::tracing_context::new_root();
    for event in [
        Event::PromotionCreatedV2(PromotionCreatedV2 {
            project: project.clone(),
            stage: stage.clone(),
            promotion: promotion.clone(),
            freight_id: id.clone(),
            trigger: PromotionTrigger::Manual,
            actor: "ann".into(),
            created_at_ms: at,
        }),
        Event::PromotionStarted(PromotionStartedV1 {
            project: project.clone(),
            stage: stage.clone(),
            promotion: promotion.clone(),
            freight_id: id.clone(),
            started_at_ms: at,
        }),
        Event::PromotionPushed(PromotionPushedV1 {
            project: project.clone(),
            stage: stage.clone(),
            promotion: promotion.clone(),
            index: 3,
            repo_url: "https://github.com/example/gitops.git".into(),
            branch: "stage/test".into(),
            commit: sha.into(),
            changed_files: 3,
            changes: vec![FileChangeV1 { path: "values.yaml".into(), added: 2, removed: 1 }],
            pushed_at_ms: at,
        }),
        Event::PromotionSucceeded(PromotionSucceededV1 {
            project: project.clone(),
            stage: stage.clone(),
            promotion: promotion.clone(),
            freight_id: id.clone(),
            commit: sha.into(),
            finished_at_ms: at,
        }),
    ] {
        bus.publish(&event, &trace).await.unwrap();
    }
    browser.eval("location.hash = '#/p/demo/stage/test'; return true").await;
    let href = browser
        .wait_until("the commit link", "const a = document.querySelector('.pushed a.commit'); return a ? a.href : null")
        .await;
    assert_eq!(href, json!(format!("https://github.com/example/gitops/commit/{sha}")));
    let pushed = browser.eval("return document.querySelector('.pushed').textContent").await;
    let pushed = pushed.as_str().unwrap();
    for part in [
        "stage/test",
        "https://github.com/example/gitops.git",
        "3 files changed",
        "values.yaml",
        "+2",
        "−1",
        "2 more files",
    ] {
        assert!(pushed.contains(part), "{part:?} missing from {pushed:?}");
    }
    assert_eq!(browser.count("button[data-action]").await, 0, "no action buttons on the stage page for a viewer");
    browser.screenshot("pushed").await;
}

/// The quickstart (`uat` by hand) with `test` verifying by a `job` template whose local
/// process succeeds once `flag` exists.
fn verifying_manifests(app: &Repo, gitops: &Repo, flag: &Path) -> String {
    let stages = with_verification(&manifests(app, gitops), "    analysisTemplates:\n    - name: flag\n");
    assert!(stages.contains("- name: flag"), "test verifies");
    format!(
        "{stages}\n---\napiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata:\n  name: flag\n  namespace: demo\n\
         spec:\n  metrics:\n  - name: flag\n    provider:\n      job:\n        spec:\n          template:\n            spec:\n\
         \x20             containers:\n              - name: check\n                image: busybox\n\
         \x20               command: [sh, -c, 'test -e {} && echo flag up || {{ echo no flag; exit 1; }}']\n",
        flag.display()
    )
}

/// The `verificationHistory` of the newest `freightHistory` entry of stage `test`, once
/// it has `count` entries and the newest has finished.
async fn test_verifications(sandbox: &Sandbox, count: usize) -> Vec<Value> {
    wait::until(&format!("{count} finished verification(s) of test"), TIMEOUT, || async {
        let (_, stages) = sandbox.get("/api/v1/projects/demo/stages").await;
        let test = stages["items"].as_array().and_then(|all| all.iter().find(|s| s["metadata"]["name"] == "test"));
        let history = test
            .and_then(|t| t["status"]["freightHistory"][0]["verificationHistory"].as_array())
            .cloned()
            .unwrap_or_default();
        let finished =
            history.first().is_some_and(|v| !matches!(v["phase"].as_str(), Some("Running" | "Pending") | None));
        if history.len() == count && finished { Ok(history) } else { Err(format!("{history:?}")) }
    })
    .await
}

/// The verification badge on stage `stage`'s card.
fn verification_badge(stage: &str) -> String {
    format!(".card[data-stage=\"{stage}\"] .badge[data-kind=\"verification\"]")
}

/// A script: whether stage `stage`'s card shows the verification phase `phase`.
fn shows_verification(stage: &str, phase: &str) -> String {
    format!(
        "const b = document.querySelector('{}'); return !!b && b.textContent === '{phase}'",
        verification_badge(stage)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stage_shows_its_latest_verification_phase_and_re_verifies_by_clicking() {
    let sandbox = Sandbox::start(1).await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let flag = sandbox.dir.path().join("flag");
    let first = app.commit("app.txt", "v1", "first feature");
    sandbox.apply(&verifying_manifests(&app, &gitops, &flag)).await;
    sandbox.wait_current_in("demo", &first, "test", TIMEOUT).await;
    let failed = test_verifications(&sandbox, 1).await;
    assert_eq!(failed[0]["phase"], "Failed", "{failed:?}");
    let failed_message = failed[0]["message"].as_str().unwrap().to_owned();
    assert!(!failed_message.is_empty());

    let browser = Browser::start().await;
    browser.login(&sandbox.api_url, ADMIN_TOKEN).await;
    browser.open(&format!("{}/#/p/demo", sandbox.api_url)).await;

    // The card shows the verification's real phase (not "Pending"), its message on hover.
    browser.wait_until("test's card to show the failed verification", &shows_verification("test", "Failed")).await;
    let title = browser.eval(&format!("return document.querySelector('{}').title", verification_badge("test"))).await;
    assert!(title.as_str().unwrap().contains(&failed_message), "{title}");
    assert_eq!(
        browser.count(".card[data-stage=\"uat\"] button[data-action=\"verify\"]").await,
        0,
        "uat does not verify"
    );

    // The stage page lists the history with its message.
    browser.eval("location.hash = '#/p/demo/stage/test'; return true").await;
    let rows = browser
        .wait_until("the verification history", "return document.querySelectorAll('tr.verification').length")
        .await;
    assert_eq!(rows, json!(1));
    let row = browser
        .eval("const r = document.querySelector('tr.verification'); return [r.dataset.phase, r.textContent]")
        .await;
    assert_eq!(row[0], json!("Failed"));
    assert!(row[1].as_str().unwrap().contains(&failed_message), "{row}");
    browser.screenshot("verification").await;

    // Re-verify by clicking on the card, now that the check passes.
    std::fs::write(&flag, "up").unwrap();
    browser.eval("location.hash = '#/p/demo'; return true").await;
    browser.click(".card[data-stage=\"test\"] button[data-action=\"verify\"]").await;
    browser.wait_until("the dialog", "return document.getElementById('dialog').open").await;
    browser.click("#confirm").await;
    let history = test_verifications(&sandbox, 2).await;
    assert_eq!(history[0]["phase"], "Successful", "{history:?}");
    assert_eq!(history[0]["actor"], "admin", "the click's token is the actor: {history:?}");
    assert_eq!(history[1]["id"], failed[0]["id"], "the failed one is kept, older");
    sandbox.wait_verified_in("demo", &first, "test", TIMEOUT).await;
    browser.wait_until("test's card to show the new phase", &shows_verification("test", "Successful")).await;

    // The stage page lists both, newest first.
    browser.eval("location.hash = '#/p/demo/stage/test'; return true").await;
    let phases = browser
        .wait_until(
            "both verifications on the stage page",
            "const all = [...document.querySelectorAll('tr.verification')].map(r => r.dataset.phase); return all.length === 2 ? all : null",
        )
        .await;
    assert_eq!(phases, json!(["Successful", "Failed"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_running_promotion_is_aborted_and_an_alias_edited_by_clicking() {
    // Given test's promotion held at an http step (a gate that stays shut) before its push,
    let mut options = SandboxOptions::default();
    options.promoter_budgets.http.idle = lading_domain::limits::Limit::new(Duration::from_secs(600), "test");
    let sandbox = Sandbox::start_with_options(options).await;
    let gate = Gate::start().await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let first = app.commit("app.txt", "v1", "first feature");
    let hold = format!(
        "      - uses: http\n        config:\n          url: {}/hold\n          timeout: 10m\n      - uses: git-push\n",
        gate.base()
    );
    let held = manifests(&app, &gitops).replacen("      - uses: git-push\n", &hold, 1);
    assert!(held.contains("/hold"), "test's template holds");
    sandbox.apply(&held).await;
    gate.wait_for_waiting(1, TIMEOUT).await;

    let browser = Browser::start().await;
    browser.login(&sandbox.api_url, ADMIN_TOKEN).await;
    browser.open(&format!("{}/#/p/demo", sandbox.api_url)).await;

    // when Abort on test's card is clicked and confirmed,
    browser.click(".card[data-stage=\"test\"] button[data-action=\"abort\"]").await;
    browser.wait_until("the dialog", "return document.getElementById('dialog').open").await;
    browser.click("#confirm").await;

    // then the promotion is aborted by the clicking token, nothing is pushed, and the card says so.
    let aborted = wait::until("test's promotion to be aborted", TIMEOUT, || async {
        let (_, body) = sandbox.get("/api/v1/projects/demo/promotions?stage=test").await;
        let first = body["items"].as_array().and_then(|items| items.first().cloned()).ok_or(body.to_string())?;
        if first["status"]["phase"] == "Aborted" { Ok(first) } else { Err(first.to_string()) }
    })
    .await;
    assert_eq!(aborted["metadata"]["annotations"]["lading.dev/aborted-by"], json!("admin"), "{aborted}");
    assert!(gitops.log("stage/test").is_empty(), "nothing pushed");
    browser
        .wait_until(
            "the card to show the aborted promotion",
            "const b = document.querySelector('.card[data-stage=\"test\"] .badge[data-kind=\"promotion\"]'); return !!b && b.textContent === 'Aborted'",
        )
        .await;
    assert_eq!(
        browser.count(".card[data-stage=\"test\"] button[data-action=\"abort\"]").await,
        0,
        "no Abort once it ended"
    );

    // An alias edited on the timeline is the freight's alias in the API and on the page.
    let freight = freight_of(&sandbox, &first).await;
    let name = freight["metadata"]["name"].as_str().unwrap().to_owned();
    browser.eval("location.hash = '#/p/demo/freight'; return true").await;
    browser.click(&format!("[data-freight-row=\"{name}\"] button[data-action=\"alias\"]")).await;
    let field = browser.wait_for("#dialog input[name=\"alias\"]").await;
    field.clear().await.unwrap();
    field.send_keys("frozen-tauntaun").await.unwrap();
    browser.click("#confirm").await;
    wait::until("the new alias in the API", TIMEOUT, || async {
        let f = freight_of(&sandbox, &first).await;
        if f["alias"] == "frozen-tauntaun" { Ok(()) } else { Err(f["alias"].to_string()) }
    })
    .await;
    browser
        .wait_until(
            "the new alias on the timeline",
            &format!("const t = document.querySelector('[data-freight-row=\"{name}\"] .freight'); return !!t && t.textContent === 'frozen-tauntaun'"),
        )
        .await;
    gate.set_open(true);
}
