//! Project and ProjectConfig specs: promotion policies decide which stages auto-promote.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{FieldError, deserialize_at};

/// Selects the stages a promotion policy applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct StageSelector {
    pub name: String,
}

/// One entry of `promotionPolicies`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PromotionPolicy {
    /// Kargo's older field naming the stage directly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage_selector: Option<StageSelector>,
    #[serde(default)]
    pub auto_promotion_enabled: bool,
}

impl PromotionPolicy {
    /// Whether this policy selects `stage`.
    pub fn selects(&self, stage: &str) -> bool {
        self.stage_selector
            .as_ref()
            .map(|s| s.name.as_str())
            .or(self.stage.as_deref())
            == Some(stage)
    }
}

/// A ProjectConfig's spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProjectConfigSpec {
    #[serde(default)]
    pub promotion_policies: Vec<PromotionPolicy>,
}

/// A Project's spec. Kargo once carried promotion policies here; they are still read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProjectSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub promotion_policies: Vec<PromotionPolicy>,
}

fn validate_policies(policies: &[PromotionPolicy], prefix: &str) -> Result<(), FieldError> {
    for (i, policy) in policies.iter().enumerate() {
        let selected = policy
            .stage_selector
            .as_ref()
            .map(|s| s.name.as_str())
            .or(policy.stage.as_deref());
        match selected {
            None | Some("") => {
                return Err(FieldError::new(
                    format!("{prefix}.promotionPolicies[{i}].stageSelector.name"),
                    "is required",
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

pub(super) fn parse_project(value: Value) -> Result<ProjectSpec, FieldError> {
    let spec: ProjectSpec = deserialize_at("spec", value)?;
    validate_policies(&spec.promotion_policies, "spec")?;
    Ok(spec)
}

pub(super) fn parse_project_config(value: Value) -> Result<ProjectConfigSpec, FieldError> {
    let spec: ProjectConfigSpec = deserialize_at("spec", value)?;
    validate_policies(&spec.promotion_policies, "spec")?;
    Ok(spec)
}
