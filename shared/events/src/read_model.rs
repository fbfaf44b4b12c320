//! The read model: what the log says about freight, stages and warehouses, rebuilt by
//! applying events in log order. The api serves it; the promoter decides from it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use lading_domain::duration::{format_go_duration, parse_go_duration};
use lading_domain::freight::{CurrentStage, VerifiedStage};
use lading_domain::{Freight, FreightId, FreightOrigin};

use crate::catalog::{Event, PromotionTrigger, StepStatusV2, WarehouseArtifactsDiscoveredV1};
use crate::time_from_ms;

/// Where a promotion is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum PromotionPhase {
    Pending,
    Running,
    Succeeded,
    Failed,
    Errored,
    Aborted,
}

impl PromotionPhase {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            PromotionPhase::Succeeded | PromotionPhase::Failed | PromotionPhase::Errored | PromotionPhase::Aborted
        )
    }

    /// Ended without succeeding.
    pub fn is_unsuccessful(self) -> bool {
        matches!(self, PromotionPhase::Failed | PromotionPhase::Errored | PromotionPhase::Aborted)
    }
}

/// How one step of a promotion went (Kargo's `stepExecutionMetadata`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRecord {
    pub index: u32,
    pub alias: String,
    pub uses: String,
    pub status: StepStatusV2,
    pub message: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
}

/// One promotion of a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromotionRecord {
    pub name: String,
    pub freight_id: FreightId,
    /// Log position of its `PromotionCreated` event: the stage's queue order.
    pub created_seq: u64,
    pub created_at: DateTime<Utc>,
    pub trigger: PromotionTrigger,
    pub phase: PromotionPhase,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub commit: String,
    pub message: String,
    /// Steps that finished, by index (a resumed promotion replaces earlier entries).
    pub steps: Vec<StepRecord>,
}

/// A stage's promotions, in creation order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StageRecord {
    pub promotions: Vec<PromotionRecord>,
    /// Per freight origin (`Warehouse/<name>`), the freight of the latest successful
    /// promotion and since when: a stage holds one freight from each origin it requests.
    pub current: BTreeMap<String, (FreightId, DateTime<Utc>)>,
}

impl StageRecord {
    /// The oldest promotion not yet finished: the one allowed to run.
    pub fn head_of_queue(&self) -> Option<&PromotionRecord> {
        self.promotions.iter().find(|p| !p.phase.is_terminal())
    }

    /// Records how a step of one of its promotions ended (a retried step replaces its
    /// earlier record).
    fn record_step(&mut self, promotion: &str, step: StepRecord) {
        if let Some(record) = self.promotions.iter_mut().find(|p| p.name == promotion) {
            record.steps.retain(|s| s.index != step.index);
            record.steps.push(step);
            record.steps.sort_by_key(|s| s.index);
        }
    }

    pub fn promotion(&self, name: &str) -> Option<&PromotionRecord> {
        self.promotions.iter().find(|p| p.name == name)
    }

    pub fn last_promotion(&self) -> Option<&PromotionRecord> {
        self.promotions.last()
    }
}

/// A freight and when it was discovered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreightRecord {
    pub id: FreightId,
    pub freight: Freight,
    /// Log position of its `FreightCreated` event: discovery order.
    pub discovered_seq: u64,
    pub created_at: DateTime<Utc>,
}

/// What is known of a warehouse from the log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WarehouseRecord {
    pub last_freight: Option<FreightId>,
    /// The last discovery's failure; cleared by the next successful discovery.
    pub last_discovery_error: Option<(String, DateTime<Utc>)>,
    /// What the last successful discovery found.
    pub discovered: Option<WarehouseArtifactsDiscoveredV1>,
}

/// One project's read model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
}

/// The whole read model, and the last log position applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
        let project = self.projects.entry(event.project().to_owned()).or_default();
        match event {
            Event::FreightCreated(e) => {
                let Ok(id) = FreightId::parse(&e.freight_id) else {
                    return;
                };
                project.freight.entry(id.clone()).or_insert_with(|| FreightRecord {
                    id: id.clone(),
                    freight: e.freight(),
                    discovered_seq: seq,
                    created_at: time_from_ms(e.created_at_ms),
                });
                project.warehouses.entry(e.origin_name.clone()).or_default().last_freight = Some(id);
            }
            Event::PromotionCreated(e) => {
                let Ok(id) = FreightId::parse(&e.freight_id) else {
                    return;
                };
                let stage = project.stages.entry(e.stage.clone()).or_default();
                if stage.promotion(&e.promotion).is_none() {
                    stage.promotions.push(PromotionRecord {
                        name: e.promotion.clone(),
                        freight_id: id,
                        created_seq: seq,
                        created_at: time_from_ms(e.created_at_ms),
                        trigger: e.trigger,
                        phase: PromotionPhase::Pending,
                        started_at: None,
                        finished_at: None,
                        commit: String::new(),
                        message: String::new(),
                        steps: Vec::new(),
                    });
                }
            }
            Event::PromotionSucceeded(e) => {
                let stage = project.stages.entry(e.stage.clone()).or_default();
                let Some(record) = stage.promotions.iter_mut().find(|p| p.name == e.promotion) else {
                    return;
                };
                if record.phase.is_terminal() {
                    return;
                }
                let since = time_from_ms(e.finished_at_ms);
                record.phase = PromotionPhase::Succeeded;
                record.finished_at = Some(since);
                record.commit = e.commit.clone();
                let new_current = record.freight_id.clone();
                let Some(origin) = project.freight.get(&new_current).map(|f| origin_key(&f.freight.origin)) else {
                    return;
                };
                if let Some((previous, entered)) = stage.current.remove(&origin)
                    && let Some(f) = project.freight.get_mut(&previous)
                {
                    f.freight.status.currently_in.remove(&e.stage);
                    // It leaves the stage: remember its longest soak there.
                    if let Some(verified) = f.freight.status.verified_in.get_mut(&e.stage) {
                        let stay = (since - entered).to_std().unwrap_or_default();
                        let longest = verified
                            .longest_soak
                            .as_deref()
                            .and_then(|d| parse_go_duration(d).ok())
                            .unwrap_or_default()
                            .max(stay);
                        verified.longest_soak = Some(format_go_duration(longest));
                    }
                }
                if let Some(f) = project.freight.get_mut(&new_current) {
                    f.freight.status.currently_in.insert(e.stage.clone(), CurrentStage { since });
                }
                stage.current.insert(origin, (new_current, since));
            }
            Event::PromotionFailed(e) => {
                let stage = project.stages.entry(e.stage.clone()).or_default();
                if let Some(record) = stage.promotions.iter_mut().find(|p| p.name == e.promotion)
                    && !record.phase.is_terminal()
                {
                    record.phase = PromotionPhase::Failed;
                    record.finished_at = Some(time_from_ms(e.finished_at_ms));
                    record.message = e.reason.clone();
                }
            }
            Event::FreightVerified(e) => {
                let Ok(id) = FreightId::parse(&e.freight_id) else {
                    return;
                };
                if let Some(f) = project.freight.get_mut(&id) {
                    f.freight
                        .status
                        .verified_in
                        .entry(e.stage.clone())
                        .or_insert(VerifiedStage { longest_soak: None, verified_at: time_from_ms(e.verified_at_ms) });
                }
            }
            Event::WarehouseRefreshRequested(_) => {}
            Event::PromotionStarted(e) => {
                let stage = project.stages.entry(e.stage.clone()).or_default();
                if let Some(record) = stage.promotions.iter_mut().find(|p| p.name == e.promotion)
                    && !record.phase.is_terminal()
                {
                    record.phase = PromotionPhase::Running;
                    record.started_at.get_or_insert(time_from_ms(e.started_at_ms));
                }
            }
            Event::PromotionStepFinished(e) => {
                let step = StepRecord {
                    index: e.index,
                    alias: e.alias.clone(),
                    uses: e.uses.clone(),
                    status: e.status.into(),
                    message: e.message.clone(),
                    started_at: time_from_ms(e.started_at_ms),
                    finished_at: time_from_ms(e.finished_at_ms),
                };
                project.stages.entry(e.stage.clone()).or_default().record_step(&e.promotion, step);
            }
            Event::PromotionStepFinishedV2(e) => {
                let step = StepRecord {
                    index: e.index,
                    alias: e.alias.clone(),
                    uses: e.uses.clone(),
                    status: e.status,
                    message: e.message.clone(),
                    started_at: time_from_ms(e.started_at_ms),
                    finished_at: time_from_ms(e.finished_at_ms),
                };
                project.stages.entry(e.stage.clone()).or_default().record_step(&e.promotion, step);
            }
            Event::WarehouseArtifactsDiscovered(e) => {
                let warehouse = project.warehouses.entry(e.warehouse.clone()).or_default();
                warehouse.discovered = Some(e.clone());
                warehouse.last_discovery_error = None;
            }
            Event::PromotionErrored(e) => {
                let stage = project.stages.entry(e.stage.clone()).or_default();
                if let Some(record) = stage.promotions.iter_mut().find(|p| p.name == e.promotion)
                    && !record.phase.is_terminal()
                {
                    record.phase = PromotionPhase::Errored;
                    record.finished_at = Some(time_from_ms(e.errored_at_ms));
                    record.message = e.reason.clone();
                }
            }
            Event::FreightAliasChanged(e) => {
                if let Ok(id) = FreightId::parse(&e.freight_id)
                    && let Some(f) = project.freight.get_mut(&id)
                {
                    f.freight.alias = e.alias.clone();
                }
            }
            Event::PromotionAborted(e) => {
                let stage = project.stages.entry(e.stage.clone()).or_default();
                if let Some(record) = stage.promotions.iter_mut().find(|p| p.name == e.promotion)
                    && !record.phase.is_terminal()
                {
                    record.phase = PromotionPhase::Aborted;
                    record.finished_at = Some(time_from_ms(e.aborted_at_ms));
                    record.message = e.reason.clone();
                }
            }
            Event::WarehouseDiscoveryFailed(e) => {
                project.warehouses.entry(e.warehouse.clone()).or_default().last_discovery_error =
                    Some((e.reason.clone(), time_from_ms(e.failed_at_ms)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn created(id: &str, alias: &str) -> Event {
        created_from(id, alias, "app")
    }

    fn created_from(id: &str, alias: &str, warehouse: &str) -> Event {
        Event::FreightCreated(FreightCreatedV1 {
            project: "p".into(),
            freight_id: id.into(),
            alias: alias.into(),
            origin_kind: "Warehouse".into(),
            origin_name: warehouse.into(),
            commits: vec![],
            images: vec![],
            charts: vec![],
            created_at_ms: 1,
        })
    }

    fn queued(stage: &str, name: &str, freight: &str) -> Event {
        Event::PromotionCreated(PromotionCreatedV1 {
            project: "p".into(),
            stage: stage.into(),
            promotion: name.into(),
            freight_id: freight.into(),
            trigger: PromotionTrigger::Auto,
            created_at_ms: 2,
        })
    }

    fn succeeded(stage: &str, name: &str, freight: &str) -> Event {
        Event::PromotionSucceeded(PromotionSucceededV1 {
            project: "p".into(),
            stage: stage.into(),
            promotion: name.into(),
            freight_id: freight.into(),
            commit: "c".into(),
            finished_at_ms: 3,
        })
    }

    fn replay(events: &[Event]) -> ReadModel {
        let mut model = ReadModel::default();
        for (i, e) in events.iter().enumerate() {
            model.apply(i as u64 + 1, e);
        }
        model
    }

    fn id(s: &str) -> FreightId {
        FreightId::parse(s).unwrap()
    }

    #[test]
    fn currently_in_follows_the_latest_successful_promotion() {
        let model = replay(&[
            created(A, "a-a"),
            created(B, "b-b"),
            queued("test", "p1", A),
            succeeded("test", "p1", A),
            queued("test", "p2", B),
            succeeded("test", "p2", B),
        ]);
        let p = model.project("p").unwrap();
        assert!(p.freight[&id(A)].freight.status.currently_in.is_empty());
        assert!(p.freight[&id(B)].freight.status.currently_in.contains_key("test"));
        assert_eq!(model.last_seq, 6);
    }

    #[test]
    fn the_queue_head_is_the_oldest_unfinished_promotion() {
        let model = replay(&[created(A, "a-a"), created(B, "b-b"), queued("test", "p1", A), queued("test", "p2", B)]);
        let stage = &model.project("p").unwrap().stages["test"];
        assert_eq!(stage.head_of_queue().unwrap().name, "p1");
        let model =
            replay(&[created(A, "a-a"), queued("test", "p1", A), queued("test", "p2", B), succeeded("test", "p1", A)]);
        assert_eq!(model.project("p").unwrap().stages["test"].head_of_queue().unwrap().name, "p2");
    }

    #[test]
    fn replaying_twice_changes_nothing() {
        let events = [created(A, "a-a"), queued("test", "p1", A), succeeded("test", "p1", A)];
        let mut model = replay(&events);
        let once = model.clone();
        for (i, e) in events.iter().enumerate() {
            model.apply(i as u64 + 1, e);
        }
        assert_eq!(model, once);
    }

    #[test]
    fn freight_is_found_by_id_or_alias() {
        let model = replay(&[created(A, "brave-otter")]);
        let p = model.project("p").unwrap();
        assert_eq!(p.find_freight("brave-otter").unwrap().id, id(A));
        assert_eq!(p.find_freight(A).unwrap().freight.alias, "brave-otter");
        assert!(p.find_freight("calm-yak").is_none());
    }

    #[test]
    fn verification_is_recorded_per_stage() {
        let model = replay(&[
            created(A, "a-a"),
            Event::FreightVerified(FreightVerifiedV1 {
                project: "p".into(),
                stage: "test".into(),
                freight_id: A.into(),
                promotion: "p1".into(),
                verified_at_ms: 5,
            }),
        ]);
        assert!(model.project("p").unwrap().freight[&id(A)].freight.status.verified_in.contains_key("test"));
    }

    fn succeeded_at(stage: &str, name: &str, freight: &str, at_ms: i64) -> Event {
        let Event::PromotionSucceeded(mut e) = succeeded(stage, name, freight) else { unreachable!() };
        e.finished_at_ms = at_ms;
        Event::PromotionSucceeded(e)
    }

    fn verified(stage: &str, freight: &str) -> Event {
        Event::FreightVerified(FreightVerifiedV1 {
            project: "p".into(),
            stage: stage.into(),
            freight_id: freight.into(),
            promotion: "x".into(),
            verified_at_ms: 5,
        })
    }

    #[test]
    fn leaving_a_stage_records_the_longest_soak() {
        let hour = 3_600_000;
        let model = replay(&[
            created(A, "a-a"),
            created(B, "b-b"),
            queued("test", "p1", A),
            succeeded_at("test", "p1", A, hour),
            verified("test", A),
            queued("test", "p2", B),
            succeeded_at("test", "p2", B, 3 * hour),
        ]);
        let a = &model.project("p").unwrap().freight[&id(A)].freight.status;
        assert_eq!(a.verified_in["test"].longest_soak.as_deref(), Some("2h0m0s"));
        assert!(!a.currently_in.contains_key("test"));
    }

    #[test]
    fn a_stage_holds_one_freight_per_origin() {
        const C: &str = "cccccccccccccccccccccccccccccccccccccccc";
        let model = replay(&[
            created(A, "a-a"),
            created_from(C, "c-c", "config"),
            created(B, "b-b"),
            queued("test", "p1", A),
            succeeded("test", "p1", A),
            queued("test", "p2", C),
            succeeded("test", "p2", C),
            queued("test", "p3", B),
            succeeded("test", "p3", B),
        ]);
        let p = model.project("p").unwrap();
        let current: Vec<_> = p.stages["test"].current.values().map(|(id, _)| id.as_str().to_owned()).collect();
        assert_eq!(current, vec![B.to_owned(), C.to_owned()], "keyed by Warehouse/app and Warehouse/config");
        assert!(p.freight[&id(C)].freight.status.currently_in.contains_key("test"), "config freight stays");
        assert!(!p.freight[&id(A)].freight.status.currently_in.contains_key("test"), "app freight was replaced");
    }
}
