//! How `lading get` (and other listings) print what the api answers, as kubectl does:
//! `-o table|wide|json|yaml|name|jsonpath=TEMPLATE|jsonpath-as-json=TEMPLATE` and
//! `--no-headers`.
//!
//! - [`table`]: aligned columns and ages.
//! - [`jsonpath`]: kubectl's JSONPath templates.
//!
//! What is printed is the api's answer: a kubectl-style `List` (`{"kind": "List",
//! "items": […]}`) or one object. Tables show a [`Resource`]'s columns, one row per
//! item; `name` prints `KIND/NAME`; the others print the answer itself.

pub mod jsonpath;
pub mod table;

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde_json::Value;

pub use jsonpath::Template;
pub use table::{age, table, text};

/// An output format, as `-o` names it.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum OutputFormat {
    #[default]
    Table,
    Wide,
    Json,
    Yaml,
    Name,
    JsonPath(Template),
    JsonPathAsJson(Template),
}

/// The formats `-o` takes, for help and errors.
pub const FORMATS: &str = "table, wide, json, yaml, name, jsonpath=TEMPLATE, jsonpath-as-json=TEMPLATE";

impl FromStr for OutputFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let template = |t: &str| Template::parse(t).map_err(|e| format!("invalid JSONPath template {t:?}: {e}"));
        match text {
            "table" => Ok(OutputFormat::Table),
            "wide" => Ok(OutputFormat::Wide),
            "json" => Ok(OutputFormat::Json),
            "yaml" => Ok(OutputFormat::Yaml),
            "name" => Ok(OutputFormat::Name),
            "jsonpath" | "jsonpath-as-json" => {
                Err(format!("{text} needs a template, e.g. -o {text}='{{.items[*].metadata.name}}'"))
            }
            _ => {
                if let Some(t) = text.strip_prefix("jsonpath=") {
                    Ok(OutputFormat::JsonPath(template(t)?))
                } else if let Some(t) = text.strip_prefix("jsonpath-as-json=") {
                    Ok(OutputFormat::JsonPathAsJson(template(t)?))
                } else {
                    Err(format!("unknown output format {text:?}; one of {FORMATS}"))
                }
            }
        }
    }
}

/// A column of a table: its header, whether only `-o wide` shows it, and its cell.
pub struct Column {
    pub header: &'static str,
    pub wide: bool,
    pub cell: fn(&Value, DateTime<Utc>) -> String,
}

impl Column {
    pub const fn new(header: &'static str, cell: fn(&Value, DateTime<Utc>) -> String) -> Column {
        Column { header, wide: false, cell }
    }

    pub const fn wide(header: &'static str, cell: fn(&Value, DateTime<Utc>) -> String) -> Column {
        Column { header, wide: true, cell }
    }
}

/// What a listing shows of one kind of object.
pub struct Resource {
    /// The kind as `-o name` prints it: `freight/NAME`.
    pub kind: &'static str,
    /// The plural for "No … found".
    pub plural: &'static str,
    pub columns: &'static [Column],
}

/// The name of an object: `metadata.name`, or `name` for records without metadata.
pub fn object_name(object: &Value) -> &str {
    object.pointer("/metadata/name").or_else(|| object.get("name")).and_then(Value::as_str).unwrap_or_default()
}

/// The objects of an answer: a List's items, or the one object.
pub fn items(answer: &Value) -> Vec<&Value> {
    match answer.get("items").and_then(Value::as_array) {
        Some(items) if answer.get("kind").is_none_or(|k| k == "List") => items.iter().collect(),
        _ => vec![answer],
    }
}

/// Renders an answer in `format`, ending with a newline unless it is empty. `now` dates
/// the ages in tables.
pub fn render(
    format: &OutputFormat,
    resource: &Resource,
    answer: &Value,
    no_headers: bool,
    now: DateTime<Utc>,
) -> Result<String, serde_json::Error> {
    let mut out = match format {
        OutputFormat::Table | OutputFormat::Wide => {
            let wide = *format == OutputFormat::Wide;
            let columns: Vec<&Column> = resource.columns.iter().filter(|c| wide || !c.wide).collect();
            let headers: Vec<&str> = if no_headers { Vec::new() } else { columns.iter().map(|c| c.header).collect() };
            let rows: Vec<Vec<String>> =
                items(answer).into_iter().map(|item| columns.iter().map(|c| (c.cell)(item, now)).collect()).collect();
            if rows.is_empty() {
                return Ok(String::new());
            }
            table(&headers, &rows)
        }
        OutputFormat::Json => serde_json::to_string_pretty(answer)?,
        OutputFormat::Yaml => return Ok(yaml(answer)),
        OutputFormat::Name => items(answer)
            .into_iter()
            .map(|item| format!("{}/{}", resource.kind, object_name(item)))
            .collect::<Vec<_>>()
            .join("\n"),
        OutputFormat::JsonPath(template) => return Ok(template.render_text(answer)),
        OutputFormat::JsonPathAsJson(template) => pretty_four(&Value::Array(template.render_json(answer)))?,
    };
    if !out.is_empty() {
        out.push('\n');
    }
    Ok(out)
}

/// YAML as kubectl prints it (block style, a newline at the end).
pub fn yaml(value: &Value) -> String {
    serde_saphyr::to_string(value).unwrap_or_else(|e| format!("# cannot print as YAML: {e}\n"))
}

/// JSON indented by four spaces, as kubectl's `jsonpath-as-json` prints it.
fn pretty_four(value: &Value) -> Result<String, serde_json::Error> {
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    serde::Serialize::serialize(value, &mut serializer)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests;
