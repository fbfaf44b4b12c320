//! Kubernetes mode: the cluster is where specs come from and where the log's facts show.
//!
//! - [`crds`]: the CustomResourceDefinitions (`lading crds`, `k8s/crds/`).
//! - [`ingest`]: watches the spec kinds and feeds them, validated as `lading apply`
//!   validates, into the spec store; an invalid object keeps the previous valid spec
//!   and says why on its `Ready` condition.
//! - [`status`]: projects the read model into the cluster by server-side apply (field
//!   manager `lading`): Freight objects, and the status of every spec object.
//! - [`promotions`]: a Promotion object made with `kubectl` requests that promotion; its
//!   status follows it.
//! - [`freight`]: watches Freight objects, turning an edit of the alias field or label
//!   into an alias change on the log.
//! - [`apply`]: `lading apply` writes the custom resources.
//! - [`access`]: Kubernetes identities (TokenReview) and their approvals
//!   (SubjectAccessReview for `promote` on the stage).
//! - [`secrets`]: webhook receivers' secrets, from the Secrets of each project's
//!   namespace.
//!
//! One api replica at a time ingests and writes (under the lease [`LEASE_KEY`]); every
//! replica follows the Secrets.
//!
//! What Lading last saw of each object in the cluster is kept (as a digest), so only
//! objects whose desired state differs are written, many log events for one object
//! become one write, and a restarted api writes only what changed while it was away.

pub mod access;
pub mod apply;
pub mod crds;
pub mod freight;
pub mod ingest;
pub mod promotions;
pub mod secrets;
pub mod status;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::SharedContext;

/// The field manager of every write Lading makes.
pub const FIELD_MANAGER: &str = "lading";
/// The label a project's namespace carries.
pub const PROJECT_LABEL: &str = "lading.dev/project";
/// Who is named as the actor of events that come from the cluster.
pub const ACTOR: &str = "kubernetes";

/// How the api talks to Kubernetes.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The client configuration; `None`: inferred (in-cluster, or `KUBECONFIG`).
    pub config: Option<kube::Config>,
    /// The most requests per second Lading sends the apiserver.
    pub qps: u32,
    /// How many requests are in flight at once.
    pub concurrency: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self { config: None, qps: DEFAULT_QPS, concurrency: 8 }
    }
}

pub const DEFAULT_QPS: u32 = 200;

/// Why Kubernetes mode cannot start.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    #[error("no Kubernetes configuration (in-cluster or KUBECONFIG): {0}")]
    Config(String),
    #[error("cannot make a Kubernetes client: {0}")]
    Client(String),
}

/// An object in the cluster: kind, namespace ("" when cluster-scoped), name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
}

/// A spec object as last ingested.
#[derive(Debug, Clone, Default)]
pub struct Ingested {
    /// The document last validated (to skip status-only updates).
    pub document: Option<Value>,
    /// `metadata.generation` of that document.
    pub generation: i64,
    /// Why it was refused: (field, reason); `None` when it is the running spec.
    pub rejection: Option<(String, String)>,
}

/// What the cluster holds of an object, as digests of the parts Lading writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seen {
    pub main: Option<u64>,
    pub status: Option<u64>,
}

/// State the watchers and the writer share.
pub struct Shared {
    pub context: SharedContext,
    pub client: kube::Client,
    pub settings: Settings,
    pub ingested: Mutex<BTreeMap<ObjectKey, Ingested>>,
    pub cluster: Mutex<HashMap<ObjectKey, Seen>>,
    /// Freight whose alias edit is being handled: the writer leaves them alone meanwhile.
    pub alias_pending: Mutex<HashSet<ObjectKey>>,
    /// What each Promotion object requested.
    pub promotions: Mutex<BTreeMap<ObjectKey, promotions::Requested>>,
    /// The refresh annotation's value last requested, by Warehouse or Stage.
    pub refreshes: Mutex<HashMap<ObjectKey, String>>,
    /// Set once the read model has applied the log as it stood when refreshes were
    /// first asked for.
    pub log_read: tokio::sync::OnceCell<()>,
    pub wake: tokio::sync::Notify,
    /// True once the Freight watcher has seen every Freight object the cluster held when
    /// this replica took over: the writer waits for it, so an edit made while no replica
    /// ran is handled as an edit (and its Event recorded) rather than written over.
    pub freight_listed: tokio::sync::watch::Sender<bool>,
    /// Told when a project's Secret changes (receivers' paths depend on them).
    pub secrets_changed: Arc<tokio::sync::Notify>,
}

/// A stable digest of a JSON value (maps are ordered).
pub fn digest(value: &Value) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    value.to_string().hash(&mut hasher);
    hasher.finish()
}

/// `value` without `null`s (the apiserver drops them, so they would never compare equal).
pub fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, without_nulls(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

/// One thing Kubernetes mode asks of the apiserver: API group, resource, verb.
pub type Permission = (&'static str, String, &'static str);

/// Everything Kubernetes mode asks of the apiserver. `k8s/base`'s ClusterRole
/// `lading-api` grants exactly these (a test checks), and the tests against a real
/// apiserver run the api with that role.
pub fn permissions() -> Vec<Permission> {
    let mut wanted = Vec::new();
    // Watched (ingest, freight, promotions), and their status written (status).
    for resource in ingest::KINDS.iter().chain([&crds::FREIGHT, &crds::PROMOTION]) {
        for verb in ["get", "list", "watch"] {
            wanted.push((crds::GROUP, resource.plural.to_owned(), verb));
        }
        wanted.push((crds::GROUP, format!("{}/status", resource.plural), "patch"));
    }
    // Freight objects made and kept by server-side apply; spec objects written by
    // `lading apply` (apply.rs).
    for resource in ingest::KINDS.iter().chain([&crds::FREIGHT]) {
        wanted.push((crds::GROUP, resource.plural.to_owned(), "create"));
        wanted.push((crds::GROUP, resource.plural.to_owned(), "patch"));
    }
    // A project's namespace, by server-side apply.
    for verb in ["get", "create", "patch"] {
        wanted.push(("", "namespaces".to_owned(), verb));
    }
    wanted.push(("", "events".to_owned(), "create"));
    // Webhook receivers' secrets, watched in each project's namespace.
    for verb in ["get", "list", "watch"] {
        wanted.push(("", "secrets".to_owned(), verb));
    }
    // Kubernetes identities, and whether one may approve (access.rs).
    wanted.push(("authentication.k8s.io", "tokenreviews".to_owned(), "create"));
    wanted.push(("authorization.k8s.io", "subjectaccessreviews".to_owned(), "create"));
    wanted
}

/// Makes a client from `settings` (installing the ring TLS provider if none is).
pub async fn client(settings: &Settings) -> Result<kube::Client, KubeError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = match &settings.config {
        Some(config) => config.clone(),
        None => kube::Config::infer().await.map_err(|e| KubeError::Config(e.to_string()))?,
    };
    kube::Client::try_from(config).map_err(|e| KubeError::Client(e.to_string()))
}

/// The lease the one api replica running Kubernetes mode's watchers and writers holds.
pub const LEASE_KEY: &str = "api.kubernetes";
/// How long a replica without the lease waits before asking again.
const RETRY_LEASE: Duration = Duration::from_secs(1);

/// Runs Kubernetes mode until the api's shutdown. Every replica follows the project
/// namespaces' Secrets (for its webhook receivers); one replica at a time, holding
/// [`LEASE_KEY`], ingests specs and writes to the cluster, so two replicas never both
/// act on one edit. A replica that stops is replaced within the lease's TTL (15 s).
pub async fn run(
    context: SharedContext,
    client: kube::Client,
    settings: Settings,
    cluster_secrets: Arc<secrets::ClusterSecrets>,
) {
    let shutdown = context.shutdown.clone();
    let following = tokio::spawn(secrets::run(context.clone(), client.clone(), cluster_secrets.clone()));
    let holder = format!("api-{}", ulid::Ulid::new().to_string().to_lowercase());
    while !shutdown.is_cancelled() {
        let asked = std::time::Instant::now();
        match context.bus.try_lease(LEASE_KEY, &holder).await {
            Ok(Some(lease)) => {
                let held = lease.hold(asked);
                let fence = held.fence();
                tracing::info!(holder, "this replica runs Kubernetes mode");
                let tasks = start(&context, &client, &settings, &cluster_secrets);
                while fence.is_open() {
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                }
                for task in tasks {
                    task.abort();
                }
                held.release().await;
                if !shutdown.is_cancelled() {
                    tracing::warn!(holder, "the Kubernetes-mode lease was lost; another replica takes over");
                }
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "cannot ask for the Kubernetes-mode lease yet"),
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(RETRY_LEASE) => {}
        }
    }
    following.abort();
}

/// Starts the watchers and the writer, with state of their own.
fn start(
    context: &SharedContext,
    client: &kube::Client,
    settings: &Settings,
    cluster_secrets: &secrets::ClusterSecrets,
) -> Vec<tokio::task::JoinHandle<()>> {
    let shared = Arc::new(Shared {
        context: context.clone(),
        client: client.clone(),
        settings: settings.clone(),
        ingested: Mutex::new(BTreeMap::new()),
        cluster: Mutex::new(HashMap::new()),
        alias_pending: Mutex::new(HashSet::new()),
        refreshes: Mutex::new(HashMap::new()),
        log_read: tokio::sync::OnceCell::new(),
        promotions: Mutex::new(BTreeMap::new()),
        wake: tokio::sync::Notify::new(),
        freight_listed: tokio::sync::watch::Sender::new(false),
        secrets_changed: cluster_secrets.changed.clone(),
    });
    let mut tasks = Vec::new();
    for resource in ingest::KINDS {
        tasks.push(tokio::spawn(ingest::run(shared.clone(), resource)));
    }
    tasks.push(tokio::spawn(ingest::revalidate(shared.clone())));
    tasks.push(tokio::spawn(freight::run(shared.clone())));
    tasks.push(tokio::spawn(promotions::run(shared.clone())));
    tasks.push(tokio::spawn(status::run(shared.clone())));
    tasks
}

/// A Kubernetes Event about an object (shown by `kubectl describe`).
pub async fn record_event(shared: &Shared, key: &ObjectKey, uid: Option<&str>, reason: &str, message: &str) {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let event = json!({
        "metadata": {"generateName": format!("{}.", key.name), "namespace": key.namespace},
        "involvedObject": {
            "apiVersion": format!("{}/{}", crds::GROUP, crds::VERSION),
            "kind": key.kind, "name": key.name, "namespace": key.namespace, "uid": uid,
        },
        "reason": reason,
        "message": message,
        "type": "Warning",
        "source": {"component": FIELD_MANAGER},
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
    });
    let event: k8s_openapi::api::core::v1::Event = match serde_json::from_value(without_nulls(event)) {
        Ok(event) => event,
        Err(e) => {
            tracing::warn!(error = %e, "cannot build a Kubernetes event");
            return;
        }
    };
    let api: kube::Api<k8s_openapi::api::core::v1::Event> =
        kube::Api::namespaced(shared.client.clone(), &key.namespace);
    if let Err(e) = api.create(&kube::api::PostParams::default(), &event).await {
        tracing::warn!(error = %e, reason, "cannot record a Kubernetes event");
    }
}

/// Waits `delay` or until shutdown; false on shutdown.
pub async fn pause(shared: &Shared, delay: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(delay) => true,
        _ = shared.context.shutdown.cancelled() => false,
    }
}
