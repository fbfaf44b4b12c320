//! `json-update` and `toml-update`: set values at dotted key paths, keeping the rest of
//! the file as it was (JSON through the YAML editor, which JSON is a subset of; TOML
//! through toml_edit).

use std::path::Path;

use serde_json::{Map, Value};

use super::StepContext;
use super::parse_errors;
use super::yaml_edit::set_values;
use super::yaml_update::Config;
use crate::engine::workspace::Field;

fn read(ctx: &StepContext<'_>, path: &str) -> Result<String, String> {
    Ok(ctx.workspace.read(Field::new("config.path", path), Path::new(path))?)
}

fn write(ctx: &StepContext<'_>, path: &str, text: String) -> Result<(), String> {
    Ok(ctx.workspace.write(Field::new("config.path", path), Path::new(path), text)?)
}

/// `json-update`.
pub fn json_update(ctx: &StepContext<'_>, config: Config) -> Result<Map<String, Value>, String> {
    let before = read(ctx, &config.path)?;
    let updates: Vec<(String, Value)> = config.updates.into_iter().map(|u| (u.key, u.value)).collect();
    let after = edit_json(&config.path, &before, &updates)?;
    write(ctx, &config.path, after)?;
    Ok(Map::new())
}

/// Sets each `(key, value)` of `updates` in the JSON text `before` (of the file `path`,
/// named in errors), keeping its layout where the edits allow.
pub fn edit_json(path: &str, before: &str, updates: &[(String, Value)]) -> Result<String, String> {
    serde_json::from_str::<Value>(before).map_err(|e| parse_errors::json(path, &e))?;
    // In-place edits keep the layout; if the result is no longer JSON (a key had to be
    // added in YAML style), rewrite the document as pretty JSON instead.
    Ok(match set_values(before, updates) {
        Ok(text) if serde_json::from_str::<Value>(&text).is_ok() => text,
        _ => {
            let mut document: Value = serde_json::from_str(before).map_err(|e| parse_errors::json(path, &e))?;
            for (key, value) in updates {
                set_path(&mut document, key, value.clone()).map_err(|e| format!("{path}: {key}: {e}"))?;
            }
            serde_json::to_string_pretty(&document).map_err(|e| e.to_string())? + "\n"
        }
    })
}

/// Sets `value` at a dotted `key` in a JSON tree, creating objects on the way.
fn set_path(document: &mut Value, key: &str, value: Value) -> Result<(), String> {
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err("not a dotted key path".to_owned());
    }
    let mut node = document;
    for (i, part) in parts.iter().enumerate() {
        let last = i == parts.len() - 1;
        if node.is_null() {
            *node = Value::Object(Map::new());
        }
        node = match node {
            Value::Object(map) if last => {
                map.insert((*part).to_owned(), value);
                return Ok(());
            }
            Value::Object(map) => map.entry((*part).to_owned()).or_insert(Value::Null),
            Value::Array(items) => {
                let index: usize = part.parse().map_err(|_| format!("{part:?} indexes a list but is not a number"))?;
                let len = items.len();
                let item =
                    items.get_mut(index).ok_or_else(|| format!("index {index} is past the list's end ({len})"))?;
                if last {
                    *item = value;
                    return Ok(());
                }
                item
            }
            _ => return Err(format!("{:?} is not an object", parts[..i].join("."))),
        };
    }
    Ok(())
}

fn toml_value(value: &Value) -> Result<toml_edit::Value, String> {
    Ok(match value {
        Value::String(s) => s.as_str().into(),
        Value::Bool(b) => (*b).into(),
        Value::Number(n) if n.is_i64() => n.as_i64().unwrap_or_default().into(),
        Value::Number(n) => n.as_f64().unwrap_or_default().into(),
        Value::Array(items) => {
            let mut array = toml_edit::Array::new();
            for item in items {
                array.push(toml_value(item)?);
            }
            array.into()
        }
        Value::Object(map) => {
            let mut table = toml_edit::InlineTable::new();
            for (k, v) in map {
                table.insert(k, toml_value(v)?);
            }
            table.into()
        }
        Value::Null => return Err("TOML has no null".to_owned()),
    })
}

/// `toml-update`.
pub fn toml_update(ctx: &StepContext<'_>, config: Config) -> Result<Map<String, Value>, String> {
    let before = read(ctx, &config.path)?;
    let updates: Vec<(String, Value)> = config.updates.into_iter().map(|u| (u.key, u.value)).collect();
    let after = edit_toml(&config.path, &before, &updates)?;
    write(ctx, &config.path, after)?;
    Ok(Map::new())
}

/// Sets each `(key, value)` of `updates` in the TOML text `before` (of the file `path`,
/// named in errors), keeping comments and spacing.
pub fn edit_toml(path: &str, before: &str, updates: &[(String, Value)]) -> Result<String, String> {
    let mut document: toml_edit::DocumentMut = before.parse().map_err(|e| parse_errors::toml(path, before, &e))?;
    for (i, (key, value)) in updates.iter().enumerate() {
        let parts: Vec<&str> = key.split('.').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(format!("config.updates[{i}].key: {key:?} is not a dotted key path"));
        }
        let mut item = document.as_item_mut();
        for part in &parts[..parts.len() - 1] {
            let table = item
                .as_table_like_mut()
                .ok_or_else(|| format!("config.updates[{i}].key: {key:?} crosses a value that is not a table"))?;
            if table.get(part).is_none() {
                table.insert(part, toml_edit::table());
            }
            item = table.get_mut(part).ok_or("unreachable")?;
        }
        let table = item
            .as_table_like_mut()
            .ok_or_else(|| format!("config.updates[{i}].key: {key:?} crosses a value that is not a table"))?;
        let last = parts[parts.len() - 1];
        let new = toml_value(value).map_err(|e| format!("config.updates[{i}].value: {e}"))?;
        match table.get_mut(last).and_then(|existing| existing.as_value_mut()) {
            // Keep the comments and spacing around the old value.
            Some(existing) => {
                let decor = existing.decor().clone();
                *existing = new;
                *existing.decor_mut() = decor;
            }
            None => {
                table.insert(last, toml_edit::Item::Value(new));
            }
        }
    }
    let after = document.to_string();
    // A value or key nested deeper than TOML readers go (toml_edit stops at a recursion
    // limit) would write a file that nothing can read back, this step included.
    if let Err(e) = after.parse::<toml_edit::DocumentMut>() {
        let reason = e.message().trim().to_owned();
        return Err(format!("config.updates: the edited {path} would not read back as TOML ({reason})"));
    }
    Ok(after)
}
