//! `lading apply` in Kubernetes mode: one spec source at a time, so the manifests, once
//! validated and authorized as standalone `lading apply` does, are written to the cluster
//! as custom resources (server-side apply, field manager `lading-apply`) and reach the
//! spec store the way a `kubectl apply` does: through the watches of [`super::ingest`].
//! Projects go first, and their namespaces are made before the objects that live there.

use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use lading_domain::spec::{Kind, Manifest};
use serde_json::{Value, json};

use super::crds;
use crate::SharedContext;
use crate::routes::apply::APPLIED_BY;

/// The field manager of objects `lading apply` writes.
pub const FIELD_MANAGER: &str = "lading-apply";
/// How long the answer waits for the objects to be in the spec store.
const INGEST_WAIT: Duration = Duration::from_secs(10);

fn api_for(client: &kube::Client, manifest: &Manifest) -> Result<Api<DynamicObject>, String> {
    let resource = crds::ALL
        .into_iter()
        .find(|r| r.kind == manifest.kind().as_str())
        .ok_or_else(|| format!("no custom resource for kind {}", manifest.kind()))?
        .api_resource();
    Ok(if manifest.project().is_empty() || manifest.kind() == Kind::Project {
        Api::all_with(client.clone(), &resource)
    } else {
        Api::namespaced_with(client.clone(), manifest.project(), &resource)
    })
}

/// The custom resource of `manifest` (without the `lading.dev/applied-by` annotation:
/// the cluster's objects are applied by whoever wrote them there).
fn object_of(manifest: &Manifest) -> Value {
    let mut object = manifest.to_json();
    if let Some(annotations) = object["metadata"]["annotations"].as_object_mut() {
        annotations.remove(APPLIED_BY);
        if annotations.is_empty() {
            object["metadata"].as_object_mut().map(|m| m.remove("annotations"));
        }
    }
    object
}

/// Writes `manifests` to the cluster and waits (boundedly) until each is in the spec
/// store; each one's result. `Err` names the object the apiserver refused.
pub async fn write(
    context: &SharedContext,
    client: &kube::Client,
    manifests: &[Manifest],
) -> Result<Vec<Value>, String> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut ordered: Vec<&Manifest> = manifests.iter().collect();
    ordered.sort_by_key(|m| match m.kind() {
        Kind::Project => 0,
        kind if kind.is_cluster_scoped() => 1,
        _ => 2,
    });
    for manifest in ordered {
        let api = api_for(client, manifest)?;
        let object = object_of(manifest);
        let name = manifest.name();
        tokio::time::timeout(INGEST_WAIT, api.patch(name, &params, &Patch::Apply(&object)))
            .await
            .map_err(|_| format!("{} {name}: the apiserver did not answer in time", manifest.kind()))?
            .map_err(|e| format!("{} {name}: {e}", manifest.kind()))?;
        if manifest.kind() == Kind::Project {
            super::ingest::make_namespace(client, name).await.map_err(|e| format!("namespace {name}: {e}"))?;
        }
    }
    let deadline = Instant::now() + INGEST_WAIT;
    let mut changes = context.specs.changes();
    loop {
        let pending = context.specs.read(|specs| {
            manifests
                .iter()
                .filter(|m| specs.get(m.project(), m.kind(), m.name()).map(|s| &s.spec) != Some(&m.spec))
                .count()
        });
        if pending == 0 || Instant::now() >= deadline {
            let action = if pending == 0 { "applied" } else { "written to the cluster" };
            return Ok(manifests
                .iter()
                .map(|m| json!({"kind": m.kind().as_str(), "name": m.name(), "project": m.project(), "action": action}))
                .collect());
        }
        let _ = tokio::time::timeout_at(deadline.into(), changes.changed()).await;
    }
}
