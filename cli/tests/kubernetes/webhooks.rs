//! Webhook receivers whose secrets are Kubernetes Secrets made and changed with `kubectl`.

use lading_tests::signing::hub_signature;

use super::*;

/// A GitHub push of `reference` to the repository cloned from `clone_url` (the fields
/// receivers read, in GitHub's shape).
fn github_push(clone_url: &str, reference: &str) -> String {
    serde_json::json!({
        "ref": reference,
        "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "after": "59b20b8d5c6ff8d09518454d4dd8b7b30f095ab5",
        "repository": {"id": 186853002, "name": "app", "full_name": "example-org/app", "clone_url": clone_url,
            "html_url": "https://github.com/example-org/app", "default_branch": "main"},
        "pusher": {"name": "dev", "email": "dev@example.com"},
        "head_commit": {"id": "59b20b8d5c6ff8d09518454d4dd8b7b30f095ab5", "message": "Update app"},
    })
    .to_string()
}

/// `POST`s a GitHub `push` with `signature` to `path`, with no token: (status, answer).
async fn deliver_push(sandbox: &Sandbox, path: &str, signature: &str, body: &str) -> (u16, Value) {
    let response = lading_tests::http_client::client()
        .post(format!("{}{path}", sandbox.api_url))
        .header("X-GitHub-Event", "push")
        .header("X-Hub-Signature-256", signature)
        .body(body.to_owned())
        .timeout(TIMEOUT)
        .send()
        .await
        .expect("the api answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The ProjectConfig object's `Ready` condition and its receiver's path, once `ready`.
async fn receiver_when(kube: &TestKube, ready: &str) -> (Value, String) {
    wait::until(&format!("the ProjectConfig to be Ready={ready}"), TIMEOUT, || async {
        let config = get_json(kube, &["projectconfig", "demo", "-n", "demo"]).await;
        let condition = conditions_of(&config, "Ready").first().cloned().unwrap_or_default();
        let path = config["status"]["webhookReceivers"][0]["path"].as_str().unwrap_or_default().to_owned();
        if condition["status"] == ready { Ok((condition, path)) } else { Err(format!("{}", config["status"])) }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_receiver_authenticates_with_a_secret_made_by_kubectl() {
    let (kube, sandbox) = cluster_with_lading().await;
    let app = Repo::create(sandbox.dir.path(), "app");
    app.commit("app.txt", "v1", "first feature");
    apply_project(&kube).await;
    let manifests = format!(
        "apiVersion: lading.dev/v1alpha1\nkind: ProjectConfig\nmetadata: {{name: demo, namespace: demo}}\n\
         spec:\n  webhookReceivers:\n  - name: gh\n    github: {{secretRef: {{name: github-webhook}}}}\n---\n\
         apiVersion: lading.dev/v1alpha1\nkind: Warehouse\nmetadata: {{name: app, namespace: demo}}\n\
         spec:\n  interval: 1h\n  subscriptions:\n  - git: {{repoURL: \"{}\", branch: main}}\n",
        app.url()
    );
    let (ok, out, err) = kube.kubectl_with_input(&["apply", "-f", "-"], Some(&manifests)).await;
    assert!(ok, "kubectl apply: {out}{err}");

    // No Secret yet: the receiver does not listen, and the ProjectConfig says why.
    let (condition, path) = receiver_when(&kube, "False").await;
    assert_eq!(condition["reason"], "MissingSecret", "{condition}");
    assert!(condition["message"].as_str().unwrap().contains("github-webhook"), "{condition}");
    assert!(path.is_empty(), "{path}");

    // The Secret made with kubectl in the project's namespace: the receiver listens.
    let first_secret = "kubectl-made-3e1f9a7c";
    kube.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "github-webhook",
        "-n",
        "demo",
        "--from-literal",
        &format!("secret={first_secret}"),
    ])
    .await;
    let (_, path) = receiver_when(&kube, "True").await;
    assert!(path.starts_with("/webhooks/github/"), "{path}");
    let freight = || async {
        let list = get_json(&kube, &["freight", "-n", "demo"]).await;
        list["items"].as_array().map(Vec::len).unwrap_or_default()
    };
    wait::until("the first freight", TIMEOUT, || async {
        match freight().await {
            1 => Ok(()),
            n => Err(format!("{n} freight")),
        }
    })
    .await;

    // A push signed with another key is refused; one signed with the Secret's value makes
    // the warehouse (interval 1 h) discover the new commit now.
    let second = app.commit("app.txt", "v2", "second feature");
    let body = github_push(&app.url(), "refs/heads/main");
    let (status, answer) = deliver_push(&sandbox, &path, &hub_signature("not-the-secret", &body), &body).await;
    assert_eq!(status, 401, "{answer}");
    let (status, answer) = deliver_push(&sandbox, &path, &hub_signature(first_secret, &body), &body).await;
    assert_eq!((status, answer["refreshed"].clone()), (200, serde_json::json!(1)), "{answer}");
    wait::until("a Freight object of the new commit", TIMEOUT, || async {
        let list = get_json(&kube, &["freight", "-n", "demo"]).await;
        let found = list["items"].as_array().into_iter().flatten().any(|f| f["commits"][0]["id"] == second.as_str());
        if found {
            Ok(())
        } else {
            Err(format!("{} freight", list["items"].as_array().map(Vec::len).unwrap_or_default()))
        }
    })
    .await;

    // The Secret changed with kubectl: the receiver moves to the new path, and the old
    // one (and the old key) no longer work.
    let patch = r#"{"stringData":{"secret":"kubectl-rotated-8b2d4c6e"}}"#;
    kube.kubectl_ok(&["patch", "secret", "github-webhook", "-n", "demo", "--type", "merge", "-p", patch]).await;
    let moved = wait::until("the receiver to move", TIMEOUT, || async {
        let (_, now) = receiver_when(&kube, "True").await;
        if now != path && !now.is_empty() { Ok(now) } else { Err(now) }
    })
    .await;
    let (status, answer) = deliver_push(&sandbox, &path, &hub_signature(first_secret, &body), &body).await;
    assert_eq!(status, 404, "{answer}");
    let (status, answer) =
        deliver_push(&sandbox, &moved, &hub_signature("kubectl-rotated-8b2d4c6e", &body), &body).await;
    assert_eq!(status, 200, "{answer}");
}
