//! `json-parse`, `yaml-parse` and `toml-parse`: read a file of the workspace and make
//! outputs from bare expressions over it; `yaml-merge`: merge YAML files into one.
//!
//! Each `outputs[].fromExpression` is CEL over the parsed document: its top-level keys
//! are variables (`image.tag`), the whole document is `outputs` (`outputs['my-key']`),
//! and `ctx` is the promotion's (`apps[ctx.stage]`) unless the document has a `ctx`.
//! The expressions of one step share one budget. Files are read through the workspace
//! (never outside it) and must not be larger than [`MAX_PARSED_FILE`].

use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::StepContext;
use super::parse_errors;
use crate::engine::expressions::with_variables;
use crate::engine::workspace::Field;

/// The largest file these steps read (it is parsed into memory whole).
pub const MAX_PARSED_FILE: u64 = 16 << 20;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Output {
    name: String,
    from_expression: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParseConfig {
    path: String,
    outputs: Vec<Output>,
}

/// The file formats the parse steps read.
#[derive(Debug, Clone, Copy)]
pub enum Format {
    Json,
    Yaml,
    Toml,
}

fn read_limited(ctx: &StepContext<'_>, field: &str, path: &str) -> Result<String, String> {
    let bytes = ctx.workspace.read_bounded(Field::new(field, path), Path::new(path), MAX_PARSED_FILE)?;
    String::from_utf8(bytes).map_err(|_| format!("{field}: {path:?} is not UTF-8 text"))
}

fn parse(format: Format, file: &str, text: &str) -> Result<Value, String> {
    match format {
        Format::Json => serde_json::from_str(text).map_err(|e| parse_errors::json(file, &e)),
        Format::Yaml => serde_saphyr::from_str(text).map_err(|e| parse_errors::yaml(file, &e)),
        Format::Toml => {
            let document: toml_edit::DocumentMut = text.parse().map_err(|e| parse_errors::toml(file, text, &e))?;
            Ok(toml_table(document.as_table()))
        }
    }
}

fn toml_value(value: &toml_edit::Value) -> Value {
    use toml_edit::Value as T;
    match value {
        T::String(s) => Value::String(s.value().clone()),
        T::Integer(i) => Value::from(*i.value()),
        T::Float(f) => serde_json::Number::from_f64(*f.value()).map_or(Value::Null, Value::Number),
        T::Boolean(b) => Value::Bool(*b.value()),
        T::Datetime(d) => Value::String(d.value().to_string()),
        T::Array(items) => Value::Array(items.iter().map(toml_value).collect()),
        T::InlineTable(table) => Value::Object(table.iter().map(|(k, v)| (k.to_owned(), toml_value(v))).collect()),
    }
}

fn toml_item(item: &toml_edit::Item) -> Value {
    match item {
        toml_edit::Item::None => Value::Null,
        toml_edit::Item::Value(value) => toml_value(value),
        toml_edit::Item::Table(table) => toml_table(table),
        toml_edit::Item::ArrayOfTables(tables) => Value::Array(tables.iter().map(toml_table).collect()),
    }
}

fn toml_table(table: &toml_edit::Table) -> Value {
    Value::Object(table.iter().map(|(k, v)| (k.to_owned(), toml_item(v))).collect())
}

/// Whether `name` can be a CEL variable.
fn is_identifier(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !matches!(
            name,
            "true"
                | "false"
                | "null"
                | "in"
                | "outputs"
                | "as"
                | "break"
                | "const"
                | "continue"
                | "else"
                | "for"
                | "function"
                | "if"
                | "import"
                | "let"
                | "loop"
                | "package"
                | "namespace"
                | "return"
                | "var"
                | "void"
                | "while"
        )
}

/// `json-parse`, `yaml-parse`, `toml-parse`.
pub fn parse_file(ctx: &StepContext<'_>, format: Format, config: ParseConfig) -> Result<Map<String, Value>, String> {
    if config.outputs.is_empty() {
        return Err("config.outputs: name at least one output".to_owned());
    }
    let text = read_limited(ctx, "config.path", &config.path)?;
    let document = parse(format, &config.path, &text)?;
    let context = serde_json::json!({"project": ctx.project, "stage": ctx.stage, "promotion": ctx.promotion});
    let mut variables: Vec<(&str, &Value)> = vec![("outputs", &document)];
    if let Value::Object(map) = &document {
        variables.extend(map.iter().filter(|(k, _)| is_identifier(k)).map(|(k, v)| (k.as_str(), v)));
    }
    // The promotion's `ctx` too (Kargo's examples index a document by `ctx.stage`),
    // unless the document has a `ctx` of its own.
    if !variables.iter().any(|(name, _)| *name == "ctx") {
        variables.push(("ctx", &context));
    }
    with_variables(&variables, |expressions| {
        let mut outputs = Map::new();
        for (i, output) in config.outputs.iter().enumerate() {
            if output.name.is_empty() {
                return Err(format!("config.outputs[{i}].name: is required"));
            }
            let value =
                expressions.evaluate(&format!("config.outputs[{i}].fromExpression"), &output.from_expression)?;
            outputs.insert(output.name.clone(), value);
        }
        Ok(outputs)
    })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct YamlMergeConfig {
    in_files: Vec<String>,
    out_file: String,
    #[serde(default)]
    ignore_missing_files: bool,
}

/// Merges `overlay` into `base`: mappings key by key, anything else replaced (as Helm
/// coalesces values files).
pub(super) fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Object(base), Value::Object(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

/// `yaml-merge`: later files win, mapping by mapping; output `commitMessage`.
pub fn yaml_merge(ctx: &StepContext<'_>, config: YamlMergeConfig) -> Result<Map<String, Value>, String> {
    if config.in_files.is_empty() {
        return Err("config.inFiles: name at least one file".to_owned());
    }
    let mut merged = Value::Null;
    let mut used = Vec::new();
    for (i, file) in config.in_files.iter().enumerate() {
        let field = format!("config.inFiles[{i}]");
        let at = Field::new(&field, file);
        if ctx.workspace.kind(at, Path::new(file))?.is_none() {
            if config.ignore_missing_files {
                continue;
            }
            return Err(format!("{field}: {file:?} does not exist"));
        }
        let text = read_limited(ctx, &field, file)?;
        let document: Value = serde_saphyr::from_str(&text).map_err(|e| parse_errors::yaml(file, &e))?;
        if !document.is_null() {
            merge(&mut merged, document);
        }
        used.push(file.as_str());
    }
    let text =
        if merged.is_null() { String::new() } else { serde_saphyr::to_string(&merged).map_err(|e| e.to_string())? };
    ctx.workspace.write(Field::new("config.outFile", &config.out_file), Path::new(&config.out_file), text)?;
    let mut outputs = Map::new();
    outputs.insert(
        "commitMessage".to_owned(),
        Value::String(format!("Merged {} into {}", used.join(", "), config.out_file)),
    );
    Ok(outputs)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn given_two_mappings_when_merged_then_later_keys_win_and_others_stay() {
        let mut base = json!({"service": {"enabled": false}, "list": [1, 2]});
        merge(&mut base, json!({"service": {"enabled": true, "type": "LoadBalancer"}, "list": [3]}));
        assert_eq!(base, json!({"service": {"enabled": true, "type": "LoadBalancer"}, "list": [3]}));
    }

    #[test]
    fn given_toml_when_parsed_then_tables_become_mappings() {
        let value =
            parse(Format::Toml, "c.toml", "[image]\ntag = \"v1.2.3\"\n[rbac]\ninstallClusterRoles = true\n").unwrap();
        assert_eq!(value, json!({"image": {"tag": "v1.2.3"}, "rbac": {"installClusterRoles": true}}));
    }
}
