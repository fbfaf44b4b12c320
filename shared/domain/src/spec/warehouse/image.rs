//! Container image subscriptions: which tags to watch, on which platform, and the checks
//! their fields pass.

use serde::{Deserialize, Serialize};

use super::field_checks::{check_constraint, check_limit, check_tags};
use super::{is_true, strict_default};
use crate::spec::FieldError;

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

pub(super) fn check_image(field: &str, image: &ImageSubscription) -> Result<(), FieldError> {
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
