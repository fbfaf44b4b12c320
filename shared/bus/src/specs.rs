//! The spec bucket: validated manifests, latest value per object, watched by every
//! service. Keys are `<project>.<kind>.<name>`; values are the manifest as JSON.

use std::collections::BTreeMap;
use std::time::Duration;

use lading_domain::spec::{
    Kind, Manifest, PromotionPolicy, PromotionTaskSpec, Spec, StageSpec, WarehouseSpec, parse_manifest,
};
use lading_runtime::Shutdown;
use tokio::sync::watch;

use crate::mirror::Mirror;
use crate::names::SPECS_BUCKET;
use crate::{Bus, BusError, Result};

/// The project token of cluster-scoped objects in storage keys.
pub const CLUSTER_SCOPE: &str = "_";

/// The storage key of an object (`_` stands for the project of cluster-scoped objects).
pub fn spec_key(project: &str, kind: Kind, name: &str) -> String {
    let project = if project.is_empty() { CLUSTER_SCOPE } else { project };
    format!("{project}.{}.{name}", kind.token())
}

/// What applying one manifest did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApplyAction {
    Created,
    Configured,
    Unchanged,
}

/// All known manifests.
#[derive(Debug, Clone, Default)]
pub struct Specs {
    by_key: BTreeMap<String, Manifest>,
}

impl Specs {
    pub fn get(&self, project: &str, kind: Kind, name: &str) -> Option<&Manifest> {
        self.by_key.get(&spec_key(project, kind, name))
    }

    pub fn all(&self) -> impl Iterator<Item = &Manifest> {
        self.by_key.values()
    }

    pub fn in_project(&self, project: &str, kind: Kind) -> impl Iterator<Item = &Manifest> {
        self.by_key.values().filter(move |m| m.project() == project && m.kind() == kind)
    }

    pub fn project_exists(&self, project: &str) -> bool {
        self.get(project, Kind::Project, project).is_some()
    }

    pub fn warehouse(&self, project: &str, name: &str) -> Option<&WarehouseSpec> {
        match &self.get(project, Kind::Warehouse, name)?.spec {
            Spec::Warehouse(w) => Some(w),
            _ => None,
        }
    }

    /// Every warehouse as (project, name, spec).
    pub fn warehouses(&self) -> Vec<(String, String, WarehouseSpec)> {
        self.by_key
            .values()
            .filter_map(|m| match &m.spec {
                Spec::Warehouse(w) => Some((m.project().to_owned(), m.name().to_owned(), w.clone())),
                _ => None,
            })
            .collect()
    }

    /// A project's stages as (name, labels, spec).
    pub fn stages(&self, project: &str) -> Vec<(String, BTreeMap<String, String>, StageSpec)> {
        self.in_project(project, Kind::Stage)
            .filter_map(|m| match &m.spec {
                Spec::Stage(s) => Some((m.name().to_owned(), m.metadata.labels.clone(), s.clone())),
                _ => None,
            })
            .collect()
    }

    /// A project's stages as (name, labels, spec) with only the freight each requests in
    /// the spec: what auto-promotion decides on, without copying promotion templates.
    pub fn stage_requests(&self, project: &str) -> Vec<(String, BTreeMap<String, String>, StageSpec)> {
        self.in_project(project, Kind::Stage)
            .filter_map(|m| match &m.spec {
                Spec::Stage(s) => Some((
                    m.name().to_owned(),
                    m.metadata.labels.clone(),
                    StageSpec { requested_freight: s.requested_freight.clone(), ..StageSpec::default() },
                )),
                _ => None,
            })
            .collect()
    }

    /// Projects that have a Project manifest.
    pub fn projects(&self) -> Vec<String> {
        self.by_key.values().filter(|m| m.kind() == Kind::Project).map(|m| m.name().to_owned()).collect()
    }

    pub fn stage(&self, project: &str, name: &str) -> Option<&StageSpec> {
        match &self.get(project, Kind::Stage, name)?.spec {
            Spec::Stage(s) => Some(s),
            _ => None,
        }
    }

    /// The steps and variables of the task a stage step refers to.
    pub fn promotion_task(&self, project: &str, task: &lading_domain::spec::TaskRef) -> Option<&PromotionTaskSpec> {
        let found = if task.is_cluster_scoped() {
            self.get("", Kind::ClusterPromotionTask, &task.name)
        } else {
            self.get(project, Kind::PromotionTask, &task.name)
        };
        match &found?.spec {
            Spec::PromotionTask(t) | Spec::ClusterPromotionTask(t) => Some(t),
            _ => None,
        }
    }

    /// The analysis template a stage's verification refers to.
    pub fn analysis_template(
        &self,
        project: &str,
        template: &lading_domain::spec::AnalysisTemplateReference,
    ) -> Option<&lading_domain::spec::AnalysisTemplateSpec> {
        let found = if template.is_cluster_scoped() {
            self.get("", Kind::ClusterAnalysisTemplate, &template.name)
        } else {
            self.get(project, Kind::AnalysisTemplate, &template.name)
        };
        match &found?.spec {
            Spec::AnalysisTemplate(t) | Spec::ClusterAnalysisTemplate(t) => Some(t),
            _ => None,
        }
    }

    /// Whether the object a stage of `project` refers to exists.
    pub fn reference_exists(&self, project: &str, reference: &lading_domain::spec::references::Reference) -> bool {
        use lading_domain::spec::references::Reference;
        match reference {
            Reference::Warehouse(name) => self.get(project, Kind::Warehouse, name).is_some(),
            Reference::Stage(name) => self.get(project, Kind::Stage, name).is_some(),
            Reference::PromotionTask(name) => self.get(project, Kind::PromotionTask, name).is_some(),
            Reference::ClusterPromotionTask(name) => self.get("", Kind::ClusterPromotionTask, name).is_some(),
            Reference::AnalysisTemplate(name) => self.get(project, Kind::AnalysisTemplate, name).is_some(),
            Reference::ClusterAnalysisTemplate(name) => self.get("", Kind::ClusterAnalysisTemplate, name).is_some(),
        }
    }

    /// The project's promotion policies: its ProjectConfig's, else its Project's.
    pub fn promotion_policies(&self, project: &str) -> Vec<PromotionPolicy> {
        if let Some(Manifest { spec: Spec::ProjectConfig(c), .. }) = self.get(project, Kind::ProjectConfig, project) {
            return c.promotion_policies.clone();
        }
        if let Some(Manifest { spec: Spec::Project(p), .. }) = self.get(project, Kind::Project, project) {
            return p.promotion_policies.clone();
        }
        Vec::new()
    }
}

impl crate::mirror::Entries for Specs {
    fn put(&mut self, key: &str, bytes: &[u8]) -> std::result::Result<(), String> {
        let value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        let manifest = parse_manifest(1, value).map_err(|e| e.to_string())?;
        self.by_key.insert(key.to_owned(), manifest);
        Ok(())
    }

    fn remove(&mut self, key: &str) {
        self.by_key.remove(key);
    }
}

/// A live view of the spec bucket.
#[derive(Clone)]
pub struct SpecStore(Mirror<Specs>);

impl SpecStore {
    /// Starts watching; returns once every stored manifest is loaded.
    pub async fn watch(bus: &Bus, shutdown: Shutdown) -> Result<SpecStore> {
        Mirror::start(bus, SPECS_BUCKET, shutdown).await.map(SpecStore)
    }

    /// Reads the current specs.
    pub fn read<R>(&self, f: impl FnOnce(&Specs) -> R) -> R {
        self.0.read(f)
    }

    /// A receiver that changes whenever a spec changes.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.0.changes()
    }

    /// Waits until the store has seen bucket revision `revision`; false on timeout.
    pub async fn wait_for_revision(&self, revision: u64, timeout: Duration) -> bool {
        self.0.wait_for_revision(revision, timeout).await
    }
}

/// Why manifests were not stored.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// A manifest is larger than a NATS message may be; nothing was stored.
    #[error("manifest {index} is {bytes} bytes stored; the limit is {limit} bytes (the NATS server's max_payload)")]
    TooLarge { index: usize, bytes: usize, limit: usize },
    #[error(transparent)]
    Bus(#[from] BusError),
}

impl Bus {
    /// Deletes a stored manifest (nothing happens when there is none).
    pub async fn delete_manifest(&self, project: &str, kind: Kind, name: &str) -> Result<()> {
        let store = self.bucket(SPECS_BUCKET).await?;
        store.delete(spec_key(project, kind, name)).await.map_err(|e| BusError::nats("deleting a spec", e))
    }
}

impl Bus {
    /// The largest message the connected NATS server accepts (its `max_payload`).
    pub fn max_payload(&self) -> usize {
        self.client().server_info().max_payload
    }

    /// Stores validated manifests (callers validate all first). Every manifest's size is
    /// checked before any is stored, so a batch with one too large stores nothing.
    /// Returns what each did and the last bucket revision written.
    pub async fn apply_manifests(&self, manifests: &[Manifest]) -> Result<(Vec<ApplyAction>, u64), ApplyError> {
        let limit = self.max_payload();
        let mut encoded = Vec::with_capacity(manifests.len());
        for (index, manifest) in manifests.iter().enumerate() {
            let key = spec_key(manifest.project(), manifest.kind(), manifest.name());
            let value = serde_json::to_vec(&manifest.to_json()).map_err(|e| BusError::nats("encoding a spec", e))?;
            if value.len() > limit {
                return Err(ApplyError::TooLarge { index, bytes: value.len(), limit });
            }
            encoded.push((key, value));
        }
        let store = self.bucket(SPECS_BUCKET).await?;
        let mut actions = Vec::with_capacity(manifests.len());
        let mut last_revision = 0;
        for (key, value) in encoded {
            let existing = store.get(&key).await.map_err(|e| BusError::nats("reading a spec", e))?;
            let action = match existing {
                Some(old) if old.as_ref() == value.as_slice() => ApplyAction::Unchanged,
                Some(_) => ApplyAction::Configured,
                None => ApplyAction::Created,
            };
            if action != ApplyAction::Unchanged {
                last_revision = store.put(&key, value.into()).await.map_err(|e| BusError::nats("storing a spec", e))?;
            }
            actions.push(action);
        }
        Ok((actions, last_revision))
    }
}
