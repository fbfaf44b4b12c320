//! Warehouse spec: what to watch (Git, image and chart subscriptions with Kargo's field
//! names and defaults), how often, and whether freight is created automatically.
//!
//! Each kind of subscription has its own file (`git`, `image`, `chart`) with its fields,
//! defaults and checks; `field_checks` holds the checks they share. This module holds the
//! warehouse spec itself and its validation.

mod chart;
mod field_checks;
mod git;
mod image;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{FieldError, deserialize_at};
use crate::duration::parse_go_duration;

pub use chart::ChartSubscription;
pub(crate) use field_checks::check_no_credentials;
pub use git::{CommitSelectionStrategy, EXPRESSION_FILTER_VARIABLES, GitSubscription, within_since};
pub use image::{ImageSelectionStrategy, ImageSubscription};

use chart::check_chart;
use git::check_git;
use image::check_image;

/// Kargo's default polling interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);

/// How many artifacts a subscription discovers when `discoveryLimit` is unset.
pub const DEFAULT_DISCOVERY_LIMIT: u32 = 20;

/// The largest `discoveryLimit`.
pub const MAX_DISCOVERY_LIMIT: u32 = 100;

fn strict_default() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// One subscription; exactly one of `git`, `image` and `chart` is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    /// Kargo's optional name, unique among the warehouse's subscriptions: recorded as
    /// `subscriptionName` on what it discovers and on the freight's artifacts (and so part
    /// of the freight's ID); discovery errors name the subscription by it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitSubscription>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageSubscription>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<ChartSubscription>,
}

/// Whether discovered artifacts become freight on their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum FreightCreationPolicy {
    #[default]
    Automatic,
    /// Only `lading create freight` makes freight.
    Manual,
}

/// Gates automatic freight creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FreightCreationCriteria {
    /// A CEL expression over the candidate freight (`commitFrom`, `imageFrom`,
    /// `chartFrom`); freight is created when it is true.
    #[serde(default)]
    pub expression: String,
}

/// A Warehouse's spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WarehouseSpec {
    #[serde(default)]
    pub subscriptions: Vec<Subscription>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    #[serde(default)]
    pub freight_creation_policy: FreightCreationPolicy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freight_creation_criteria: Option<FreightCreationCriteria>,
}

impl WarehouseSpec {
    /// The polling interval (validated at apply time; the default when unset).
    pub fn interval(&self) -> Duration {
        self.interval.as_deref().and_then(|i| parse_go_duration(i).ok()).unwrap_or(DEFAULT_INTERVAL)
    }

    pub fn git_subscriptions(&self) -> impl Iterator<Item = &GitSubscription> {
        self.subscriptions.iter().filter_map(|s| s.git.as_ref())
    }

    pub fn image_subscriptions(&self) -> impl Iterator<Item = &ImageSubscription> {
        self.subscriptions.iter().filter_map(|s| s.image.as_ref())
    }

    pub fn chart_subscriptions(&self) -> impl Iterator<Item = &ChartSubscription> {
        self.subscriptions.iter().filter_map(|s| s.chart.as_ref())
    }

    /// The name of the `index`-th subscription of `kind` (in spec order, the order
    /// discovery reports them in) when it watches `repo_url`; empty when it has no name
    /// or the spec changed since.
    pub fn subscription_name(&self, kind: ArtifactKind, index: usize, repo_url: &str) -> &str {
        fn watched(kind: ArtifactKind, s: &Subscription) -> Option<&str> {
            match kind {
                ArtifactKind::Git => s.git.as_ref().map(|g| g.repo_url.as_str()),
                ArtifactKind::Image => s.image.as_ref().map(|i| i.repo_url.as_str()),
                ArtifactKind::Chart => s.chart.as_ref().map(|c| c.repo_url.as_str()),
            }
        }
        let found = self.subscriptions.iter().filter_map(|s| Some((s, watched(kind, s)?))).nth(index);
        match found {
            Some((subscription, url)) if url == repo_url => &subscription.name,
            _ => "",
        }
    }

    /// Records on each artifact of `freight` (one per subscription of its kind, in spec
    /// order, as discovery reports them) the name of the subscription that discovered it
    /// (Kargo's `subscriptionName`).
    pub fn name_artifacts(&self, freight: &mut crate::freight::Freight) {
        for (i, commit) in freight.commits.iter_mut().enumerate() {
            commit.subscription_name = self.subscription_name(ArtifactKind::Git, i, &commit.repo_url).to_owned();
        }
        for (i, image) in freight.images.iter_mut().enumerate() {
            image.subscription_name = self.subscription_name(ArtifactKind::Image, i, &image.repo_url).to_owned();
        }
        for (i, chart) in freight.charts.iter_mut().enumerate() {
            chart.subscription_name = self.subscription_name(ArtifactKind::Chart, i, &chart.repo_url).to_owned();
        }
    }
}

/// The kinds of artifact a subscription discovers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactKind {
    Git,
    Image,
    Chart,
}

/// A subscription's `discoveryLimit`, defaulted.
pub fn discovery_limit(limit: Option<u32>) -> usize {
    limit.unwrap_or(DEFAULT_DISCOVERY_LIMIT) as usize
}

pub(super) fn parse(value: Value) -> Result<WarehouseSpec, FieldError> {
    let spec: WarehouseSpec = deserialize_at("spec", value)?;
    if spec.subscriptions.is_empty() {
        return Err(FieldError::new("spec.subscriptions", "must list at least one subscription"));
    }
    for (i, sub) in spec.subscriptions.iter().enumerate() {
        let field = format!("spec.subscriptions[{i}]");
        let set = [sub.git.is_some(), sub.image.is_some(), sub.chart.is_some()].iter().filter(|s| **s).count();
        if set != 1 {
            return Err(FieldError::new(field, "must set exactly one of git, image or chart"));
        }
        if let Some(git) = &sub.git {
            check_git(&format!("{field}.git"), git)?;
        }
        if let Some(image) = &sub.image {
            check_image(&format!("{field}.image"), image)?;
        }
        if let Some(chart) = &sub.chart {
            check_chart(&format!("{field}.chart"), chart)?;
        }
        if !sub.name.is_empty() {
            crate::names::validate_dns_label(&sub.name).map_err(|e| FieldError::new(format!("{field}.name"), e))?;
            if let Some(first) = spec.subscriptions[..i].iter().position(|other| other.name == sub.name) {
                return Err(FieldError::new(
                    format!("{field}.name"),
                    format!("{:?} names subscriptions[{first}] already; names are unique in a warehouse", sub.name),
                ));
            }
        }
    }
    if let Some(interval) = &spec.interval {
        let parsed = parse_go_duration(interval).map_err(|e| FieldError::new("spec.interval", e))?;
        if parsed < Duration::from_secs(1) {
            return Err(FieldError::new("spec.interval", "must be at least 1s"));
        }
    }
    if let Some(criteria) = &spec.freight_creation_criteria
        && criteria.expression.trim().is_empty()
    {
        return Err(FieldError::new("spec.freightCreationCriteria.expression", "is required"));
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn error(spec: Value) -> String {
        let e = parse(spec).unwrap_err();
        format!("{}: {}", e.field, e.reason)
    }

    #[test]
    fn given_subscription_names_when_parsed_then_they_are_unique_labels() {
        // Given Kargo's optional names, when two share one or one is no label, then refused.
        let named = |a: &str, b: &str| {
            json!({"subscriptions": [
                {"name": a, "image": {"repoURL": "ghcr.io/org/app"}},
                {"name": b, "git": {"repoURL": "https://h/r.git"}},
            ]})
        };
        let spec = parse(named("app-image", "config")).unwrap();
        assert_eq!(spec.subscriptions[0].name, "app-image");
        assert_eq!(
            error(named("app", "app")),
            "spec.subscriptions[1].name: \"app\" names subscriptions[0] already; names are unique in a warehouse"
        );
        assert!(error(named("app", "Not A Label")).starts_with("spec.subscriptions[1].name:"));
        parse(json!({"subscriptions": [{"image": {"repoURL": "ghcr.io/org/app"}}, {"git": {"repoURL": "https://h/r.git"}}]}))
            .unwrap();
    }

    #[test]
    fn given_named_subscriptions_when_freight_is_made_then_each_artifact_records_its_subscription() {
        // Given two image subscriptions of one repository told apart by name (Kargo's use),
        // an unnamed Git one and a named chart.
        let spec = parse(json!({"subscriptions": [
            {"name": "stable", "image": {"repoURL": "ghcr.io/org/app"}},
            {"git": {"repoURL": "https://h/r.git"}},
            {"name": "canary", "image": {"repoURL": "ghcr.io/org/app"}},
            {"name": "db", "chart": {"repoURL": "oci://ghcr.io/org/db"}},
        ]}))
        .unwrap();
        let image = |tag: &str| crate::freight::Image {
            repo_url: "ghcr.io/org/app".into(),
            tag: tag.into(),
            digest: format!("sha256:{tag}"),
            ..Default::default()
        };
        let mut freight = crate::freight::Freight {
            origin: crate::freight::FreightOrigin::warehouse("app"),
            commits: vec![crate::freight::GitCommit {
                repo_url: "https://h/r.git".into(),
                id: "1234567890abcdef1234567890abcdef12345678".into(),
                ..Default::default()
            }],
            images: vec![image("1.0.0"), image("2.0.0-rc.1")],
            charts: vec![crate::freight::Chart {
                repo_url: "oci://ghcr.io/org/db".into(),
                version: "1.0.0".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let unnamed_id = crate::freight_id::compute(&freight).unwrap();
        // When the warehouse names the artifacts, then each carries its subscription's name
        // and the freight's ID depends on it (Kargo's hash includes it).
        spec.name_artifacts(&mut freight);
        assert_eq!(freight.images[0].subscription_name, "stable");
        assert_eq!(freight.images[1].subscription_name, "canary");
        assert_eq!(freight.commits[0].subscription_name, "");
        assert_eq!(freight.charts[0].subscription_name, "db");
        assert_ne!(crate::freight_id::compute(&freight).unwrap(), unnamed_id);
        // A result whose repository is not the subscription's (the spec changed) gets none.
        assert_eq!(spec.subscription_name(ArtifactKind::Image, 1, "ghcr.io/org/other"), "");
        assert_eq!(spec.subscription_name(ArtifactKind::Image, 2, "ghcr.io/org/app"), "");
    }

    #[test]
    fn defaults_follow_kargo() {
        let spec = parse(json!({"subscriptions": [{"image": {"repoURL": "ghcr.io/org/app"}}, {"git": {"repoURL": "https://h/r.git"}}]}))
            .unwrap();
        let image = spec.image_subscriptions().next().unwrap();
        assert_eq!(image.image_selection_strategy, ImageSelectionStrategy::SemVer);
        assert!(image.strict_semvers);
        assert_eq!(discovery_limit(image.discovery_limit), 20);
        let git = spec.git_subscriptions().next().unwrap();
        assert_eq!(git.commit_selection_strategy, CommitSelectionStrategy::NewestFromBranch);
        assert_eq!(spec.freight_creation_policy, FreightCreationPolicy::Automatic);
        assert_eq!(spec.interval(), DEFAULT_INTERVAL);
    }

    #[test]
    fn bad_fields_are_named() {
        let git = |extra: Value| {
            let mut git = json!({"repoURL": "https://h/r.git"});
            git.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            json!({"subscriptions": [{"git": git}]})
        };
        assert_eq!(
            error(git(json!({"commitSelectionStrategy": "SemVer", "semverConstraint": "^x"}))),
            "spec.subscriptions[0].git.semverConstraint: \"^x\": unexpected character 'x' while parsing major version number"
        );
        assert_eq!(
            error(git(json!({"includePaths": ["regex:("]}))).split(':').next().unwrap(),
            "spec.subscriptions[0].git.includePaths[0]"
        );
        assert_eq!(
            error(git(json!({"ignoreTagsRegexes": ["ok", "["]}))).split(':').next().unwrap(),
            "spec.subscriptions[0].git.ignoreTagsRegexes[1]"
        );
        assert_eq!(
            error(git(json!({"discoveryLimit": 101}))),
            "spec.subscriptions[0].git.discoveryLimit: must be between 1 and 100"
        );
        assert_eq!(
            error(git(json!({"commitSelectionStrategy": "NewestTag", "branch": "main"}))),
            "spec.subscriptions[0].git.branch: applies to NewestFromBranch only; tag strategies select from every tag"
        );
        assert!(
            error(git(json!({"commitSelectionStrategy": "Newest"})))
                .starts_with("spec.subscriptions[0].git.commitSelectionStrategy")
        );
        let image = |image: Value| json!({"subscriptions": [{"image": image}]});
        assert!(parse(image(json!({"repoURL": "127.0.0.1:5000/app"}))).is_ok());
        assert!(
            error(image(json!({"repoURL": "nginx:1.27"})))
                .starts_with("spec.subscriptions[0].image.repoURL: must be an image repository")
        );
        assert_eq!(
            error(image(json!({"repoURL": "nginx", "imageSelectionStrategy": "Digest"}))),
            "spec.subscriptions[0].image.constraint: the Digest strategy needs the tag to follow"
        );
        assert_eq!(
            error(image(json!({"repoURL": "nginx", "platform": "linux"}))),
            "spec.subscriptions[0].image.platform: must be os/arch or os/arch/variant"
        );
        let chart = |chart: Value| json!({"subscriptions": [{"chart": chart}]});
        assert_eq!(
            error(chart(json!({"repoURL": "https://charts.example.com"}))),
            "spec.subscriptions[0].chart.name: is required for an HTTP chart repository"
        );
        assert_eq!(
            error(chart(json!({"repoURL": "oci://ghcr.io/org/app", "name": "app"}))),
            "spec.subscriptions[0].chart.name: must be empty for oci:// (the URL names the chart)"
        );
        assert_eq!(
            error(json!({"subscriptions": [{"git": {"repoURL": "https://h/r.git"}}], "freightCreationPolicy": "Sometimes"}))
                .split(':')
                .next()
                .unwrap(),
            "spec.freightCreationPolicy"
        );
    }
}
