//! The config schema of promotion steps, checked when a manifest is applied: an unknown
//! field, a missing required one, a wrong type or a value outside its list is refused,
//! named with its path (`spec.promotionTemplate.spec.steps[2].config.prNumber`).
//!
//! Any string holding `${{` may stand where another type is expected: its expression
//! is evaluated when the step runs, and the step checks the result then. Every step
//! Lading runs has a schema in [`super::step_schemas`] but `compose-output`, whose config
//! is any mapping.

use serde_json::Value;

use super::FieldError;
use super::step_schemas::one_of_required;
pub use super::step_schemas::{GIT_PROVIDERS, schema};

/// The type a config value must have.
#[derive(Debug)]
pub enum Shape {
    Str,
    Bool,
    /// An integer of at least this value.
    Int(i64),
    /// An integer from the first value to the second, both included.
    IntIn(i64, i64),
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// Anything (checked by the step).
    Any,
    /// A mapping with any keys.
    Mapping,
    List(&'static Shape),
    Object(&'static [FieldShape]),
}

/// One field of an object.
#[derive(Debug)]
pub struct FieldShape {
    pub name: &'static str,
    pub shape: Shape,
    pub required: bool,
}

pub(super) const fn req(name: &'static str, shape: Shape) -> FieldShape {
    FieldShape { name, shape, required: true }
}

pub(super) const fn opt(name: &'static str, shape: Shape) -> FieldShape {
    FieldShape { name, shape, required: false }
}

fn is_expression(value: &Value) -> bool {
    value.as_str().is_some_and(|s| s.contains("${{"))
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn check(shape: &Shape, value: &Value, field: &str) -> Result<(), FieldError> {
    if is_expression(value) {
        return Ok(());
    }
    let wrong = |expected: &str| FieldError::new(field, format!("must be {expected}, got {}", type_name(value)));
    match shape {
        Shape::Any => Ok(()),
        Shape::Mapping if value.is_object() => Ok(()),
        Shape::Mapping => Err(wrong("a mapping")),
        Shape::Str if value.is_string() => Ok(()),
        Shape::Str => Err(wrong("a string")),
        Shape::Bool if value.is_boolean() => Ok(()),
        Shape::Bool => Err(wrong("a boolean")),
        Shape::Int(min) => match value.as_i64() {
            Some(n) if n >= *min => Ok(()),
            Some(n) => Err(FieldError::new(field, format!("must be at least {min}, got {n}"))),
            None => Err(wrong("an integer")),
        },
        Shape::IntIn(min, max) => match value.as_i64() {
            Some(n) if (*min..=*max).contains(&n) => Ok(()),
            Some(n) => Err(FieldError::new(field, format!("must be from {min} to {max}, got {n}"))),
            None => Err(wrong("an integer")),
        },
        Shape::OneOf(allowed) => match value.as_str() {
            Some(s) if allowed.contains(&s) => Ok(()),
            Some(s) => Err(FieldError::new(field, format!("{s:?} is not one of {}", allowed.join(", ")))),
            None => Err(wrong("a string")),
        },
        Shape::List(item) => {
            let items = value.as_array().ok_or_else(|| wrong("a list"))?;
            items.iter().enumerate().try_for_each(|(i, v)| check(item, v, &format!("{field}[{i}]")))
        }
        Shape::Object(fields) => {
            let map = value.as_object().ok_or_else(|| wrong("a mapping"))?;
            for key in map.keys() {
                if !fields.iter().any(|f| f.name == key) {
                    let known: Vec<&str> = fields.iter().map(|f| f.name).collect();
                    return Err(FieldError::new(
                        format!("{field}.{key}"),
                        format!("unknown field; known: {}", known.join(", ")),
                    ));
                }
            }
            for f in fields.iter() {
                match map.get(f.name) {
                    Some(v) => check(&f.shape, v, &format!("{field}.{}", f.name))?,
                    None if f.required => return Err(FieldError::new(format!("{field}.{}", f.name), "is required")),
                    None => {}
                }
            }
            Ok(())
        }
    }
}

/// Checks the config of step `uses` against its schema; `field` is the config's path.
/// Whatever the step, a literal `repoURL` must not carry credentials (a Stage's spec is
/// shown to everyone who may read it): they come from the credentials file, or from
/// `${{ secret(…) }}` at run time.
pub fn validate_config(uses: &str, config: Option<&Value>, field: &str) -> Result<(), FieldError> {
    if let Some(url) = config.and_then(|c| c.get("repoURL")).filter(|url| !is_expression(url))
        && let Some(url) = url.as_str()
    {
        super::warehouse::check_no_credentials(field, url)?;
    }
    let Some(fields) = schema(uses) else { return Ok(()) };
    let empty = Value::Object(serde_json::Map::new());
    let config = config.unwrap_or(&empty);
    check(&Shape::Object(fields), config, field)?;
    if is_expression(config) {
        return Ok(());
    }
    // Kargo's `oneOf`: a generated branch and a named one exclude each other.
    if uses == "github-push"
        && config.get("generateTargetBranch") == Some(&Value::Bool(true))
        && config.get("targetBranch").and_then(Value::as_str).is_some_and(|t| !t.is_empty())
    {
        return Err(FieldError::new(
            format!("{field}.targetBranch"),
            "set either targetBranch or generateTargetBranch, not both",
        ));
    }
    if matches!(uses, "argocd-update" | "argocd-wait") {
        check_app_selections(config, field)?;
    }
    for names in one_of_required(uses) {
        let set: Vec<&str> = names.iter().copied().filter(|n| config.get(n).is_some()).collect();
        let required = uses != "set-freight-alias" || names[0] == "alias";
        match set.len() {
            0 if required => {
                return Err(FieldError::new(
                    format!("{field}.{}", names[0]),
                    format!("is required (or {})", names[1..].join(", ")),
                ));
            }
            0 | 1 => {}
            _ => {
                return Err(FieldError::new(
                    format!("{field}.{}", set[1]),
                    format!("set either {} or {}, not both", set[0], set[1]),
                ));
            }
        }
    }
    Ok(())
}

/// Each of an Argo CD step's `apps` names its Applications by `name` or by `selector`,
/// one of them, and a selector is one the Kubernetes API takes.
fn check_app_selections(config: &Value, field: &str) -> Result<(), FieldError> {
    let Some(apps) = config.get("apps").and_then(Value::as_array) else { return Ok(()) };
    for (i, app) in apps.iter().enumerate() {
        let at = format!("{field}.apps[{i}]");
        let name = app.get("name");
        let selector = app.get("selector");
        if name.is_some_and(is_expression) || selector.is_some_and(is_expression) {
            continue;
        }
        let name = name.and_then(Value::as_str).unwrap_or_default();
        let selector: Option<crate::argocd::LabelSelector> = match selector {
            Some(value) => Some(
                serde_json::from_value(value.clone())
                    .map_err(|e| FieldError::new(format!("{at}.selector"), e.to_string()))?,
            ),
            None => None,
        };
        if let Err(message) = crate::argocd::selection(name, selector.as_ref()) {
            let (path, reason) = message.split_once(": ").unwrap_or(("", message.as_str()));
            return Err(FieldError::new(format!("{at}.{path}"), reason));
        }
    }
    Ok(())
}
