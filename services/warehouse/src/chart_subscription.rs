//! Chart subscriptions: versions of a chart in a classic HTTP repository (its
//! `index.yaml`, revalidated with `If-None-Match`) or an `oci://` registry (its tags,
//! where `_` stands for `+`), within `semverConstraint`, highest first.

use std::collections::HashMap;
use std::time::Instant;

use lading_domain::Chart;
use lading_domain::credentials::CredentialType;
use lading_domain::limits::Limit;
use lading_domain::selection::{SemverConstraint, newest_semver};
use lading_domain::spec::{ChartSubscription, discovery_limit};
use lading_events::catalog::ChartDiscoveryResultV1;
use serde::Deserialize;

use crate::registry::{Registries, Repository};
use lading_domain::redact::redact_url;

const KIND: CredentialType = CredentialType::Helm;

/// The part of a chart repository index discovery reads.
#[derive(Debug, Deserialize)]
pub struct Index {
    #[serde(default)]
    pub entries: HashMap<String, Vec<IndexEntry>>,
}

#[derive(Debug, Deserialize)]
pub struct IndexEntry {
    pub version: String,
}

/// Reads an `index.yaml` within budgets that follow its size limit.
pub fn parse_index(body: &str, limit: Limit<u64>) -> Result<Index, String> {
    lading_domain::chart_index::parse(body, limit)
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
            registries
                .tags(&repo, KIND, asked)
                .map_err(|e| e.to_string())?
                .iter()
                .map(|t| t.replace('_', "+"))
                .collect()
        }
        None => {
            let url = format!("{}/index.yaml", sub.repo_url.trim_end_matches('/'));
            let (body, _) = registries.document(&url, KIND).map_err(|e| e.to_string())?;
            let index = parse_index(&body, registries.max_chart_index())
                .map_err(|e| format!("{}: not a chart repository index: {e}", redact_url(&url)))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Limit<u64> = Limit::new(64 << 20, "LADING_CHART_INDEX_MAX_BYTES");

    fn index_of(versions: usize) -> String {
        let mut index = String::from("apiVersion: v1\nentries:\n  app:\n");
        for i in 0..versions {
            index.push_str(&format!(
                "  - {{apiVersion: v2, name: app, version: 1.0.{i}, digest: d{i}, urls: [app-1.0.{i}.tgz]}}\n"
            ));
        }
        index
    }

    #[test]
    fn given_a_large_index_within_its_size_limit_then_it_is_read_whole() {
        let index = index_of(60_000);
        let read = parse_index(&index, LIMIT).unwrap();
        assert_eq!(read.entries["app"].len(), 60_000);
    }

    #[test]
    fn given_an_alias_bomb_then_it_is_refused_by_the_alias_budget() {
        let mut bomb = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for i in 1..10 {
            bomb.push_str(&format!("a{i}: &a{i} [{}]\n", vec![format!("*a{}", i - 1); 10].join(", ")));
        }
        bomb.push_str("entries: {app: [{version: 1.0.0}]}\n");
        let error = parse_index(&bomb, LIMIT).unwrap_err();
        assert!(error.contains("alias replay limit exceeded"), "{error}");
        assert!(!error.contains("lol"), "the error quotes no input: {error}");
    }
}
