//! One module per provider: how its requests are authenticated (headers, and which key of
//! the receiver's secret), which events it sends, and which payload fields say what was
//! pushed. Authentication comes first: nothing of an unauthenticated payload is read.

pub mod artifactory;
pub mod bitbucket;
pub mod dockerhub;
pub mod gitea;
pub mod github;
pub mod gitlab;
pub mod harbor;
pub mod quay;

use serde::Deserialize;

/// A commit of a Git push payload (GitHub, Gitea and GitLab share these fields).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PushedCommit {
    pub added: Vec<String>,
    pub modified: Vec<String>,
    pub removed: Vec<String>,
}

/// Every path `commits` changed, sorted, each once; `None` when the payload lists fewer
/// commits than were pushed (providers cut long lists), so path filters are not applied.
pub(crate) fn changed_paths<'a>(
    commits: impl IntoIterator<Item = &'a PushedCommit>,
    listed: usize,
    pushed: Option<usize>,
) -> Option<Vec<String>> {
    if pushed.is_some_and(|pushed| pushed > listed) {
        return None;
    }
    let mut paths: Vec<String> =
        commits.into_iter().flat_map(|c| c.added.iter().chain(&c.modified).chain(&c.removed).cloned()).collect();
    paths.sort();
    paths.dedup();
    Some(paths)
}

/// Strings a payload may send as `null`.
pub(crate) fn null_as_empty<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.unwrap_or_default())
}
