//! Promotion payloads: created, started, each step, what it pushed, and how it ended.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How a promotion came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PromotionTrigger {
    Auto,
    Manual,
}

/// `dev.lading.promotion.created.v1`: a promotion was queued for a stage. An automatic
/// promotion is queued at most once per stage and freight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PromotionCreatedV1 {
    pub project: String,
    pub stage: String,
    pub promotion: String,
    pub freight_id: String,
    pub trigger: PromotionTrigger,
    pub created_at_ms: i64,
}

/// `dev.lading.promotion.created.v2`: v1 and who asked for the promotion (a person by
/// their token's name; `lading/promoter` for automatic ones). Same identity as v1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PromotionCreatedV2 {
    pub project: String,
    pub stage: String,
    pub promotion: String,
    pub freight_id: String,
    pub trigger: PromotionTrigger,
    pub actor: String,
    pub created_at_ms: i64,
}

/// `dev.lading.promotion.succeeded.v1`: every step of a promotion finished. `commit` is
/// the last commit the promotion pushed, empty when it pushed none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PromotionSucceededV1 {
    pub project: String,
    pub stage: String,
    pub promotion: String,
    pub freight_id: String,
    pub commit: String,
    pub finished_at_ms: i64,
}

impl PromotionSucceededV1 {
    /// The promotion's freight verified in its stage at `verified_at_ms`, after it.
    pub fn verified(&self, verified_at_ms: i64) -> super::FreightVerifiedV1 {
        super::FreightVerifiedV1 {
            project: self.project.clone(),
            stage: self.stage.clone(),
            freight_id: self.freight_id.clone(),
            promotion: self.promotion.clone(),
            verified_at_ms,
        }
    }
}

/// One file a pushed commit changed, with the lines it added and removed (0 and 0 for a
/// binary file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileChangeV1 {
    pub path: String,
    pub added: u32,
    pub removed: u32,
}

/// `dev.lading.promotion.pushed.v1`: a promotion's `git-push` step pushed `commit` to
/// `branch` of `repoUrl` (without user info). `changes` lists the files the commit changed
/// against its first parent, at most 50; `changedFiles` counts them all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PromotionPushedV1 {
    pub project: String,
    pub stage: String,
    pub promotion: String,
    pub index: u32,
    pub repo_url: String,
    pub branch: String,
    pub commit: String,
    pub changed_files: u32,
    pub changes: Vec<FileChangeV1>,
    pub pushed_at_ms: i64,
}

/// `dev.lading.promotion.failed.v1`: a promotion stopped at a step; `reason` says why.
/// A promotion ends with exactly one of succeeded or failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PromotionStartedV1 {
    pub project: String,
    pub stage: String,
    pub promotion: String,
    pub freight_id: String,
    pub started_at_ms: i64,
}

/// How one step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum StepStatus {
    Succeeded,
    Failed,
}

/// `dev.lading.promotion.step-finished.v1`: one step of a promotion ended; `alias` is
/// its `as` (or `step-<index>`), `message` says why a step failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PromotionAbortedV1 {
    pub project: String,
    pub stage: String,
    pub promotion: String,
    pub freight_id: String,
    pub reason: String,
    pub aborted_at_ms: i64,
}

/// `dev.lading.promotion.aborted.v2`: v1 and who aborted it (a person by their token's
/// name; `lading/promoter` when newer freight superseded it). Same identity as v1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PromotionAbortedV2 {
    pub project: String,
    pub stage: String,
    pub promotion: String,
    pub freight_id: String,
    pub reason: String,
    pub actor: String,
    pub aborted_at_ms: i64,
}

/// `dev.lading.promotion.errored.v1`: a promotion could not run at all (its stage or
/// freight is gone, a task is missing, no workspace); shares its identity with succeeded,
/// failed and aborted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PromotionErroredV1 {
    pub project: String,
    pub stage: String,
    pub promotion: String,
    pub freight_id: String,
    pub reason: String,
    pub errored_at_ms: i64,
}

/// `dev.lading.stage.metadata-set.v1`: keys of a stage's metadata were set (the
/// `set-metadata` step, Kargo's `status.metadata`). `values` is a JSON object; each key
/// replaces the value it had, other keys stay. Expressions read the result with
/// `stageMetadata(name)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StageMetadataSetV1 {
    pub project: String,
    pub stage: String,
    /// A JSON object: the keys set and their values.
    pub values: String,
    /// `promotion/<name>` for the `set-metadata` step.
    pub actor: String,
    pub set_at_ms: i64,
}

/// `dev.lading.promotion.waiting.v1`: a promotion's step is waiting on something outside
/// (a pull request still open); the run stopped without holding a worker and resumes at
/// step `index` with `state` when the promoter looks again, every `poll_interval_ms`
/// (Kargo's `Running` step with its `currentStep` and `state`). Recorded once per wait:
/// its identity is the step and the time the wait began.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PromotionWaitingV1 {
    pub project: String,
    pub stage: String,
    pub promotion: String,
    pub freight_id: String,
    /// The step that waits, where the promotion resumes.
    pub index: u32,
    /// The step's `as`, or `step-<index>`.
    pub alias: String,
    pub uses: String,
    /// What the promotion carries to the steps still to run, as a JSON object: aliased
    /// outputs, step statuses, the commit so far, health checks left.
    pub state: String,
    /// What it waits for: `pull request <url>`.
    pub message: String,
    /// When the step began waiting; the wait's limit counts from here.
    pub waiting_since_ms: i64,
    /// How often the promoter looks again.
    pub poll_interval_ms: u64,
}
