//! Warehouse payloads: refresh requests, discovered artifacts, failed discoveries.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `dev.lading.warehouse.refresh-requested.v1`: someone asked a warehouse to discover now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WarehouseRefreshRequestedV1 {
    pub project: String,
    pub warehouse: String,
    pub request_id: String,
    pub requested_at_ms: i64,
}

/// `dev.lading.warehouse.refresh-handled.v1`: a warehouse finished the discovery a
/// refresh request asked for (Kargo's `status.lastHandledRefresh`); only the latest per
/// warehouse is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WarehouseRefreshHandledV1 {
    pub project: String,
    pub warehouse: String,
    pub request_id: String,
    pub handled_at_ms: i64,
}

/// `dev.lading.warehouse.refresh-requested.v2`: someone asked a warehouse to discover now.
/// `after_seq` is the position of the warehouse's last handled refresh when this one was
/// asked for (0: none), in the stream that keeps the latest discoveries, so a token asked for again after another one was handled is
/// a new request, while the same request made twice is still stored once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WarehouseRefreshRequestedV2 {
    pub project: String,
    pub warehouse: String,
    pub request_id: String,
    pub after_seq: u64,
    pub requested_at_ms: i64,
}

/// `dev.lading.warehouse.refresh-handled.v2`: a warehouse finished the discovery a
/// refresh request asked for (Kargo's `status.lastHandledRefresh`), naming the request by
/// its `request_id` and `after_seq`; only the latest per warehouse is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WarehouseRefreshHandledV2 {
    pub project: String,
    pub warehouse: String,
    pub request_id: String,
    pub after_seq: u64,
    pub handled_at_ms: i64,
}

/// `dev.lading.warehouse.discovery-failed.v1`: a discovery attempt failed; `reason` is
/// safe to show (it never contains credentials).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WarehouseDiscoveryFailedV1 {
    pub project: String,
    pub warehouse: String,
    pub reason: String,
    pub failed_at_ms: i64,
}

/// A commit a git subscription discovered (Kargo's `DiscoveredCommit`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct GitDiscoveryResultV1 {
    pub repo_url: String,
    pub commits: Vec<DiscoveredCommitV1>,
}

/// An image an image subscription discovered (Kargo's `DiscoveredImageReference`);
/// `created_at_ms` is 0 when the image's creation time was not read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct DiscoveredImageV1 {
    pub tag: String,
    pub digest: String,
    pub created_at_ms: i64,
}

/// What one image subscription discovered, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct ImageDiscoveryResultV1 {
    pub repo_url: String,
    pub platform: String,
    pub references: Vec<DiscoveredImageV1>,
}

/// What one chart subscription discovered: versions, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct WarehouseArtifactsDiscoveredV1 {
    pub project: String,
    pub warehouse: String,
    pub discovered_at_ms: i64,
    pub git: Vec<GitDiscoveryResultV1>,
    pub images: Vec<ImageDiscoveryResultV1>,
    pub charts: Vec<ChartDiscoveryResultV1>,
}
