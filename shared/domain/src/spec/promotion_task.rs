//! PromotionTask and ClusterPromotionTask: reusable step lists a stage runs with
//! `task: {name, kind}`, with variables the stage provides.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::stage::{PromotionStep, validate_steps};
use super::{FieldError, deserialize_at};

/// A task's variable: a default `value`, or none when the stage must provide it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TaskVariable {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// The spec of a PromotionTask or ClusterPromotionTask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PromotionTaskSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vars: Vec<TaskVariable>,
    pub steps: Vec<PromotionStep>,
}

pub(super) fn parse(value: Value) -> Result<PromotionTaskSpec, FieldError> {
    let spec: PromotionTaskSpec = deserialize_at("spec", value)?;
    if spec.steps.is_empty() {
        return Err(FieldError::new("spec.steps", "must list at least one step"));
    }
    for (i, var) in spec.vars.iter().enumerate() {
        if var.name.is_empty() {
            return Err(FieldError::new(format!("spec.vars[{i}].name"), "is required"));
        }
    }
    validate_steps(&spec.steps, "spec.steps", false)?;
    Ok(spec)
}
