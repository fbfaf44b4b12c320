//! The event catalog. A published v1 payload never changes shape (golden-byte tests guard
//! it); an incompatible change is a new version with a new CloudEvents type.
//!
//! Guarantees every event gives:
//! - its `ce-id` (also its `Nats-Msg-Id`) is derived from its identity, so a retried or
//!   raced publish is stored once;
//! - its subject names the project, the entity kind and name, and the event type, so a
//!   subscriber filters without decoding.
//!
//! Assumptions consumers may make: events of one stage (promotion events) are stored in
//! the order they happened; a freight's `FreightCreated` precedes every event about it.

use lading_domain::{Chart, Freight, FreightId, FreightOrigin, GitCommit, Image};
use serde::{Deserialize, Serialize};

use crate::subject;

/// A Git commit inside a `FreightCreated` payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CommitV1 {
    pub repo_url: String,
    pub id: String,
    pub branch: String,
    pub tag: String,
    pub message: String,
    pub author: String,
    pub committer: String,
    pub subscription_name: String,
}

/// An image inside a `FreightCreated` payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ImageV1 {
    pub repo_url: String,
    pub tag: String,
    pub digest: String,
    pub subscription_name: String,
}

/// A chart inside a `FreightCreated` payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ChartV1 {
    pub repo_url: String,
    pub name: String,
    pub version: String,
    pub subscription_name: String,
}

/// `dev.lading.freight.created.v1`: a warehouse produced a new freight. Emitted once per
/// freight ID and project, ever.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreightCreatedV1 {
    pub project: String,
    pub freight_id: String,
    pub alias: String,
    pub origin_kind: String,
    pub origin_name: String,
    pub commits: Vec<CommitV1>,
    pub images: Vec<ImageV1>,
    pub charts: Vec<ChartV1>,
    pub created_at_ms: i64,
}

impl From<&GitCommit> for CommitV1 {
    fn from(c: &GitCommit) -> Self {
        CommitV1 {
            repo_url: c.repo_url.clone(),
            id: c.id.clone(),
            branch: c.branch.clone(),
            tag: c.tag.clone(),
            message: c.message.clone(),
            author: c.author.clone(),
            committer: c.committer.clone(),
            subscription_name: c.subscription_name.clone(),
        }
    }
}

impl From<&CommitV1> for GitCommit {
    fn from(c: &CommitV1) -> Self {
        GitCommit {
            repo_url: c.repo_url.clone(),
            id: c.id.clone(),
            branch: c.branch.clone(),
            tag: c.tag.clone(),
            message: c.message.clone(),
            author: c.author.clone(),
            committer: c.committer.clone(),
            subscription_name: c.subscription_name.clone(),
        }
    }
}

impl From<&Image> for ImageV1 {
    fn from(i: &Image) -> Self {
        ImageV1 {
            repo_url: i.repo_url.clone(),
            tag: i.tag.clone(),
            digest: i.digest.clone(),
            subscription_name: i.subscription_name.clone(),
        }
    }
}

impl From<&ImageV1> for Image {
    fn from(i: &ImageV1) -> Self {
        Image {
            repo_url: i.repo_url.clone(),
            tag: i.tag.clone(),
            digest: i.digest.clone(),
            subscription_name: i.subscription_name.clone(),
        }
    }
}

impl From<&Chart> for ChartV1 {
    fn from(c: &Chart) -> Self {
        ChartV1 {
            repo_url: c.repo_url.clone(),
            name: c.name.clone(),
            version: c.version.clone(),
            subscription_name: c.subscription_name.clone(),
        }
    }
}

impl From<&ChartV1> for Chart {
    fn from(c: &ChartV1) -> Self {
        Chart {
            repo_url: c.repo_url.clone(),
            name: c.name.clone(),
            version: c.version.clone(),
            subscription_name: c.subscription_name.clone(),
        }
    }
}

impl FreightCreatedV1 {
    /// The event announcing `freight` (its status is not part of the event).
    pub fn new(project: &str, id: &FreightId, freight: &Freight, created_at_ms: i64) -> Self {
        FreightCreatedV1 {
            project: project.to_owned(),
            freight_id: id.to_string(),
            alias: freight.alias.clone(),
            origin_kind: freight.origin.kind.clone(),
            origin_name: freight.origin.name.clone(),
            commits: freight.commits.iter().map(CommitV1::from).collect(),
            images: freight.images.iter().map(ImageV1::from).collect(),
            charts: freight.charts.iter().map(ChartV1::from).collect(),
            created_at_ms,
        }
    }

    /// The freight the event announces, with an empty status.
    pub fn freight(&self) -> Freight {
        Freight {
            alias: self.alias.clone(),
            origin: FreightOrigin { kind: self.origin_kind.clone(), name: self.origin_name.clone() },
            commits: self.commits.iter().map(GitCommit::from).collect(),
            images: self.images.iter().map(Image::from).collect(),
            charts: self.charts.iter().map(Chart::from).collect(),
            status: Default::default(),
        }
    }
}

/// How a promotion came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PromotionTrigger {
    Auto,
    Manual,
}

/// `dev.lading.promotion.created.v1`: a promotion was queued for a stage. An automatic
/// promotion is queued at most once per stage and freight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionCreatedV1 {
    pub project: String,
    pub stage: String,
    pub promotion: String,
    pub freight_id: String,
    pub trigger: PromotionTrigger,
    pub created_at_ms: i64,
}

/// `dev.lading.promotion.succeeded.v1`: every step of a promotion finished. `commit` is
/// the last commit the promotion pushed, empty when it pushed none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionSucceededV1 {
    pub project: String,
    pub stage: String,
    pub promotion: String,
    pub freight_id: String,
    pub commit: String,
    pub finished_at_ms: i64,
}

/// `dev.lading.promotion.failed.v1`: a promotion stopped at a step; `reason` says why.
/// A promotion ends with exactly one of succeeded or failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionFailedV1 {
    pub project: String,
    pub stage: String,
    pub promotion: String,
    pub freight_id: String,
    pub reason: String,
    pub finished_at_ms: i64,
}

/// `dev.lading.promotion.started.v1`: a replica took the stage's turn and began running
/// the promotion's steps (phase Running). A resumed promotion may start more than once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionStartedV1 {
    pub project: String,
    pub stage: String,
    pub promotion: String,
    pub freight_id: String,
    pub started_at_ms: i64,
}

/// How one step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepStatus {
    Succeeded,
    Failed,
}

/// `dev.lading.promotion.step-finished.v1`: one step of a promotion ended; `alias` is
/// its `as` (or `step-<index>`), `message` says why a step failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionStepFinishedV1 {
    pub project: String,
    pub stage: String,
    pub promotion: String,
    pub index: u32,
    pub alias: String,
    pub uses: String,
    pub status: StepStatus,
    pub message: String,
    pub started_at_ms: i64,
    pub finished_at_ms: i64,
}

/// How one step ended, in v2 step events: Kargo's step statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepStatusV2 {
    Succeeded,
    /// Failed; the promotion fails.
    Failed,
    /// Failed under `continueOnError`; the promotion went on.
    Errored,
    /// Its `if` was false; it did not run.
    Skipped,
}

impl From<StepStatus> for StepStatusV2 {
    fn from(status: StepStatus) -> Self {
        match status {
            StepStatus::Succeeded => StepStatusV2::Succeeded,
            StepStatus::Failed => StepStatusV2::Failed,
        }
    }
}

/// `dev.lading.promotion.step-finished.v2`: one step of a promotion ended, including
/// steps that were skipped or failed under `continueOnError` (v1 could say neither).
/// `message` says why a step failed, errored or was skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionStepFinishedV2 {
    pub project: String,
    pub stage: String,
    pub promotion: String,
    pub index: u32,
    pub alias: String,
    pub uses: String,
    pub status: StepStatusV2,
    pub message: String,
    pub started_at_ms: i64,
    pub finished_at_ms: i64,
}

/// `dev.lading.promotion.aborted.v1`: a promotion was stopped before it finished, by a
/// person or because newer freight superseded it; `reason` says which. It shares its
/// identity with succeeded and failed: a promotion ends once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionAbortedV1 {
    pub project: String,
    pub stage: String,
    pub promotion: String,
    pub freight_id: String,
    pub reason: String,
    pub aborted_at_ms: i64,
}

/// `dev.lading.promotion.errored.v1`: a promotion could not run at all (its stage or
/// freight is gone, a task is missing, no workspace); shares its identity with succeeded,
/// failed and aborted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionErroredV1 {
    pub project: String,
    pub stage: String,
    pub promotion: String,
    pub freight_id: String,
    pub reason: String,
    pub errored_at_ms: i64,
}

/// `dev.lading.freight.alias-changed.v1`: a freight got a new alias (the
/// `set-freight-alias` step). The new alias was claimed in the project first, so it is
/// unique there; the previous one is free again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreightAliasChangedV1 {
    pub project: String,
    pub freight_id: String,
    pub alias: String,
    pub previous_alias: String,
    pub changed_at_ms: i64,
}

/// `dev.lading.freight.verified.v1`: freight passed verification in a stage after the
/// named promotion, making it available to downstream stages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FreightVerifiedV1 {
    pub project: String,
    pub stage: String,
    pub freight_id: String,
    pub promotion: String,
    pub verified_at_ms: i64,
}

/// `dev.lading.warehouse.refresh-requested.v1`: someone asked a warehouse to discover now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WarehouseRefreshRequestedV1 {
    pub project: String,
    pub warehouse: String,
    pub request_id: String,
    pub requested_at_ms: i64,
}

/// `dev.lading.warehouse.discovery-failed.v1`: a discovery attempt failed; `reason` is
/// safe to show (it never contains credentials).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WarehouseDiscoveryFailedV1 {
    pub project: String,
    pub warehouse: String,
    pub reason: String,
    pub failed_at_ms: i64,
}

/// A commit a git subscription discovered (Kargo's `DiscoveredCommit`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DiscoveredCommitV1 {
    pub id: String,
    pub branch: String,
    pub tag: String,
    pub subject: String,
    pub author: String,
    pub committer: String,
    pub creator_date_ms: i64,
}

/// What one git subscription discovered, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct GitDiscoveryResultV1 {
    pub repo_url: String,
    pub commits: Vec<DiscoveredCommitV1>,
}

/// An image an image subscription discovered (Kargo's `DiscoveredImageReference`);
/// `created_at_ms` is 0 when the image's creation time was not read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DiscoveredImageV1 {
    pub tag: String,
    pub digest: String,
    pub created_at_ms: i64,
}

/// What one image subscription discovered, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ImageDiscoveryResultV1 {
    pub repo_url: String,
    pub platform: String,
    pub references: Vec<DiscoveredImageV1>,
}

/// What one chart subscription discovered: versions, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ChartDiscoveryResultV1 {
    pub repo_url: String,
    pub name: String,
    pub semver_constraint: String,
    pub versions: Vec<String>,
}

/// `dev.lading.warehouse.artifacts-discovered.v1`: what a warehouse's subscriptions
/// found, newest first per subscription, in the order of its spec. Published when it
/// differs from the previous discovery; becomes the Warehouse's
/// `status.discoveredArtifacts` and the choices for manually assembled freight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct WarehouseArtifactsDiscoveredV1 {
    pub project: String,
    pub warehouse: String,
    pub discovered_at_ms: i64,
    pub git: Vec<GitDiscoveryResultV1>,
    pub images: Vec<ImageDiscoveryResultV1>,
    pub charts: Vec<ChartDiscoveryResultV1>,
}

/// Every event type, with its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    FreightCreatedV1,
    PromotionCreatedV1,
    PromotionSucceededV1,
    PromotionFailedV1,
    FreightVerifiedV1,
    WarehouseRefreshRequestedV1,
    WarehouseDiscoveryFailedV1,
    PromotionStartedV1,
    PromotionStepFinishedV1,
    PromotionAbortedV1,
    FreightAliasChangedV1,
    PromotionErroredV1,
    PromotionStepFinishedV2,
    WarehouseArtifactsDiscoveredV1,
}

impl EventType {
    pub const ALL: [EventType; 14] = [
        EventType::FreightCreatedV1,
        EventType::PromotionCreatedV1,
        EventType::PromotionSucceededV1,
        EventType::PromotionFailedV1,
        EventType::FreightVerifiedV1,
        EventType::WarehouseRefreshRequestedV1,
        EventType::WarehouseDiscoveryFailedV1,
        EventType::PromotionStartedV1,
        EventType::PromotionStepFinishedV1,
        EventType::PromotionAbortedV1,
        EventType::FreightAliasChangedV1,
        EventType::PromotionErroredV1,
        EventType::PromotionStepFinishedV2,
        EventType::WarehouseArtifactsDiscoveredV1,
    ];

    /// The CloudEvents `type` attribute.
    pub fn ce_type(self) -> &'static str {
        match self {
            EventType::FreightCreatedV1 => "dev.lading.freight.created.v1",
            EventType::PromotionCreatedV1 => "dev.lading.promotion.created.v1",
            EventType::PromotionSucceededV1 => "dev.lading.promotion.succeeded.v1",
            EventType::PromotionFailedV1 => "dev.lading.promotion.failed.v1",
            EventType::FreightVerifiedV1 => "dev.lading.freight.verified.v1",
            EventType::WarehouseRefreshRequestedV1 => "dev.lading.warehouse.refresh-requested.v1",
            EventType::WarehouseDiscoveryFailedV1 => "dev.lading.warehouse.discovery-failed.v1",
            EventType::PromotionStartedV1 => "dev.lading.promotion.started.v1",
            EventType::PromotionStepFinishedV1 => "dev.lading.promotion.step-finished.v1",
            EventType::PromotionAbortedV1 => "dev.lading.promotion.aborted.v1",
            EventType::FreightAliasChangedV1 => "dev.lading.freight.alias-changed.v1",
            EventType::PromotionErroredV1 => "dev.lading.promotion.errored.v1",
            EventType::PromotionStepFinishedV2 => "dev.lading.promotion.step-finished.v2",
            EventType::WarehouseArtifactsDiscoveredV1 => "dev.lading.warehouse.artifacts-discovered.v1",
        }
    }

    pub fn from_ce_type(ce_type: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.ce_type() == ce_type)
    }

    /// The entity kind token in the subject.
    pub fn entity_kind(self) -> &'static str {
        match self {
            EventType::FreightCreatedV1 | EventType::FreightVerifiedV1 | EventType::FreightAliasChangedV1 => "freight",
            EventType::PromotionCreatedV1
            | EventType::PromotionSucceededV1
            | EventType::PromotionFailedV1
            | EventType::PromotionStartedV1
            | EventType::PromotionStepFinishedV1
            | EventType::PromotionAbortedV1
            | EventType::PromotionErroredV1
            | EventType::PromotionStepFinishedV2 => "stage",
            EventType::WarehouseRefreshRequestedV1
            | EventType::WarehouseDiscoveryFailedV1
            | EventType::WarehouseArtifactsDiscoveredV1 => "warehouse",
        }
    }

    /// The event type token in the subject.
    pub fn subject_token(self) -> &'static str {
        match self {
            EventType::FreightCreatedV1 => "created",
            EventType::FreightVerifiedV1 => "verified",
            EventType::PromotionCreatedV1 => "promotion-created",
            EventType::PromotionSucceededV1 => "promotion-succeeded",
            EventType::PromotionFailedV1 => "promotion-failed",
            EventType::WarehouseRefreshRequestedV1 => "refresh-requested",
            EventType::WarehouseDiscoveryFailedV1 => "discovery-failed",
            EventType::PromotionStartedV1 => "promotion-started",
            EventType::PromotionStepFinishedV1 => "promotion-step-finished",
            EventType::PromotionAbortedV1 => "promotion-aborted",
            EventType::FreightAliasChangedV1 => "alias-changed",
            EventType::PromotionErroredV1 => "promotion-errored",
            EventType::PromotionStepFinishedV2 => "promotion-step-finished",
            EventType::WarehouseArtifactsDiscoveredV1 => "artifacts-discovered",
        }
    }

    /// A subject filter matching this type in every project.
    pub fn filter(self) -> String {
        subject::filter(self.entity_kind(), self.subject_token())
    }
}

/// An event of any type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    FreightCreated(FreightCreatedV1),
    PromotionCreated(PromotionCreatedV1),
    PromotionSucceeded(PromotionSucceededV1),
    PromotionFailed(PromotionFailedV1),
    FreightVerified(FreightVerifiedV1),
    WarehouseRefreshRequested(WarehouseRefreshRequestedV1),
    WarehouseDiscoveryFailed(WarehouseDiscoveryFailedV1),
    PromotionStarted(PromotionStartedV1),
    PromotionStepFinished(PromotionStepFinishedV1),
    PromotionAborted(PromotionAbortedV1),
    FreightAliasChanged(FreightAliasChangedV1),
    PromotionErrored(PromotionErroredV1),
    PromotionStepFinishedV2(PromotionStepFinishedV2),
    WarehouseArtifactsDiscovered(WarehouseArtifactsDiscoveredV1),
}

impl Event {
    pub fn event_type(&self) -> EventType {
        match self {
            Event::FreightCreated(_) => EventType::FreightCreatedV1,
            Event::PromotionCreated(_) => EventType::PromotionCreatedV1,
            Event::PromotionSucceeded(_) => EventType::PromotionSucceededV1,
            Event::PromotionFailed(_) => EventType::PromotionFailedV1,
            Event::FreightVerified(_) => EventType::FreightVerifiedV1,
            Event::WarehouseRefreshRequested(_) => EventType::WarehouseRefreshRequestedV1,
            Event::WarehouseDiscoveryFailed(_) => EventType::WarehouseDiscoveryFailedV1,
            Event::PromotionStarted(_) => EventType::PromotionStartedV1,
            Event::PromotionStepFinished(_) => EventType::PromotionStepFinishedV1,
            Event::PromotionAborted(_) => EventType::PromotionAbortedV1,
            Event::FreightAliasChanged(_) => EventType::FreightAliasChangedV1,
            Event::PromotionErrored(_) => EventType::PromotionErroredV1,
            Event::PromotionStepFinishedV2(_) => EventType::PromotionStepFinishedV2,
            Event::WarehouseArtifactsDiscovered(_) => EventType::WarehouseArtifactsDiscoveredV1,
        }
    }

    pub fn project(&self) -> &str {
        match self {
            Event::FreightCreated(e) => &e.project,
            Event::PromotionCreated(e) => &e.project,
            Event::PromotionSucceeded(e) => &e.project,
            Event::PromotionFailed(e) => &e.project,
            Event::FreightVerified(e) => &e.project,
            Event::WarehouseRefreshRequested(e) => &e.project,
            Event::WarehouseDiscoveryFailed(e) => &e.project,
            Event::PromotionStarted(e) => &e.project,
            Event::PromotionStepFinished(e) => &e.project,
            Event::PromotionAborted(e) => &e.project,
            Event::FreightAliasChanged(e) => &e.project,
            Event::PromotionErrored(e) => &e.project,
            Event::PromotionStepFinishedV2(e) => &e.project,
            Event::WarehouseArtifactsDiscovered(e) => &e.project,
        }
    }

    /// The name of the entity the subject is about (freight ID, stage, warehouse).
    pub fn entity_name(&self) -> &str {
        match self {
            Event::FreightCreated(e) => &e.freight_id,
            Event::FreightVerified(e) => &e.freight_id,
            Event::PromotionCreated(e) => &e.stage,
            Event::PromotionSucceeded(e) => &e.stage,
            Event::PromotionFailed(e) => &e.stage,
            Event::WarehouseRefreshRequested(e) => &e.warehouse,
            Event::WarehouseDiscoveryFailed(e) => &e.warehouse,
            Event::PromotionStarted(e) => &e.stage,
            Event::PromotionStepFinished(e) => &e.stage,
            Event::PromotionAborted(e) => &e.stage,
            Event::FreightAliasChanged(e) => &e.freight_id,
            Event::PromotionErrored(e) => &e.stage,
            Event::PromotionStepFinishedV2(e) => &e.stage,
            Event::WarehouseArtifactsDiscovered(e) => &e.warehouse,
        }
    }

    /// When it happened, in milliseconds since the epoch.
    pub fn time_ms(&self) -> i64 {
        match self {
            Event::FreightCreated(e) => e.created_at_ms,
            Event::PromotionCreated(e) => e.created_at_ms,
            Event::PromotionSucceeded(e) => e.finished_at_ms,
            Event::PromotionFailed(e) => e.finished_at_ms,
            Event::FreightVerified(e) => e.verified_at_ms,
            Event::WarehouseRefreshRequested(e) => e.requested_at_ms,
            Event::WarehouseDiscoveryFailed(e) => e.failed_at_ms,
            Event::PromotionStarted(e) => e.started_at_ms,
            Event::PromotionStepFinished(e) => e.finished_at_ms,
            Event::PromotionAborted(e) => e.aborted_at_ms,
            Event::FreightAliasChanged(e) => e.changed_at_ms,
            Event::PromotionErrored(e) => e.errored_at_ms,
            Event::PromotionStepFinishedV2(e) => e.finished_at_ms,
            Event::WarehouseArtifactsDiscovered(e) => e.discovered_at_ms,
        }
    }

    /// The NATS subject the event is stored under.
    pub fn subject(&self) -> String {
        let t = self.event_type();
        subject::event(self.project(), t.entity_kind(), self.entity_name(), t.subject_token())
    }

    /// The event's identity: its `ce-id` and its `Nats-Msg-Id`. Two publishes of the same
    /// fact share it, so the log stores the fact once.
    pub fn identity(&self) -> String {
        match self {
            Event::FreightCreated(e) => format!("freight-created:{}:{}", e.project, e.freight_id),
            Event::PromotionCreated(e) => match e.trigger {
                PromotionTrigger::Auto => {
                    format!("promotion-auto:{}:{}:{}", e.project, e.stage, e.freight_id)
                }
                PromotionTrigger::Manual => {
                    format!("promotion-created:{}:{}", e.project, e.promotion)
                }
            },
            Event::PromotionSucceeded(e) => {
                format!("promotion-finished:{}:{}", e.project, e.promotion)
            }
            Event::PromotionFailed(e) => {
                format!("promotion-finished:{}:{}", e.project, e.promotion)
            }
            Event::FreightVerified(e) => {
                format!("freight-verified:{}:{}:{}:{}", e.project, e.stage, e.freight_id, e.promotion)
            }
            Event::WarehouseRefreshRequested(e) => {
                format!("warehouse-refresh:{}:{}:{}", e.project, e.warehouse, e.request_id)
            }
            Event::WarehouseDiscoveryFailed(e) => {
                format!("warehouse-discovery-failed:{}:{}:{}", e.project, e.warehouse, e.failed_at_ms)
            }
            Event::PromotionStarted(e) => {
                format!("promotion-started:{}:{}:{}", e.project, e.promotion, e.started_at_ms)
            }
            Event::PromotionStepFinished(e) => {
                format!("promotion-step:{}:{}:{}:{}", e.project, e.promotion, e.index, e.started_at_ms)
            }
            Event::PromotionAborted(e) => {
                format!("promotion-finished:{}:{}", e.project, e.promotion)
            }
            Event::FreightAliasChanged(e) => {
                format!("freight-alias:{}:{}:{}:{}", e.project, e.freight_id, e.alias, e.changed_at_ms)
            }
            Event::PromotionErrored(e) => format!("promotion-finished:{}:{}", e.project, e.promotion),
            Event::PromotionStepFinishedV2(e) => {
                format!("promotion-step:{}:{}:{}:{}", e.project, e.promotion, e.index, e.started_at_ms)
            }
            Event::WarehouseArtifactsDiscovered(e) => {
                format!("warehouse-discovered:{}:{}:{}", e.project, e.warehouse, e.discovered_at_ms)
            }
        }
    }

    /// The CloudEvents `subject` attribute: the entity within the project.
    pub fn ce_subject(&self) -> String {
        match self {
            Event::FreightCreated(e) => format!("projects/{}/freight/{}", e.project, e.freight_id),
            Event::FreightVerified(e) => format!("projects/{}/freight/{}", e.project, e.freight_id),
            Event::PromotionCreated(e) => {
                format!("projects/{}/promotions/{}", e.project, e.promotion)
            }
            Event::PromotionSucceeded(e) => {
                format!("projects/{}/promotions/{}", e.project, e.promotion)
            }
            Event::PromotionFailed(e) => {
                format!("projects/{}/promotions/{}", e.project, e.promotion)
            }
            Event::WarehouseRefreshRequested(e) => {
                format!("projects/{}/warehouses/{}", e.project, e.warehouse)
            }
            Event::WarehouseDiscoveryFailed(e) => {
                format!("projects/{}/warehouses/{}", e.project, e.warehouse)
            }
            Event::PromotionStarted(e) => {
                format!("projects/{}/promotions/{}", e.project, e.promotion)
            }
            Event::PromotionStepFinished(e) => {
                format!("projects/{}/promotions/{}", e.project, e.promotion)
            }
            Event::PromotionAborted(e) => {
                format!("projects/{}/promotions/{}", e.project, e.promotion)
            }
            Event::FreightAliasChanged(e) => format!("projects/{}/freight/{}", e.project, e.freight_id),
            Event::PromotionErrored(e) => format!("projects/{}/promotions/{}", e.project, e.promotion),
            Event::PromotionStepFinishedV2(e) => format!("projects/{}/promotions/{}", e.project, e.promotion),
            Event::WarehouseArtifactsDiscovered(e) => format!("projects/{}/warehouses/{}", e.project, e.warehouse),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freight_survives_the_trip_through_its_event() {
        let mut freight = Freight::from_warehouse("app")
            .with_commit("https://example.com/app.git", "abc")
            .with_image("nginx", "1.27.0", "sha256:00")
            .with_chart("oci://ghcr.io/x/charts", "app", "1.0.0");
        freight.alias = "brave-otter".into();
        freight.commits[0].message = "feature".into();
        let id = lading_domain::freight_id::compute(&freight).unwrap();
        let event = FreightCreatedV1::new("demo", &id, &freight, 1);
        assert_eq!(event.freight_id, id.as_str());
        assert_eq!(event.freight(), freight);
    }
}
