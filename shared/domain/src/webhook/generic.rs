//! The `generic` receiver: any POST to its path runs its actions. An action whose
//! `whenExpression` holds (or that has none) refreshes the warehouses its
//! `targetSelectionCriteria` select: by exact `name`, by `labelSelector`, by
//! `indexSelector` on `subscribedURLs`; every criterion of one entry must hold, and the
//! entries add up. Expressions are CEL, bounded like every other expression, and see:
//!
//! - `request.body`: the JSON body (null when there is none);
//! - `request.header(name)` (first value, `""` when absent), `request.headers(name)`
//!   (every value), `request.params(name)` (a query parameter, `""` when absent);
//! - `params`: the action's `parameters`, themselves templates over `request`;
//! - `normalizeGit(url)`, `normalizeImage(url)`, `normalizeChart(url)`: URLs as
//!   subscriptions are compared.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use cel::Value as CelValue;
use cel::extractors::This;
use serde_json::{Value, json};

use super::push::{chart_key, git_key, image_key};
use super::selection::subscribed_urls;
use super::{WarehouseRef, WebhookError, WebhookRequest};
use crate::expression::template::{self, Part, is_template};
use crate::expression::{Budget, Evaluator, ExpressionError, ExpressionLimits, Program, QuotedError};
use crate::spec::webhook_receiver::{GenericAction, TargetSelectionCriteria};
use crate::spec::{GenericReceiver, StageSelector};

/// The functions a generic receiver's expressions may call.
pub const FUNCTIONS: [&str; 6] = ["header", "headers", "params", "normalizeGit", "normalizeImage", "normalizeChart"];

/// The variables a generic receiver's expressions see.
pub const VARIABLES: [&str; 2] = ["request", "params"];

/// What one action did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionOutcome {
    pub action: String,
    pub matched_when_expression: bool,
    /// The warehouses the action selects, sorted.
    pub warehouses: Vec<String>,
}

/// Runs `receiver`'s actions (at `field`, e.g. `spec.webhookReceivers[0].generic`) on
/// `request`, against the project's `warehouses`. Blocking: expressions run on a thread
/// of their own.
pub fn run_actions(
    receiver: &GenericReceiver,
    field: &str,
    request: &WebhookRequest<'_>,
    warehouses: &[WarehouseRef<'_>],
    limits: &ExpressionLimits,
) -> Result<Vec<ActionOutcome>, WebhookError> {
    let body: Value = if request.body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        super::request::payload("generic", request.body)?
    };
    let budget = Budget::new(limits);
    let outcome = crate::expression::on_expression_stack(|| {
        let mut evaluator = Evaluator::new(&budget);
        evaluator
            .bind("request", &json!({"body": body}))
            .map_err(|e| WebhookError::Action(format!("{field}: the request: {e}")))?;
        add_functions(&mut evaluator, request)?;
        receiver
            .actions
            .iter()
            .enumerate()
            .map(|(i, action)| run_action(&mut evaluator, action, &format!("{field}.actions[{i}]"), warehouses))
            .collect::<Result<Vec<_>, _>>()
    });
    outcome.map_err(|e| WebhookError::Action(format!("{field}: {e}")))?
}

fn add_functions(evaluator: &mut Evaluator<'_>, request: &WebhookRequest<'_>) -> Result<(), WebhookError> {
    let headers: Arc<Vec<(String, String)>> = Arc::new(request.headers.clone());
    let query: Arc<Vec<(String, String)>> = Arc::new(request.query.clone());
    let context = evaluator.context_mut();
    let declared = |e: cel::DeclarationError| WebhookError::Action(format!("declaring functions: {e}"));
    let first = headers.clone();
    context
        .add_function("header", move |This(_request): This<CelValue>, name: Arc<String>| -> String {
            first.iter().find(|(n, _)| n.eq_ignore_ascii_case(&name)).map(|(_, v)| v.clone()).unwrap_or_default()
        })
        .map_err(declared)?;
    context
        .add_function("headers", move |This(_request): This<CelValue>, name: Arc<String>| -> CelValue {
            let values: Vec<CelValue> = headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(&name))
                .map(|(_, v)| CelValue::String(Arc::new(v.clone())))
                .collect();
            CelValue::List(Arc::new(values))
        })
        .map_err(declared)?;
    context
        .add_function("params", move |This(_request): This<CelValue>, name: Arc<String>| -> String {
            query.iter().find(|(n, _)| **n == *name).map(|(_, v)| v.clone()).unwrap_or_default()
        })
        .map_err(declared)?;
    context.add_function("normalizeGit", |url: Arc<String>| git_key(&url)).map_err(declared)?;
    context.add_function("normalizeImage", |url: Arc<String>| image_key(&url)).map_err(declared)?;
    context.add_function("normalizeChart", |url: Arc<String>| chart_key(&url)).map_err(declared)?;
    Ok(())
}

fn run_action(
    evaluator: &mut Evaluator<'_>,
    action: &GenericAction,
    field: &str,
    warehouses: &[WarehouseRef<'_>],
) -> Result<ActionOutcome, WebhookError> {
    let mut params = serde_json::Map::new();
    evaluator.bind("params", &Value::Object(params.clone())).map_err(|e| WebhookError::Action(e.to_string()))?;
    for (name, value) in &action.parameters {
        let value = text(evaluator, value, &format!("{field}.parameters.{name}"))?;
        params.insert(name.clone(), Value::String(value));
    }
    evaluator.bind("params", &Value::Object(params)).map_err(|e| WebhookError::Action(e.to_string()))?;
    let matched = when(evaluator, action.when_expression.trim(), &format!("{field}.whenExpression"))?;
    let mut selected = BTreeSet::new();
    if matched {
        for (i, criteria) in action.target_selection_criteria.iter().enumerate() {
            let field = format!("{field}.targetSelectionCriteria[{i}]");
            selected.extend(select(evaluator, criteria, &field, warehouses)?);
        }
    }
    Ok(ActionOutcome {
        action: action.action.clone(),
        matched_when_expression: matched,
        warehouses: selected.into_iter().collect(),
    })
}

fn when(evaluator: &Evaluator<'_>, source: &str, field: &str) -> Result<bool, WebhookError> {
    if source.is_empty() {
        return Ok(true);
    }
    let value = match template::split(source) {
        Ok(parts) if is_template(source) => match parts.as_slice() {
            [Part::Expression(inner)] => evaluate(evaluator, inner, field, true)?,
            _ => Value::String(text(evaluator, source, field)?),
        },
        _ => evaluate(evaluator, source, field, false)?,
    };
    match value {
        Value::Bool(holds) => Ok(holds),
        other => Err(WebhookError::Action(format!(
            "{field}: {}: must yield a bool, not {}",
            crate::excerpt::quoted(source),
            crate::expression::values::type_name(&other)
        ))),
    }
}

fn evaluate(evaluator: &Evaluator<'_>, source: &str, field: &str, in_template: bool) -> Result<Value, WebhookError> {
    Program::compile(source)
        .and_then(|program| {
            program.check_names(&FUNCTIONS, &VARIABLES)?;
            evaluator.evaluate(&program)
        })
        .map_err(|e: ExpressionError| {
            let quoted = if in_template { QuotedError::in_template(source, e) } else { QuotedError::bare(source, e) };
            WebhookError::Action(format!("{field}: {quoted}"))
        })
}

/// A string field: itself, or its template's value as text.
fn text(evaluator: &Evaluator<'_>, value: &str, field: &str) -> Result<String, WebhookError> {
    if !is_template(value) {
        return Ok(value.to_owned());
    }
    let parts = template::split(value)
        .map_err(|e| WebhookError::Action(format!("{field}: {}: {e}", crate::excerpt::quoted(value))))?;
    let mut out = String::new();
    for part in parts {
        match part {
            Part::Text(text) => out.push_str(text),
            Part::Expression(source) => match evaluate(evaluator, source, field, true)? {
                Value::String(s) => out.push_str(&s),
                Value::Null => {}
                other => out.push_str(&other.to_string()),
            },
        }
    }
    Ok(out)
}

fn select(
    evaluator: &Evaluator<'_>,
    criteria: &TargetSelectionCriteria,
    field: &str,
    warehouses: &[WarehouseRef<'_>],
) -> Result<Vec<String>, WebhookError> {
    let name = match criteria.name.as_str() {
        "" => None,
        name => Some(text(evaluator, name, &format!("{field}.name"))?),
    };
    let mut labels = StageSelector::default();
    for (key, value) in &criteria.label_selector.match_labels {
        let value = text(evaluator, value, &format!("{field}.labelSelector.matchLabels.{key}"))?;
        labels.match_labels.insert(key.clone(), value);
    }
    for (i, requirement) in criteria.label_selector.match_expressions.iter().enumerate() {
        let mut requirement = requirement.clone();
        for (j, value) in requirement.values.iter_mut().enumerate() {
            *value = text(evaluator, value, &format!("{field}.labelSelector.matchExpressions[{i}].values[{j}]"))?;
        }
        labels.match_expressions.push(requirement);
    }
    let mut indices = Vec::new();
    for (i, index) in criteria.index_selector.match_indices.iter().enumerate() {
        let value = text(evaluator, &index.value, &format!("{field}.indexSelector.matchIndices[{i}].value"))?;
        indices.push((index.operator == "Equals", value));
    }
    let no_labels = BTreeMap::new();
    Ok(warehouses
        .iter()
        .filter(|w| name.as_ref().is_none_or(|n| n == w.name))
        .filter(|w| labels.selects(w.name, if w.labels.is_empty() { &no_labels } else { w.labels }))
        .filter(|w| {
            let urls = subscribed_urls(w.spec);
            indices.iter().all(|(equals, value)| urls.contains(value) == *equals)
        })
        .map(|w| w.name.to_owned())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{GitSubscription, Subscription, WarehouseSpec};

    fn receiver(actions: Value) -> GenericReceiver {
        serde_json::from_value(json!({"secretRef": {"name": "s"}, "actions": actions})).unwrap()
    }

    fn on(url: &str) -> WarehouseSpec {
        let git = GitSubscription { repo_url: url.to_owned(), ..GitSubscription::default() };
        WarehouseSpec {
            subscriptions: vec![Subscription { git: Some(git), ..Default::default() }],
            ..Default::default()
        }
    }

    struct Project {
        specs: Vec<(String, BTreeMap<String, String>, WarehouseSpec)>,
    }

    impl Project {
        fn new() -> Project {
            let labels = |team: &str| BTreeMap::from([("team".to_owned(), team.to_owned())]);
            Project {
                specs: vec![
                    ("api".into(), labels("backend"), on("https://github.com/org/api.git")),
                    ("ui".into(), labels("frontend"), on("https://github.com/org/ui.git")),
                    ("worker".into(), labels("backend"), on("https://github.com/org/worker.git")),
                ],
            }
        }

        fn refs(&self) -> Vec<WarehouseRef<'_>> {
            self.specs.iter().map(|(name, labels, spec)| WarehouseRef { name, labels, spec }).collect()
        }
    }

    fn run(actions: Value, request: &WebhookRequest<'_>) -> Result<Vec<ActionOutcome>, WebhookError> {
        let project = Project::new();
        run_actions(
            &receiver(actions),
            "spec.webhookReceivers[0].generic",
            request,
            &project.refs(),
            &Default::default(),
        )
    }

    #[test]
    fn an_action_selects_warehouses_by_name_from_the_body_when_its_expression_holds() {
        // Given an action refreshing the warehouse the body names, on push events only,
        let actions = json!([{"action": "Refresh",
            "whenExpression": "request.header('X-Event-Type') == 'push'",
            "targetSelectionCriteria": [{"kind": "Warehouse", "name": "${{ request.body.repository.name }}"}]}]);
        let body = br#"{"repository": {"name": "ui"}}"#;
        // when a push comes, the named warehouse is selected;
        let push = WebhookRequest::new(body).with_header("x-event-type", "push");
        let outcome = run(actions.clone(), &push).unwrap();
        assert_eq!(outcome[0].warehouses, vec!["ui"]);
        assert!(outcome[0].matched_when_expression);
        // when something else comes, nothing is.
        let other = WebhookRequest::new(body).with_header("X-Event-Type", "issue");
        let outcome = run(actions, &other).unwrap();
        assert!(!outcome[0].matched_when_expression && outcome[0].warehouses.is_empty());
    }

    #[test]
    fn labels_and_subscribed_urls_select_and_criteria_add_up() {
        let actions = json!([{"action": "Refresh", "parameters": {"team": "${{ request.params('team') }}"},
            "targetSelectionCriteria": [
                {"kind": "Warehouse", "labelSelector": {"matchLabels": {"team": "${{ params.team }}"}}},
                {"kind": "Warehouse", "indexSelector": {"matchIndices": [
                    {"key": "subscribedURLs", "operator": "Equals", "value": "${{ normalizeGit(request.body.url) }}"}]}}]}]);
        let body = br#"{"url": "git@github.com:org/UI.git"}"#;
        let mut request = WebhookRequest::new(body);
        request.query.push(("team".into(), "backend".into()));
        // git@ URLs normalize to ssh://, which no warehouse subscribes to…
        assert_eq!(run(actions.clone(), &request).unwrap()[0].warehouses, vec!["api", "worker"]);
        let body = br#"{"url": "https://github.com/org/UI"}"#;
        let mut request = WebhookRequest::new(body);
        request.query.push(("team".into(), "backend".into()));
        // …while the HTTPS URL does.
        assert_eq!(run(actions, &request).unwrap()[0].warehouses, vec!["api", "ui", "worker"]);
    }

    #[test]
    fn a_failing_expression_is_named_by_its_field_and_a_non_json_body_is_refused() {
        let actions = json!([{"action": "Refresh", "whenExpression": "request.body.missing.field == 'x'",
            "targetSelectionCriteria": [{"kind": "Warehouse", "name": "api"}]}]);
        let error = run(actions.clone(), &WebhookRequest::new(b"{}")).unwrap_err();
        assert_eq!(error.status(), 422);
        assert!(
            error.to_string().starts_with("spec.webhookReceivers[0].generic.actions[0].whenExpression:"),
            "{error}"
        );
        let error = run(actions, &WebhookRequest::new(b"not json")).unwrap_err();
        assert_eq!(error.status(), 400);
        let not_bool = json!([{"action": "Refresh", "whenExpression": "'yes'",
            "targetSelectionCriteria": [{"kind": "Warehouse", "name": "api"}]}]);
        assert!(run(not_bool, &WebhookRequest::new(b"")).unwrap_err().to_string().contains("must yield a bool"));
    }

    #[test]
    fn an_action_without_when_expression_always_runs_and_an_empty_body_is_null() {
        let actions =
            json!([{"action": "Refresh", "targetSelectionCriteria": [{"kind": "Warehouse", "name": "worker"}]}]);
        assert_eq!(run(actions, &WebhookRequest::new(b"")).unwrap()[0].warehouses, vec!["worker"]);
    }

    #[test]
    fn a_runaway_expression_stops_at_its_budget() {
        let r = format!("[{}]", (0..300).map(|i| i.to_string()).collect::<Vec<_>>().join(","));
        let actions = json!([{"action": "Refresh",
            "whenExpression": format!("{r}.all(a, {r}.all(b, {r}.all(c, true)))"),
            "targetSelectionCriteria": [{"kind": "Warehouse", "name": "api"}]}]);
        let error = run(actions, &WebhookRequest::new(b"")).unwrap_err();
        assert!(error.to_string().contains("time budget"), "{error}");
    }
}
