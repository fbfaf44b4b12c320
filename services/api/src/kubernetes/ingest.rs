//! Spec objects from the cluster into the spec store, validated as `lading apply`
//! validates them. An invalid object is not stored (the previous valid spec keeps
//! running); its `Ready` condition names the field and the reason.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::runtime::watcher;
use lading_domain::spec::{API_VERSION, Kind, parse_manifests};
use serde_json::{Value, json};

use super::crds::{self, Resource, Scope};
use super::{FIELD_MANAGER, Ingested, ObjectKey, PROJECT_LABEL, Seen, Shared, digest, pause};
use crate::routes::apply::{APPLIED_BY, missing_projects, stage_cycles};

/// The annotation that asks a Warehouse to discover now, or a Stage to assess its health
/// now; its value comes back as `status.lastHandledRefresh` once handled. Kargo's
/// `kargo.akuity.io/refresh` does the same ([`REFRESH_ANNOTATIONS`]).
pub use lading_domain::refresh::LADING_REFRESH_ANNOTATION as REFRESH_ANNOTATION;
use lading_domain::refresh::REFRESH_ANNOTATIONS;

/// How long the first refresh after a takeover waits for the read model to reach the end
/// of the log (to see the tokens already handled).
const CATCH_UP: Duration = Duration::from_secs(10);

/// The kinds whose specs come from the cluster.
pub const KINDS: [Resource; 8] = [
    crds::PROJECT,
    crds::PROJECT_CONFIG,
    crds::WAREHOUSE,
    crds::STAGE,
    crds::PROMOTION_TASK,
    crds::CLUSTER_PROMOTION_TASK,
    crds::ANALYSIS_TEMPLATE,
    crds::CLUSTER_ANALYSIS_TEMPLATE,
];

/// The spec kind of a resource kind's name; `None` for kinds Lading makes (Freight,
/// Promotion).
pub fn spec_kind(kind: &str) -> Option<Kind> {
    Kind::ALL.into_iter().find(|k| k.as_str() == kind)
}

fn kind_of(resource: &Resource) -> Kind {
    spec_kind(resource.kind).unwrap_or(Kind::Project)
}

pub fn key_of(resource: &Resource, object: &DynamicObject) -> ObjectKey {
    ObjectKey {
        kind: resource.kind,
        namespace: object.metadata.namespace.clone().unwrap_or_default(),
        name: object.metadata.name.clone().unwrap_or_default(),
    }
}

/// The manifest document `lading apply` would be given for `object`.
pub fn document(resource: &Resource, object: &DynamicObject) -> Value {
    let mut metadata = json!({"name": object.metadata.name.clone().unwrap_or_default()});
    if let Some(namespace) = &object.metadata.namespace {
        metadata["namespace"] = json!(namespace);
    }
    if let Some(labels) = &object.metadata.labels {
        metadata["labels"] = json!(labels);
    }
    let annotations: std::collections::BTreeMap<&String, &String> = object
        .metadata
        .annotations
        .iter()
        .flatten()
        .filter(|(k, _)| {
            k.as_str() != "kubectl.kubernetes.io/last-applied-configuration"
                && !REFRESH_ANNOTATIONS.contains(&k.as_str())
        })
        .collect();
    if !annotations.is_empty() {
        metadata["annotations"] = json!(annotations);
    }
    let mut document = json!({"apiVersion": API_VERSION, "kind": resource.kind, "metadata": metadata});
    if let Some(spec) = object.data.get("spec") {
        document["spec"] = spec.clone();
    }
    document
}

/// Watches one kind until shutdown, restarting the watch with a backoff on errors.
pub async fn run(shared: Arc<Shared>, resource: Resource) {
    let api: Api<DynamicObject> = Api::all_with(shared.client.clone(), &resource.api_resource());
    let mut stream = watcher(api, watcher::Config::default()).boxed();
    let mut listed: HashSet<ObjectKey> = HashSet::new();
    loop {
        let event = tokio::select! {
            event = stream.next() => event,
            _ = shared.context.shutdown.cancelled() => return,
        };
        match event {
            None => return,
            Some(Ok(watcher::Event::Init)) => listed.clear(),
            Some(Ok(watcher::Event::InitApply(object))) => {
                listed.insert(key_of(&resource, &object));
                apply(&shared, &resource, &object).await;
            }
            Some(Ok(watcher::Event::InitDone)) => forget_unlisted(&shared, &resource, &listed).await,
            Some(Ok(watcher::Event::Apply(object))) => apply(&shared, &resource, &object).await,
            Some(Ok(watcher::Event::Delete(object))) => delete(&shared, &resource, &object).await,
            Some(Err(error)) => {
                tracing::warn!(kind = resource.kind, %error, "watching the cluster");
                if !pause(&shared, Duration::from_secs(1)).await {
                    return;
                }
            }
        }
    }
}

/// After a (re)list: specs of this kind that the cluster no longer has are removed.
async fn forget_unlisted(shared: &Shared, resource: &Resource, listed: &HashSet<ObjectKey>) {
    let kind = kind_of(resource);
    let stored: Vec<(String, String)> = shared.context.specs.read(|specs| {
        specs.all().filter(|m| m.kind() == kind).map(|m| (m.project().to_owned(), m.name().to_owned())).collect()
    });
    for (project, name) in stored {
        let namespace = if resource.scope == Scope::Cluster { String::new() } else { project.clone() };
        let key = ObjectKey { kind: resource.kind, namespace, name: name.clone() };
        if !listed.contains(&key) {
            remove(shared, kind, &key, &project).await;
        }
    }
}

async fn delete(shared: &Shared, resource: &Resource, object: &DynamicObject) {
    let key = key_of(resource, object);
    let project = if resource.scope == Scope::Cluster && resource.kind == "Project" {
        key.name.clone()
    } else {
        key.namespace.clone()
    };
    remove(shared, kind_of(resource), &key, &project).await;
}

async fn remove(shared: &Shared, kind: Kind, key: &ObjectKey, project: &str) {
    let project = if kind.is_cluster_scoped() { "" } else { project };
    if let Err(error) = shared.context.bus.delete_manifest(project, kind, &key.name).await {
        tracing::warn!(%error, kind = key.kind, name = key.name, "removing a deleted object's spec");
        return;
    }
    shared.ingested.lock().unwrap().remove(key);
    shared.cluster.lock().unwrap().remove(key);
    tracing::info!(kind = key.kind, namespace = key.namespace, name = key.name, "spec removed: its object was deleted");
    shared.wake.notify_one();
}

async fn apply(shared: &Shared, resource: &Resource, object: &DynamicObject) {
    let key = key_of(resource, object);
    let status = object.data.get("status").cloned().map(|s| digest(&s));
    shared.cluster.lock().unwrap().insert(key.clone(), Seen { main: None, status });
    let token = object.metadata.annotations.as_ref().and_then(lading_domain::refresh::requested_token);
    if let Some(token) = token
        && matches!(resource.kind, "Warehouse" | "Stage")
    {
        refresh(shared, &key, token).await;
    }
    let document = document(resource, object);
    let generation = object.metadata.generation.unwrap_or_default();
    {
        let ingested = shared.ingested.lock().unwrap();
        if ingested.get(&key).and_then(|i| i.document.as_ref()) == Some(&document) {
            return; // only its status changed
        }
    }
    let rejection = validate_and_store(shared, document.clone()).await;
    match &rejection {
        Err(transient) => {
            // Not validated nor stored: the next event (or relist) tries again.
            tracing::warn!(error = transient, kind = key.kind, name = key.name, "storing a spec from the cluster");
            return;
        }
        Ok(Some((field, reason))) => {
            tracing::info!(kind = key.kind, namespace = key.namespace, name = key.name, field, reason, "spec refused");
        }
        Ok(None) => {
            if resource.kind == "Project" {
                ensure_namespace(shared, &key.name).await;
            }
        }
    }
    shared
        .ingested
        .lock()
        .unwrap()
        .insert(key, Ingested { document: Some(document), generation, rejection: rejection.unwrap_or_default() });
    shared.wake.notify_one();
}

/// `Ok(None)`: stored; `Ok(Some((field, reason)))`: refused; `Err`: could not store now.
async fn validate_and_store(shared: &Shared, document: Value) -> Result<Option<(String, String)>, String> {
    let parsed = tokio::task::spawn_blocking(move || parse_manifests(vec![document]))
        .await
        .map_err(|e| format!("validating: {e}"))?;
    let mut manifests = match parsed {
        Ok(manifests) => manifests,
        Err(errors) => return Ok(Some(first_problem(&errors))),
    };
    let context = &shared.context;
    let problems = context.specs.read(|specs| {
        let mut problems = missing_projects(&manifests, |p| specs.project_exists(p));
        problems.extend(stage_cycles(&manifests, |project| {
            specs
                .stages(project)
                .into_iter()
                .map(|(name, _, spec)| (name, lading_domain::spec::references::upstream_stages(&spec)))
                .collect()
        }));
        problems
    });
    if !problems.is_empty() {
        return Ok(Some(first_problem(&problems)));
    }
    for manifest in &mut manifests {
        manifest.metadata.annotations.insert(APPLIED_BY.to_owned(), super::ACTOR.to_owned());
    }
    match context.bus.apply_manifests(&manifests).await {
        Ok((_, revision)) => {
            context.specs.wait_for_revision(revision, Duration::from_secs(5)).await;
            Ok(None)
        }
        Err(lading_bus::specs::ApplyError::TooLarge { bytes, limit, .. }) => Ok(Some((
            "(object)".to_owned(),
            format!("is {bytes} bytes stored; the limit is {limit} bytes (the NATS server's max_payload)"),
        ))),
        Err(lading_bus::specs::ApplyError::Bus(e)) => Err(e.to_string()),
    }
}

fn first_problem(errors: &[lading_domain::spec::ManifestError]) -> (String, String) {
    let first = &errors[0];
    let mut reason = first.reason.clone();
    for other in &errors[1..] {
        reason.push_str(&format!("; {}: {}", other.field, other.reason));
    }
    (first.field.clone(), reason)
}

/// A project's namespace: made when missing, labelled as Lading's.
async fn ensure_namespace(shared: &Shared, project: &str) {
    if let Err(error) = make_namespace(&shared.client, project).await {
        tracing::warn!(%error, project, "making the project's namespace");
    }
}

/// Makes (or labels) the namespace of `project` by server-side apply.
pub async fn make_namespace(client: &kube::Client, project: &str) -> Result<(), kube::Error> {
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let body = json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": project, "labels": {PROJECT_LABEL: "true"}},
    });
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(project, &params, &Patch::Apply(&body)).await.map(|_| ())
}

/// Asks the Warehouse to discover, or the Stage to assess its health, once per value of
/// its refresh annotation: a token already handled (as the log says, also after a
/// restart or a takeover) or already requested is not requested again. The request
/// names the last handled one, so a token used again after another is a new request.
async fn refresh(shared: &Shared, key: &ObjectKey, token: &str) {
    caught_up(shared).await;
    let (handled, after_seq) = shared
        .context
        .projection
        .read(|model| {
            let project = model.project(&key.namespace)?;
            Some(match key.kind {
                "Warehouse" => {
                    let w = project.warehouses.get(&key.name)?;
                    (w.last_handled_refresh.clone(), w.last_handled_refresh_seq)
                }
                _ => {
                    let s = project.stages.get(&key.name)?;
                    (s.last_handled_refresh.clone(), s.last_handled_refresh_seq)
                }
            })
        })
        .unwrap_or_default();
    {
        let mut requested = shared.refreshes.lock().unwrap();
        let in_flight = requested.get(key).map(String::as_str);
        if !lading_domain::refresh::must_request(token, handled.as_deref(), in_flight) {
            return;
        }
        requested.insert(key.clone(), token.to_owned());
    }
    let (project, name, request_id, now) =
        (key.namespace.clone(), key.name.clone(), token.to_owned(), lading_events::now_ms());
    let event = match key.kind {
        "Warehouse" => {
            lading_events::Event::WarehouseRefreshRequestedV2(lading_events::catalog::WarehouseRefreshRequestedV2 {
                project,
                warehouse: name,
                request_id,
                after_seq,
                requested_at_ms: now,
            })
        }
        _ => lading_events::Event::StageRefreshRequestedV2(lading_events::catalog::StageRefreshRequestedV2 {
            project,
            stage: name,
            request_id,
            after_seq,
            requested_at_ms: now,
        }),
    };
    if let Err(error) = shared.context.bus.publish(&event, &lading_bus::tracing_context::new_root()).await {
        tracing::warn!(%error, kind = key.kind, name = key.name, "requesting a refresh");
        shared.refreshes.lock().unwrap().remove(key);
    }
}

/// Waits, once per takeover, until the read model has applied the log as it stood, so a
/// token handled before this replica took over reads as handled. Should the log not be
/// read in time, a request made again after the same handled refresh is still stored
/// once (its identity names the token and that refresh).
async fn caught_up(shared: &Shared) {
    shared
        .log_read
        .get_or_init(|| async {
            let projection = &shared.context.projection;
            match projection.latest_sequence().await {
                Ok(end) if !projection.wait_for(end, CATCH_UP).await => {
                    tracing::warn!(end, "the read model did not reach the end of the log before a refresh");
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "reading the end of the log before a refresh"),
            }
        })
        .await;
}

/// Refused objects are validated again whenever the stored specs change: one refused
/// because its project was not stored yet (objects of one `kubectl apply` arrive in any
/// order) is stored once the project is.
pub async fn revalidate(shared: Arc<Shared>) {
    let mut specs = shared.context.specs.changes();
    loop {
        tokio::select! {
            changed = specs.changed() => if changed.is_err() { return },
            _ = shared.context.shutdown.cancelled() => return,
        }
        let refused: Vec<(ObjectKey, Value)> = shared
            .ingested
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, i)| i.rejection.is_some())
            .filter_map(|(k, i)| Some((k.clone(), i.document.clone()?)))
            .collect();
        for (key, document) in refused {
            let Ok(rejection) = validate_and_store(&shared, document.clone()).await else { continue };
            if rejection.is_none() && key.kind == "Project" {
                ensure_namespace(&shared, &key.name).await;
            }
            let mut ingested = shared.ingested.lock().unwrap();
            if let Some(entry) = ingested.get_mut(&key).filter(|e| e.document.as_ref() == Some(&document)) {
                entry.rejection = rejection;
            }
            drop(ingested);
            shared.wake.notify_one();
        }
    }
}
