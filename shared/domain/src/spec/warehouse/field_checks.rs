//! Checks every kind of subscription shares: discovery limits, tag regexes, semver
//! constraints, and repository URLs without credentials.

use super::MAX_DISCOVERY_LIMIT;
use crate::selection::{SemverConstraint, TagFilter};
use crate::spec::FieldError;

pub(super) fn check_limit(field: &str, limit: Option<u32>) -> Result<(), FieldError> {
    match limit {
        Some(l) if !(1..=MAX_DISCOVERY_LIMIT).contains(&l) => Err(FieldError::new(
            format!("{field}.discoveryLimit"),
            format!("must be between 1 and {MAX_DISCOVERY_LIMIT}"),
        )),
        _ => Ok(()),
    }
}

pub(super) fn check_tags(field: &str, allow: &[String], ignore: &[String]) -> Result<(), FieldError> {
    TagFilter::new(allow, ignore).map(|_| ()).map_err(|(which, i, e)| {
        let name = if which == 0 { "allowTagsRegexes" } else { "ignoreTagsRegexes" };
        FieldError::new(format!("{field}.{name}[{i}]"), e)
    })
}

pub(super) fn check_constraint(field: String, constraint: &str) -> Result<(), FieldError> {
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
