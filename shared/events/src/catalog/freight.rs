//! Freight payloads: created (with its commits, images and charts), verified, re-aliased.

use lading_domain::{Chart, Freight, FreightId, FreightOrigin, GitCommit, Image};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A Git commit inside a `FreightCreated` payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct ImageV1 {
    pub repo_url: String,
    pub tag: String,
    pub digest: String,
    pub subscription_name: String,
}

/// A chart inside a `FreightCreated` payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "camelCase")]
pub struct ChartV1 {
    pub repo_url: String,
    pub name: String,
    pub version: String,
    pub subscription_name: String,
}

/// `dev.lading.freight.created.v1`: a warehouse produced a new freight. Emitted once per
/// freight ID and project, ever.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
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

/// `dev.lading.freight.alias-changed.v1`: a freight got a new alias (the
/// `set-freight-alias` step). The new alias was claimed in the project first, so it is
/// unique there; the previous one is free again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FreightAliasChangedV1 {
    pub project: String,
    pub freight_id: String,
    pub alias: String,
    pub previous_alias: String,
    pub changed_at_ms: i64,
}

/// `dev.lading.freight.alias-changed.v2`: a freight got a new alias, and who gave it
/// (a person by their token's name, or `promotion/<name>` for the `set-freight-alias`
/// step). Replaces v1 (which named no actor); readers take both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FreightAliasChangedV2 {
    pub project: String,
    pub freight_id: String,
    pub alias: String,
    pub previous_alias: String,
    pub actor: String,
    pub changed_at_ms: i64,
}

/// `dev.lading.freight.approved.v1`: a person approved freight for a stage; it is
/// available to the stage whatever its upstream stages say. Approving creates no
/// promotion. Its identity names project, freight and stage: approving twice is stored
/// once (and the first approval's time holds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FreightApprovedV1 {
    pub project: String,
    pub freight_id: String,
    pub stage: String,
    pub actor: String,
    pub approved_at_ms: i64,
}

/// `dev.lading.freight.deleted.v1`: a person deleted freight no stage held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FreightDeletedV1 {
    pub project: String,
    pub freight_id: String,
    pub actor: String,
    pub deleted_at_ms: i64,
}

/// `dev.lading.freight.verified.v1`: freight passed verification in a stage after the
/// named promotion, making it available to downstream stages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FreightVerifiedV1 {
    pub project: String,
    pub stage: String,
    pub freight_id: String,
    pub promotion: String,
    pub verified_at_ms: i64,
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

/// `dev.lading.freight.metadata-set.v1`: keys of a freight's metadata were set (the
/// `set-metadata` step, Kargo's `status.metadata`). `values` is a JSON object; each key
/// replaces the value it had, other keys stay. Expressions read the result with
/// `freightMetadata(name)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FreightMetadataSetV1 {
    pub project: String,
    pub freight_id: String,
    /// A JSON object: the keys set and their values.
    pub values: String,
    /// `promotion/<name>` for the `set-metadata` step.
    pub actor: String,
    pub set_at_ms: i64,
}
