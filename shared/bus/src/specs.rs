//! The spec bucket: validated manifests, latest value per object, watched by every
//! service. Keys are `<project>.<kind>.<name>`; values are the manifest as JSON.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_nats::jetstream::kv::Operation;
use futures::StreamExt;
use lading_domain::spec::{
    Kind, Manifest, PromotionPolicy, PromotionTaskSpec, Spec, StageSpec, WarehouseSpec, parse_manifest,
};
use lading_runtime::Shutdown;
use tokio::sync::watch;

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

    /// Whether the object a stage of `project` refers to exists.
    pub fn reference_exists(&self, project: &str, reference: &lading_domain::spec::references::Reference) -> bool {
        use lading_domain::spec::references::Reference;
        match reference {
            Reference::Warehouse(name) => self.get(project, Kind::Warehouse, name).is_some(),
            Reference::Stage(name) => self.get(project, Kind::Stage, name).is_some(),
            Reference::PromotionTask(name) => self.get(project, Kind::PromotionTask, name).is_some(),
            Reference::ClusterPromotionTask(name) => self.get("", Kind::ClusterPromotionTask, name).is_some(),
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

/// A live view of the spec bucket.
#[derive(Clone)]
pub struct SpecStore {
    specs: Arc<RwLock<Specs>>,
    revision: watch::Receiver<u64>,
}

impl SpecStore {
    /// Starts watching; returns once every stored manifest is loaded.
    pub async fn watch(bus: &Bus, shutdown: Shutdown) -> Result<SpecStore> {
        let store = bus.bucket(SPECS_BUCKET).await?;
        let stored = store.status().await.map_err(|e| BusError::nats("reading the spec bucket", e))?.values();
        let mut watch = store.watch_with_history(">").await.map_err(|e| BusError::nats("watching specs", e))?;
        let specs = Arc::new(RwLock::new(Specs::default()));
        let (revision_tx, revision) = watch::channel(0u64);
        let (loaded_tx, mut loaded) = watch::channel(stored == 0);
        let writer = specs.clone();
        tokio::spawn(async move {
            loop {
                let next = tokio::select! {
                    () = shutdown.cancelled() => return,
                    next = watch.next() => next,
                };
                let entry = match next {
                    Some(Ok(entry)) => entry,
                    Some(Err(error)) => {
                        tracing::warn!(%error, "watching specs: retrying");
                        continue;
                    }
                    None => {
                        // The watch ends when NATS goes away: watch again (latest values
                        // and deletion markers are replayed, so nothing is missed).
                        tracing::warn!("spec watch ended; watching again");
                        loop {
                            tokio::select! {
                                () = shutdown.cancelled() => return,
                                () = tokio::time::sleep(Duration::from_millis(500)) => {}
                            }
                            match store.watch_with_history(">").await {
                                Ok(new_watch) => {
                                    watch = new_watch;
                                    break;
                                }
                                Err(error) => tracing::warn!(%error, "cannot watch specs yet"),
                            }
                        }
                        continue;
                    }
                };
                {
                    let mut specs = writer.write().unwrap_or_else(|p| p.into_inner());
                    match entry.operation {
                        Operation::Put => match serde_json::from_slice(&entry.value)
                            .map_err(|e| e.to_string())
                            .and_then(|value| parse_manifest(1, value).map_err(|e| e.to_string()))
                        {
                            Ok(manifest) => {
                                specs.by_key.insert(entry.key.clone(), manifest);
                            }
                            Err(error) => tracing::warn!(key = entry.key, error, "ignoring an unreadable spec"),
                        },
                        Operation::Delete | Operation::Purge => {
                            specs.by_key.remove(&entry.key);
                        }
                    }
                }
                revision_tx.send_replace(entry.revision);
                if entry.seen_current || entry.delta == 0 {
                    loaded_tx.send_replace(true);
                }
            }
        });
        let loaded_in_time = tokio::time::timeout(Duration::from_secs(30), loaded.wait_for(|l| *l)).await;
        if !loaded_in_time.is_ok_and(|r| r.is_ok()) {
            return Err(BusError::nats("loading specs", "did not load within 30s"));
        }
        Ok(SpecStore { specs, revision })
    }

    /// Reads the current specs.
    pub fn read<R>(&self, f: impl FnOnce(&Specs) -> R) -> R {
        f(&self.specs.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// A receiver that changes whenever a spec changes.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.revision.clone()
    }

    /// Waits until the store has seen bucket revision `revision`; false on timeout.
    pub async fn wait_for_revision(&self, revision: u64, timeout: Duration) -> bool {
        let mut changes = self.revision.clone();
        tokio::time::timeout(timeout, changes.wait_for(|r| *r >= revision)).await.is_ok_and(|r| r.is_ok())
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
