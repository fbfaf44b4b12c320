//! The read model into the cluster: Freight objects (created from `FreightCreated`, kept
//! equal to the log), and the status of every spec object, by server-side apply with
//! the field manager `lading`. Each round computes what every object should hold and
//! writes only those that differ from what the cluster last showed, at a bounded rate.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use lading_domain::alias::ALIAS_LABEL;
use lading_domain::spec::references::unresolved_references;
use lading_domain::spec::{API_VERSION, Kind, Spec};
use lading_projection::model::{FreightRecord, ReadModel};
use serde_json::{Value, json};

use super::crds::{self, Resource};
use super::{FIELD_MANAGER, Ingested, ObjectKey, Seen, Shared, digest, without_nulls};
use crate::objects::{stage_object, warehouse_object};

/// One object's desired state: the fields Lading owns outside `status` (Freight only) and
/// its status.
#[derive(Debug, Clone)]
pub struct Desired {
    pub key: ObjectKey,
    pub main: Option<Value>,
    pub status: Value,
}

/// The fields of a Freight object Lading owns, outside `status`.
pub fn freight_main(project: &str, record: &FreightRecord) -> Value {
    let mut fields = serde_json::to_value(&record.freight).unwrap_or_default();
    if let Value::Object(map) = &mut fields {
        map.remove("status");
    }
    let mut object = json!({
        "apiVersion": API_VERSION,
        "kind": "Freight",
        "metadata": {"name": record.id.as_str(), "namespace": project, "labels": {ALIAS_LABEL: record.freight.alias}},
    });
    if let (Value::Object(target), Value::Object(fields)) = (&mut object, fields) {
        target.extend(fields);
    }
    without_nulls(object)
}

/// The same fields as [`freight_main`], read from an object in the cluster.
pub fn freight_main_seen(object: &DynamicObject) -> Value {
    let mut labels = serde_json::Map::new();
    if let Some(alias) = object.metadata.labels.as_ref().and_then(|l| l.get(ALIAS_LABEL)) {
        labels.insert(ALIAS_LABEL.to_owned(), json!(alias));
    }
    let mut seen = json!({
        "apiVersion": API_VERSION,
        "kind": "Freight",
        "metadata": {
            "name": object.metadata.name.clone().unwrap_or_default(),
            "namespace": object.metadata.namespace.clone().unwrap_or_default(),
            "labels": labels,
        },
    });
    for field in ["alias", "origin", "commits", "images", "charts"] {
        match object.data.get(field) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.is_empty() => {}
            Some(Value::Array(a)) if a.is_empty() => {}
            Some(value) => seen[field] = value.clone(),
        }
    }
    seen
}

pub fn freight_status(record: &FreightRecord) -> Value {
    let mut status = without_nulls(serde_json::to_value(&record.freight.status).unwrap_or_default());
    // What `set-metadata` steps set (Kargo's `status.metadata`), values as they were set.
    if !record.metadata.is_empty()
        && let Value::Object(status) = &mut status
    {
        status.insert("metadata".to_owned(), json!(record.metadata));
    }
    status
}

fn ready_condition(ingested: Option<&Ingested>) -> Option<Value> {
    let (field, reason) = ingested?.rejection.as_ref()?;
    Some(json!({
        "type": "Ready",
        "status": "False",
        "reason": "InvalidSpec",
        "message": format!("{field}: {reason} (the previous valid spec, if any, keeps running)"),
    }))
}

/// Replaces (or adds) the condition of the same type.
fn set_condition(status: &mut Value, condition: Value) {
    if !status["conditions"].is_array() {
        status["conditions"] = json!([]);
    }
    let conditions = status["conditions"].as_array_mut().expect("an array");
    conditions.retain(|c| c["type"] != condition["type"]);
    conditions.insert(0, condition);
}

/// What every object of the cluster should show, from the specs, the read model and the
/// objects ingested.
pub fn desired(shared: &Shared) -> Vec<Desired> {
    let ingested: Vec<(ObjectKey, Ingested)> =
        shared.ingested.lock().unwrap().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let projects: Vec<String> = ingested
        .iter()
        .filter(|(k, i)| k.kind == "Project" && i.rejection.is_none())
        .map(|(k, _)| k.name.clone())
        .collect();
    let promotions: Vec<(ObjectKey, super::promotions::Requested)> =
        shared.promotions.lock().unwrap().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let context = &shared.context;
    let mut out = Vec::new();
    context.projection.read(|model: &ReadModel| {
        for (key, requested) in &promotions {
            let status = without_nulls(super::promotions::status(model, key, requested));
            out.push(Desired { key: key.clone(), main: None, status });
        }
        context.specs.read(|specs| {
            for project in &projects {
                let Some(project_model) = model.project(project) else { continue };
                for record in project_model.freight.values() {
                    out.push(Desired {
                        key: ObjectKey { kind: "Freight", namespace: project.clone(), name: record.id.to_string() },
                        main: Some(freight_main(project, record)),
                        status: freight_status(record),
                    });
                }
            }
            for (key, ingested) in &ingested {
                let project = if key.kind == "Project" { key.name.as_str() } else { key.namespace.as_str() };
                let Some(kind) = super::ingest::spec_kind(key.kind) else { continue };
                let manifest = specs.get(if kind.is_cluster_scoped() { "" } else { project }, kind, &key.name);
                let project_model = model.project(project);
                let mut status = match (kind, manifest) {
                    (Kind::Stage, Some(manifest)) => {
                        let unresolved = match &manifest.spec {
                            Spec::Stage(spec) => unresolved_references(spec, |r| specs.reference_exists(project, r)),
                            _ => Vec::new(),
                        };
                        stage_status(manifest, project_model, &unresolved)
                    }
                    (Kind::Warehouse, Some(manifest)) => {
                        let mut status = warehouse_object(manifest, project_model)["status"].take();
                        set_condition(
                            &mut status,
                            json!({"type": "Ready", "status": "True", "reason": "Valid", "message": "the spec is valid and running"}),
                        );
                        status
                    }
                    (Kind::ProjectConfig, Some(manifest)) => {
                        let receivers = match &manifest.spec {
                            Spec::ProjectConfig(spec) => spec.webhook_receivers.as_slice(),
                            _ => &[],
                        };
                        crate::routes::projects::project_config_status(&shared.context, project, receivers)
                    }
                    (_, Some(_)) => json!({"conditions": [
                        {"type": "Ready", "status": "True", "reason": "Valid", "message": "the spec is valid and running"}
                    ]}),
                    (_, None) => json!({}),
                };
                if let Some(condition) = ready_condition(Some(ingested)) {
                    set_condition(&mut status, condition);
                }
                status["observedGeneration"] = json!(ingested.generation);
                out.push(Desired { key: key.clone(), main: None, status: without_nulls(status) });
            }
        })
    });
    out
}

/// A Stage object's status: what the api serves for it, with the `Current Freight` column.
pub fn stage_status(
    manifest: &lading_domain::spec::Manifest,
    project: Option<&lading_projection::model::ProjectModel>,
    unresolved: &[lading_domain::spec::references::UnresolvedReference],
) -> Value {
    let mut status = stage_object(manifest, project, unresolved)["status"].take();
    freight_summary(&mut status);
    status
}

/// Kargo's `freightSummary`: the current freight's aliases (the `Current Freight` column).
fn freight_summary(status: &mut Value) {
    let aliases: Vec<&str> = status["currentFreight"]
        .as_array()
        .map(|items| items.iter().map(|f| f["alias"].as_str().unwrap_or("")).collect())
        .unwrap_or_default();
    if !aliases.is_empty() {
        status["freightSummary"] = json!(aliases.join(","));
    }
}

fn resource_of(kind: &str) -> Resource {
    crds::ALL.into_iter().find(|r| r.kind == kind).unwrap_or(crds::FREIGHT)
}

fn api_for(shared: &Shared, key: &ObjectKey) -> Api<DynamicObject> {
    let resource = resource_of(key.kind).api_resource();
    if key.namespace.is_empty() {
        Api::all_with(shared.client.clone(), &resource)
    } else {
        Api::namespaced_with(shared.client.clone(), &key.namespace, &resource)
    }
}

/// Writes what differs; the digests written, by key.
async fn write(
    shared: &Shared,
    pace: &tokio::sync::Mutex<tokio::time::Interval>,
    desired: Desired,
) -> (ObjectKey, Result<Seen, String>) {
    let api = api_for(shared, &desired.key);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let seen = shared.cluster.lock().unwrap().get(&desired.key).copied().unwrap_or_default();
    let mut written = seen;
    if let Some(main) = &desired.main {
        let main_digest = digest(main);
        if seen.main != Some(main_digest) {
            pace.lock().await.tick().await;
            if let Err(e) = api.patch(&desired.key.name, &params, &Patch::Apply(main)).await {
                return (desired.key, Err(e.to_string()));
            }
            written.main = Some(main_digest);
        }
    }
    let status_digest = digest(&desired.status);
    if seen.status != Some(status_digest) {
        let resource = resource_of(desired.key.kind);
        let mut metadata = json!({"name": desired.key.name});
        if !desired.key.namespace.is_empty() {
            metadata["namespace"] = json!(desired.key.namespace);
        }
        let body = json!({
            "apiVersion": format!("{}/{}", crds::GROUP, crds::VERSION),
            "kind": resource.kind,
            "metadata": metadata,
            "status": desired.status,
        });
        pace.lock().await.tick().await;
        if let Err(e) = api.patch_status(&desired.key.name, &params, &Patch::Apply(&body)).await {
            return (desired.key, Err(e.to_string()));
        }
        written.status = Some(status_digest);
    }
    (desired.key, Ok(written))
}

/// Rounds of writes, one after each change of the read model, the specs or the
/// cluster, until shutdown.
pub async fn run(shared: Arc<Shared>) {
    let mut projection = shared.context.projection.changes();
    let mut discoveries = shared.context.projection.discoveries();
    let mut specs = shared.context.specs.changes();
    let qps = shared.settings.qps.max(1);
    let mut interval = tokio::time::interval(Duration::from_secs(1) / qps);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let pace = tokio::sync::Mutex::new(interval);
    // Edits made to Freight objects before this replica took over are handled by the
    // Freight watcher first; the writer would otherwise set them back unannounced.
    let mut listed = shared.freight_listed.subscribe();
    tokio::select! {
        _ = listed.wait_for(|listed| *listed) => {}
        _ = shared.context.shutdown.cancelled() => return,
    }
    let mut retry = false;
    loop {
        tokio::select! {
            _ = projection.changed() => {}
            _ = discoveries.changed() => {}
            _ = specs.changed() => {}
            _ = shared.wake.notified() => {}
            _ = shared.secrets_changed.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)), if retry => {}
            _ = shared.context.shutdown.cancelled() => return,
        }
        let pending: Vec<Desired> = {
            let all = desired(&shared);
            let cluster = shared.cluster.lock().unwrap();
            let busy = shared.alias_pending.lock().unwrap();
            all.into_iter()
                .filter(|d| !busy.contains(&d.key))
                .filter(|d| {
                    let seen = cluster.get(&d.key).copied().unwrap_or_default();
                    d.main.as_ref().is_some_and(|m| seen.main != Some(digest(m)))
                        || seen.status != Some(digest(&d.status))
                })
                .collect()
        };
        if pending.is_empty() {
            retry = false;
            continue;
        }
        let results: Vec<(ObjectKey, Result<Seen, String>)> = futures::stream::iter(pending)
            .map(|d| write(&shared, &pace, d))
            .buffer_unordered(shared.settings.concurrency.max(1))
            .collect()
            .await;
        retry = false;
        let mut cluster = shared.cluster.lock().unwrap();
        for (key, result) in results {
            match result {
                Ok(seen) => {
                    cluster.insert(key, seen);
                }
                Err(error) => {
                    retry = true;
                    tracing::warn!(
                        kind = key.kind,
                        namespace = key.namespace,
                        name = key.name,
                        error,
                        "writing to the cluster"
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use lading_domain::Freight;
    use lading_domain::freight_id::FreightId;
    use lading_projection::model::ProjectModel;

    use super::*;

    fn record() -> FreightRecord {
        let mut freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
        freight.alias = "brave-otter".to_owned();
        FreightRecord {
            id: FreightId::parse("1edc32a855f4aceead43bf3774b7fdd88bb48a79").unwrap(),
            freight,
            discovered_seq: 1,
            created_at: chrono::Utc::now(),
            metadata: Default::default(),
        }
    }

    /// What the apiserver answers for an object written with `main`: the same fields
    /// plus its own metadata.
    fn as_stored(main: &Value) -> DynamicObject {
        let mut stored = main.clone();
        stored["metadata"]["uid"] = json!("0b7c1c2e-6f0e-4a52-9d3a-2f1c1c3b9a11");
        stored["metadata"]["resourceVersion"] = json!("42");
        stored["metadata"]["labels"]["team"] = json!("payments");
        stored["status"] = json!({"currentlyIn": {}});
        serde_json::from_value(stored).unwrap()
    }

    #[test]
    fn a_freight_object_as_the_cluster_returns_it_reads_back_as_what_was_written() {
        let main = freight_main("demo", &record());
        assert_eq!(main["alias"], "brave-otter");
        assert_eq!(main["metadata"]["labels"][ALIAS_LABEL], "brave-otter");
        assert_eq!(main["origin"], json!({"kind": "Warehouse", "name": "app"}));
        assert!(main.get("status").is_none(), "status is written to the status subresource: {main}");
        // Equal digests: nothing is written again.
        assert_eq!(digest(&freight_main_seen(&as_stored(&main))), digest(&main));
    }

    #[test]
    fn an_edited_alias_reads_back_as_different_so_it_is_set_back() {
        let main = freight_main("demo", &record());
        for (field, label) in [("", "brave-otter"), ("brave-otter", "frozen-tauntaun"), ("calm-koala", "brave-otter")] {
            let mut edited = main.clone();
            edited["alias"] = json!(field);
            edited["metadata"]["labels"][ALIAS_LABEL] = json!(label);
            assert_ne!(digest(&freight_main_seen(&as_stored(&edited))), digest(&main), "{field:?} {label:?}");
        }
    }

    #[test]
    fn a_refused_spec_shows_ready_false_naming_the_field() {
        let ingested = Ingested {
            document: None,
            generation: 3,
            rejection: Some(("spec.requestedFreight[0].origin.kind".to_owned(), "must be Warehouse".to_owned())),
        };
        let mut status = json!({"conditions": [{"type": "Ready", "status": "True"}]});
        set_condition(&mut status, ready_condition(Some(&ingested)).unwrap());
        let conditions = status["conditions"].as_array().unwrap();
        assert_eq!(conditions.len(), 1, "{status}");
        assert_eq!(conditions[0]["status"], "False");
        assert_eq!(conditions[0]["reason"], "InvalidSpec");
        assert!(
            conditions[0]["message"].as_str().unwrap().starts_with("spec.requestedFreight[0].origin.kind: must be")
        );
    }

    fn stage(verifies: bool) -> lading_domain::spec::Manifest {
        let mut spec = json!({
            "requestedFreight": [{"origin": {"kind": "Warehouse", "name": "app"}, "sources": {"direct": true}}],
            "promotionTemplate": {"spec": {"steps": [{"uses": "fail"}]}},
        });
        if verifies {
            spec["verification"] = json!({"analysisTemplates": [{"name": "health"}]});
        }
        let document = json!({"apiVersion": API_VERSION, "kind": "Stage",
            "metadata": {"name": "test", "namespace": "demo"}, "spec": spec});
        lading_domain::spec::parse_manifests(vec![document]).unwrap().remove(0)
    }

    /// A project whose stage `test` holds the freight of [`record`], promoted by `promotion`.
    fn holding(verified: bool, promotion: lading_projection::model::PromotionPhase) -> ProjectModel {
        let mut record = record();
        if verified {
            record.freight.status.verified_in.insert(
                "test".to_owned(),
                lading_domain::freight::VerifiedStage { verified_at: chrono::Utc::now(), longest_soak: None },
            );
        }
        let mut model = ProjectModel::default();
        let mut stage = lading_projection::model::StageRecord::default();
        stage.current.insert("Warehouse/app".to_owned(), (record.id.clone(), chrono::Utc::now()));
        stage.promotions.push(lading_projection::model::PromotionRecord {
            name: "test.01.abc".to_owned(),
            freight_id: record.id.clone(),
            created_seq: 1,
            created_at: chrono::Utc::now(),
            trigger: lading_events::catalog::PromotionTrigger::Auto,
            phase: promotion,
            started_at: None,
            finished_at: None,
            commit: String::new(),
            message: String::new(),
            steps: Vec::new(),
            created_by: String::new(),
            aborted_by: String::new(),
            pushes: Vec::new(),
            waiting: None,
        });
        model.stages.insert("test".to_owned(), stage);
        model.freight.insert(record.id.clone(), record);
        model
    }

    fn verification(phase: lading_domain::verification::Phase) -> lading_projection::model::VerificationRecord {
        lading_projection::model::VerificationRecord {
            id: "test.01.abc".to_owned(),
            freight_id: record().id,
            promotion: "test.01.abc".to_owned(),
            actor: "lading/promoter".to_owned(),
            templates: vec!["health".to_owned()],
            phase,
            message: "measured".to_owned(),
            started_at: chrono::Utc::now(),
            finished_at: None,
            measurements: Vec::new(),
        }
    }

    fn conditions(status: &Value, kind: &str) -> Vec<Value> {
        status["conditions"].as_array().unwrap().iter().filter(|c| c["type"] == kind).cloned().collect()
    }

    #[test]
    fn a_verifying_stage_has_one_verified_condition_from_its_last_verification() {
        use lading_domain::verification::Phase;
        use lading_projection::model::PromotionPhase;
        for (phase, condition, reason) in [
            (Phase::Running, "Unknown", "Verifying"),
            (Phase::Successful, "True", "Verified"),
            (Phase::Failed, "False", "VerificationFailed"),
        ] {
            let expected = (Some(condition), Some(reason));
            // A freight verified in the stage before (an earlier run) does not hide the last one.
            let mut model = holding(true, PromotionPhase::Succeeded);
            model.stages.get_mut("test").unwrap().verifications.push(verification(phase));
            let status = stage_status(&stage(true), Some(&model), &[]);
            let verified = conditions(&status, "Verified");
            assert_eq!(verified.len(), 1, "{status}");
            assert_eq!((verified[0]["status"].as_str(), verified[0]["reason"].as_str()), expected, "{status}");
            assert_eq!(status["freightSummary"], "brave-otter", "{status}");
        }
        let model = holding(true, PromotionPhase::Succeeded);
        let status = stage_status(&stage(true), Some(&model), &[]);
        let verified = conditions(&status, "Verified");
        assert_eq!((verified.len(), verified[0]["reason"].as_str()), (1, Some("Pending")), "{status}");
    }

    #[test]
    fn a_stage_without_verification_is_verified_once_its_freight_is() {
        use lading_projection::model::PromotionPhase;
        let cases = [
            (Some(holding(true, PromotionPhase::Succeeded)), "True", "Verified"),
            (Some(holding(false, PromotionPhase::Succeeded)), "Unknown", "Pending"),
            (Some(ProjectModel::default()), "Unknown", "NoFreight"),
            (None, "Unknown", "NoFreight"),
        ];
        for (model, status, reason) in cases {
            let shown = stage_status(&stage(false), model.as_ref(), &[]);
            let verified = conditions(&shown, "Verified");
            assert_eq!(verified.len(), 1, "{shown}");
            assert_eq!(
                (verified[0]["status"].as_str(), verified[0]["reason"].as_str()),
                (Some(status), Some(reason)),
                "{shown}"
            );
        }
    }

    #[test]
    fn a_stage_is_promoting_while_a_promotion_is_queued_or_running() {
        use lading_projection::model::PromotionPhase;
        for (phase, reason) in [
            (PromotionPhase::Running, Some("ActivePromotion")),
            (PromotionPhase::Pending, Some("PromotionQueued")),
            (PromotionPhase::Succeeded, None),
            (PromotionPhase::Failed, None),
        ] {
            let status = stage_status(&stage(false), Some(&holding(false, phase)), &[]);
            let promoting = conditions(&status, "Promoting");
            match reason {
                Some(reason) => {
                    assert_eq!(promoting.len(), 1, "{status}");
                    assert_eq!(
                        (promoting[0]["status"].as_str(), promoting[0]["reason"].as_str()),
                        (Some("True"), Some(reason))
                    );
                    assert!(promoting[0]["message"].as_str().unwrap().contains("test.01.abc"), "{status}");
                }
                None => assert!(promoting.is_empty(), "{phase:?}: {status}"),
            }
        }
    }

    #[test]
    fn a_warehouse_shows_freight_created_with_its_newest_freight() {
        let document = json!({"apiVersion": API_VERSION, "kind": "Warehouse", "metadata": {"name": "app", "namespace": "demo"},
            "spec": {"subscriptions": [{"git": {"repoURL": "https://example.com/app.git"}}]}});
        let manifest = lading_domain::spec::parse_manifests(vec![document]).unwrap().remove(0);
        let status = warehouse_object(&manifest, None)["status"].take();
        let created = conditions(&status, "FreightCreated");
        assert_eq!((created.len(), created[0]["status"].as_str()), (1, Some("False")), "{status}");
        let mut model = holding(false, lading_projection::model::PromotionPhase::Succeeded);
        model.warehouses.insert(
            "app".to_owned(),
            lading_projection::model::WarehouseRecord { last_freight: Some(record().id), ..Default::default() },
        );
        let status = warehouse_object(&manifest, Some(&model))["status"].take();
        let created = conditions(&status, "FreightCreated");
        assert_eq!(created.len(), 1, "{status}");
        assert_eq!((created[0]["status"].as_str(), created[0]["reason"].as_str()), (Some("True"), Some("NewFreight")));
        assert!(created[0]["message"].as_str().unwrap().contains("brave-otter"), "{status}");
    }
}
