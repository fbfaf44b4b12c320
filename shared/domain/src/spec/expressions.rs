//! Every expression of a manifest, parsed and checked when the manifest is applied: `${{ }}`
//! in step configs and variables, step `if`, the `http` step's expressions, a git
//! subscription's `expressionFilter`, a warehouse's `freightCreationCriteria`, and the
//! `secret()` references of analysis providers.
//!
//! Besides syntax and the shape limits of [`crate::expression::limits`], a program may
//! call only functions that exist where it runs, and name only variables that can exist
//! there: `vars.y` needs a variable `y` in the template or the step, `outputs.x` an
//! earlier step with `as: x`, `task.outputs.x` an earlier step of the same task (and
//! `task` is only there inside a task). Inside a task, `vars` and `outputs` may come from
//! the stage that runs it, so only `task.outputs` is checked there.

use serde_json::Value;

use super::stage::PromotionStep;
use super::warehouse::EXPRESSION_FILTER_VARIABLES;
use super::{FieldError, Spec};
use crate::expression::template::{self, is_template};
use crate::expression::{ExpressionError, Program, QuotedError, Reference, on_expression_stack};
use crate::promotion_functions::{CONTEXT_FIELDS, VARIABLES, all_functions};

/// What the `http` step's bare expressions see.
const HTTP_VARIABLES: [&str; 1] = ["response"];

/// Checks every expression of `spec`; the first error names its field.
pub(super) fn check(spec: &Spec) -> Result<(), FieldError> {
    on_expression_stack(|| match spec {
        Spec::Stage(stage) => {
            let stage_vars = stage.vars();
            let template_vars: Vec<&str> = stage_vars.iter().map(|v| v.name.as_str()).collect();
            for (i, var) in stage_vars.iter().enumerate() {
                let scope = Scope {
                    vars: Some(template_vars[..i].to_vec()),
                    outputs: Some(Vec::new()),
                    no_output: "template variables are evaluated before any step runs",
                    task: Task::Outside,
                };
                check_template(&format!("{}.value", stage.var_field(i)), &var.value, &scope)?;
            }
            check_steps(stage.steps(), "spec.promotionTemplate.spec.steps", |steps, i, step_vars| Scope {
                vars: Some(template_vars.iter().copied().chain(step_vars.iter().copied()).collect()),
                outputs: Some(aliases(&steps[..i])),
                no_output: "no earlier step has it as its `as`",
                task: Task::Outside,
            })?;
            // Verification arguments see the project, the stage and the template's vars.
            let scope = Scope {
                vars: Some(template_vars.clone()),
                outputs: Some(Vec::new()),
                no_output: "verification arguments are evaluated after the promotion, without its outputs",
                task: Task::Outside,
            };
            for (i, arg) in stage.verification.iter().flat_map(|v| v.args.iter()).enumerate() {
                check_template(&format!("spec.verification.args[{i}].value"), &arg.value, &scope)?;
            }
            Ok(())
        }
        Spec::AnalysisTemplate(template) | Spec::ClusterAnalysisTemplate(template) => {
            for (i, metric) in template.metrics.iter().enumerate() {
                for (name, source) in
                    [("successCondition", &metric.success_condition), ("failureCondition", &metric.failure_condition)]
                {
                    if source.trim().is_empty() {
                        continue;
                    }
                    crate::verification::conditions::check(source.trim()).map_err(|e| {
                        FieldError::new(format!("spec.metrics[{i}].{name}"), format!("metric {:?}: {e}", metric.name))
                    })?;
                }
                super::analysis_template::check_secret_references(&format!("spec.metrics[{i}]"), &metric.provider)?;
            }
            Ok(())
        }
        Spec::PromotionTask(task) | Spec::ClusterPromotionTask(task) => {
            let unknown = Scope { vars: None, outputs: None, no_output: "", task: Task::Unknown };
            for (i, var) in task.vars.iter().enumerate() {
                if let Some(value) = &var.value {
                    check_template(&format!("spec.vars[{i}].value"), value, &unknown)?;
                }
            }
            check_steps(&task.steps, "spec.steps", |steps, i, _| Scope {
                vars: None,
                outputs: None,
                no_output: "",
                task: Task::Inside(aliases(&steps[..i])),
            })
        }
        Spec::Warehouse(warehouse) => {
            for (i, subscription) in warehouse.subscriptions.iter().enumerate() {
                if let Some(git) = &subscription.git
                    && !git.expression_filter.trim().is_empty()
                {
                    let field = format!("spec.subscriptions[{i}].git.expressionFilter");
                    check_bare(&field, git.expression_filter.trim(), &[], &EXPRESSION_FILTER_VARIABLES)?;
                }
            }
            if let Some(criteria) = &warehouse.freight_creation_criteria {
                let field = "spec.freightCreationCriteria.expression";
                check_bare(field, criteria.expression.trim(), &crate::freight_functions::FUNCTIONS, &[])?;
            }
            Ok(())
        }
        Spec::ProjectConfig(config) => check_generic_receivers(&config.webhook_receivers),
        Spec::Project(_) => Ok(()),
    })
    .map_err(|e| FieldError::new("(expressions)", e))?
}

/// A generic webhook receiver's `whenExpression` (bare, or one template) and every
/// string its actions may template: parameters, target names, label and index values.
fn check_generic_receivers(receivers: &[super::WebhookReceiverConfig]) -> Result<(), FieldError> {
    use crate::webhook::generic::{FUNCTIONS, VARIABLES};
    let template = |field: &str, text: &str| -> Result<(), FieldError> {
        if !is_template(text) {
            return Ok(());
        }
        let sources = template::expressions(text)
            .map_err(|e| FieldError::new(field, format!("{}: {e}", crate::excerpt::quoted(text))))?;
        for source in sources {
            Program::compile(source)
                .and_then(|program| program.check_names(&FUNCTIONS, &VARIABLES))
                .map_err(|e| FieldError::new(field, QuotedError::in_template(source, e)))?;
        }
        Ok(())
    };
    for (i, receiver) in receivers.iter().enumerate() {
        let Some(generic) = &receiver.generic else { continue };
        for (j, action) in generic.actions.iter().enumerate() {
            let field = format!("spec.webhookReceivers[{i}].generic.actions[{j}]");
            let when = action.when_expression.trim();
            if is_template(when) {
                template(&format!("{field}.whenExpression"), when)?;
            } else if !when.is_empty() {
                check_bare(&format!("{field}.whenExpression"), when, &FUNCTIONS, &VARIABLES)?;
            }
            for (name, value) in &action.parameters {
                template(&format!("{field}.parameters.{name}"), value)?;
            }
            for (k, target) in action.target_selection_criteria.iter().enumerate() {
                let field = format!("{field}.targetSelectionCriteria[{k}]");
                template(&format!("{field}.name"), &target.name)?;
                for (key, value) in &target.label_selector.match_labels {
                    template(&format!("{field}.labelSelector.matchLabels.{key}"), value)?;
                }
                for (m, requirement) in target.label_selector.match_expressions.iter().enumerate() {
                    for (n, value) in requirement.values.iter().enumerate() {
                        template(&format!("{field}.labelSelector.matchExpressions[{m}].values[{n}]"), value)?;
                    }
                }
                for (m, index) in target.index_selector.match_indices.iter().enumerate() {
                    template(&format!("{field}.indexSelector.matchIndices[{m}].value"), &index.value)?;
                }
            }
        }
    }
    Ok(())
}

/// Where `task` may be named.
enum Task<'a> {
    /// In a stage's own steps: there is no `task`.
    Outside,
    /// In a task's steps, after the steps with these aliases.
    Inside(Vec<&'a str>),
    /// In a task's variables: the step they are for is not known.
    Unknown,
}

/// What a step's expressions may name; `None` when it cannot be known here.
struct Scope<'a> {
    vars: Option<Vec<&'a str>>,
    outputs: Option<Vec<&'a str>>,
    /// Why an alias missing from `outputs` cannot exist.
    no_output: &'static str,
    task: Task<'a>,
}

fn aliases(steps: &[PromotionStep]) -> Vec<&str> {
    steps.iter().filter_map(|s| s.alias.as_deref()).collect()
}

/// Checks the `if`, `vars` and `config` of each step; `scope_for(steps, i, vars)` is what
/// step `i` sees given the names of its own variables `vars`.
fn check_steps<'a>(
    steps: &'a [PromotionStep],
    prefix: &str,
    scope_for: impl Fn(&'a [PromotionStep], usize, &[&'a str]) -> Scope<'a>,
) -> Result<(), FieldError> {
    for (i, step) in steps.iter().enumerate() {
        let field = format!("{prefix}[{i}]");
        let step_vars: Vec<&str> = step.vars.iter().map(|v| v.name.as_str()).collect();
        for (j, var) in step.vars.iter().enumerate() {
            check_template(&format!("{field}.vars[{j}].value"), &var.value, &scope_for(steps, i, &step_vars[..j]))?;
        }
        let scope = scope_for(steps, i, &step_vars);
        if let Some(condition) = &step.condition {
            let field = format!("{field}.if");
            if is_template(condition) {
                check_template(&field, condition, &scope)?;
            } else {
                check_program(condition.trim(), &scope)
                    .map_err(|e| FieldError::new(&field, QuotedError::bare(condition, e)))?;
            }
        }
        if let Some(config) = &step.config {
            check_config(&format!("{field}.config"), config, &scope, step.uses == "http")?;
        }
    }
    Ok(())
}

/// Every string of a step's config is a template; the `http` step's
/// `successExpression`, `failureExpression` and `outputs[].fromExpression` are bare
/// expressions over `response` (unless they are templates themselves).
fn check_config(field: &str, config: &Value, scope: &Scope<'_>, http: bool) -> Result<(), FieldError> {
    let bare = |field: &str, value: Option<&Value>| -> Result<(), FieldError> {
        match value {
            Some(Value::String(source)) if !is_template(source) => {
                check_bare(field, source.trim(), &[], &HTTP_VARIABLES)
            }
            _ => Ok(()),
        }
    };
    if http {
        bare(&format!("{field}.successExpression"), config.get("successExpression"))?;
        bare(&format!("{field}.failureExpression"), config.get("failureExpression"))?;
        if let Some(Value::Array(outputs)) = config.get("outputs") {
            for (i, output) in outputs.iter().enumerate() {
                bare(&format!("{field}.outputs[{i}].fromExpression"), output.get("fromExpression"))?;
            }
        }
    }
    check_tree(field, config, scope)
}

fn check_tree(field: &str, value: &Value, scope: &Scope<'_>) -> Result<(), FieldError> {
    match value {
        Value::String(text) => check_template(field, text, scope),
        Value::Array(items) => {
            items.iter().enumerate().try_for_each(|(i, item)| check_tree(&format!("{field}[{i}]"), item, scope))
        }
        Value::Object(map) => map.iter().try_for_each(|(key, item)| check_tree(&format!("{field}.{key}"), item, scope)),
        _ => Ok(()),
    }
}

fn check_template(field: &str, text: &str, scope: &Scope<'_>) -> Result<(), FieldError> {
    if !is_template(text) {
        return Ok(());
    }
    let sources = template::expressions(text)
        .map_err(|e| FieldError::new(field, format!("{}: {e}", crate::excerpt::quoted(text))))?;
    for source in sources {
        check_program(source, scope).map_err(|e| FieldError::new(field, QuotedError::in_template(source, e)))?;
    }
    Ok(())
}

fn check_bare(field: &str, source: &str, functions: &[&str], variables: &[&str]) -> Result<(), FieldError> {
    Program::compile(source)
        .and_then(|program| program.check_names(functions, variables))
        .map_err(|e| FieldError::new(field, QuotedError::bare(source, e)))
}

/// A step expression: parsed, calling known functions, naming variables that can exist.
fn check_program(source: &str, scope: &Scope<'_>) -> Result<(), ExpressionError> {
    let program = Program::compile(source)?;
    program.check_names(&all_functions(), &VARIABLES)?;
    for reference in program.references() {
        let Reference::Variable { path, position } = reference else { continue };
        let position = *position;
        let missing = |reference: String, reason: String| ExpressionError::Unresolvable { reference, position, reason };
        let field = path.get(1).map(String::as_str);
        match (path[0].as_str(), field) {
            ("ctx", Some(name)) if !CONTEXT_FIELDS.contains(&name) => {
                return Err(missing(format!("ctx.{name}"), format!("ctx has {}", CONTEXT_FIELDS.join(", "))));
            }
            ("vars", Some(name)) if scope.vars.as_ref().is_some_and(|vars| !vars.contains(&name)) => {
                return Err(missing(
                    format!("vars.{name}"),
                    "no variable of that name is defined in the template or the step".to_owned(),
                ));
            }
            ("outputs", Some(alias)) if scope.outputs.as_ref().is_some_and(|known| !known.contains(&alias)) => {
                return Err(missing(format!("outputs.{alias}"), scope.no_output.to_owned()));
            }
            ("task", _) => match &scope.task {
                Task::Outside => {
                    return Err(missing(
                        "task".to_owned(),
                        "task.outputs exists only in the steps of a PromotionTask or ClusterPromotionTask".to_owned(),
                    ));
                }
                _ if field.is_some_and(|f| f != "outputs") => {
                    return Err(missing(path[..2].join("."), "task has only outputs".to_owned()));
                }
                Task::Inside(known) => {
                    if let Some(alias) = path.get(2)
                        && !known.contains(&alias.as_str())
                    {
                        return Err(missing(
                            format!("task.outputs.{alias}"),
                            "no earlier step of the task has it as its `as`".to_owned(),
                        ));
                    }
                }
                Task::Unknown => {}
            },
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
