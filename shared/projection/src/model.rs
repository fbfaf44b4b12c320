//! The read model: what the log says about freight, stages and warehouses, rebuilt by
//! applying events in log order. The api serves it; the promoter decides from it. Every
//! rule it applies (queue order, soak accounting) is a function in `lading_domain`.
//!
//! - [`stage`]: a stage's records (promotions, verifications, health).
//! - [`apply`]: the change each event makes.
//! - [`upgrade`]: earlier versions of an event read as the current one.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use lading_domain::{Freight, FreightId, FreightOrigin};
use lading_events::catalog::{Event, WarehouseArtifactsDiscoveredV1};
use serde::{Deserialize, Serialize};

pub use lading_domain::promotion_queue::PromotionPhase;
pub use stage::*;

mod apply;
mod stage;

/// A freight and when it was discovered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreightRecord {
    pub id: FreightId,
    pub freight: Freight,
    /// Log position of its `FreightCreated` event: discovery order.
    pub discovered_seq: u64,
    pub created_at: DateTime<Utc>,
    /// What `set-metadata` steps set on the freight (Kargo's `status.metadata`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, serde_json::Value>,
}

/// What is known of a warehouse from the log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WarehouseRecord {
    pub last_freight: Option<FreightId>,
    /// The last discovery's failure; cleared by the next successful discovery.
    pub last_discovery_error: Option<(String, DateTime<Utc>)>,
    /// What the last successful discovery found.
    pub discovered: Option<WarehouseArtifactsDiscoveredV1>,
    /// The last refresh request the warehouse finished (Kargo's `lastHandledRefresh`).
    #[serde(default)]
    pub last_handled_refresh: Option<String>,
    /// The position of that request's `refresh-handled` in the discovery stream, which
    /// holds it (0: none): a later request names it, so the same token asked for again
    /// is a new request.
    #[serde(default)]
    pub last_handled_refresh_seq: u64,
}

/// One project's read model.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectModel {
    pub freight: BTreeMap<FreightId, FreightRecord>,
    pub stages: BTreeMap<String, StageRecord>,
    pub warehouses: BTreeMap<String, WarehouseRecord>,
}

impl ProjectModel {
    /// Finds a freight by ID or alias.
    pub fn find_freight(&self, name_or_alias: &str) -> Option<&FreightRecord> {
        match FreightId::parse(name_or_alias) {
            Ok(id) => self.freight.get(&id),
            Err(_) => self.freight.values().find(|f| f.freight.alias == name_or_alias),
        }
    }

    /// What `freightMetadata()` and `stageMetadata()` read in this project.
    pub fn metadata(&self) -> lading_domain::metadata::ProjectMetadata {
        lading_domain::metadata::ProjectMetadata {
            freight: self
                .freight
                .iter()
                .filter(|(_, f)| !f.metadata.is_empty())
                .map(|(id, f)| (id.to_string(), f.metadata.clone()))
                .collect(),
            stages: self
                .stages
                .iter()
                .filter(|(_, s)| !s.metadata.is_empty())
                .map(|(name, s)| (name.clone(), s.metadata.clone()))
                .collect(),
        }
    }
}

/// The whole read model, and the last log position applied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadModel {
    pub projects: BTreeMap<String, ProjectModel>,
    pub last_seq: u64,
}

/// The key of an origin in a stage's current freight: `Warehouse/<name>`.
pub fn origin_key(origin: &FreightOrigin) -> String {
    format!("{}/{}", origin.kind, origin.name)
}

impl ReadModel {
    pub fn project(&self, name: &str) -> Option<&ProjectModel> {
        self.projects.get(name)
    }

    /// Applies the event stored at log position `seq`. Events about unknown freight (a
    /// malformed ID) are ignored rather than trusted.
    pub fn apply(&mut self, seq: u64, event: &Event) {
        self.last_seq = self.last_seq.max(seq);
        self.apply_event(seq, event);
    }

    /// Applies a discovery (the latest of a warehouse, from the discovery stream) stored
    /// at `seq` in that stream, whose positions are not the log's: they only order that
    /// stream's events (a warehouse's handled refreshes among themselves).
    pub fn apply_discovery(&mut self, seq: u64, event: &Event) {
        self.apply_event(seq, event);
    }
}

pub mod upgrade;

#[cfg(test)]
mod tests;
