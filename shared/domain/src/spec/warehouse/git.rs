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
    /// `NewestFromBranch`: commits committed before this time (RFC 3339) are not
    /// discovered; the walk of the branch stops at the first one, as `git log --since`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<chrono::DateTime<chrono::FixedOffset>>,
}

/// Whether a commit committed at `committed_ms` (milliseconds since the epoch) is recent
/// enough for a subscription with `since`: at or after it.
pub fn within_since(since: Option<&chrono::DateTime<chrono::FixedOffset>>, committed_ms: i64) -> bool {
    since.is_none_or(|since| committed_ms >= since.timestamp_millis())
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
            since: None,
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
    if tag_based && git.since.is_some() {
        return Err(FieldError::new(
            format!("{field}.since"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_at_or_after_since_is_recent_enough_and_an_older_one_is_not() {
        let since = chrono::DateTime::parse_from_rfc3339("2026-01-01T01:00:00+01:00").unwrap();
        let at = since.timestamp_millis();
        // Given no since, then every commit is;
        assert!(within_since(None, 0));
        // given one, then a commit at that instant (whatever its offset) or later is, an earlier one is not.
        assert!(within_since(Some(&since), at));
        assert!(within_since(Some(&since), at + 1));
        assert!(!within_since(Some(&since), at - 1));
        assert_eq!(at, chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().timestamp_millis());
    }

    #[test]
    fn since_is_checked_where_it_applies() {
        let since = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").ok();
        let branch = GitSubscription { repo_url: "https://h/app.git".into(), since, ..GitSubscription::default() };
        assert!(check_git("git", &branch).is_ok());
        let tags = GitSubscription { commit_selection_strategy: CommitSelectionStrategy::SemVer, ..branch };
        let error = check_git("git", &tags).unwrap_err();
        assert_eq!(
            (error.field.as_str(), error.reason.as_str()),
            ("git.since", "applies to NewestFromBranch only; tag strategies select from every tag")
        );
    }
}
