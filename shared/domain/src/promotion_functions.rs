//! The functions and variables of a promotion step's expressions, with Kargo's names:
//! `vars`, `ctx`, `outputs`, `task`; `quote()`, `unsafeQuote()`, `asYAML()`, `asJSON()`,
//! `semverParse()`, `semverDiff()`,
//! `success()`, `failure()`, `always()`, `status(alias)`, `secret(name)`, and the freight
//! functions of [`crate::freight_functions`].

use std::collections::BTreeMap;
use std::sync::Arc;

use cel::common::types::CelString;
use cel::common::value::CowVal;
use cel::{Context, ExecutionError, Value as CelValue};
use serde_json::{Value, json};

use crate::expression::evaluator::function;
use crate::expression::values::to_json;

/// The functions [`add`] and [`add_secret`] add.
pub const FUNCTIONS: [&str; 11] = [
    "quote",
    "unsafeQuote",
    "asYAML",
    "asJSON",
    "semverParse",
    "semverDiff",
    "success",
    "failure",
    "always",
    "status",
    "secret",
];
/// The variables a step's expressions see.
pub const VARIABLES: [&str; 4] = ["vars", "ctx", "outputs", "task"];
/// The fields of `ctx`.
pub const CONTEXT_FIELDS: [&str; 4] = ["project", "stage", "promotion", "targetFreight"];

/// Every function a step's expressions may call besides CEL's.
pub fn all_functions() -> Vec<&'static str> {
    FUNCTIONS
        .iter()
        .chain(crate::freight_functions::FUNCTIONS.iter())
        .chain(crate::freight_functions::ORIGIN_FUNCTIONS.iter())
        .chain(crate::metadata::FUNCTIONS.iter())
        .copied()
        .collect()
}

/// Parses `1.2.3` or `v1.2.3`.
fn parse_semver(text: &str) -> Result<semver::Version, String> {
    semver::Version::parse(text.strip_prefix('v').unwrap_or(text))
        .map_err(|e| format!("{} is not a semantic version: {e}", crate::excerpt::quoted(text)))
}

/// The most significant part in which two versions differ: `Major`, `Minor`, `Patch`,
/// `Prerelease`, `Metadata`, `None`, or `Incomparable` when either is not a version.
pub fn semver_diff(a: &str, b: &str) -> &'static str {
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

/// `"text"`, with `\` and `"` escaped; a value other than a string as its JSON.
fn quote(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Adds the promotion functions: `statuses` says how earlier steps ended, by alias, and
/// `failed` whether one failed the promotion.
pub fn add(context: &mut Context<'_, '_>, statuses: &BTreeMap<String, String>, failed: bool) -> Result<(), String> {
    let declared = |e: cel::DeclarationError| e.to_string();
    context.add_function("success", move || !failed).map_err(declared)?;
    context.add_function("failure", move || failed).map_err(declared)?;
    context.add_function("always", || true).map_err(declared)?;
    let statuses = Arc::new(statuses.clone());
    context
        .add_function("status", move |alias: Arc<String>| -> Result<CelValue, ExecutionError> {
            let status = statuses.get(alias.as_str()).ok_or_else(|| {
                ExecutionError::function_error("status", format!("no earlier step is named {alias:?}"))
            })?;
            Ok(CelValue::String(Arc::new(status.clone())))
        })
        .map_err(declared)?;
    context
        .add_function("semverParse", |version: Arc<String>| -> Result<CelValue, ExecutionError> {
            let parsed = parse_semver(&version).map_err(|e| ExecutionError::function_error("semverParse", e))?;
            cel::to_value(json!({
                "Major": parsed.major, "Minor": parsed.minor, "Patch": parsed.patch,
                "Prerelease": parsed.pre.as_str(), "Metadata": parsed.build.as_str(),
            }))
            .map_err(|e| ExecutionError::function_error("semverParse", e))
        })
        .map_err(declared)?;
    context
        .add_function("semverDiff", |a: Arc<String>, b: Arc<String>| -> CelValue {
            CelValue::String(Arc::new(semver_diff(&a, &b).to_owned()))
        })
        .map_err(declared)?;
    let quote_value = function(|call| {
        let value = call.this.take().or_else(|| call.args.pop()).ok_or(ExecutionError::MissingArgumentOrTarget)?;
        let json = to_json(value.as_ref()).map_err(|e| ExecutionError::function_error("quote", e))?;
        Ok(CowVal::owned(CelString::from(quote(&json))))
    });
    context.add_function("quote", quote_value).map_err(declared)?;
    // As `quote`, but a string keeps quotes of its own: `"\"text\""`.
    let unsafe_quote = function(|call| {
        let value = call.this.take().or_else(|| call.args.pop()).ok_or(ExecutionError::MissingArgumentOrTarget)?;
        let json = to_json(value.as_ref()).map_err(|e| ExecutionError::function_error("unsafeQuote", e))?;
        let quoted = match &json {
            Value::String(_) => quote(&Value::String(quote(&json))),
            other => quote(other),
        };
        Ok(CowVal::owned(CelString::from(quoted)))
    });
    context.add_function("unsafeQuote", unsafe_quote).map_err(declared)?;
    let as_yaml = function(|call| {
        let value = call.this.take().or_else(|| call.args.pop()).ok_or(ExecutionError::MissingArgumentOrTarget)?;
        let json = to_json(value.as_ref()).map_err(|e| ExecutionError::function_error("asYAML", e))?;
        let yaml = serde_saphyr::to_string(&json).map_err(|e| ExecutionError::function_error("asYAML", e))?;
        Ok(CowVal::owned(CelString::from(yaml)))
    });
    context.add_function("asYAML", as_yaml).map_err(declared)?;
    let as_json = function(|call| {
        let value = call.this.take().or_else(|| call.args.pop()).ok_or(ExecutionError::MissingArgumentOrTarget)?;
        let json = to_json(value.as_ref()).map_err(|e| ExecutionError::function_error("asJSON", e))?;
        let text = serde_json::to_string_pretty(&json).map_err(|e| ExecutionError::function_error("asJSON", e))?;
        Ok(CowVal::owned(CelString::from(format!("{text}\n"))))
    });
    context.add_function("asJSON", as_json).map_err(declared)?;
    Ok(())
}

/// Adds `secret(name)`: the secret's keys and values (Kargo's function), read through
/// `access`, which records every value it reveals. Without access (a tool, a test),
/// every secret is unknown.
pub fn add_secret(context: &mut Context<'_, '_>, access: Option<crate::secrets::SecretAccess>) -> Result<(), String> {
    context
        .add_function("secret", move |name: Arc<String>| -> Result<CelValue, ExecutionError> {
            let access = access
                .as_ref()
                .ok_or_else(|| ExecutionError::function_error("secret", "no secrets are configured here"))?;
            let data = access.read(&name).map_err(|e| ExecutionError::function_error("secret", e))?;
            cel::to_value(&data).map_err(|e| ExecutionError::function_error("secret", e))
        })
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expression::{Budget, Evaluator, ExpressionLimits, Program};

    #[test]
    fn semver_diff_names_the_most_significant_difference() {
        assert_eq!(semver_diff("1.2.3", "1.3.0"), "Minor");
        assert_eq!(semver_diff("v2.0.0", "1.9.9"), "Major");
        assert_eq!(semver_diff("1.2.3", "1.2.3"), "None");
        assert_eq!(semver_diff("1.2.3", "latest"), "Incomparable");
        assert_eq!(semver_diff("1.2.3-rc.1", "1.2.3-rc.2"), "Prerelease");
    }

    #[test]
    fn quote_escapes_and_writes_other_values_as_json() {
        assert_eq!(quote(&json!("a\"b\\c")), "\"a\\\"b\\\\c\"");
        assert_eq!(quote(&json!(3)), "\"3\"");
    }

    #[test]
    fn every_listed_function_is_there_to_call() {
        // Given the functions added for a step after a step aliased `a` succeeded,
        let budget = Budget::new(&ExpressionLimits::default());
        let mut evaluator = Evaluator::new(&budget);
        let statuses = BTreeMap::from([("a".to_owned(), "Succeeded".to_owned())]);
        add(evaluator.context_mut(), &statuses, false).unwrap();
        let secrets =
            crate::secrets::Secrets::parse("kind: Secret\nmetadata: {name: s}\nstringData: {k: value}\n").unwrap();
        let access = crate::secrets::SecretAccess {
            project: "demo".into(),
            secrets: Arc::new(secrets),
            revealed: Default::default(),
        };
        add_secret(evaluator.context_mut(), Some(access.clone())).unwrap();
        // when a program calls each of them, then it passes the name check and holds,
        let program = Program::compile(
            "success() && !failure() && always() && status('a') == 'Succeeded' && quote(3) == '\"3\"' \
             && semverParse('v1.2.3').Minor == 2 && semverDiff('1.0.0', '2.0.0') == 'Major' \
             && secret('s').k == 'value'",
        )
        .unwrap();
        let text = |source: &str| {
            let program = Program::compile(source).unwrap();
            program.check_names(&FUNCTIONS, &[]).unwrap();
            evaluator.evaluate(&program).unwrap()
        };
        // Kargo's: a string quoted keeps quotes of its own; values as YAML or pretty JSON.
        assert_eq!(text("unsafeQuote('x')"), json!(r#""\"x\"""#));
        assert_eq!(text("unsafeQuote(3)"), json!(r#""3""#));
        assert_eq!(text("asYAML({'a': [1, 'b']})"), json!("a:\n- 1\n- b\n"));
        assert_eq!(text("asJSON({'a': 1})"), json!("{\n  \"a\": 1\n}\n"));
        program.check_names(&FUNCTIONS, &[]).unwrap();
        assert_eq!(evaluator.evaluate(&program).unwrap(), json!(true));
        assert_eq!(all_functions().len(), 17);
        // and the secret's value was recorded as revealed.
        assert_eq!(access.revealed.scrub("the value is here"), "the *** is here");
    }
}
