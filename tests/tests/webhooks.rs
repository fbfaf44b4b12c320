//! Webhook receivers, as providers call them: GitHub, GitLab, Docker Hub, Quay and Harbor
//! payloads of the shapes those providers send, correctly signed, badly signed and
//! unsigned, to the path the ProjectConfig's status shows; a push refreshes only the
//! warehouses of the pushed repository (as the event log shows), a refused request
//! publishes nothing, and a GitHub push brings a new commit to `test` with no polling.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use lading_bus::names::EVENTS_STREAM;
use lading_domain::secrets::Secrets;
use lading_tests::git::Repo;
use lading_tests::sandbox::{Sandbox, SandboxOptions};
use lading_tests::signing::{hex, hub_signature};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const TIMEOUT: Duration = Duration::from_secs(90);

const GITHUB_SECRET: &str = "gh-hook-7f3a9c1e52b84d6f";
const GITLAB_TOKEN: &str = "gl-token-0b1c2d3e4f5a6b7c";
const HARBOR_AUTH: &str = "Basic aGFyYm9yOnMzY3JldC1oYXJib3I=";

fn secrets() -> Secrets {
    Secrets::parse(&format!(
        "github: {{secret: {GITHUB_SECRET}}}\ngitlab: {{secret-token: {GITLAB_TOKEN}}}\nhub: {{secret: hub-path-secret-1a2b3c}}\nquay: {{secret: quay-path-secret-4d5e6f}}\nharbor: {{auth-header: '{HARBOR_AUTH}'}}\ngeneric: {{secret: generic-path-secret-9z8y}}\n"
    ))
    .unwrap()
}

async fn sandbox() -> Sandbox {
    Sandbox::start_with_options(SandboxOptions { secrets: secrets(), ..SandboxOptions::default() }).await
}

/// The receivers of project `demo`: one per provider under test, one whose secret does
/// not exist.
const RECEIVERS: &str = r#"  webhookReceivers:
  - name: gh
    github: {secretRef: {name: github}}
  - name: gl
    gitlab: {secretRef: {name: gitlab}}
  - name: hub
    dockerhub: {secretRef: {name: hub}}
  - name: quay
    quay: {secretRef: {name: quay}}
  - name: harbor
    harbor: {secretRef: {name: harbor}}
  - name: later
    gitea: {secretRef: {name: not-yet}}
  - name: hook
    generic:
      secretRef: {name: generic}
      actions:
      - action: Refresh
        whenExpression: "request.header('X-Event') == 'release'"
        targetSelectionCriteria:
        - kind: Warehouse
          name: "${{ request.body.warehouse }}"
        - kind: Warehouse
          labelSelector:
            matchLabels: {team: "${{ request.params('team') }}"}
"#;

/// Project `demo` with warehouses on Git repositories `a` and `b`, an image on Docker
/// Hub, one on Quay, one on Harbor, and an OCI chart on Harbor; interval 1h, so only
/// refreshes discover.
fn project(a: &str, b: &str) -> String {
    let warehouse = |name: &str, labels: &str, subscription: &str| {
        format!(
            "---\napiVersion: lading.dev/v1alpha1\nkind: Warehouse\nmetadata: {{name: {name}, namespace: demo, labels: {{{labels}}}}}\nspec:\n  interval: 1h\n  subscriptions:\n  - {subscription}\n"
        )
    };
    [
        format!(
            "apiVersion: lading.dev/v1alpha1\nkind: Project\nmetadata: {{name: demo}}\n---\napiVersion: lading.dev/v1alpha1\nkind: ProjectConfig\nmetadata: {{name: demo, namespace: demo}}\nspec:\n{RECEIVERS}"
        ),
        warehouse("repo-a", "team: red", &format!("git: {{repoURL: \"{a}\", branch: main}}")),
        warehouse("repo-a-release", "team: blue", &format!("git: {{repoURL: \"{a}\", branch: release}}")),
        warehouse("repo-b", "team: red", &format!("git: {{repoURL: \"{b}\"}}")),
        warehouse("hub-app", "", "image: {repoURL: docker.io/example-org/app, constraint: ^1}"),
        warehouse("quay-app", "", "image: {repoURL: quay.io/example-org/app, imageSelectionStrategy: Lexical}"),
        warehouse("harbor-app", "", "image: {repoURL: harbor.example.com/library/alpine}"),
        warehouse("harbor-chart", "", "chart: {repoURL: \"oci://harbor.example.com/charts/my-chart\"}"),
    ]
    .concat()
}

/// Each receiver's path, from the ProjectConfig's status.
async fn receiver_paths(sandbox: &Sandbox) -> BTreeMap<String, String> {
    let (status, config) = sandbox.get("/api/v1/projects/demo/projectconfig").await;
    assert_eq!(status, 200, "{config}");
    config["status"]["webhookReceivers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["name"].as_str().unwrap().to_owned(), r["path"].as_str().unwrap().to_owned()))
        .collect()
}

/// `POST`s `body` with `headers` to `path`, with no token: (status, JSON answer).
async fn deliver(sandbox: &Sandbox, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, Value) {
    let mut request =
        lading_tests::http_client::client().post(format!("{}{path}", sandbox.api_url)).body(body.to_owned());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// How many refresh requests each warehouse of `demo` has in the event log.
async fn refreshes_in_log(sandbox: &Sandbox) -> BTreeMap<String, usize> {
    let bus = sandbox.nats.bus("test").await;
    let stream = bus.jetstream().get_stream(EVENTS_STREAM).await.unwrap();
    let mut subjects = stream.info_with_subjects("lading.evt.demo.warehouse.*.refresh-requested").await.unwrap();
    let mut counts = BTreeMap::new();
    while let Some(entry) = subjects.next().await {
        let (subject, count) = entry.unwrap();
        let warehouse = subject.split('.').nth(4).unwrap().to_owned();
        counts.insert(warehouse, count);
    }
    counts
}

fn github_push(clone_url: &str, reference: &str, changed: &str) -> String {
    json!({
        "ref": reference,
        "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "after": "59b20b8d5c6ff8d09518454d4dd8b7b30f095ab5",
        "created": false, "deleted": false, "forced": false,
        "repository": {
            "id": 186853002, "node_id": "MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=", "name": "app",
            "full_name": "example-org/app", "private": false,
            "html_url": "https://github.com/example-org/app",
            "clone_url": clone_url,
            "ssh_url": "git@github.com:example-org/app.git",
            "default_branch": "main"
        },
        "pusher": {"name": "dev", "email": "dev@example.com"},
        "sender": {"login": "dev", "id": 21031067, "type": "User"},
        "commits": [{
            "id": "59b20b8d5c6ff8d09518454d4dd8b7b30f095ab5", "tree_id": "1b7c8a64bd4d0b3a8a5b6d0cd59c5f4ad1a0b0c1",
            "distinct": true, "message": "Update app", "timestamp": "2026-11-30T10:00:00Z",
            "author": {"name": "Dev", "email": "dev@example.com", "username": "dev"},
            "added": [], "removed": [], "modified": [changed]
        }],
        "head_commit": {
            "id": "59b20b8d5c6ff8d09518454d4dd8b7b30f095ab5", "message": "Update app",
            "added": [], "removed": [], "modified": [changed]
        }
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_provider_refreshes_only_the_warehouses_of_what_was_pushed() {
    let sandbox = sandbox().await;
    let a = Repo::create(sandbox.dir.path(), "a");
    let b = Repo::create(sandbox.dir.path(), "b");
    sandbox.apply(&project(&a.url(), &b.url())).await;
    let paths = receiver_paths(&sandbox).await;

    // GitHub: a push to a's main refreshes a's main warehouse only.
    let body = github_push(&a.url(), "refs/heads/main", "app.txt");
    let signature = hub_signature(GITHUB_SECRET, &body);
    let headers = [("X-GitHub-Event", "push"), ("X-Hub-Signature-256", signature.as_str())];
    let (status, answer) = deliver(&sandbox, &paths["gh"], &headers, &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["refreshed"], 1, "{answer}");
    assert_eq!(answer["warehouses"], json!(["repo-a"]));

    // GitHub ping: answered, nothing refreshed.
    let ping =
        r#"{"zen": "Design for failure.", "hook_id": 109948940, "hook": {"type": "Repository", "events": ["push"]}}"#;
    let signature = hub_signature(GITHUB_SECRET, ping);
    let headers = [("X-GitHub-Event", "ping"), ("X-Hub-Signature-256", signature.as_str())];
    let (status, answer) = deliver(&sandbox, &paths["gh"], &headers, ping).await;
    assert_eq!((status, answer["refreshed"].clone()), (200, json!(0)), "{answer}");

    // GitHub package: a container published to GHCR refreshes nothing here (no
    // warehouse watches it), and is answered.
    let package = json!({
        "action": "published",
        "package": {
            "id": 1, "name": "app", "namespace": "example-org", "package_type": "CONTAINER",
            "package_version": {
                "id": 2, "version": "sha256:3c4e", "package_url": "ghcr.io/example-org/app:1.2.3",
                "container_metadata": {
                    "tag": {"name": "1.2.3", "digest": "sha256:3c4e"},
                    "manifest": {"media_type": "application/vnd.oci.image.manifest.v1+json",
                                 "config": {"media_type": "application/vnd.oci.image.config.v1+json"}}
                }
            },
            "registry": {"about_url": "https://docs.github.com/packages", "name": "GitHub CONTAINER registry",
                         "type": "CONTAINER", "url": "https://ghcr.io/example-org", "vendor": "GitHub Inc"}
        }
    })
    .to_string();
    let signature = hub_signature(GITHUB_SECRET, &package);
    let headers = [("X-GitHub-Event", "package"), ("X-Hub-Signature-256", signature.as_str())];
    let (status, answer) = deliver(&sandbox, &paths["gh"], &headers, &package).await;
    assert_eq!((status, answer["refreshed"].clone()), (200, json!(0)), "{answer}");

    // GitLab: a push to b (its default branch) refreshes b's warehouse only.
    let gitlab = json!({
        "object_kind": "push", "event_name": "push",
        "before": "95790bf891e76fee5e1747ab589903a6a1f80f22", "after": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
        "ref": "refs/heads/main", "checkout_sha": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
        "user_id": 4, "user_name": "John Smith", "user_username": "jsmith", "project_id": 15,
        "project": {"id": 15, "name": "b", "git_http_url": b.url(), "git_ssh_url": "git@example.com:mike/b.git"},
        "repository": {"name": "b", "url": "git@example.com:mike/b.git", "homepage": "http://example.com/mike/b",
                       "git_http_url": b.url(), "git_ssh_url": "git@example.com:mike/b.git", "visibility_level": 0},
        "commits": [{"id": "b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327", "message": "Update Catalan translation",
                     "timestamp": "2026-11-30T10:00:00+00:00", "author": {"name": "Jordi", "email": "jordi@example.com"},
                     "added": ["CHANGELOG"], "modified": ["app/controller/application.rb"], "removed": []}],
        "total_commits_count": 1
    })
    .to_string();
    let headers = [("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Token", GITLAB_TOKEN)];
    let (status, answer) = deliver(&sandbox, &paths["gl"], &headers, &gitlab).await;
    assert_eq!((status, answer["warehouses"].clone()), (200, json!(["repo-b"])), "{answer}");

    // Docker Hub: a 1.x tag refreshes the Docker Hub image's warehouse.
    let hub = json!({
        "callback_url": "https://registry.hub.docker.com/u/example-org/app/hook/2141b5bi5i5b02bec211i4eeih0242eg11000a/",
        "push_data": {"pushed_at": 1764496800, "pusher": "trustedbuilder", "tag": "1.4.0",
                      "media_type": "application/vnd.oci.image.index.v1+json"},
        "repository": {"comment_count": 0, "date_created": 1417494799, "description": "", "is_official": false,
                       "is_private": true, "is_trusted": true, "name": "app", "namespace": "example-org",
                       "owner": "example-org", "repo_name": "example-org/app",
                       "repo_url": "https://registry.hub.docker.com/u/example-org/app/", "star_count": 0, "status": "Active"}
    })
    .to_string();
    let (status, answer) = deliver(&sandbox, &paths["hub"], &[], &hub).await;
    assert_eq!((status, answer["warehouses"].clone()), (200, json!(["hub-app"])), "{answer}");
    // A tag outside the subscription's constraint refreshes nothing.
    let (status, answer) = deliver(&sandbox, &paths["hub"], &[], &hub.replace("1.4.0", "2.0.0")).await;
    assert_eq!((status, answer["refreshed"].clone()), (200, json!(0)), "{answer}");

    // Quay: a repository push refreshes the Quay image's warehouse.
    let quay = json!({
        "name": "app", "repository": "example-org/app", "namespace": "example-org",
        "docker_url": "quay.io/example-org/app", "homepage": "https://quay.io/repository/example-org/app",
        "updated_tags": ["latest", "1.4.0"]
    })
    .to_string();
    let (status, answer) = deliver(&sandbox, &paths["quay"], &[], &quay).await;
    assert_eq!((status, answer["warehouses"].clone()), (200, json!(["quay-app"])), "{answer}");

    // Harbor: an image push and a chart push, each refreshing its own warehouse.
    let harbor = |repository: &str, tag: &str| {
        json!({
            "type": "PUSH_ARTIFACT", "occur_at": 1764496800, "operator": "admin",
            "event_data": {
                "resources": [{"digest": "sha256:954b378c375d852eb3c63ab88978f640b4348b01c1b3456a024a81536dafbbf4",
                               "tag": tag, "resource_url": format!("harbor.example.com/{repository}:{tag}")}],
                "repository": {"date_created": 1764496800, "name": "alpine", "namespace": "library",
                               "repo_full_name": repository, "repo_type": "public"}
            }
        })
        .to_string()
    };
    let headers = [("Authorization", HARBOR_AUTH)];
    let (status, answer) = deliver(&sandbox, &paths["harbor"], &headers, &harbor("library/alpine", "3.20.3")).await;
    assert_eq!((status, answer["warehouses"].clone()), (200, json!(["harbor-app"])), "{answer}");
    let (status, answer) = deliver(&sandbox, &paths["harbor"], &headers, &harbor("charts/my-chart", "1.0.0")).await;
    assert_eq!((status, answer["warehouses"].clone()), (200, json!(["harbor-chart"])), "{answer}");

    // The log holds exactly one refresh request per warehouse refreshed above.
    let expected: BTreeMap<String, usize> =
        ["repo-a", "repo-b", "hub-app", "quay-app", "harbor-app", "harbor-chart"].map(|w| (w.to_owned(), 1)).into();
    assert_eq!(refreshes_in_log(&sandbox).await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refused_requests_are_answered_in_json_and_publish_nothing() {
    let sandbox = sandbox().await;
    let a = Repo::create(sandbox.dir.path(), "a");
    let b = Repo::create(sandbox.dir.path(), "b");
    sandbox.apply(&project(&a.url(), &b.url())).await;
    let paths = receiver_paths(&sandbox).await;
    let body = github_push(&a.url(), "refs/heads/main", "app.txt");
    let push = ("X-GitHub-Event", "push");
    let refused = |status: u16, answer: &Value, expected: u16, says: &str| {
        assert_eq!(status, expected, "{answer}");
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(error.contains(says), "{expected}: {answer}");
        assert!(!error.contains(GITHUB_SECRET) && !error.contains(GITLAB_TOKEN), "{answer}");
    };

    // Unsigned, signed with another secret, signed over another body, not sha256=.
    let (status, answer) = deliver(&sandbox, &paths["gh"], &[push], &body).await;
    refused(status, &answer, 401, "X-Hub-Signature-256 header is missing");
    let other = hub_signature("not-the-secret", &body);
    let (status, answer) = deliver(&sandbox, &paths["gh"], &[push, ("X-Hub-Signature-256", &other)], &body).await;
    refused(status, &answer, 401, "does not match");
    let tampered = hub_signature(GITHUB_SECRET, &body.replace("refs/heads/main", "refs/heads/x"));
    let (status, answer) = deliver(&sandbox, &paths["gh"], &[push, ("X-Hub-Signature-256", &tampered)], &body).await;
    refused(status, &answer, 401, "does not match");
    let bare = hub_signature(GITHUB_SECRET, &body).replace("sha256=", "");
    let (status, answer) = deliver(&sandbox, &paths["gh"], &[push, ("X-Hub-Signature-256", &bare)], &body).await;
    refused(status, &answer, 401, "sha256=");
    // A bearer token does not stand in for a signature.
    let token = format!("Bearer {}", lading_tests::sandbox::ADMIN_TOKEN);
    let (status, answer) = deliver(&sandbox, &paths["gh"], &[push, ("Authorization", &token)], &body).await;
    refused(status, &answer, 401, "X-Hub-Signature-256 header is missing");

    // GitLab without its token, or with another; Harbor with another Authorization.
    let gitlab = r#"{"ref": "refs/heads/main", "repository": {"git_http_url": "https://example.com/b.git"}}"#;
    let (status, answer) = deliver(&sandbox, &paths["gl"], &[("X-Gitlab-Event", "Push Hook")], gitlab).await;
    refused(status, &answer, 401, "X-Gitlab-Token header is missing");
    let headers = [("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Token", "gl-token-guess")];
    let (status, answer) = deliver(&sandbox, &paths["gl"], &headers, gitlab).await;
    refused(status, &answer, 401, "does not match");
    let (status, answer) = deliver(&sandbox, &paths["harbor"], &[("Authorization", "Basic Z3Vlc3M=")], "{}").await;
    refused(status, &answer, 401, "Authorization header does not match");

    // A path no receiver listens at (a guessed hash, a provider swapped), for any body.
    let guessed = format!("/webhooks/dockerhub/{}", "0".repeat(64));
    let (status, answer) = deliver(&sandbox, &guessed, &[], r#"{"push_data": {}}"#).await;
    refused(status, &answer, 404, "no webhook receiver listens at this path");
    let swapped = paths["hub"].replace("/dockerhub/", "/quay/");
    let (status, answer) = deliver(&sandbox, &swapped, &[], "{}").await;
    refused(status, &answer, 404, "no webhook receiver");

    // Signed, but not what the provider sends: a 400 naming what is missing.
    let no_url = r#"{"ref": "refs/heads/main", "repository": {"name": "app"}}"#;
    let signature = hub_signature(GITHUB_SECRET, no_url);
    let (status, answer) = deliver(&sandbox, &paths["gh"], &[push, ("X-Hub-Signature-256", &signature)], no_url).await;
    refused(status, &answer, 400, "repository: missing field `clone_url`");
    let (status, answer) = deliver(&sandbox, &paths["hub"], &[], r#"{"push_data": {"tag": "1"}}"#).await;
    refused(status, &answer, 400, "missing field `repository`");
    let (status, answer) = deliver(&sandbox, &paths["quay"], &[], "not json").await;
    refused(status, &answer, 400, "not JSON");
    let signature = hub_signature(GITHUB_SECRET, "{}");
    let issues = [("X-GitHub-Event", "issues"), ("X-Hub-Signature-256", signature.as_str())];
    let (status, answer) = deliver(&sandbox, &paths["gh"], &issues, "{}").await;
    refused(status, &answer, 400, "\"issues\" is not supported");

    // More than 2 MiB: refused before it is read whole.
    let huge = format!("{{\"docker_url\": \"quay.io/example-org/app\", \"pad\": \"{}\"}}", "x".repeat(3 << 20));
    let (status, answer) = deliver(&sandbox, &paths["quay"], &[], &huge).await;
    refused(status, &answer, 413, "larger than the limit of 2097152 bytes");

    // Nothing above reached the log.
    assert_eq!(refreshes_in_log(&sandbox).await, BTreeMap::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn project_config_status_shows_where_each_receiver_listens_and_which_secrets_are_missing() {
    let sandbox = sandbox().await;
    let a = Repo::create(sandbox.dir.path(), "a");
    let b = Repo::create(sandbox.dir.path(), "b");
    sandbox.apply(&project(&a.url(), &b.url())).await;
    let (status, config) = sandbox.get("/api/v1/projects/demo/projectconfig").await;
    assert_eq!(status, 200, "{config}");

    // The path is /webhooks/<type>/<sha256 of project, name and secret>; the URL is the
    // api's, since no external URL is configured.
    let hash = hex(&Sha256::digest(format!("demogh{GITHUB_SECRET}").as_bytes()));
    let receivers = config["status"]["webhookReceivers"].as_array().unwrap();
    let github = receivers.iter().find(|r| r["name"] == "gh").unwrap();
    assert_eq!(github["path"], format!("/webhooks/github/{hash}"));
    assert_eq!(github["url"], format!("{}/webhooks/github/{hash}", sandbox.api_url));
    let names: Vec<&str> = receivers.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["gh", "gl", "hub", "quay", "harbor", "hook"]);

    // The receiver whose secret does not exist yet is applied, and reported.
    let ready = &config["status"]["conditions"][0];
    assert_eq!((ready["type"].as_str(), ready["status"].as_str()), (Some("Ready"), Some("False")), "{ready}");
    assert_eq!(ready["reason"], "MissingSecret");
    assert_eq!(ready["message"], "spec.webhookReceivers[5].gitea.secretRef: secret \"not-yet\" does not exist");
    let shown = config.to_string();
    for secret in [GITHUB_SECRET, GITLAB_TOKEN, HARBOR_AUTH] {
        assert!(!shown.contains(secret), "the status shows a secret: {shown}");
    }

    // A receiver with two providers, or two receivers of one name, is refused naming it.
    let twice = "apiVersion: lading.dev/v1alpha1\nkind: ProjectConfig\nmetadata: {name: demo, namespace: demo}\nspec:\n  webhookReceivers:\n  - name: gh\n    github: {secretRef: {name: github}}\n    gitlab: {secretRef: {name: gitlab}}\n";
    let (status, answer) = sandbox.post("/api/v1/apply", twice).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["details"][0]["field"], "spec.webhookReceivers[0].gitlab", "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_generic_receiver_refreshes_what_its_target_selection_criteria_select() {
    let sandbox = sandbox().await;
    let a = Repo::create(sandbox.dir.path(), "a");
    let b = Repo::create(sandbox.dir.path(), "b");
    sandbox.apply(&project(&a.url(), &b.url())).await;
    let paths = receiver_paths(&sandbox).await;
    let path = format!("{}?team=blue", paths["hook"]);

    // Its whenExpression holds: the warehouse the body names and those labelled with the
    // query's team.
    let headers = [("X-Event", "release"), ("Content-Type", "application/json")];
    let (status, answer) = deliver(&sandbox, &path, &headers, r#"{"warehouse": "hub-app"}"#).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["warehouses"], json!(["hub-app", "repo-a-release"]), "{answer}");
    // It does not hold: nothing.
    let (status, answer) = deliver(&sandbox, &path, &[("X-Event", "build")], r#"{"warehouse": "hub-app"}"#).await;
    assert_eq!((status, answer["refreshed"].clone()), (200, json!(0)), "{answer}");
    // A body the expressions cannot read is refused naming the field.
    let (status, answer) = deliver(&sandbox, &path, &headers, "[1, 2]").await;
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("spec.webhookReceivers[6].generic.actions[0].targetSelectionCriteria[0].name"),
        "{answer}"
    );

    let expected: BTreeMap<String, usize> = [("hub-app".to_owned(), 1), ("repo-a-release".to_owned(), 1)].into();
    assert_eq!(refreshes_in_log(&sandbox).await, expected);
}

/// The quickstart's shape: one warehouse polling hourly, `test` auto-promoting, and a
/// GitHub receiver.
fn pipeline(app: &str, gitops: &str) -> String {
    format!(
        r#"apiVersion: lading.dev/v1alpha1
kind: Project
metadata: {{name: demo}}
---
apiVersion: lading.dev/v1alpha1
kind: ProjectConfig
metadata: {{name: demo, namespace: demo}}
spec:
  promotionPolicies:
  - stageSelector: {{name: test}}
    autoPromotionEnabled: true
  webhookReceivers:
  - name: gh
    github: {{secretRef: {{name: github}}}}
---
apiVersion: lading.dev/v1alpha1
kind: Warehouse
metadata: {{name: app, namespace: demo}}
spec:
  interval: 1h
  subscriptions:
  - git: {{repoURL: "{app}", branch: main}}
---
apiVersion: lading.dev/v1alpha1
kind: Stage
metadata: {{name: test, namespace: demo}}
spec:
  requestedFreight:
  - origin: {{kind: Warehouse, name: app}}
    sources: {{direct: true}}
  promotionTemplate:
    spec:
      steps:
      - uses: git-clone
        config:
          repoURL: "{gitops}"
          checkout: [{{branch: stage/test, create: true, path: ./out}}]
      - uses: file-write
        config: {{path: ./out/freight, contents: "${{{{ ctx.targetFreight.name }}}}", overwrite: true}}
      - uses: git-commit
        config: {{path: ./out, message: "test"}}
      - uses: git-push
        config: {{path: ./out}}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_github_push_brings_the_new_commit_to_test_with_no_polling() {
    let sandbox = sandbox().await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let first = app.commit("app.txt", "v1", "first");
    sandbox.apply(&pipeline(&app.url(), &gitops.url())).await;
    sandbox.wait_current_in("demo", &first, "test", TIMEOUT).await;
    let url = {
        let (_, config) = sandbox.get("/api/v1/projects/demo/projectconfig").await;
        config["status"]["webhookReceivers"][0]["url"].as_str().unwrap().to_owned()
    };

    // A tool outside Lading follows the project's public events from Python.
    let subscriber_url = sandbox.nats.url_for(lading_bus::nats_users::NatsUser::Subscriber);
    let mut subscriber = lading_tests::python::Subscriber::start(sandbox.dir.path(), &subscriber_url, "demo");

    // A new commit; the warehouse polls only hourly, so only the webhook can bring it.
    let second = app.commit("app.txt", "v2", "second");
    let body = github_push(&app.url(), "refs/heads/main", "app.txt");
    let signature = hub_signature(GITHUB_SECRET, &body);
    let started = Instant::now();
    let response = lading_tests::http_client::client()
        .post(&url)
        .header("X-GitHub-Event", "push")
        .header("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
        .header("X-Hub-Signature-256", signature)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["warehouses"], json!(["app"]), "{answer}");
    sandbox.wait_current_in("demo", &second, "test", TIMEOUT).await;
    let latency = started.elapsed();
    println!("webhook → freight current in test: {latency:?}");
    assert_eq!(refreshes_in_log(&sandbox).await, [("app".to_owned(), 1)].into());
    // The Python subscriber printed the new freight's creation and its promotion to test.
    let created = subscriber
        .until(TIMEOUT, |e| {
            e["type"] == "dev.lading.freight.created.v1" && e["data"]["commits"][0]["id"] == second.as_str()
        })
        .await
        .pop()
        .unwrap();
    let freight = created["data"]["freightId"].as_str().unwrap().to_owned();
    let succeeded = subscriber
        .until(TIMEOUT, |e| {
            e["type"] == "dev.lading.promotion.succeeded.v1" && e["data"]["freightId"] == freight.as_str()
        })
        .await
        .pop()
        .unwrap();
    assert_eq!(succeeded["data"]["stage"], "test");
    println!("the Python subscriber printed:\n{created}\n{succeeded}");
}
