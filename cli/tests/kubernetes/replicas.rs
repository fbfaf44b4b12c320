//! Two apis in Kubernetes mode: one acts on an edit, the other takes over when it stops.

use super::*;

/// An api in Kubernetes mode on `kube` and the sandbox's NATS, beside the sandbox's own.
pub(super) struct KubeApi {
    pub(super) shutdown: lading_runtime::Shutdown,
    pub(super) task: tokio::task::JoinHandle<()>,
}

pub(super) async fn start_kube_api(sandbox: &Sandbox, kube: &TestKube) -> KubeApi {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let nats = sandbox.nats.url_for(lading_bus::nats_users::NatsUser::Api);
    let mut config = lading_api::Config::new(nats, addr);
    config.kube = Some(kube.lading_settings().await);
    let shutdown = lading_runtime::Shutdown::new();
    let stop = shutdown.clone();
    let task = tokio::spawn(async move {
        let _ = lading_api::serve(listener, config, lading_runtime::Readiness::new(), stop).await;
    });
    wait::until("the Kubernetes-mode api to be ready", TIMEOUT, || async move {
        let response =
            lading_tests::http_client::get(format!("http://{addr}/readyz")).await.map_err(|e| e.to_string())?;
        if response.status().is_success() { Ok(()) } else { Err(response.status().to_string()) }
    })
    .await;
    KubeApi { shutdown, task }
}

/// A cluster with Lading's CRDs, a sandbox whose own api keeps specs itself, one api in
/// Kubernetes mode beside it, and Kargo's quickstart applied to the cluster over
/// repositories `app` (one commit) and `gitops`.
pub(super) struct KubeQuickstart {
    pub kube: TestKube,
    pub sandbox: Sandbox,
    pub first: KubeApi,
    pub app: Repo,
    pub gitops: Repo,
}

pub(super) async fn kube_quickstart() -> KubeQuickstart {
    let kube = TestKube::start().await;
    kube.install_crds().await;
    let sandbox = Sandbox::start_with_options(SandboxOptions::default()).await;
    let first = start_kube_api(&sandbox, &kube).await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    app.commit("app.txt", "v1", "first feature");
    apply_until_ok(&kube, &quickstart(&app.url(), &gitops.url(), "1h")).await;
    KubeQuickstart { kube, sandbox, first, app, gitops }
}

/// How many Kubernetes Events with `reason` the project's namespace holds.
async fn events_with_reason(kube: &TestKube, reason: &str) -> usize {
    let selector = format!("reason={reason}");
    let list = get_json(kube, &["events", "-n", "demo", "--field-selector", &selector]).await;
    list["items"].as_array().map(Vec::len).unwrap_or_default()
}

/// Patches the Freight's alias field to an invalid value and waits until it is set back
/// to `alias`.
async fn invalid_alias_set_back(kube: &TestKube, id: &str, invalid: &str, alias: &str) {
    let patch = format!(r#"{{"alias":"{invalid}"}}"#);
    kube.kubectl_ok(&["patch", "freight", id, "-n", "demo", "--type", "merge", "-p", &patch]).await;
    wait::until(&format!("{invalid} to be set back to {alias}"), TIMEOUT, || async {
        let object = get_json(kube, &["freight", id, "-n", "demo"]).await;
        if object["alias"] == alias { Ok(()) } else { Err(format!("{}", object["alias"])) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_apis_in_kubernetes_mode_act_on_an_edit_once_and_one_takes_over_from_the_other() {
    // The sandbox's own api keeps specs itself; two more run in Kubernetes mode.
    let KubeQuickstart { kube, sandbox, first, app: _app, gitops: _gitops } = kube_quickstart().await;
    let freight = first_freight(&kube).await;
    let (id, alias) =
        (freight["metadata"]["name"].as_str().unwrap().to_owned(), freight["alias"].as_str().unwrap().to_owned());

    // The first api holds the lease (it made the Freight object alone); a second starts.
    let second = start_kube_api(&sandbox, &kube).await;
    // An invalid alias is set back with one Event, not one per api; a later valid edit,
    // handled after it, bounds the wait for a second Event.
    invalid_alias_set_back(&kube, &id, "Not_A_Label", &alias).await;
    let patch = r#"{"alias":"mellow-yak"}"#;
    kube.kubectl_ok(&["patch", "freight", &id, "-n", "demo", "--type", "merge", "-p", patch]).await;
    wait_alias_agrees(&kube, &sandbox, &id, "mellow-yak").await;
    assert_eq!(events_with_reason(&kube, "InvalidAlias").await, 1);

    // The first api stops: the second takes over, and acts on the next edit.
    first.shutdown.cancel();
    first.task.await.unwrap();
    invalid_alias_set_back(&kube, &id, "Also_Not_A_Label", "mellow-yak").await;
    assert_eq!(events_with_reason(&kube, "InvalidAlias").await, 2);
    second.shutdown.cancel();
    second.task.await.unwrap();
}
