//! Who may do what, and what people do to freight: every route refuses a token without
//! the permission it needs (a table of every route × every role), a promoter approves a
//! hotfix past the stages in between, aliases change by name or alias and stay unique,
//! tokens are made, used and deleted.

use std::time::Duration;

use lading_api::auth::Need;
use lading_domain::access::{Grant, Permission, Role, Scope, Target};
use lading_tests::git::Repo;
use lading_tests::sandbox::{Sandbox, client_with_token};
use lading_tests::wait;
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(60);

/// Makes a token through the api (as the sandbox's admin); returns it.
async fn token(sandbox: &Sandbox, name: &str, role: &str, project: Option<&str>) -> String {
    let (status, body) =
        sandbox.post_json("/api/v1/tokens", &json!({"name": name, "role": role, "project": project})).await;
    assert_eq!(status, 201, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

fn pipeline(app: &str, gitops: &str) -> String {
    let stage = |name: &str, sources: &str| {
        format!(
            r#"---
apiVersion: lading.dev/v1alpha1
kind: Stage
metadata: {{name: {name}, namespace: demo}}
spec:
  requestedFreight:
  - origin: {{kind: Warehouse, name: app}}
    sources: {sources}
  promotionTemplate:
    spec:
      steps:
      - uses: git-clone
        config:
          repoURL: "{gitops}"
          checkout: [{{branch: stage/{name}, create: true, path: ./out}}]
      - uses: file-write
        config: {{path: ./out/freight, contents: "${{{{ ctx.targetFreight.name }}}}", overwrite: true}}
      - uses: git-commit
        config: {{path: ./out, message: "{name}"}}
      - uses: git-push
        config: {{path: ./out}}
"#
        )
    };
    // test and prod auto-promote; uat does not, so nothing reaches prod the usual way.
    format!(
        r#"apiVersion: lading.dev/v1alpha1
kind: Project
metadata: {{name: demo}}
spec:
  promotionPolicies:
  - stageSelector: {{name: test}}
    autoPromotionEnabled: true
  - stageSelector: {{name: prod}}
    autoPromotionEnabled: true
---
apiVersion: lading.dev/v1alpha1
kind: Warehouse
metadata: {{name: app, namespace: demo}}
spec:
  interval: 1h
  subscriptions:
  - git: {{repoURL: "{app}", branch: main}}
{}{}{}"#,
        stage("test", "{direct: true}"),
        stage("uat", "{stages: [test]}"),
        stage("prod", "{stages: [uat]}")
    )
}

async fn started(sandbox: &Sandbox) -> (Repo, String) {
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let commit = app.commit("app.txt", "v1", "first");
    sandbox.apply(&pipeline(&app.url(), &gitops.url())).await;
    sandbox.wait_verified_in("demo", &commit, "test", TIMEOUT).await;
    (gitops, commit)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_route_refuses_a_token_without_the_permission_it_needs() {
    let sandbox = Sandbox::start(1).await;
    sandbox.apply("apiVersion: lading.dev/v1alpha1\nkind: Project\nmetadata: {name: demo}\n---\napiVersion: lading.dev/v1alpha1\nkind: Project\nmetadata: {name: other}\n").await;
    let roles = [
        ("demo-viewer", Grant { role: Role::Viewer, scope: Scope::Project("demo".into()) }),
        ("demo-promoter", Grant { role: Role::Promoter, scope: Scope::Project("demo".into()) }),
        ("demo-admin", Grant { role: Role::Admin, scope: Scope::Project("demo".into()) }),
        ("other-admin", Grant { role: Role::Admin, scope: Scope::Project("other".into()) }),
        ("server-viewer", Grant { role: Role::Viewer, scope: Scope::Server }),
    ];
    let mut clients = Vec::new();
    for (name, grant) in &roles {
        let project = match &grant.scope {
            Scope::Project(p) => Some(p.as_str()),
            Scope::Server => None,
        };
        clients.push((
            name,
            grant.clone(),
            client_with_token(&token(&sandbox, name, grant.role.as_str(), project).await),
        ));
    }
    let anonymous = lading_tests::http_client::client();
    let rules = lading_api::routes::rules();
    assert!(rules.len() >= 20, "{} routes", rules.len());
    for rule in rules {
        let path = rule
            .path
            .replace("{project}", "demo")
            .replace("{stage}", "nowhere")
            .replace("{freight}", "nothing")
            .replace("{warehouse}", "nowhere")
            .replace("{name}", "nobody")
            .replace("{provider}", "github")
            .replace("{hash}", &"0".repeat(64));
        // A route without `{project}` in its path names it in the query.
        let query = if rule.path.contains("{project}") { "" } else { "?project=demo" };
        let url = format!("{}{path}{query}", sandbox.api_url);
        let what = format!("{} {}", rule.method, rule.path);
        if rule.need == Need::ProviderSignature {
            // A token neither opens nor closes a webhook receiver: its provider's
            // signature does. No receiver listens here, whoever asks.
            let with_tokens = clients.iter().map(|(_, _, client)| client);
            for client in std::iter::once(&anonymous).chain(with_tokens) {
                let status = client.request(rule.method.clone(), &url).send().await.unwrap().status().as_u16();
                assert_eq!(status, 404, "{what}");
            }
            continue;
        }
        // Without a token every route answers 401.
        let status = anonymous.request(rule.method.clone(), &url).send().await.unwrap().status().as_u16();
        assert_eq!(status, 401, "{what} without a token");
        for (name, grant, client) in &clients {
            let response = client.request(rule.method.clone(), &url).send().await.unwrap();
            let status = response.status().as_u16();
            let allowed = match rule.need {
                Need::Token => None,
                Need::InProject(permission) => Some(grant.allows(permission, Target::Project("demo"))),
                Need::OnServer(permission) => Some(grant.allows(permission, Target::Server)),
                Need::ProviderSignature => unreachable!("checked above"),
            };
            match allowed {
                Some(true) => assert!(status != 401 && status != 403, "{what} as {name}: {status}"),
                Some(false) => {
                    assert_eq!(status, 403, "{what} as {name}");
                    let body: Value = response.json().await.unwrap();
                    assert!(body["error"].as_str().unwrap().contains(&format!("token \"{name}\"")), "{body}");
                }
                None => assert_ne!(status, 401, "{what} as {name}"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_viewer_reads_but_cannot_approve_promote_or_apply() {
    let sandbox = Sandbox::start(1).await;
    let (_gitops, commit) = started(&sandbox).await;
    let viewer = client_with_token(&token(&sandbox, "watcher", "viewer", Some("demo")).await);
    let url = |path: &str| format!("{}/api/v1/projects/demo{path}", sandbox.api_url);
    let freight = sandbox.freight("demo").await;
    let alias = freight[0]["alias"].as_str().unwrap().to_owned();
    assert_eq!(viewer.get(url("/freight")).send().await.unwrap().status(), 200);
    let refusals = [
        viewer.post(url(&format!("/freight/{alias}/approve?stage=prod"))).send().await.unwrap(),
        viewer.post(url("/stages/uat/promotions")).json(&json!({"freight": alias})).send().await.unwrap(),
        viewer
            .post(format!("{}/api/v1/apply", sandbox.api_url))
            .body("apiVersion: lading.dev/v1alpha1\nkind: ProjectConfig\nmetadata: {name: demo, namespace: demo}\n")
            .send()
            .await
            .unwrap(),
    ];
    for response in refusals {
        assert_eq!(response.status(), 403);
        let body: Value = response.json().await.unwrap();
        let error = body["error"].as_str().unwrap();
        assert!(error.starts_with("token \"watcher\" (viewer in project demo) may not"), "{error}");
        assert!(error.contains("needs the promoter role") || error.contains("needs the admin role"), "{error}");
    }
    let _ = commit;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_promoter_approves_a_hotfix_for_prod_past_uat_and_prod_promotes_it() {
    let sandbox = Sandbox::start(1).await;
    let (gitops, commit) = started(&sandbox).await;
    let promoter = client_with_token(&token(&sandbox, "release-bot", "promoter", Some("demo")).await);
    let freight = sandbox.freight("demo").await;
    let (name, alias) = (freight[0]["metadata"]["name"].as_str().unwrap(), freight[0]["alias"].as_str().unwrap());
    // Given freight that never reached uat, when a promoter approves it for prod by alias,
    let approve = |stage: &str| {
        promoter.post(format!("{}/api/v1/projects/demo/freight/{alias}/approve?stage={stage}", sandbox.api_url)).send()
    };
    let response = approve("prod").await.unwrap();
    assert_eq!(response.status(), 200);
    // then prod (auto-promoting, taking freight from uat) promotes it,
    sandbox.wait_current_in("demo", &commit, "prod", TIMEOUT).await;
    assert!(gitops.show("stage/prod", "freight").contains(name));
    assert!(gitops.log("stage/uat").is_empty(), "uat was passed by");
    // the approval shows in the freight's status, and approving again changes nothing.
    let (_, one) = sandbox.get(&format!("/api/v1/projects/demo/freight/{alias}")).await;
    assert!(one["status"]["approvedFor"].get("prod").is_some(), "{one}");
    let again: Value = approve("prod").await.unwrap().json().await.unwrap();
    assert_eq!(again["changed"], false);
    // The promotion records who asked for it: the promoter made no promotion itself.
    let (_, promotions) = sandbox.get("/api/v1/projects/demo/promotions?stage=prod").await;
    assert_eq!(promotions["items"][0]["metadata"]["annotations"]["lading.dev/created-by"], "lading/promoter");
    // A stage that does not take freight from the freight's origin is refused, by name.
    let (status, body) = sandbox.post(&format!("/api/v1/projects/demo/freight/{alias}/approve?stage=prdo"), "").await;
    assert_eq!(status, 404, "{body}");
    assert!(body["error"].as_str().unwrap().contains("did you mean \"prod\""), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn aliases_change_by_name_or_alias_stay_unique_and_work_everywhere() {
    let sandbox = Sandbox::start(1).await;
    let (_gitops, _commit) = started(&sandbox).await;
    let freight = sandbox.freight("demo").await;
    let (name, old_alias) = (freight[0]["metadata"]["name"].as_str().unwrap(), freight[0]["alias"].as_str().unwrap());
    let api = sandbox.api_url.clone();
    let patch = |target: String, alias: &str| {
        let body = json!({"alias": alias});
        let url = format!("{api}/api/v1/projects/demo/freight/{target}");
        async move {
            let response = lading_tests::sandbox::authorized_client().patch(url).json(&body).send().await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap())
        }
    };
    // By name: the new alias shows at once, and the old one no longer finds it.
    let (status, body) = patch(name.to_owned(), "frozen-tauntaun").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(sandbox.freight("demo").await[0]["alias"], "frozen-tauntaun");
    let (status, _) = sandbox.get(&format!("/api/v1/projects/demo/freight/{old_alias}")).await;
    assert_eq!(status, 404);
    // By alias; and promote by it.
    let (status, _) = patch("frozen-tauntaun".to_owned(), "steady-yak").await;
    assert_eq!(status, 200);
    let (status, body) =
        sandbox.post_json("/api/v1/projects/demo/stages/uat/promotions", &json!({"freight": "steady-yak"})).await;
    assert_eq!(status, 201, "{body}");
    // A freight of another name cannot take it; a name that is no DNS label is refused.
    let (status, body) = patch(name.to_owned(), "Not_A_Label").await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().starts_with("alias:"), "{body}");
    let (_, list) = sandbox.get("/api/v1/projects/demo/freight").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_duplicate_alias_is_refused_naming_the_freight_that_holds_it() {
    let sandbox = Sandbox::start(1).await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let first = app.commit("app.txt", "v1", "first");
    sandbox.apply(&pipeline(&app.url(), &gitops.url())).await;
    sandbox.wait_current_in("demo", &first, "test", TIMEOUT).await;
    let second = app.commit("app.txt", "v2", "second");
    sandbox.refresh("demo", "app").await;
    sandbox.wait_current_in("demo", &second, "test", TIMEOUT).await;
    let freight = sandbox.freight("demo").await;
    let (newer, older) = (&freight[0], &freight[1]);
    let older_alias = older["alias"].as_str().unwrap();
    let response = lading_tests::sandbox::authorized_client()
        .patch(format!(
            "{}/api/v1/projects/demo/freight/{}",
            sandbox.api_url,
            newer["metadata"]["name"].as_str().unwrap()
        ))
        .json(&json!({"alias": older_alias}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    let body: Value = response.json().await.unwrap();
    let short = &older["metadata"]["name"].as_str().unwrap()[..7];
    assert!(body["error"].as_str().unwrap().contains(short), "{body}");
    // Freight in use by a stage cannot be deleted; unused freight can.
    let (status, body) =
        delete(&sandbox, &format!("/api/v1/projects/demo/freight/{}", newer["alias"].as_str().unwrap())).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("in use by stage(s) test"), "{body}");
    let (status, body) = delete(&sandbox, &format!("/api/v1/projects/demo/freight/{older_alias}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(sandbox.freight("demo").await.len(), 1);
}

async fn delete(sandbox: &Sandbox, path: &str) -> (u16, Value) {
    let response =
        lading_tests::sandbox::authorized_client().delete(format!("{}{path}", sandbox.api_url)).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tokens_are_made_listed_and_deleted_and_a_deleted_one_stops_working() {
    let sandbox = Sandbox::start(1).await;
    sandbox.apply("apiVersion: lading.dev/v1alpha1\nkind: Project\nmetadata: {name: demo}\n").await;
    let made = token(&sandbox, "ci", "admin", Some("demo")).await;
    assert!(made.starts_with("lading_") && made.len() > 40, "{made}");
    let ci = client_with_token(&made);
    let whoami: Value =
        ci.get(format!("{}/api/v1/whoami", sandbox.api_url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(whoami["grant"], "admin in project demo");
    // A project admin makes tokens for its project only.
    let response = ci
        .post(format!("{}/api/v1/tokens", sandbox.api_url))
        .json(&json!({"name": "everywhere", "role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let (status, body) =
        sandbox.post_json("/api/v1/tokens", &json!({"name": "ci", "role": "viewer", "project": "demo"})).await;
    assert_eq!(status, 409, "names are unique: {body}");
    let (_, list) = sandbox.get("/api/v1/tokens").await;
    let names: Vec<&str> = list["items"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["admin", "ci"]);
    assert!(!list.to_string().contains(&made), "a listed token is never shown");
    let (status, _) = delete(&sandbox, "/api/v1/tokens/ci").await;
    assert_eq!(status, 200);
    let after = ci.get(format!("{}/api/v1/whoami", sandbox.api_url)).send().await.unwrap();
    assert_eq!(after.status(), 401);
    let _ = Permission::Read;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refresh_is_answered_with_the_request_the_warehouse_handled() {
    let sandbox = Sandbox::start(1).await;
    let (_gitops, _commit) = started(&sandbox).await;
    let (status, body) = sandbox.post("/api/v1/projects/demo/warehouses/app/refresh", "").await;
    assert_eq!(status, 202, "{body}");
    let request = body["requestId"].as_str().unwrap().to_owned();
    wait::until("the warehouse to handle the refresh", TIMEOUT, || async {
        let (_, list) = sandbox.get("/api/v1/projects/demo/warehouses").await;
        let handled = list["items"][0]["status"]["lastHandledRefresh"].clone();
        if handled == request.as_str() { Ok(()) } else { Err(handled.to_string()) }
    })
    .await;
}
