//! Helm chart subscriptions, from a classic HTTP repository or an `oci://` one, and the
//! checks their fields pass.

use serde::{Deserialize, Serialize};

use super::field_checks::{check_constraint, check_limit, check_no_credentials};
use crate::spec::FieldError;

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

pub(super) fn check_chart(field: &str, chart: &ChartSubscription) -> Result<(), FieldError> {
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
