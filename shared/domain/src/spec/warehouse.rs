//! Warehouse spec: what to watch (Git, image and chart subscriptions with Kargo's field
//! names and defaults), how often, and whether freight is created automatically.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{FieldError, deserialize_at};
use crate::duration::parse_go_duration;
use crate::selection::{PathFilter, SemverConstraint, TagFilter};
use crate::url_normalize::normalize_git;

/// Kargo's default polling interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);

/// How many artifacts a subscription discovers when `discoveryLimit` is unset.
pub const DEFAULT_DISCOVERY_LIMIT: u32 = 20;

/// The largest `discoveryLimit`.
pub const MAX_DISCOVERY_LIMIT: u32 = 100;

/// How a Git subscription picks commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum CommitSelectionStrategy {
    /// Commits on `branch`, newest first.
    #[default]
    NewestFromBranch,
    /// Tags that are semantic versions (within `semverConstraint`), highest first.
    SemVer,
    /// Tags in reverse lexical order.
    Lexical,
    /// Tags, most recently created first.
    NewestTag,
}

/// How an image subscription picks tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum ImageSelectionStrategy {
    /// Tags that are semantic versions (within `constraint`), highest first.
    #[default]
    SemVer,
    /// Tags in reverse lexical order.
    Lexical,
    /// Tags by the creation time in the image's config, newest first.
    NewestBuild,
    /// The digest a mutable tag (the `constraint`) points at.
    Digest,
}

fn strict_default() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// A Git subscription.
/// The variables an `expressionFilter` sees: the candidate commit's (or tag's) metadata.
pub const EXPRESSION_FILTER_VARIABLES: [&str; 9] =
    ["id", "subject", "author", "committer", "commitDate", "creatorDate", "tag", "tagger", "annotation"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GitSubscription {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    /// Empty means the repository's default branch.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub branch: String,
    #[serde(default)]
    pub commit_selection_strategy: CommitSelectionStrategy,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub semver_constraint: String,
    #[serde(default = "strict_default", skip_serializing_if = "is_true")]
    pub strict_semvers: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_tags_regexes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_tags_regexes: Vec<String>,
    /// A CEL expression over the commit (or tag) metadata; false drops the candidate.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub expression_filter: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include_paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_paths: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery_limit: Option<u32>,
    /// Kargo's spelling; what earlier Lading versions stored is read too.
    #[serde(default, rename = "insecureSkipTLSVerify", alias = "insecureSkipTlsVerify")]
    pub insecure_skip_tls_verify: bool,
}

/// A container image subscription.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageSubscription {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    #[serde(default)]
    pub image_selection_strategy: ImageSelectionStrategy,
    /// A semver constraint (SemVer), or the tag to follow (Digest).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub constraint: String,
    #[serde(default = "strict_default", skip_serializing_if = "is_true")]
    pub strict_semvers: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_tags_regexes: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_tags_regexes: Vec<String>,
    /// `os/arch[/variant]`: which image of a multi-platform index to use.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub platform: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery_limit: Option<u32>,
    /// Speak plain HTTP (or skip certificate checks) to this registry (Kargo's spelling;
    /// what earlier Lading versions stored is read too).
    #[serde(default, rename = "insecureSkipTLSVerify", alias = "insecureSkipTlsVerify")]
    pub insecure_skip_tls_verify: bool,
    /// Kargo's `cacheByTag`: what a tag pointed at, once read, is taken as what it points
    /// at for good (no `HEAD` per discovery). Faster; stale if tags are overwritten.
    #[serde(default, skip_serializing_if = "is_false")]
    pub cache_by_tag: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

impl Default for GitSubscription {
    fn default() -> Self {
        Self {
            repo_url: String::new(),
            branch: String::new(),
            commit_selection_strategy: CommitSelectionStrategy::default(),
            semver_constraint: String::new(),
            strict_semvers: true,
            allow_tags_regexes: Vec::new(),
            ignore_tags_regexes: Vec::new(),
            expression_filter: String::new(),
            include_paths: Vec::new(),
            exclude_paths: Vec::new(),
            discovery_limit: None,
            insecure_skip_tls_verify: false,
        }
    }
}

impl Default for ImageSubscription {
    fn default() -> Self {
        Self {
            repo_url: String::new(),
            image_selection_strategy: ImageSelectionStrategy::default(),
            constraint: String::new(),
            strict_semvers: true,
            allow_tags_regexes: Vec::new(),
            ignore_tags_regexes: Vec::new(),
            platform: String::new(),
            discovery_limit: None,
            insecure_skip_tls_verify: false,
            cache_by_tag: false,
        }
    }
}

/// A Helm chart subscription: a classic HTTP repository or an `oci://` one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChartSubscription {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    /// The chart's name in an HTTP repository; empty for `oci://` (the URL names it).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub semver_constraint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery_limit: Option<u32>,
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

fn check_limit(field: &str, limit: Option<u32>) -> Result<(), FieldError> {
    match limit {
        Some(l) if !(1..=MAX_DISCOVERY_LIMIT).contains(&l) => Err(FieldError::new(
            format!("{field}.discoveryLimit"),
            format!("must be between 1 and {MAX_DISCOVERY_LIMIT}"),
        )),
        _ => Ok(()),
    }
}

fn check_tags(field: &str, allow: &[String], ignore: &[String]) -> Result<(), FieldError> {
    TagFilter::new(allow, ignore).map(|_| ()).map_err(|(which, i, e)| {
        let name = if which == 0 { "allowTagsRegexes" } else { "ignoreTagsRegexes" };
        FieldError::new(format!("{field}.{name}[{i}]"), e)
    })
}

fn check_constraint(field: String, constraint: &str) -> Result<(), FieldError> {
    if constraint.is_empty() {
        return Ok(());
    }
    SemverConstraint::parse(constraint).map(|_| ()).map_err(|e| FieldError::new(field, e))
}

/// A URL carrying a password, or a token written as its user name
/// (`https://ghp_…@host/repo.git`), would show it to everyone who reads the spec, the
/// freight or the events: credentials belong in the credentials file. Only `ssh://`
/// URLs keep a user name (`ssh://git@host/…`), which names an account, not a secret.
pub(crate) fn check_no_credentials(field: &str, url: &str) -> Result<(), FieldError> {
    let (scheme, rest) = url.split_once("://").unwrap_or_default();
    let authority = rest.split('/').next().unwrap_or_default();
    let Some((user_info, _)) = authority.rsplit_once('@') else { return Ok(()) };
    if user_info.contains(':') || !scheme.eq_ignore_ascii_case("ssh") {
        return Err(FieldError::new(
            format!("{field}.repoURL"),
            "must not carry credentials (a password, or a token as the user name): put them in \
             LADING_CREDENTIALS_FILE (like Kargo's credential Secrets)",
        ));
    }
    Ok(())
}

fn check_git(field: &str, git: &GitSubscription) -> Result<(), FieldError> {
    if git.repo_url.trim().is_empty() {
        return Err(FieldError::new(format!("{field}.repoURL"), "is required"));
    }
    check_no_credentials(field, &git.repo_url)?;
    normalize_git(&git.repo_url).map_err(|e| FieldError::new(format!("{field}.repoURL"), e))?;
    if git.branch.contains(|c: char| c.is_whitespace() || c == '~' || c == '^' || c == ':') {
        return Err(FieldError::new(format!("{field}.branch"), "is not a valid branch name"));
    }
    let tag_based = git.commit_selection_strategy != CommitSelectionStrategy::NewestFromBranch;
    if tag_based && !git.branch.is_empty() {
        return Err(FieldError::new(
            format!("{field}.branch"),
            "applies to NewestFromBranch only; tag strategies select from every tag",
        ));
    }
    if !git.semver_constraint.is_empty() && git.commit_selection_strategy != CommitSelectionStrategy::SemVer {
        return Err(FieldError::new(format!("{field}.semverConstraint"), "applies to the SemVer strategy only"));
    }
    check_constraint(format!("{field}.semverConstraint"), &git.semver_constraint)?;
    check_tags(field, &git.allow_tags_regexes, &git.ignore_tags_regexes)?;
    PathFilter::new(&git.include_paths, &git.exclude_paths).map_err(|(which, i, e)| {
        let name = if which == 0 { "includePaths" } else { "excludePaths" };
        FieldError::new(format!("{field}.{name}[{i}]"), e)
    })?;
    check_limit(field, git.discovery_limit)
}

fn check_image(field: &str, image: &ImageSubscription) -> Result<(), FieldError> {
    let repo = image.repo_url.trim();
    if repo.is_empty() {
        return Err(FieldError::new(format!("{field}.repoURL"), "is required"));
    }
    if repo.contains("://") || repo.contains(char::is_whitespace) || repo.contains(['@', ':']) && !has_port(repo) {
        return Err(FieldError::new(
            format!("{field}.repoURL"),
            "must be an image repository without scheme, tag or digest (e.g. ghcr.io/org/app)",
        ));
    }
    match image.image_selection_strategy {
        ImageSelectionStrategy::SemVer => check_constraint(format!("{field}.constraint"), &image.constraint)?,
        ImageSelectionStrategy::Digest if image.constraint.is_empty() => {
            return Err(FieldError::new(format!("{field}.constraint"), "the Digest strategy needs the tag to follow"));
        }
        _ => {}
    }
    if !image.platform.is_empty() {
        let parts: Vec<_> = image.platform.split('/').collect();
        if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.is_empty()) {
            return Err(FieldError::new(format!("{field}.platform"), "must be os/arch or os/arch/variant"));
        }
    }
    check_tags(field, &image.allow_tags_regexes, &image.ignore_tags_regexes)?;
    check_limit(field, image.discovery_limit)
}

/// Whether the only `:` in an image repository is a registry port (`host:5000/app`).
fn has_port(repo: &str) -> bool {
    !repo.contains('@')
        && repo.split_once('/').is_some_and(|(host, rest)| {
            host.split_once(':').is_some_and(|(_, port)| port.parse::<u16>().is_ok()) && !rest.contains(':')
        })
}

fn check_chart(field: &str, chart: &ChartSubscription) -> Result<(), FieldError> {
    let url = chart.repo_url.trim();
    if url.is_empty() {
        return Err(FieldError::new(format!("{field}.repoURL"), "is required"));
    }
    check_no_credentials(field, url)?;
    if let Some(rest) = url.strip_prefix("oci://") {
        if rest.is_empty() || !rest.contains('/') {
            return Err(FieldError::new(format!("{field}.repoURL"), "must name the chart: oci://host/path/chart"));
        }
        if !chart.name.is_empty() {
            return Err(FieldError::new(format!("{field}.name"), "must be empty for oci:// (the URL names the chart)"));
        }
    } else if url.starts_with("http://") || url.starts_with("https://") {
        if chart.name.is_empty() {
            return Err(FieldError::new(format!("{field}.name"), "is required for an HTTP chart repository"));
        }
    } else {
        return Err(FieldError::new(format!("{field}.repoURL"), "must start with https://, http:// or oci://"));
    }
    check_constraint(format!("{field}.semverConstraint"), &chart.semver_constraint)?;
    check_limit(field, chart.discovery_limit)
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
