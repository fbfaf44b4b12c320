//! Expanding `task:` steps into the steps of their PromotionTask or ClusterPromotionTask.
//!
//! A task step with alias `A` becomes the task's steps, aliased `A::<step alias>` (or
//! `A::step-<n>`), each seeing the task's variables (defaults overridden by the stage's
//! `vars` for the task) on top of its own. Inside a task, `task.outputs.<alias>` refers to
//! the outputs of the task's own earlier steps.

use std::collections::BTreeMap;

use lading_domain::spec::{PromotionStep, PromotionTaskSpec, PromotionVariable, TaskRef};

/// Separates a task step's alias from the alias of the step inside the task.
pub const TASK_ALIAS_SEPARATOR: &str = "::";

/// Replaces every task step with the task's steps; `lookup` finds a task's spec.
pub fn expand_tasks(
    steps: &[PromotionStep],
    lookup: impl Fn(&TaskRef) -> Option<PromotionTaskSpec>,
) -> Result<Vec<PromotionStep>, String> {
    let mut expanded = Vec::new();
    for (index, step) in steps.iter().enumerate() {
        let Some(task) = &step.task else {
            expanded.push(step.clone());
            continue;
        };
        let kind = if task.is_cluster_scoped() { "ClusterPromotionTask" } else { "PromotionTask" };
        let spec = lookup(task).ok_or_else(|| format!("step {index}: {kind} {:?} not found", task.name))?;
        let provided: BTreeMap<&str, &str> = step.vars.iter().map(|v| (v.name.as_str(), v.value.as_str())).collect();
        let mut vars = Vec::new();
        for declared in &spec.vars {
            let value = provided
                .get(declared.name.as_str())
                .map(|v| v.to_string())
                .or_else(|| declared.value.clone())
                .ok_or_else(|| {
                    format!("step {index}: {kind} {:?} needs a value for variable {:?}", task.name, declared.name)
                })?;
            vars.push(PromotionVariable { name: declared.name.clone(), value });
        }
        for extra in &step.vars {
            if !spec.vars.iter().any(|d| d.name == extra.name) {
                vars.push(extra.clone());
            }
        }
        let task_alias = step.alias.clone().unwrap_or_else(|| format!("task-{index}"));
        for (inner_index, inner) in spec.steps.iter().enumerate() {
            let inner_alias = inner.alias.clone().unwrap_or_else(|| format!("step-{inner_index}"));
            let mut flattened = inner.clone();
            flattened.alias = Some(format!("{task_alias}{TASK_ALIAS_SEPARATOR}{inner_alias}"));
            flattened.vars = vars.iter().cloned().chain(inner.vars.iter().cloned()).collect();
            if flattened.condition.is_none() {
                flattened.condition = step.condition.clone();
            }
            flattened.continue_on_error |= step.continue_on_error;
            expanded.push(flattened);
        }
    }
    Ok(expanded)
}

#[cfg(test)]
mod tests {
    use lading_domain::spec::TaskVariable;
    use serde_json::json;

    use super::*;

    fn task() -> PromotionTaskSpec {
        PromotionTaskSpec {
            vars: vec![
                TaskVariable { name: "repo".into(), value: None },
                TaskVariable { name: "branch".into(), value: Some("main".into()) },
            ],
            steps: vec![
                PromotionStep { uses: "git-clone".into(), alias: Some("clone".into()), ..Default::default() },
                PromotionStep { uses: "git-push".into(), config: Some(json!({"path": "./out"})), ..Default::default() },
            ],
        }
    }

    fn invoke(vars: &[(&str, &str)]) -> PromotionStep {
        PromotionStep {
            task: Some(TaskRef { name: "promote".into(), kind: None }),
            alias: Some("deploy".into()),
            vars: vars.iter().map(|(n, v)| PromotionVariable { name: n.to_string(), value: v.to_string() }).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn task_steps_take_the_stage_place_with_prefixed_aliases_and_vars() {
        let before = PromotionStep { uses: "fail".into(), ..Default::default() };
        let expanded = expand_tasks(&[before.clone(), invoke(&[("repo", "https://g/x")])], |_| Some(task())).unwrap();
        assert_eq!(expanded.len(), 3);
        assert_eq!(expanded[0], before);
        assert_eq!(expanded[1].alias.as_deref(), Some("deploy::clone"));
        assert_eq!(expanded[2].alias.as_deref(), Some("deploy::step-1"));
        let vars: Vec<(&str, &str)> = expanded[1].vars.iter().map(|v| (v.name.as_str(), v.value.as_str())).collect();
        assert_eq!(vars, vec![("repo", "https://g/x"), ("branch", "main")], "defaults fill what the stage leaves out");
    }

    #[test]
    fn missing_tasks_and_variables_are_errors() {
        let missing = expand_tasks(&[invoke(&[("repo", "x")])], |_| None).unwrap_err();
        assert_eq!(missing, "step 0: PromotionTask \"promote\" not found");
        let unset = expand_tasks(&[invoke(&[])], |_| Some(task())).unwrap_err();
        assert!(unset.contains("needs a value for variable \"repo\""), "{unset}");
    }
}
