//! Freight: an immutable set of artifact revisions that travel together (Kargo's shape).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a freight came from: `Warehouse/<name>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
pub struct FreightOrigin {
    pub kind: String,
    pub name: String,
}

impl FreightOrigin {
    pub const WAREHOUSE: &'static str = "Warehouse";

    pub fn warehouse(name: impl Into<String>) -> Self {
        Self { kind: Self::WAREHOUSE.to_owned(), name: name.into() }
    }
}

/// A Git commit in a freight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct GitCommit {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    pub id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub branch: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub tag: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub author: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub committer: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subscription_name: String,
}

/// A container image in a freight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Image {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    pub tag: String,
    pub digest: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subscription_name: String,
}

/// A Helm chart in a freight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Chart {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subscription_name: String,
}

/// Since when a freight is current in a stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentStage {
    pub since: DateTime<Utc>,
}

/// When a freight was verified in a stage, and the longest it stayed there in one go
/// once it had left (Go duration, as Kargo's `longestSoak`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifiedStage {
    pub verified_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longest_soak: Option<String>,
}

/// When a freight was approved for a stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovedStage {
    pub approved_at: DateTime<Utc>,
}

/// Where a freight is, was verified, and is approved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct FreightStatus {
    pub currently_in: BTreeMap<String, CurrentStage>,
    pub verified_in: BTreeMap<String, VerifiedStage>,
    pub approved_for: BTreeMap<String, ApprovedStage>,
}

/// A freight, with Kargo's JSON field names. Unknown fields (`apiVersion`, `metadata`, …)
/// are ignored when reading, so a Freight object copied from Kargo parses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Freight {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub alias: String,
    pub origin: FreightOrigin,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub commits: Vec<GitCommit>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<Image>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub charts: Vec<Chart>,
    pub status: FreightStatus,
}

impl Freight {
    /// A freight from a warehouse, for tests and examples.
    pub fn from_warehouse(name: &str) -> Self {
        Self { origin: FreightOrigin::warehouse(name), ..Self::default() }
    }

    pub fn with_commit(mut self, repo_url: &str, id: &str) -> Self {
        self.commits.push(GitCommit { repo_url: repo_url.to_owned(), id: id.to_owned(), ..GitCommit::default() });
        self
    }

    pub fn with_image(mut self, repo_url: &str, tag: &str, digest: &str) -> Self {
        self.images.push(Image {
            repo_url: repo_url.to_owned(),
            tag: tag.to_owned(),
            digest: digest.to_owned(),
            ..Image::default()
        });
        self
    }

    pub fn with_chart(mut self, repo_url: &str, name: &str, version: &str) -> Self {
        self.charts.push(Chart {
            repo_url: repo_url.to_owned(),
            name: name.to_owned(),
            version: version.to_owned(),
            ..Chart::default()
        });
        self
    }
}
