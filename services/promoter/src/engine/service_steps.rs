//! The steps only the promoter service can run, through its observer:
//! `set-freight-alias` and `set-metadata`.

use lading_domain::FreightId;
use lading_domain::metadata::{MetadataKind, ProjectMetadata};
use serde_json::{Map, Value, json};

use super::StepObserver;

/// `set-freight-alias`: Kargo's `alias` for the freight `name` (Lading's own spelling,
/// `newAlias` for `freightID`, is read too; the freight defaults to the one promoted).
pub(super) fn set_freight_alias(
    target: &FreightId,
    config: Value,
    observer: &mut dyn StepObserver,
) -> Result<Map<String, Value>, String> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Config {
        #[serde(default)]
        name: Option<String>,
        #[serde(default, rename = "freightID")]
        freight_id: Option<String>,
        #[serde(default)]
        alias: Option<String>,
        #[serde(default)]
        new_alias: Option<String>,
    }
    let config: Config = crate::steps::parse_config(config)?;
    let (id_field, id) = match (config.name, config.freight_id) {
        (Some(_), Some(_)) => return Err("config.name: set name or freightID, not both".to_owned()),
        (Some(name), None) => ("config.name", Some(name)),
        (None, id) => ("config.freightID", id),
    };
    let (alias_field, alias) = match (config.alias, config.new_alias) {
        (Some(_), Some(_)) => return Err("config.alias: set alias or newAlias, not both".to_owned()),
        (Some(alias), None) => ("config.alias", alias),
        (None, Some(alias)) => ("config.newAlias", alias),
        (None, None) => return Err("config.alias: is required".to_owned()),
    };
    let freight = match &id {
        Some(id) => FreightId::parse(id).map_err(|e| format!("{id_field}: {e}"))?,
        None => target.clone(),
    };
    lading_domain::names::validate_dns_label(&alias).map_err(|e| format!("{alias_field}: {e}"))?;
    observer.set_freight_alias(&freight, &alias)?;
    let mut outputs = Map::new();
    outputs.insert("alias".to_owned(), json!(alias));
    Ok(outputs)
}

/// `set-metadata`: Kargo's `updates[]{kind, name, values}`, each setting keys of a
/// freight's (by ID, or by alias) or a stage's metadata. Every update is checked before the first
/// is made.
pub(super) fn set_metadata(
    config: Value,
    observer: &mut dyn StepObserver,
    metadata: &mut ProjectMetadata,
) -> Result<Map<String, Value>, String> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Update {
        kind: String,
        name: String,
        values: Map<String, Value>,
    }
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Config {
        updates: Vec<Update>,
    }
    let config: Config = crate::steps::parse_config(config)?;
    if config.updates.is_empty() {
        return Err("config.updates: must hold at least one update".to_owned());
    }
    let mut checked = Vec::with_capacity(config.updates.len());
    for (i, update) in config.updates.into_iter().enumerate() {
        let kind = MetadataKind::parse(&update.kind).map_err(|e| format!("config.updates[{i}].kind: {e}"))?;
        // A freight by its ID or its alias (both DNS labels), a stage by its name.
        lading_domain::names::validate_dns_label(&update.name).map_err(|e| format!("config.updates[{i}].name: {e}"))?;
        let values = lading_domain::metadata::encode_values(&update.values)
            .map_err(|e| format!("config.updates[{i}].values: {e}"))?;
        checked.push((kind, update.name, values));
    }
    for (i, (kind, name, values)) in checked.into_iter().enumerate() {
        let name = observer.set_metadata(kind, &name, &values).map_err(|e| format!("config.updates[{i}]: {e}"))?;
        lading_domain::metadata::merge(metadata.of_mut(kind, &name), &values);
    }
    Ok(Map::new())
}
