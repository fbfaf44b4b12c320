//! Template arguments: each template's `args` with their defaults, the values a stage's
//! `verification.args` gives them, and Argo's `{{args.name}}` substitution in provider
//! fields.

use std::collections::BTreeMap;

use crate::spec::AnalysisTemplateSpec;
use crate::spec::analysis_template::AnalysisArgument;

/// The value of every argument of `templates`: the stage's value (already evaluated)
/// over the template's default. An argument with neither is named in the error.
pub fn resolve(
    templates: &[(&str, &AnalysisTemplateSpec)],
    stage_args: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, String> {
    let mut values = BTreeMap::new();
    for (name, template) in templates {
        for AnalysisArgument { name: arg, value, .. } in &template.args {
            let resolved = stage_args.get(arg).cloned().or_else(|| value.clone()).ok_or_else(|| {
                format!("argument {arg:?} of analysis template {name:?} has no value: set it in the stage's spec.verification.args")
            })?;
            values.insert(arg.clone(), resolved);
        }
    }
    // Arguments the stage gives that no template declares are passed on too (Kargo
    // passes every stage argument to the run).
    for (arg, value) in stage_args {
        values.entry(arg.clone()).or_insert_with(|| value.clone());
    }
    Ok(values)
}

/// Replaces `{{args.name}}` (spaces allowed inside the braces) with the argument's
/// value; a reference to an unknown argument is left as written.
pub fn substitute(text: &str, args: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let inner = after[..end].trim();
        match inner.strip_prefix("args.").and_then(|name| args.get(name)) {
            Some(value) => out.push_str(value),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Substitutes in every string of a JSON value (a web metric's `jsonBody`).
pub fn substitute_json(value: &serde_json::Value, args: &BTreeMap<String, String>) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::String(s) => Value::String(substitute(s, args)),
        Value::Array(items) => Value::Array(items.iter().map(|v| substitute_json(v, args)).collect()),
        Value::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), substitute_json(v, args))).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn argument_references_are_replaced_as_argo_does() {
        let a = args(&[("service", "app"), ("ns", "test")]);
        assert_eq!(
            substitute("rate{job=\"{{args.service}}\",ns=\"{{ args.ns }}\"}", &a),
            "rate{job=\"app\",ns=\"test\"}"
        );
        assert_eq!(substitute("{{args.missing}} and {{ unclosed", &a), "{{args.missing}} and {{ unclosed");
    }

    #[test]
    fn the_stage_value_wins_over_the_default_and_a_missing_one_is_named() {
        let spec: AnalysisTemplateSpec = serde_json::from_value(serde_json::json!({
            "args": [{"name": "service", "value": "default"}, {"name": "threshold"}],
            "metrics": []
        }))
        .unwrap();
        let values = resolve(&[("t", &spec)], &args(&[("service", "app"), ("threshold", "5")])).unwrap();
        assert_eq!(values, args(&[("service", "app"), ("threshold", "5")]));
        let error = resolve(&[("t", &spec)], &BTreeMap::new()).unwrap_err();
        assert!(error.contains("\"threshold\"") && error.contains("\"t\""), "{error}");
    }
}

/// What argument expressions read besides `ctx` and `vars`, as Kargo's verification
/// does: the verified freight's artifacts (`commitFrom`, `imageFrom`, `chartFrom`) and
/// the project's metadata (`freightMetadata`, `stageMetadata`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ArgumentScope<'a> {
    /// The freight being verified; `None` when it is gone (its functions are then unknown).
    pub freight: Option<&'a crate::freight::Freight>,
    pub metadata: Option<&'a crate::metadata::ProjectMetadata>,
}

/// Renders the `${{ }}` of each value in order, seeing `ctx.project`, `ctx.stage`, the
/// values rendered before it as `vars` (the stage's template variables come first, then
/// its verification arguments) and the functions of `scope`. Blocking: expressions run
/// on their own thread.
pub fn render_values(
    values: &[(String, String)],
    project: &str,
    stage: &str,
    limits: &crate::expression::ExpressionLimits,
    scope: ArgumentScope<'_>,
) -> Result<Vec<(String, String)>, String> {
    use crate::expression::template::{Part, split};
    use crate::expression::{Budget, Evaluator, Program};
    let mut vars = serde_json::Map::new();
    let mut rendered = Vec::with_capacity(values.len());
    for (name, text) in values {
        let parts = split(text).map_err(|e| format!("{name}: {}: {e}", crate::excerpt::quoted(text)))?;
        let mut out = String::new();
        for part in parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Expression(source) => {
                    let budget = Budget::new(limits);
                    let context = serde_json::json!({"project": project, "stage": stage});
                    let vars_value = serde_json::Value::Object(vars.clone());
                    let value = crate::expression::on_expression_stack(|| {
                        let program = Program::compile(source)?;
                        let mut evaluator = Evaluator::new(&budget);
                        evaluator.bind("ctx", &context)?;
                        evaluator.bind("vars", &vars_value)?;
                        let functions = |e: String| crate::expression::ExpressionError::Internal(e);
                        if let Some(freight) = scope.freight {
                            crate::freight_functions::add(evaluator.context_mut(), std::slice::from_ref(freight))
                                .map_err(functions)?;
                        }
                        let no_metadata = crate::metadata::ProjectMetadata::default();
                        crate::metadata::add(evaluator.context_mut(), scope.metadata.unwrap_or(&no_metadata))
                            .map_err(functions)?;
                        evaluator.evaluate(&program)
                    })
                    .and_then(|r| r)
                    .map_err(|e| format!("{name}: {}", crate::expression::QuotedError::in_template(source, e)))?;
                    match value {
                        serde_json::Value::String(s) => out.push_str(&s),
                        other => out.push_str(&other.to_string()),
                    }
                }
            }
        }
        vars.insert(name.clone(), serde_json::Value::String(out.clone()));
        rendered.push((name.clone(), out));
    }
    Ok(rendered)
}

#[cfg(test)]
mod render_tests {
    use super::*;

    #[test]
    fn arguments_see_the_stage_its_project_and_earlier_values() {
        let values = vec![
            ("service".to_owned(), "app-${{ ctx.project }}".to_owned()),
            ("job".to_owned(), "${{ vars.service }}/${{ ctx.stage }}".to_owned()),
        ];
        let none = ArgumentScope::default();
        let rendered = render_values(&values, "demo", "test", &Default::default(), none).unwrap();
        assert_eq!(rendered[1], ("job".to_owned(), "app-demo/test".to_owned()));
        let bad = vec![("x".to_owned(), "${{ nope.y }}".to_owned())];
        assert!(render_values(&bad, "demo", "test", &Default::default(), none).unwrap_err().starts_with("x: "));
    }

    #[test]
    fn given_freight_and_metadata_when_arguments_render_then_they_read_them_as_kargo_does() {
        let freight = crate::freight::Freight {
            images: vec![crate::freight::Image {
                repo_url: "ghcr.io/org/app".into(),
                tag: "1.2.3".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut metadata = crate::metadata::ProjectMetadata::default();
        metadata.stages.insert("test".into(), [("canary".to_owned(), serde_json::json!("eu-1"))].into());
        metadata.freight.insert("abc".into(), [("ticket".to_owned(), serde_json::json!(42))].into());
        let values = vec![
            ("tag".to_owned(), "${{ imageFrom('ghcr.io/org/app').Tag }}".to_owned()),
            ("region".to_owned(), "${{ stageMetadata(ctx.stage, 'canary') }}".to_owned()),
            ("ticket".to_owned(), "T-${{ freightMetadata('abc').ticket }}".to_owned()),
        ];
        let scope = ArgumentScope { freight: Some(&freight), metadata: Some(&metadata) };
        let rendered = render_values(&values, "demo", "test", &Default::default(), scope).unwrap();
        let texts: Vec<&str> = rendered.iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(texts, ["1.2.3", "eu-1", "T-42"]);
        // Without a freight, its functions are unknown and the error names the argument.
        let error = render_values(&values[..1], "demo", "test", &Default::default(), ArgumentScope::default());
        assert!(error.unwrap_err().starts_with("tag: "));
    }
}
