//! `yaml-update`: sets values at dotted key paths in a YAML file, changing nothing else
//! (see [`super::yaml_edit`]). A missing file is created.

use std::fs;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::StepContext;
use super::yaml_edit::set_values;
use crate::engine::workspace::resolve;

/// One `updates[]` entry: a dotted key and its new value.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Update {
    pub(super) key: String,
    pub(super) value: Value,
}

/// The config of `yaml-update`, `json-update` and `toml-update`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub(super) path: String,
    pub(super) updates: Vec<Update>,
}

pub fn run(ctx: &StepContext<'_>, config: Config) -> Result<Map<String, Value>, String> {
    let path = resolve(ctx.workspace, &config.path).map_err(|e| format!("config.path: {e}"))?;
    let before = if path.exists() {
        fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", config.path))?
    } else {
        String::new()
    };
    let updates: Vec<(String, Value)> = config.updates.into_iter().map(|u| (u.key, u.value)).collect();
    let after = set_values(&before, &updates).map_err(|e| format!("{}: {e}", config.path))?;
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| format!("creating {}: {e}", parent.display()))?;
    }
    if after != before {
        fs::write(&path, after).map_err(|e| format!("writing {}: {e}", config.path))?;
    }
    Ok(Map::new())
}
