//! Warehouse spec: what to watch, and how often.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{FieldError, deserialize_at};
use crate::duration::parse_go_duration;
use crate::url_normalize::normalize_git;

/// Kargo's default polling interval.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(300);

/// A Git subscription: the newest commit on a branch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GitSubscription {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    /// Empty means the repository's default branch.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub branch: String,
}

/// One subscription; exactly one of its fields is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitSubscription>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<Value>,
}

/// A Warehouse's spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WarehouseSpec {
    #[serde(default)]
    pub subscriptions: Vec<Subscription>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
}

impl WarehouseSpec {
    /// The polling interval (validated at apply time; the default when unset).
    pub fn interval(&self) -> Duration {
        self.interval.as_deref().and_then(|i| parse_go_duration(i).ok()).unwrap_or(DEFAULT_INTERVAL)
    }

    pub fn git_subscriptions(&self) -> impl Iterator<Item = &GitSubscription> {
        self.subscriptions.iter().filter_map(|s| s.git.as_ref())
    }
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
        if sub.image.is_some() {
            return Err(FieldError::new(format!("{field}.image"), "image subscriptions are not supported yet"));
        }
        if sub.chart.is_some() {
            return Err(FieldError::new(format!("{field}.chart"), "chart subscriptions are not supported yet"));
        }
        if let Some(git) = &sub.git {
            if git.repo_url.trim().is_empty() {
                return Err(FieldError::new(format!("{field}.git.repoURL"), "is required"));
            }
            normalize_git(&git.repo_url).map_err(|e| FieldError::new(format!("{field}.git.repoURL"), e))?;
            if git.branch.contains(|c: char| c.is_whitespace() || c == '~' || c == '^' || c == ':') {
                return Err(FieldError::new(format!("{field}.git.branch"), "is not a valid branch name"));
            }
        }
    }
    if let Some(interval) = &spec.interval {
        let parsed = parse_go_duration(interval).map_err(|e| FieldError::new("spec.interval", e))?;
        if parsed < Duration::from_secs(1) {
            return Err(FieldError::new("spec.interval", "must be at least 1s"));
        }
    }
    Ok(spec)
}
