//! Git subscriptions: which commits or tags to watch, and the checks their fields pass.

use serde::{Deserialize, Serialize};

use super::field_checks::{check_constraint, check_limit, check_no_credentials, check_tags};
use super::{is_true, strict_default};
use crate::selection::PathFilter;
use crate::spec::FieldError;
use crate::url_normalize::normalize_git;

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

/// The variables an `expressionFilter` sees: the candidate commit's (or tag's) metadata.
pub const EXPRESSION_FILTER_VARIABLES: [&str; 9] =
    ["id", "subject", "author", "committer", "commitDate", "creatorDate", "tag", "tagger", "annotation"];

/// A Git subscription.
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

pub(super) fn check_git(field: &str, git: &GitSubscription) -> Result<(), FieldError> {
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
