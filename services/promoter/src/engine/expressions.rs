//! `${{ … }}` expressions in step configuration, evaluated with a CEL interpreter and
//! Kargo's names: `vars`, `ctx`, `outputs`, `commitFrom`, `imageFrom`, `chartFrom`.
//!
//! A string that is exactly one expression keeps the expression's type (number, bool,
//! object); expressions inside longer strings are interpolated as text.

use std::collections::BTreeMap;
use std::sync::Arc;

use cel::{Context, ExecutionError, Program, Value as CelValue};
use lading_domain::Freight;
use serde_json::{Map, Value, json};

/// Everything an expression can see.
pub struct Scope<'a> {
    pub vars: &'a Map<String, Value>,
    pub ctx: &'a Value,
    pub outputs: &'a Map<String, Value>,
    pub freight: &'a Freight,
    /// How earlier steps ended, by alias: `Succeeded`, `Failed`, `Errored` or `Skipped`.
    pub step_status: &'a BTreeMap<String, String>,
    /// Whether an earlier step failed (and the promotion is failing).
    pub failed: bool,
    /// Inside a task: `{outputs: {...}}` of the task's own steps; null elsewhere.
    pub task: &'a Value,
}

/// Parses `1.2.3` or `v1.2.3`.
fn parse_semver(text: &str) -> Result<semver::Version, String> {
    semver::Version::parse(text.strip_prefix('v').unwrap_or(text))
        .map_err(|e| format!("{text:?} is not a semantic version: {e}"))
}

/// The most significant part in which two versions differ: `Major`, `Minor`, `Patch`,
/// `Prerelease`, `Metadata`, `None`, or `Incomparable` when either is not a version.
fn semver_diff(a: &str, b: &str) -> &'static str {
    let (Ok(a), Ok(b)) = (parse_semver(a), parse_semver(b)) else { return "Incomparable" };
    if a.major != b.major {
        "Major"
    } else if a.minor != b.minor {
        "Minor"
    } else if a.patch != b.patch {
        "Patch"
    } else if a.pre != b.pre {
        "Prerelease"
    } else if a.build != b.build {
        "Metadata"
    } else {
        "None"
    }
}

fn to_cel(value: &Value) -> Result<CelValue, String> {
    cel::to_value(value).map_err(|e| e.to_string())
}

/// Converts a CEL result back to JSON.
fn from_cel(value: &CelValue) -> Result<Value, String> {
    Ok(match value {
        CelValue::Null => Value::Null,
        CelValue::Bool(b) => json!(b),
        CelValue::Int(i) => json!(i),
        CelValue::UInt(u) => json!(u),
        CelValue::Float(f) => json!(f),
        CelValue::String(s) => json!(s.as_str()),
        CelValue::List(items) => Value::Array(items.iter().map(from_cel).collect::<Result<_, _>>()?),
        CelValue::Map(map) => {
            let mut out = Map::new();
            for (key, value) in map.map.iter() {
                let key = match key {
                    cel::objects::Key::String(s) => s.to_string(),
                    cel::objects::Key::Int(i) => i.to_string(),
                    cel::objects::Key::Uint(u) => u.to_string(),
                    cel::objects::Key::Bool(b) => b.to_string(),
                };
                out.insert(key, from_cel(value)?);
            }
            Value::Object(out)
        }
        other => {
            return Err(format!("expression produced a value Lading cannot use: {other:?}"));
        }
    })
}

fn build_context(scope: &Scope<'_>) -> Result<Context<'static, 'static>, String> {
    let mut context = Context::default();
    context.add_variable_from_value("vars", to_cel(&Value::Object(scope.vars.clone()))?);
    context.add_variable_from_value("ctx", to_cel(scope.ctx)?);
    context.add_variable_from_value("outputs", to_cel(&Value::Object(scope.outputs.clone()))?);
    context.add_variable_from_value("task", to_cel(scope.task)?);

    let failed = scope.failed;
    context.add_function("success", move || !failed).map_err(|e| e.to_string())?;
    context.add_function("failure", move || failed).map_err(|e| e.to_string())?;
    context.add_function("always", || true).map_err(|e| e.to_string())?;
    let statuses = Arc::new(scope.step_status.clone());
    context
        .add_function("status", move |alias: Arc<String>| -> Result<CelValue, ExecutionError> {
            let status = statuses.get(alias.as_str()).ok_or_else(|| {
                ExecutionError::function_error("status", format!("no earlier step is named {alias:?}"))
            })?;
            Ok(CelValue::String(Arc::new(status.clone())))
        })
        .map_err(|e| e.to_string())?;
    context
        .add_function("semverParse", |version: Arc<String>| -> Result<CelValue, ExecutionError> {
            let parsed = parse_semver(&version).map_err(|e| ExecutionError::function_error("semverParse", e))?;
            cel::to_value(json!({
                "Major": parsed.major, "Minor": parsed.minor, "Patch": parsed.patch,
                "Prerelease": parsed.pre.as_str(), "Metadata": parsed.build.as_str(),
            }))
            .map_err(|e| ExecutionError::function_error("semverParse", e))
        })
        .map_err(|e| e.to_string())?;
    context
        .add_function("semverDiff", |a: Arc<String>, b: Arc<String>| -> CelValue {
            CelValue::String(Arc::new(semver_diff(&a, &b).to_owned()))
        })
        .map_err(|e| e.to_string())?;
    lading_domain::freight_functions::add(&mut context, scope.freight)?;
    context
        .add_function("quote", |value: CelValue| -> Result<CelValue, ExecutionError> {
            let json = from_cel(&value).map_err(|e| ExecutionError::function_error("quote", e))?;
            let text = match json {
                Value::String(s) => s,
                other => other.to_string(),
            };
            Ok(CelValue::String(Arc::new(format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\"")))))
        })
        .map_err(|e| e.to_string())?;
    Ok(context)
}

fn evaluate_expression(source: &str, context: &Context<'_, '_>) -> Result<Value, String> {
    let program = Program::compile(source).map_err(|e| format!("expression {source:?} does not parse: {e}"))?;
    let value = program.execute(context).map_err(|e| format!("expression {source:?} failed: {e}"))?;
    from_cel(&value)
}

/// Splits a template into literal text and expression sources.
fn parse_template(template: &str) -> Result<Vec<(bool, &str)>, String> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("${{") {
        if start > 0 {
            parts.push((false, &rest[..start]));
        }
        let after = &rest[start + 3..];
        let end = after.find("}}").ok_or_else(|| format!("unterminated ${{{{ in {template:?}"))?;
        parts.push((true, after[..end].trim()));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        parts.push((false, rest));
    }
    Ok(parts)
}

/// Evaluates one string template.
pub fn evaluate_string(template: &str, scope: &Scope<'_>) -> Result<Value, String> {
    if !template.contains("${{") {
        return Ok(Value::String(template.to_owned()));
    }
    let parts = parse_template(template)?;
    let context = build_context(scope)?;
    if let [(true, source)] = parts.as_slice() {
        return evaluate_expression(source, &context);
    }
    let mut out = String::new();
    for (is_expression, text) in parts {
        if is_expression {
            match evaluate_expression(text, &context)? {
                Value::String(s) => out.push_str(&s),
                Value::Null => {}
                other => out.push_str(&other.to_string()),
            }
        } else {
            out.push_str(text);
        }
    }
    Ok(Value::String(out))
}

/// Evaluates a step's `if`: a `${{ … }}` template or a bare expression, which must be a
/// boolean.
pub fn evaluate_condition(condition: &str, scope: &Scope<'_>) -> Result<bool, String> {
    let value = if condition.contains("${{") {
        evaluate_string(condition, scope)?
    } else {
        evaluate_expression(condition, &build_context(scope)?)?
    };
    value.as_bool().ok_or_else(|| format!("if: {condition:?} must be true or false, got {value}"))
}

/// Evaluates a bare CEL expression with only the given variables (and CEL's standard
/// functions), e.g. an `http` step's `successExpression` over `response`.
pub fn evaluate_with(expression: &str, variables: &[(&str, &Value)]) -> Result<Value, String> {
    let mut context = Context::default();
    for (name, value) in variables {
        context.add_variable_from_value(*name, to_cel(value)?);
    }
    evaluate_expression(expression, &context)
}

/// Evaluates every string in a configuration tree.
pub fn evaluate_tree(value: &Value, scope: &Scope<'_>) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) => evaluate_string(s, scope)?,
        Value::Array(items) => Value::Array(items.iter().map(|v| evaluate_tree(v, scope)).collect::<Result<_, _>>()?),
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                out.insert(k.clone(), evaluate_tree(v, scope)?);
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn freight() -> Freight {
        Freight::from_warehouse("app")
            .with_commit("https://git.example.com/app.git", "abc123")
            .with_image("docker.io/library/nginx", "1.27.0", "sha256:00")
            .with_chart("oci://ghcr.io/x/charts", "app", "1.2.3")
    }

    fn with_scope<R>(f: impl FnOnce(&Scope<'_>) -> R) -> R {
        let mut vars = Map::new();
        vars.insert("repo".into(), json!("https://git.example.com/app"));
        vars.insert("replicas".into(), json!(3));
        let ctx = json!({"project": "demo", "stage": "test", "promotion": "test.x.abc"});
        let mut outputs = Map::new();
        outputs.insert("commit".into(), json!({"commit": "deadbeef"}));
        let freight = freight();
        let statuses = BTreeMap::from([("commit".to_owned(), "Succeeded".to_owned())]);
        let task = json!({"outputs": {"clone": {"commit": "c0ffee"}}});
        f(&Scope {
            vars: &vars,
            ctx: &ctx,
            outputs: &outputs,
            freight: &freight,
            step_status: &statuses,
            failed: false,
            task: &task,
        })
    }

    #[test]
    fn plain_strings_pass_through() {
        with_scope(|s| assert_eq!(evaluate_string("hello", s).unwrap(), json!("hello")));
    }

    #[test]
    fn interpolates_kargo_names() {
        with_scope(|s| {
            assert_eq!(evaluate_string("stage/${{ ctx.stage }}", s).unwrap(), json!("stage/test"));
            assert_eq!(evaluate_string("${{ ctx.project }}-${{ ctx.stage }}", s).unwrap(), json!("demo-test"));
            assert_eq!(evaluate_string("${{ outputs.commit.commit }}", s).unwrap(), json!("deadbeef"));
            assert_eq!(evaluate_string("${{ task.outputs.clone.commit }}", s).unwrap(), json!("c0ffee"));
        });
    }

    #[test]
    fn a_whole_string_expression_keeps_its_type() {
        with_scope(|s| {
            assert_eq!(evaluate_string("${{ vars.replicas }}", s).unwrap(), json!(3));
            assert_eq!(evaluate_string("${{ vars.replicas > 2 }}", s).unwrap(), json!(true));
            assert_eq!(evaluate_string("n=${{ vars.replicas }}", s).unwrap(), json!("n=3"));
        });
    }

    #[test]
    fn artifact_functions_match_normalized_urls() {
        with_scope(|s| {
            assert_eq!(evaluate_string("${{ commitFrom(vars.repo).ID }}", s).unwrap(), json!("abc123"));
            assert_eq!(evaluate_string("${{ imageFrom('nginx').Tag }}", s).unwrap(), json!("1.27.0"));
            assert_eq!(
                evaluate_string("${{ chartFrom('oci://ghcr.io/x/charts', 'app').Version }}", s).unwrap(),
                json!("1.2.3")
            );
            assert_eq!(evaluate_string("${{ quote(vars.replicas) }}", s).unwrap(), json!("\"3\""));
        });
    }

    #[test]
    fn errors_name_the_expression() {
        with_scope(|s| {
            let e = evaluate_string("${{ commitFrom('https://other/repo').ID }}", s).unwrap_err();
            assert!(e.contains("no commit from https://other/repo"), "{e}");
            assert!(evaluate_string("${{ (( }}", s).unwrap_err().contains("does not parse"));
            assert!(evaluate_string("${{ vars.x", s).unwrap_err().contains("unterminated"));
        });
    }

    #[test]
    fn semver_functions_follow_kargo() {
        with_scope(|s| {
            assert_eq!(evaluate_string("${{ semverParse('v1.27.3-rc.1').Minor }}", s).unwrap(), json!(27));
            assert_eq!(evaluate_string("${{ semverParse('1.2.3-rc.1+b5').Prerelease }}", s).unwrap(), json!("rc.1"));
            assert_eq!(evaluate_string("${{ semverDiff('1.2.3', '1.3.0') }}", s).unwrap(), json!("Minor"));
            assert_eq!(evaluate_string("${{ semverDiff('v2.0.0', '1.9.9') }}", s).unwrap(), json!("Major"));
            assert_eq!(evaluate_string("${{ semverDiff('1.2.3', '1.2.3') }}", s).unwrap(), json!("None"));
            assert_eq!(evaluate_string("${{ semverDiff('1.2.3', 'latest') }}", s).unwrap(), json!("Incomparable"));
            assert!(
                evaluate_string("${{ semverParse('latest').Major }}", s)
                    .unwrap_err()
                    .contains("not a semantic version")
            );
        });
    }

    #[test]
    fn conditions_see_how_earlier_steps_went() {
        with_scope(|s| {
            assert!(evaluate_condition("${{ success() }}", s).unwrap());
            assert!(!evaluate_condition("failure()", s).unwrap());
            assert!(evaluate_condition("${{ always() }}", s).unwrap());
            assert!(evaluate_condition("${{ status('commit') == 'Succeeded' }}", s).unwrap());
            assert!(evaluate_condition("status('nope') == 'x'", s).unwrap_err().contains("no earlier step"));
            assert!(evaluate_condition("${{ vars.replicas }}", s).unwrap_err().contains("must be true or false"));
        });
    }

    #[test]
    fn trees_are_evaluated_recursively() {
        with_scope(|s| {
            let config = json!({"checkout": [{"branch": "stage/${{ ctx.stage }}", "create": true}]});
            assert_eq!(
                evaluate_tree(&config, s).unwrap(),
                json!({"checkout": [{"branch": "stage/test", "create": true}]})
            );
        });
    }
}
