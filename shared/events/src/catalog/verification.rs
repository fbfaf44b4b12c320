//! Verification payloads: a verification asked for (re-run or abort), started, each
//! measurement, and its verdict. All are about a stage; a verification is named by its
//! `verificationId` (the promotion's name for the one that follows a promotion, the
//! request's ID for a re-run).
//!
//! Guarantees: one `finished` per verification, whatever the number of verifier
//! replicas; a measurement's identity names its verification, metric and index, so a
//! replica that takes over a verification and measures again stores nothing twice.
//! A `Successful` verdict is followed by `FreightVerified` for the same stage and freight.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A verification's or a measurement's phase (Kargo's and Argo's `AnalysisPhase`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum VerificationPhaseV1 {
    Pending,
    Running,
    Successful,
    Failed,
    Error,
    Inconclusive,
    Aborted,
}

/// `dev.lading.verification.requested.v1`: a person asked to verify the stage's current
/// freight again (`lading verify stage`), or to stop the running verification (`abort`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerificationRequestedV1 {
    pub project: String,
    pub stage: String,
    pub freight_id: String,
    /// The promotion that brought the freight into the stage.
    pub promotion: String,
    pub request_id: String,
    pub abort: bool,
    pub actor: String,
    pub requested_at_ms: i64,
}

/// `dev.lading.verification.started.v1`: the verifier began verifying freight in a stage
/// with the named analysis templates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerificationStartedV1 {
    pub project: String,
    pub stage: String,
    pub freight_id: String,
    pub promotion: String,
    pub verification_id: String,
    /// Who asked: `lading/verifier` after a promotion, a person's token name for a re-run.
    pub actor: String,
    /// `AnalysisTemplate/<name>` or `ClusterAnalysisTemplate/<name>`.
    pub templates: Vec<String>,
    pub started_at_ms: i64,
}

/// `dev.lading.verification.measured.v1`: one measurement of one metric. `value` is the
/// result as text (`[0.95]`, `NaN`, JSON); `message` says how it was judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerificationMeasuredV1 {
    pub project: String,
    pub stage: String,
    pub verification_id: String,
    pub metric: String,
    /// 0 for the metric's first measurement, then 1, 2 …
    pub index: u32,
    pub phase: VerificationPhaseV1,
    pub value: String,
    pub message: String,
    pub started_at_ms: i64,
    pub finished_at_ms: i64,
}

/// `dev.lading.verification.finished.v1`: a verification's verdict. Every phase but
/// `Successful` leaves the freight unverified in the stage; `message` names the metric
/// that decided, its last value and the condition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerificationFinishedV1 {
    pub project: String,
    pub stage: String,
    pub freight_id: String,
    pub promotion: String,
    pub verification_id: String,
    pub phase: VerificationPhaseV1,
    pub message: String,
    pub finished_at_ms: i64,
}
