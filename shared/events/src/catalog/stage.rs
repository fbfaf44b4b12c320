//! Stage payloads: a stage's health changed; someone asked a stage to refresh, and it was.
//!
//! Guarantees: a stage's health is published only when it changes, the first time by
//! the promoter just before the `PromotionSucceeded` of the promotion that left the
//! health checks (so a consumer of that promotion's end finds the stage's health in the
//! log before it), then whenever the promoter sees the Applications' health change. Its
//! identity names the promotion and the number of changes before it, so replicas that
//! see the same change store it once.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A stage's health (Kargo's states; Kargo's `Unhealthy` is `Degraded`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum HealthStatusV1 {
    Healthy,
    Progressing,
    Unknown,
    Degraded,
}

/// `dev.lading.stage.health-changed.v1`: the health of a stage after `promotion`, as its
/// health checks found it (Kargo's `status.health`). `issues` says why it is not
/// healthy; `config` is the JSON list of health checks the promotion left
/// (`[{uses, config}]`); `output` the JSON list of what each found. `change` counts the
/// earlier changes after the same promotion (0 for the first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StageHealthChangedV1 {
    pub project: String,
    pub stage: String,
    pub promotion: String,
    pub change: u32,
    pub status: HealthStatusV1,
    pub issues: Vec<String>,
    pub config: String,
    pub output: String,
    pub checked_at_ms: i64,
}

/// `dev.lading.stage.refresh-requested.v1`: someone asked a stage to refresh now (Kargo's
/// `kargo.akuity.io/refresh` annotation on a Stage): the promoter assesses its health at
/// once instead of at its next round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StageRefreshRequestedV1 {
    pub project: String,
    pub stage: String,
    pub request_id: String,
    pub requested_at_ms: i64,
}

/// `dev.lading.stage.refresh-handled.v1`: the promoter finished the health assessment a
/// stage refresh request asked for (Kargo's `status.lastHandledRefresh` on a Stage),
/// whether or not the health changed or the stage had anything to assess.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StageRefreshHandledV1 {
    pub project: String,
    pub stage: String,
    pub request_id: String,
    pub handled_at_ms: i64,
}

/// `dev.lading.stage.refresh-requested.v2`: someone asked a stage to refresh now.
/// `after_seq` is the log position of the stage's last handled refresh when this one was
/// asked for (0: none), so a token asked for again after another one was handled is a
/// new request, while the same request made twice is still stored once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StageRefreshRequestedV2 {
    pub project: String,
    pub stage: String,
    pub request_id: String,
    pub after_seq: u64,
    pub requested_at_ms: i64,
}

/// `dev.lading.stage.refresh-handled.v2`: the promoter finished the health assessment a
/// stage refresh request asked for, naming the request by its `request_id` and
/// `after_seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StageRefreshHandledV2 {
    pub project: String,
    pub stage: String,
    pub request_id: String,
    pub after_seq: u64,
    pub handled_at_ms: i64,
}
