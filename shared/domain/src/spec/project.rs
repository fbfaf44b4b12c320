//! Project and ProjectConfig specs: promotion policies decide which stages auto-promote;
//! webhook receivers let registries and Git hosts ask for discovery.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::stage_selector::StageSelector;
use super::webhook_receiver::{self, WebhookReceiverConfig};
use super::{FieldError, deserialize_at};

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
    /// Whether this policy selects the stage `name` with `labels`.
    pub fn selects(&self, name: &str, labels: &BTreeMap<String, String>) -> bool {
        match (&self.stage_selector, &self.stage) {
            (Some(selector), _) => selector.selects(name, labels),
            (None, Some(stage)) => stage == name,
            (None, None) => false,
        }
    }
}

/// A ProjectConfig's spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProjectConfigSpec {
    #[serde(default)]
    pub promotion_policies: Vec<PromotionPolicy>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhook_receivers: Vec<WebhookReceiverConfig>,
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
        let field = format!("{prefix}.promotionPolicies[{i}]");
        match (&policy.stage_selector, &policy.stage) {
            (Some(selector), _) => selector.validate(&format!("{field}.stageSelector"))?,
            (None, Some(stage)) if !stage.is_empty() => {}
            _ => {
                return Err(FieldError::new(format!("{field}.stageSelector"), "is required"));
            }
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
    webhook_receiver::validate(&spec.webhook_receivers, "spec")?;
    Ok(spec)
}
