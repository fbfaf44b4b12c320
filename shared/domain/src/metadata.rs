//! Freight and stage metadata (Kargo's `status.metadata`): keys set by the
//! `set-metadata` step, read by expressions with `freightMetadata(name)` and
//! `stageMetadata(name)`. Setting a key replaces its value; other keys stay.

use std::collections::BTreeMap;
use std::sync::Arc;

use cel::extractors::Arguments;
use cel::{Context, ExecutionError, Value as CelValue};
use serde_json::{Map, Value};

/// The functions [`add`] adds.
pub const FUNCTIONS: [&str; 2] = ["freightMetadata", "stageMetadata"];

/// The metadata of a project's freight (by ID) and stages (by name), as expressions see it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProjectMetadata {
    pub freight: BTreeMap<String, BTreeMap<String, Value>>,
    pub stages: BTreeMap<String, BTreeMap<String, Value>>,
}

impl ProjectMetadata {
    /// The metadata map of `kind` `name`, created empty when it has none.
    pub fn of_mut(&mut self, kind: MetadataKind, name: &str) -> &mut BTreeMap<String, Value> {
        match kind {
            MetadataKind::Freight => self.freight.entry(name.to_owned()).or_default(),
            MetadataKind::Stage => self.stages.entry(name.to_owned()).or_default(),
        }
    }
}

/// `freightMetadata(name)` / `stageMetadata(name)`: the whole map (empty when nothing
/// was set); with a second argument `key`, that key's value, or null.
fn lookup(
    function: &'static str,
    all: &BTreeMap<String, BTreeMap<String, Value>>,
    args: &[CelValue],
) -> Result<CelValue, ExecutionError> {
    let text = |i: usize| match args.get(i) {
        Some(CelValue::String(s)) => Some(s.to_string()),
        _ => None,
    };
    let name = text(0).ok_or_else(|| ExecutionError::function_error(function, "needs a name (a string)"))?;
    let metadata = all.get(&name);
    let value = match (args.len(), text(1)) {
        (1, _) => Value::Object(metadata.map(|m| m.clone().into_iter().collect()).unwrap_or_default()),
        (2, Some(key)) => metadata.and_then(|m| m.get(&key)).cloned().unwrap_or(Value::Null),
        _ => return Err(ExecutionError::function_error(function, "takes a name and, optionally, a key (strings)")),
    };
    cel::to_value(value).map_err(|e| ExecutionError::function_error(function, e))
}

/// Adds [`FUNCTIONS`], answering from `metadata`, to `context`.
pub fn add(context: &mut Context<'_, '_>, metadata: &ProjectMetadata) -> Result<(), String> {
    let freight = Arc::new(metadata.freight.clone());
    context
        .add_function("freightMetadata", move |Arguments(args): Arguments| lookup("freightMetadata", &freight, &args))
        .map_err(|e| e.to_string())?;
    let stages = Arc::new(metadata.stages.clone());
    context
        .add_function("stageMetadata", move |Arguments(args): Arguments| lookup("stageMetadata", &stages, &args))
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// The largest `values` one update may set, as JSON: metadata travels in events and
/// lives in every read model, so it stays small.
pub const MAX_UPDATE_BYTES: usize = 64 * 1024;

/// The kind of resource an update is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataKind {
    Freight,
    Stage,
}

impl MetadataKind {
    /// Kargo's `kind`: `Freight` or `Stage`.
    pub fn parse(kind: &str) -> Result<MetadataKind, String> {
        match kind {
            "Freight" => Ok(MetadataKind::Freight),
            "Stage" => Ok(MetadataKind::Stage),
            other => Err(format!("{other:?} is not one of Freight, Stage")),
        }
    }
}

/// Checks one update's `values` (a mapping with at least one key, at most
/// [`MAX_UPDATE_BYTES`] as JSON) and returns them as JSON text, as events carry them.
pub fn encode_values(values: &Map<String, Value>) -> Result<String, String> {
    if values.is_empty() {
        return Err("must set at least one key".to_owned());
    }
    let text = serde_json::to_string(values).map_err(|e| e.to_string())?;
    if text.len() > MAX_UPDATE_BYTES {
        return Err(format!("is {} bytes as JSON, more than the limit of {MAX_UPDATE_BYTES}", text.len()));
    }
    Ok(text)
}

/// Sets the keys of `values` (JSON text of a mapping) in `metadata`. Anything else
/// (which no Lading service publishes) changes nothing.
pub fn merge(metadata: &mut BTreeMap<String, Value>, values: &str) {
    if let Ok(Value::Object(values)) = serde_json::from_str::<Value>(values) {
        metadata.extend(values);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn given_metadata_when_keys_are_set_then_they_replace_theirs_and_others_stay() {
        let mut metadata = BTreeMap::from([("a".to_owned(), json!(1)), ("b".to_owned(), json!("x"))]);
        merge(&mut metadata, r#"{"b": {"nested": [1, 2]}, "c": true}"#);
        assert_eq!(
            metadata,
            BTreeMap::from([
                ("a".to_owned(), json!(1)),
                ("b".to_owned(), json!({"nested": [1, 2]})),
                ("c".to_owned(), json!(true)),
            ])
        );
    }

    #[test]
    fn given_values_that_are_not_a_mapping_when_merged_then_nothing_changes() {
        let mut metadata = BTreeMap::from([("a".to_owned(), json!(1))]);
        merge(&mut metadata, "[1]");
        merge(&mut metadata, "not json");
        assert_eq!(metadata, BTreeMap::from([("a".to_owned(), json!(1))]));
    }

    #[test]
    fn given_update_values_when_encoded_then_empty_and_oversized_are_refused() {
        assert_eq!(encode_values(&Map::new()).unwrap_err(), "must set at least one key");
        let big = Map::from_iter([("k".to_owned(), json!("x".repeat(MAX_UPDATE_BYTES)))]);
        assert!(encode_values(&big).unwrap_err().contains("more than the limit of 65536"));
        let ok = Map::from_iter([("bar".to_owned(), json!(42))]);
        assert_eq!(encode_values(&ok).unwrap(), r#"{"bar":42}"#);
    }

    #[test]
    fn given_a_kind_when_parsed_then_only_kargo_kinds_pass() {
        assert_eq!(MetadataKind::parse("Stage").unwrap(), MetadataKind::Stage);
        assert_eq!(MetadataKind::parse("Freight").unwrap(), MetadataKind::Freight);
        assert!(MetadataKind::parse("Warehouse").unwrap_err().contains("not one of Freight, Stage"));
    }
}
