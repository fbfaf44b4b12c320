//! Kubernetes users approving by RBAC, and `lading apply` writing the custom resources.

use super::*;

/// `lading approve` of freight `id` for `uat`, with `token`.
fn lading_approve(sandbox: &Sandbox, token: &str, id: &str) -> std::process::Output {
    std::process::Command::new(common::LADING)
        .args(["approve", "--freight", id, "--stage", "uat", "--project", "demo"])
        .env("LADING_SERVER", &sandbox.api_url)
        .env("LADING_TOKEN", token)
        .env("XDG_CONFIG_HOME", common::NO_CONFIG)
        .env_remove("LADING_PROJECT")
        .output()
        .expect("lading runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kubernetes_user_approves_only_when_rbac_lets_them_promote_the_stage() {
    use lading_tests::kube::{ALICE, BOB};
    let (kube, sandbox) = cluster_with_lading().await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    app.commit("app.txt", "v1", "first feature");
    apply_until_ok(&kube, &quickstart(&app.url(), &gitops.url(), "1h")).await;
    let id = first_freight(&kube).await["metadata"]["name"].as_str().unwrap().to_owned();

    // Bob may not promote uat: refused, naming the verb Kubernetes RBAC would need.
    let refused = lading_approve(&sandbox, BOB.1, &id);
    assert!(!refused.status.success());
    let said = common::stderr(&refused);
    assert!(said.contains("\"bob\"") && said.contains("\"promote\"") && said.contains("lading-promoter"), "{said}");

    // Alice, given the ClusterRole lading-promoter in the project's namespace, approves.
    kube.kubectl_ok(&[
        "create",
        "rolebinding",
        "alice-promotes",
        "-n",
        "demo",
        "--clusterrole",
        "lading-promoter",
        "--user",
        ALICE.0,
    ])
    .await;
    wait::until("alice to be allowed to promote", TIMEOUT, || async {
        let (_, out, err) =
            kube.kubectl(&["auth", "can-i", "promote", "stages.lading.dev/uat", "-n", "demo", "--as", ALICE.0]).await;
        if out.trim() == "yes" { Ok(()) } else { Err(format!("{out}{err}")) }
    })
    .await;
    let approved = lading_approve(&sandbox, ALICE.1, &id);
    assert!(approved.status.success(), "{}", common::stderr(&approved));
    wait::until("the Freight object to show the approval", TIMEOUT, || async {
        let object = get_json(&kube, &["freight", &id, "-n", "demo"]).await;
        if object["status"]["approvedFor"]["uat"].is_object() { Ok(()) } else { Err(format!("{}", object["status"])) }
    })
    .await;

    // A Kubernetes identity has no Lading role: the rest goes through kubectl.
    let output = std::process::Command::new(common::LADING)
        .args(["get", "freight", "--project", "demo"])
        .env("LADING_SERVER", &sandbox.api_url)
        .env("LADING_TOKEN", ALICE.1)
        .env("XDG_CONFIG_HOME", common::NO_CONFIG)
        .env_remove("LADING_PROJECT")
        .output()
        .expect("lading runs");
    assert!(!output.status.success() && common::stderr(&output).contains("Kubernetes identity"), "{output:?}");
    // A token neither Lading nor the cluster knows is refused.
    let unknown = lading_approve(&sandbox, "not-a-token-anyone-knows", &id);
    assert!(common::stderr(&unknown).contains("not valid"), "{}", common::stderr(&unknown));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lading_apply_in_kubernetes_mode_writes_the_custom_resources() {
    let (kube, sandbox) = cluster_with_lading().await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    app.commit("app.txt", "v1", "first feature");

    // The whole pipeline in one request: the Project and its namespace first, then the
    // rest, each in the spec store when the answer comes.
    let (status, answer) = sandbox.post("/api/v1/apply", &quickstart(&app.url(), &gitops.url(), "1h")).await;
    assert_eq!(status, 200, "{answer}");
    let actions: Vec<&str> =
        answer["results"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["applied"; 5], "{answer}");
    let stage = get_json(&kube, &["stage", "uat", "-n", "demo", "--show-managed-fields"]).await;
    let managers: Vec<&str> = stage["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["operation"] == "Apply" && f["fieldsV1"]["f:spec"].is_object())
        .map(|f| f["manager"].as_str().unwrap())
        .collect();
    assert_eq!(managers, ["lading-apply"], "the spec's manager: {stage}");
    assert_eq!(stage["spec"]["requestedFreight"][0]["sources"]["stages"][0], "test", "{stage}");
    wait::until("freight from the applied warehouse", TIMEOUT, || async {
        let list = get_json(&kube, &["freight", "-n", "demo"]).await;
        if list["items"].as_array().is_some_and(|i| !i.is_empty()) { Ok(()) } else { Err(format!("{list}")) }
    })
    .await;

    // An invalid manifest is refused as standalone, naming the field, and nothing is
    // written.
    let bad = "apiVersion: lading.dev/v1alpha1\nkind: Stage\nmetadata: {name: bad, namespace: demo}\nspec:\n  \
               requestedFreight:\n  - origin: {kind: Bucket, name: app}\n    sources: {direct: true}\n";
    let (status, answer) = sandbox.post("/api/v1/apply", bad).await;
    assert_eq!(status, 422, "{answer}");
    assert!(answer.to_string().contains("spec.requestedFreight[0].origin.kind"), "{answer}");
    let (found, _, _) = kube.kubectl(&["get", "stage", "bad", "-n", "demo"]).await;
    assert!(!found, "an invalid stage was written to the cluster");

    // Deleting goes through kubectl: the api refuses, and the stage stays.
    let response = lading_tests::http_client::client()
        .delete(format!("{}/api/v1/projects/demo/stages/uat", sandbox.api_url))
        .bearer_auth(lading_tests::sandbox::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 409);
    assert!(stage_in_api(&sandbox, "uat").await.is_some());
}
