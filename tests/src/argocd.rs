//! Argo CD's side of the Argo CD steps, on a real kube-apiserver: its `Application` CRD
//! (`tests/fixtures/argocd/application-crd.yaml`), Applications, and a stand-in for its
//! application controller that answers each sync operation the way Argo CD does (takes
//! `operation`, writes `status.operationState`, `status.sync`, `status.health`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

use crate::kube::TestKube;
use crate::wait;

/// The namespace the Applications live in (the steps' default).
pub const NAMESPACE: &str = "argocd";

/// A kube-apiserver with the Application CRD installed, and a client for it.
pub async fn start_cluster() -> (TestKube, kube::Client) {
    let kube = TestKube::start().await;
    install(&kube).await;
    let client = kube.client().await;
    (kube, client)
}

/// Where the Argo CD steps find the Applications of `kube`, polled every 50 ms.
pub fn access(kube: &TestKube) -> lading_promoter::steps::argocd::ArgoCdAccess {
    lading_promoter::steps::argocd::ArgoCdAccess {
        kubeconfig: Some(kube.kubeconfig_path()),
        poll: Duration::from_millis(50),
        ..Default::default()
    }
}

/// Installs the Application CRD and the `argocd` namespace, and waits until served.
pub async fn install(kube: &TestKube) {
    let crd = include_str!("../fixtures/argocd/application-crd.yaml");
    let (ok, out, err) = kube.kubectl_with_input(&["apply", "-f", "-"], Some(crd)).await;
    assert!(ok, "the Application CRD applies: {out}{err}");
    kube.kubectl_ok(&["wait", "--for", "condition=established", "--timeout=60s", "crd/applications.argoproj.io"]).await;
    kube.kubectl_ok(&["create", "namespace", NAMESPACE]).await;
}

pub fn applications(client: &kube::Client) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk("argoproj.io", "v1alpha1", "Application");
    Api::namespaced_with(client.clone(), NAMESPACE, &ApiResource::from_gvk_with_plural(&gvk, "applications"))
}

/// Creates Application `name` tracking `target_revision` of `repo_url`, annotated with
/// `annotations`.
pub async fn create_application(
    client: &kube::Client,
    name: &str,
    annotations: Value,
    repo_url: &str,
    target_revision: &str,
) {
    let app = json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": NAMESPACE, "annotations": annotations},
        "spec": {
            "project": "default",
            "source": {"repoURL": repo_url, "targetRevision": target_revision, "path": "."},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": name},
        },
    });
    let app: DynamicObject = serde_json::from_value(app).expect("an Application");
    applications(client).create(&Default::default(), &app).await.expect("the Application is created");
}

/// The Application as the apiserver has it.
pub async fn read(client: &kube::Client, name: &str) -> Value {
    serde_json::to_value(applications(client).get(name).await.expect("the Application reads")).unwrap()
}

/// How the stand-in controller ends the syncs it is asked for.
#[derive(Debug, Clone)]
pub enum SyncOutcome {
    /// `Succeeded` at the revision `resolve` gives for the target revision; health
    /// `Progressing` until [`FakeArgoCd::mark_healthy`].
    Succeed,
    /// `Failed` with this message.
    Fail(String),
    /// Never answered (an Argo CD that is down or stuck).
    Ignore,
}

/// A stand-in for Argo CD's application controller, polling every 50ms.
pub struct FakeArgoCd {
    task: tokio::task::JoinHandle<()>,
    client: kube::Client,
    /// Every operation the controller took, as `(application, operation)`.
    pub operations: Arc<Mutex<Vec<(String, Value)>>>,
}

type Resolve = dyn Fn(&str) -> String + Send + Sync;
type OutcomeFor = dyn Fn(&str) -> SyncOutcome + Send + Sync;

impl FakeArgoCd {
    /// Starts answering the sync operations of each Application with `outcome(name)`;
    /// `resolve` turns a source's `targetRevision` into the commit Argo CD would sync.
    pub fn start(client: kube::Client, outcome: Arc<OutcomeFor>, resolve: Arc<Resolve>) -> FakeArgoCd {
        let operations = Arc::new(Mutex::new(Vec::new()));
        let seen = operations.clone();
        let api = applications(&client);
        let task = tokio::spawn(async move {
            loop {
                if let Ok(list) = api.list(&ListParams::default()).await {
                    for app in list.items {
                        let app = serde_json::to_value(app).unwrap();
                        let Some(operation) = app.get("operation").filter(|o| o.is_object()).cloned() else {
                            continue;
                        };
                        let name = app["metadata"]["name"].as_str().unwrap_or_default().to_owned();
                        let target = app["spec"]["source"]["targetRevision"].as_str().unwrap_or_default();
                        let revision = resolve(target);
                        // A multi-source Application syncs each source to its own revision.
                        let revisions: Vec<String> = app["spec"]["sources"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|source| resolve(source["targetRevision"].as_str().unwrap_or_default()))
                            .collect();
                        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                        let (phase, message) = match outcome(&name) {
                            SyncOutcome::Succeed => ("Succeeded", "successfully synced (all tasks run)".to_owned()),
                            SyncOutcome::Fail(message) => ("Failed", message),
                            SyncOutcome::Ignore => continue,
                        };
                        let patch = json!({
                            "operation": null,
                            "status": {
                                "operationState": {
                                    "operation": operation, "phase": phase, "message": message,
                                    "startedAt": now, "finishedAt": now,
                                    "syncResult": {
                                        "revision": revision, "source": app["spec"]["source"],
                                        "revisions": revisions, "sources": app["spec"]["sources"],
                                    },
                                },
                                "sync": {"status": "Synced", "revision": revision, "revisions": revisions},
                                "health": {"status": "Progressing"},
                                "reconciledAt": now,
                            },
                        });
                        if api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await.is_ok() {
                            seen.lock().unwrap().push((name, operation));
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        FakeArgoCd { task, client, operations }
    }

    /// Reports Application `name`'s health as `status` (`Healthy`, `Degraded`, …).
    pub async fn set_health(&self, name: &str, status: &str) {
        let patch = json!({"status": {"health": {"status": status}}});
        applications(&self.client).patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
    }

    pub async fn mark_healthy(&self, name: &str) {
        self.set_health(name, "Healthy").await;
    }

    /// Waits until the controller took an operation for `name` started by `promotion`.
    pub async fn wait_for_operation_of(&self, name: &str, promotion: &str, timeout: Duration) -> Value {
        wait::until("Argo CD to take the promotion's sync operation", timeout, || async {
            let ops = self.operations.lock().unwrap().clone();
            ops.into_iter()
                .find(|(app, op)| app == name && op["info"][1]["value"] == promotion)
                .map(|(_, op)| op)
                .ok_or_else(|| "none yet".to_owned())
        })
        .await
    }

    /// Waits until the controller took an operation for `name`.
    pub async fn wait_for_operation(&self, name: &str, timeout: Duration) -> Value {
        wait::until("Argo CD to take a sync operation", timeout, || async {
            let ops = self.operations.lock().unwrap().clone();
            ops.into_iter().find(|(app, _)| app == name).map(|(_, op)| op).ok_or_else(|| "none yet".to_owned())
        })
        .await
    }
}

impl Drop for FakeArgoCd {
    fn drop(&mut self) {
        self.task.abort();
    }
}
