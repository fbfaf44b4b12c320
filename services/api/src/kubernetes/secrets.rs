//! Webhook receivers' secrets in Kubernetes mode: the Secrets of each project's namespace
//! (a receiver's `secretRef.name` names a Secret there, as in Kargo). One watch per
//! project namespace keeps them in memory, so a Secret made or changed with `kubectl` is
//! what receivers check requests with, and where they listen, from the next request on.
//! Every api replica watches (any of them may answer a webhook), whether or not it holds
//! the Kubernetes-mode lease.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher;
use lading_domain::secrets::SecretData;
use lading_domain::spec::Kind;

use crate::SharedContext;
use crate::secrets::SecretSource;

/// The Secrets of every project's namespace, as the cluster has them now.
#[derive(Default)]
pub struct ClusterSecrets {
    namespaces: Mutex<HashMap<String, Watched>>,
    /// Told after every change of a watched Secret (the status writer shows receivers'
    /// paths, which depend on their secrets).
    pub changed: Arc<tokio::sync::Notify>,
}

struct Watched {
    store: Store<Secret>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for ClusterSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let namespaces: Vec<String> = self.namespaces.lock().unwrap().keys().cloned().collect();
        f.debug_struct("ClusterSecrets").field("namespaces", &namespaces).finish()
    }
}

impl SecretSource for ClusterSecrets {
    fn secret(&self, project: &str, name: &str) -> Option<SecretData> {
        let store = self.namespaces.lock().unwrap().get(project)?.store.clone();
        let secret = store.get(&ObjectRef::new(name).within(project))?;
        Some(lading_secret_source::secret_data(&secret))
    }
}

impl ClusterSecrets {
    /// Watches the namespaces of `projects` and stops watching the others.
    fn follow(&self, client: &kube::Client, projects: &BTreeSet<String>) {
        let mut namespaces = self.namespaces.lock().unwrap();
        namespaces.retain(|namespace, watched| {
            let keep = projects.contains(namespace);
            if !keep {
                watched.task.abort();
            }
            keep
        });
        for project in projects {
            if namespaces.contains_key(project) {
                continue;
            }
            let (store, writer) = reflector::store();
            let api: Api<Secret> = Api::namespaced(client.clone(), project);
            let task = tokio::spawn(watch(api, writer, project.clone(), self.changed.clone()));
            namespaces.insert(project.clone(), Watched { store, task });
        }
    }
}

impl Drop for ClusterSecrets {
    fn drop(&mut self) {
        for watched in self.namespaces.lock().unwrap().values() {
            watched.task.abort();
        }
    }
}

async fn watch(
    api: Api<Secret>,
    writer: reflector::store::Writer<Secret>,
    namespace: String,
    changed: Arc<tokio::sync::Notify>,
) {
    let mut stream = reflector::reflector(writer, watcher(api, watcher::Config::default())).boxed();
    while let Some(event) = stream.next().await {
        match event {
            Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => {}
            Ok(_) => changed.notify_one(),
            Err(error) => {
                tracing::warn!(namespace, %error, "watching the project's Secrets");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Follows the stored projects (a project's namespace is named after it) until shutdown.
pub async fn run(context: SharedContext, client: kube::Client, secrets: Arc<ClusterSecrets>) {
    let mut specs = context.specs.changes();
    loop {
        let projects: BTreeSet<String> = context
            .specs
            .read(|s| s.all().filter(|m| m.kind() == Kind::Project).map(|m| m.name().to_owned()).collect());
        secrets.follow(&client, &projects);
        tokio::select! {
            changed = specs.changed() => if changed.is_err() { return },
            _ = context.shutdown.cancelled() => return,
        }
    }
}
