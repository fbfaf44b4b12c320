//! `yaml-update`: sets values at dotted key paths in a YAML file (created when missing).

use std::fs;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::StepContext;
use crate::engine::workspace::resolve;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Update {
    key: String,
    value: Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    path: String,
    updates: Vec<Update>,
}

pub fn run(ctx: &StepContext<'_>, config: Config) -> Result<Map<String, Value>, String> {
    let path = resolve(ctx.workspace, &config.path).map_err(|e| format!("config.path: {e}"))?;
    let mut document = if path.exists() {
        let text = fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", config.path))?;
        if text.trim().is_empty() {
            Value::Object(Map::new())
        } else {
            serde_saphyr::from_str::<Value>(&text).map_err(|e| format!("{} is not valid YAML: {e}", config.path))?
        }
    } else {
        Value::Object(Map::new())
    };
    for (i, update) in config.updates.iter().enumerate() {
        set_path(&mut document, &update.key, update.value.clone())
            .map_err(|e| format!("config.updates[{i}].key: {e}"))?;
    }
    let text = serde_saphyr::to_string(&document).map_err(|e| format!("writing YAML: {e}"))?;
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| format!("creating {}: {e}", parent.display()))?;
    }
    fs::write(&path, text).map_err(|e| format!("writing {}: {e}", config.path))?;
    Ok(Map::new())
}

/// Sets `value` at a dotted `key` (`image.tag`, `containers.0.image`), creating maps on
/// the way.
pub fn set_path(document: &mut Value, key: &str, value: Value) -> Result<(), String> {
    if key.is_empty() || key.split('.').any(str::is_empty) {
        return Err(format!("{key:?} is not a dotted key path"));
    }
    let mut node = document;
    let parts: Vec<&str> = key.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i == parts.len() - 1;
        node = match node {
            Value::Object(map) => {
                if last {
                    map.insert((*part).to_owned(), value);
                    return Ok(());
                }
                map.entry((*part).to_owned()).or_insert_with(|| Value::Object(Map::new()))
            }
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
            Value::Null => {
                *node = Value::Object(Map::new());
                let Value::Object(map) = node else { unreachable!() };
                if last {
                    map.insert((*part).to_owned(), value);
                    return Ok(());
                }
                map.entry((*part).to_owned()).or_insert_with(|| Value::Object(Map::new()))
            }
            _ => return Err(format!("{:?} is not a mapping", parts[..i].join("."))),
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn sets_nested_keys_and_list_items() {
        let mut doc = json!({"image": {"tag": "1"}, "list": [{"a": 1}]});
        set_path(&mut doc, "image.tag", json!("2")).unwrap();
        set_path(&mut doc, "new.deep.key", json!(true)).unwrap();
        set_path(&mut doc, "list.0.a", json!(5)).unwrap();
        assert_eq!(doc, json!({"image": {"tag": "2"}, "new": {"deep": {"key": true}}, "list": [{"a": 5}]}));
    }

    #[test]
    fn bad_paths_are_explained() {
        let mut doc = json!({"a": "scalar", "list": []});
        assert!(set_path(&mut doc, "a.b", json!(1)).unwrap_err().contains("not a mapping"));
        assert!(set_path(&mut doc, "list.3", json!(1)).unwrap_err().contains("past the list's end"));
        assert!(set_path(&mut doc, "a..b", json!(1)).is_err());
    }
}
