//! `yaml-update`: sets values at dotted key paths in a YAML file, changing nothing else
//! (see [`super::yaml_edit`]). A missing file is created.

use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::StepContext;
use super::yaml_edit::set_values;
use crate::engine::workspace::Field;

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
    let at = Field::new("config.path", &config.path);
    let path = Path::new(&config.path);
    let before = ctx.workspace.read_if_exists(at, path)?.unwrap_or_default();
    let updates: Vec<(String, Value)> = config.updates.into_iter().map(|u| (u.key, u.value)).collect();
    let after = set_values(&before, &updates).map_err(|e| format!("{}: {e}", config.path))?;
    if after != before {
        ctx.workspace.write(at, path, after)?;
    }
    Ok(Map::new())
}
