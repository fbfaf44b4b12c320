//! `${{ … }}` expressions in step configuration, evaluated with Kargo's names (`vars`,
//! `ctx`, `outputs`, `task`, and the functions of [`lading_domain::promotion_functions`],
//! [`lading_domain::freight_functions`] and [`lading_domain::metadata`]), each within a budget (see
//! [`lading_domain::expression`]).
//!
//! A string that is exactly one expression keeps the expression's type (number, bool,
//! object); expressions inside longer strings are interpolated as text. The expressions
//! evaluated together share one [`Budget`] (see [`budget`]): the template's variables, a
//! step's `if`, its variables, its whole config, the `http` step's expressions over one
//! response. An error names the field,
//! the expression and what went wrong: `config.updates[0].value: ${{ … }}: ran out of
//! its time budget of 100ms (LADING_EXPRESSION_TIMEOUT)`.
//!
//! The limits are the process's, set once by [`set_limits`] when the promoter starts.

use std::collections::BTreeMap;
use std::sync::RwLock;

use lading_domain::expression::template::{self, Part, is_template};
use lading_domain::expression::{
    Budget, Evaluator, ExpressionError, ExpressionLimits, Program, QuotedError, on_expression_stack,
};
use lading_domain::{Freight, freight_functions, promotion_functions};
use serde_json::{Map, Value};

static LIMITS: RwLock<ExpressionLimits> = RwLock::new(ExpressionLimits {
    timeout: lading_domain::expression::limits::DEFAULT_TIMEOUT,
    max_output_bytes: lading_domain::expression::limits::DEFAULT_MAX_OUTPUT_BYTES,
    max_allocated_bytes: lading_domain::expression::limits::DEFAULT_MAX_ALLOCATED_BYTES,
});

/// Sets the limits every later evaluation of this process keeps to.
pub fn set_limits(limits: ExpressionLimits) {
    *LIMITS.write().unwrap_or_else(|p| p.into_inner()) = limits;
}

/// The limits evaluations keep to.
pub fn limits() -> ExpressionLimits {
    *LIMITS.read().unwrap_or_else(|p| p.into_inner())
}

/// A budget for expressions evaluated together, within the process's limits.
pub fn budget() -> Budget {
    Budget::new(&limits())
}

/// Everything an expression can see.
pub struct Scope<'a> {
    pub vars: &'a Map<String, Value>,
    pub ctx: &'a Value,
    pub outputs: &'a Map<String, Value>,
    pub freight: &'a Freight,
    /// The stage's freight collection, the promoted freight first (see
    /// [`crate::steps::StepContext::origins`]).
    pub origins: &'a [Freight],
    /// How earlier steps ended, by alias: `Succeeded`, `Failed`, `Errored` or `Skipped`.
    pub step_status: &'a BTreeMap<String, String>,
    /// Whether an earlier step failed (and the promotion is failing).
    pub failed: bool,
    /// Inside a task: `{outputs: {...}}` of the task's own steps; null elsewhere.
    pub task: &'a Value,
    /// The secrets `secret(name)` reads (none outside a promotion).
    pub secrets: Option<&'a lading_domain::secrets::SecretAccess>,
    /// What `freightMetadata()` and `stageMetadata()` read.
    pub metadata: &'a lading_domain::metadata::ProjectMetadata,
}

/// Runs `work` with an evaluator for `scope`, on an expression thread, within `budget`.
fn with_scope<R: Send>(
    scope: &Scope<'_>,
    budget: &Budget,
    work: impl FnOnce(&Evaluator<'_>) -> Result<R, String> + Send,
) -> Result<R, String> {
    on_expression_stack(|| {
        let mut evaluator = Evaluator::new(budget);
        let internal = |e: ExpressionError| e.to_string();
        evaluator.bind("vars", &Value::Object(scope.vars.clone())).map_err(internal)?;
        evaluator.bind("ctx", scope.ctx).map_err(internal)?;
        evaluator.bind("outputs", &Value::Object(scope.outputs.clone())).map_err(internal)?;
        evaluator.bind("task", scope.task).map_err(internal)?;
        promotion_functions::add(evaluator.context_mut(), scope.step_status, scope.failed)?;
        // The collection, the promoted freight first (alone when the stage holds no other).
        let only = std::slice::from_ref(scope.freight);
        let collection = if scope.origins.is_empty() { only } else { scope.origins };
        freight_functions::add(evaluator.context_mut(), collection)?;
        lading_domain::metadata::add(evaluator.context_mut(), scope.metadata)?;
        promotion_functions::add_secret(evaluator.context_mut(), scope.secrets.cloned())?;
        work(&evaluator)
    })
    .map_err(|e| e.to_string())?
}

/// One expression of a template in `field`.
fn expression(evaluator: &Evaluator<'_>, source: &str, field: &str) -> Result<Value, String> {
    Program::compile(source)
        .and_then(|program| evaluator.evaluate(&program))
        .map_err(|e| format!("{field}: {}", QuotedError::in_template(source, e)))
}

/// A string of `field`: itself, or its expressions' values.
fn string(evaluator: &Evaluator<'_>, text: &str, field: &str) -> Result<Value, String> {
    if !is_template(text) {
        return Ok(Value::String(text.to_owned()));
    }
    let parts = template::split(text).map_err(|e| format!("{field}: {}: {e}", lading_domain::excerpt::quoted(text)))?;
    if let [Part::Expression(source)] = parts.as_slice() {
        return expression(evaluator, source, field).map(template::unquote);
    }
    let limit = evaluator.budget().limits().max_output_bytes;
    let mut out = String::new();
    for part in parts {
        match part {
            Part::Text(text) => out.push_str(text),
            Part::Expression(source) => match expression(evaluator, source, field)? {
                Value::String(s) => out.push_str(&s),
                Value::Null => {}
                other => out.push_str(&other.to_string()),
            },
        }
        if out.len() as u64 > limit {
            let error = QuotedError::bare(text, ExpressionError::OutputTooLarge { limit });
            return Err(format!("{field}: {error}"));
        }
    }
    Ok(template::unquote(Value::String(out)))
}

fn tree(evaluator: &Evaluator<'_>, value: &Value, field: &str) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) => string(evaluator, s, field)?,
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| tree(evaluator, v, &format!("{field}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                out.insert(k.clone(), tree(evaluator, v, &format!("{field}.{k}"))?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

/// Evaluates one string template of `field`.
pub fn evaluate_string(template: &str, scope: &Scope<'_>, field: &str, budget: &Budget) -> Result<Value, String> {
    if !is_template(template) {
        return Ok(Value::String(template.to_owned()));
    }
    with_scope(scope, budget, |evaluator| string(evaluator, template, field))
}

/// Evaluates a step's `if`: a `${{ … }}` template or a bare expression, which must be a
/// boolean.
pub fn evaluate_condition(condition: &str, scope: &Scope<'_>, budget: &Budget) -> Result<bool, String> {
    let value = with_scope(scope, budget, |evaluator| {
        if is_template(condition) {
            string(evaluator, condition, "if")
        } else {
            Program::compile(condition.trim())
                .and_then(|program| evaluator.evaluate(&program))
                .map_err(|e| format!("if: {}", QuotedError::bare(condition, e)))
        }
    })?;
    value.as_bool().ok_or_else(|| format!("if: {condition:?} must be true or false, got {value}"))
}

/// Evaluates every string in a configuration tree rooted at `field`.
pub fn evaluate_tree(value: &Value, scope: &Scope<'_>, field: &str, budget: &Budget) -> Result<Value, String> {
    // A tree without templates is its own value: no evaluator is set up for it.
    if !holds_template(value) {
        return Ok(value.clone());
    }
    with_scope(scope, budget, |evaluator| tree(evaluator, value, field))
}

/// Whether any string in `value` is a template.
fn holds_template(value: &Value) -> bool {
    match value {
        Value::String(s) => is_template(s),
        Value::Array(items) => items.iter().any(holds_template),
        Value::Object(map) => map.values().any(holds_template),
        _ => false,
    }
}

/// Bare CEL expressions (each `(field, source)`) evaluated with only `variables` (and
/// CEL's standard functions), e.g. an `http` step's expressions over `response`.
pub struct BareExpressions<'e, 'b> {
    evaluator: &'e Evaluator<'b>,
}

impl BareExpressions<'_, '_> {
    pub fn evaluate(&self, field: &str, source: &str) -> Result<Value, String> {
        Program::compile(source.trim())
            .and_then(|program| self.evaluator.evaluate(&program))
            .map_err(|e| format!("{field}: {}", QuotedError::bare(source, e)))
    }
}

/// Runs `work` with bare expressions over `variables`, under one budget.
pub fn with_variables<R: Send>(
    variables: &[(&str, &Value)],
    work: impl FnOnce(&BareExpressions<'_, '_>) -> Result<R, String> + Send,
) -> Result<R, String> {
    let budget = budget();
    on_expression_stack(|| {
        let mut evaluator = Evaluator::new(&budget);
        for (name, value) in variables {
            evaluator.bind(name, value).map_err(|e| e.to_string())?;
        }
        work(&BareExpressions { evaluator: &evaluator })
    })
    .map_err(|e| e.to_string())?
}

#[cfg(test)]
mod tests;
