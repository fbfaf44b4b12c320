//! Chart subscriptions: versions of a chart in a classic HTTP repository (its
//! `index.yaml`, revalidated with `If-None-Match`) or an `oci://` registry (its tags,
//! where `_` stands for `+`), within `semverConstraint`, highest first.

use std::collections::HashMap;
use std::time::Instant;

use lading_domain::Chart;
use lading_domain::credentials::CredentialType;
use lading_domain::selection::{SemverConstraint, newest_semver};
use lading_domain::spec::{ChartSubscription, discovery_limit};
use lading_events::catalog::ChartDiscoveryResultV1;
use serde::Deserialize;

use crate::registry::{Registries, Repository};

const KIND: CredentialType = CredentialType::Helm;

#[derive(Deserialize)]
struct Index {
    #[serde(default)]
    entries: HashMap<String, Vec<IndexEntry>>,
}

#[derive(Deserialize)]
struct IndexEntry {
    version: String,
}

/// Discovers a subscription's chart versions, highest first. Blocking.
pub fn discover(
    registries: &Registries,
    sub: &ChartSubscription,
    asked: Instant,
) -> Result<ChartDiscoveryResultV1, String> {
    let versions: Vec<String> = match sub.repo_url.strip_prefix("oci://") {
        Some(reference) => {
            let repo = Repository::parse(reference, false)?;
            registries.tags(&repo, KIND, asked)?.iter().map(|t| t.replace('_', "+")).collect()
        }
        None => {
            let url = format!("{}/index.yaml", sub.repo_url.trim_end_matches('/'));
            let (body, _) = registries.document(&url, KIND)?;
            let index: Index =
                serde_saphyr::from_str(&body).map_err(|e| format!("{url}: not a chart repository index: {e}"))?;
            let entries = index
                .entries
                .get(&sub.name)
                .ok_or_else(|| format!("chart {:?} is not in {}", sub.name, sub.repo_url))?;
            entries.iter().map(|e| e.version.clone()).collect()
        }
    };
    let constraint = match sub.semver_constraint.as_str() {
        "" => None,
        c => Some(SemverConstraint::parse(c)?),
    };
    let newest = newest_semver(
        versions.iter().map(String::as_str),
        constraint.as_ref(),
        false,
        discovery_limit(sub.discovery_limit),
    );
    Ok(ChartDiscoveryResultV1 {
        repo_url: sub.repo_url.clone(),
        name: sub.name.clone(),
        semver_constraint: sub.semver_constraint.clone(),
        versions: newest.into_iter().map(|(v, _)| v.to_owned()).collect(),
    })
}

/// The freight chart for a discovered version.
pub fn freight_chart(result: &ChartDiscoveryResultV1, version: &str) -> Chart {
    Chart {
        repo_url: result.repo_url.clone(),
        name: result.name.clone(),
        version: version.to_owned(),
        ..Default::default()
    }
}
