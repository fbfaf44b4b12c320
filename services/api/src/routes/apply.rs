//! `POST /api/v1/apply`: a stream of YAML or JSON documents, validated all-or-nothing and
//! stored in the spec bucket. Nothing is stored unless every document is valid (every
//! expression in it included), belongs
//! to a project that exists, leaves the project's stages without a cycle, and fits in a
//! NATS message.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, State as AxumState};
use lading_bus::specs::ApplyError;
use lading_domain::access::{Permission, Target};
use lading_domain::spec::references::{describe_cycle, find_cycle, upstream_stages};
use lading_domain::spec::{Kind, Manifest, ManifestError, Spec, parse_manifests};
use serde_json::{Value, json};

use super::{State, context};
use crate::auth::Caller;
use crate::body::read_limited;
use crate::error::ApiError;

/// The annotation naming who last applied an object.
pub const APPLIED_BY: &str = "lading.dev/last-applied-by";

pub async fn apply(
    AxumState(state): AxumState<State>,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let context = context(&state)?;
    let body = read_limited(body, context.limits.max_body_bytes).await?;
    let body = std::str::from_utf8(&body).map_err(|e| ApiError::BadRequest(format!("the body is not UTF-8: {e}")))?;
    let documents: Vec<Value> = serde_saphyr::from_multiple(body).map_err(|e| {
        ApiError::InvalidManifests(vec![ManifestError {
            document: 0,
            kind: String::new(),
            name: String::new(),
            field: "(yaml)".to_owned(),
            reason: lading_domain::excerpt::shortened(&e.to_string(), lading_domain::excerpt::REASON_CHARS),
        }])
    })?;
    if documents.is_empty() {
        return Err(ApiError::BadRequest("no documents to apply".to_owned()));
    }
    // Expressions are parsed on threads of their own; the wait stays off the runtime.
    let mut manifests = tokio::task::spawn_blocking(move || parse_manifests(documents))
        .await
        .map_err(|e| ApiError::Internal(format!("validating the manifests: {e}")))?
        .map_err(ApiError::InvalidManifests)?;
    // Each document needs its project's admin; a new project or a cluster-scoped object
    // needs the server's.
    for manifest in &mut manifests {
        let target = match manifest.kind() {
            Kind::Project if context.specs.read(|s| s.project_exists(manifest.name())) => {
                Target::Project(manifest.name())
            }
            Kind::Project => Target::Server,
            kind if kind.is_cluster_scoped() => Target::Server,
            _ => Target::Project(manifest.project()),
        };
        caller.require(Permission::Administer, target)?;
        manifest.metadata.annotations.insert(APPLIED_BY.to_owned(), caller.name.clone());
    }
    let problems = context.specs.read(|specs| {
        let mut problems = missing_projects(&manifests, |p| specs.project_exists(p));
        problems.extend(stage_cycles(&manifests, |project| {
            specs.stages(project).into_iter().map(|(name, _, spec)| (name, upstream_stages(&spec))).collect()
        }));
        problems
    });
    if !problems.is_empty() {
        return Err(ApiError::InvalidManifests(problems));
    }
    // Kubernetes mode: the cluster is the one spec source; the manifests are written there.
    if let Some(client) = &context.kube_client {
        let results = crate::kubernetes::apply::write(&context, client, &manifests)
            .await
            .map_err(|e| ApiError::Unavailable(format!("writing to the Kubernetes cluster: {e}")))?;
        return Ok(Json(json!({"results": results})));
    }
    let (actions, revision) = context.bus.apply_manifests(&manifests).await.map_err(|e| match e {
        ApplyError::TooLarge { index, bytes, limit } => {
            let manifest = &manifests[index];
            ApiError::TooLarge {
                message: format!("document {} is too large; nothing was applied", index + 1),
                details: vec![ManifestError {
                    document: index + 1,
                    kind: manifest.kind().to_string(),
                    name: manifest.name().to_owned(),
                    field: "(document)".to_owned(),
                    reason: format!(
                        "is {bytes} bytes stored; the limit is {limit} bytes (the NATS server's max_payload)"
                    ),
                }],
            }
        }
        ApplyError::Bus(e) => ApiError::Unavailable(e.to_string()),
    })?;
    // Read-your-writes: later requests to this api see what was just applied.
    context.specs.wait_for_revision(revision, Duration::from_secs(5)).await;
    let results: Vec<Value> = manifests
        .iter()
        .zip(actions)
        .map(|(m, action)| json!({"kind": m.kind().as_str(), "name": m.name(), "project": m.project(), "action": action}))
        .collect();
    Ok(Json(json!({"results": results})))
}

/// Objects must belong to a project that exists or is applied in the same request.
pub(crate) fn missing_projects(manifests: &[Manifest], exists: impl Fn(&str) -> bool) -> Vec<ManifestError> {
    let mut missing = Vec::new();
    for (i, manifest) in manifests.iter().enumerate() {
        let project = manifest.project();
        if project.is_empty() {
            continue; // cluster-scoped
        }
        let in_request = manifests.iter().any(|m| m.kind() == Kind::Project && m.name() == project);
        if !in_request && !exists(project) {
            missing.push(ManifestError {
                document: i + 1,
                kind: manifest.kind().to_string(),
                name: manifest.name().to_owned(),
                field: "metadata.namespace".to_owned(),
                reason: format!("project {project:?} does not exist; apply a Project named {project:?} first"),
            });
        }
    }
    missing
}

/// A cycle among a project's stages once the applied ones replace the stored ones,
/// reported on the first applied stage in it.
pub(crate) fn stage_cycles(
    manifests: &[Manifest],
    stored: impl Fn(&str) -> BTreeMap<String, BTreeSet<String>>,
) -> Vec<ManifestError> {
    let projects: BTreeSet<&str> = manifests.iter().filter(|m| m.kind() == Kind::Stage).map(|m| m.project()).collect();
    let mut errors = Vec::new();
    for project in projects {
        let mut stages = stored(project);
        for manifest in manifests.iter().filter(|m| m.project() == project) {
            if let Spec::Stage(spec) = &manifest.spec {
                stages.insert(manifest.name().to_owned(), upstream_stages(spec));
            }
        }
        let Some(cycle) = find_cycle(&stages) else { continue };
        let reported = manifests.iter().enumerate().find_map(|(i, m)| match &m.spec {
            Spec::Stage(spec) if m.project() == project && cycle.iter().any(|s| s == m.name()) => {
                let request = spec.requested_freight.iter().position(|r| !r.sources.stages.is_empty()).unwrap_or(0);
                Some((i, m, request))
            }
            _ => None,
        });
        if let Some((i, manifest, request)) = reported {
            errors.push(ManifestError {
                document: i + 1,
                kind: manifest.kind().to_string(),
                name: manifest.name().to_owned(),
                field: format!("spec.requestedFreight[{request}].sources.stages"),
                reason: format!(
                    "stages {} form a cycle (each takes freight from the one before it), so none of them could ever receive freight",
                    describe_cycle(&cycle)
                ),
            });
        }
    }
    errors
}
