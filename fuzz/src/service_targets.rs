//! The bodies of the fuzz targets that need the services' crates (the promoter's file
//! edits, the warehouse's registry and chart readers, the read model): one function per
//! target, called by its libFuzzer binary in `fuzz_targets/` and by the seed replay that
//! `scripts/test` runs without libFuzzer.

use lading_domain::digest::Digest;
use lading_domain::limits::Limit;
use lading_domain::url_normalize::{normalize_chart, normalize_image_repo};
use lading_promoter::steps::{append_to_sequence, edit_json, edit_toml, set_values};
use lading_warehouse::chart_subscription::parse_index;
use lading_warehouse::registry::{Repository, next_link, parse_challenge, parse_config, parse_manifest};
use serde_json::Value;

use super::input::{lookup, same_value, updates_and_document};
use super::targets;

/// [`targets::event_codec`], each decoded event also applied to the read model the api
/// and the promoter rebuild from the log.
pub fn event_codec(data: &[u8]) {
    let mut model = lading_projection::ReadModel::default();
    targets::event_codec(data, |seq, event| {
        model.apply(seq, event);
        model.apply_discovery(seq, event);
    });
}

fn parse_yaml(text: &str) -> Option<Value> {
    serde_saphyr::from_str::<Value>(text).ok()
}

/// `yaml-update` (and `kustomize-set-image`'s appends): `key=value` lines, `%%`, then
/// a YAML file from a repository. An edit either fails with a message or leaves YAML in
/// which every top-level key it did not touch is as it was. Nothing may panic.
pub fn yaml_update(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (updates, document) = updates_and_document(text);
    // With no update the file is returned as it was: it leaves YAML only if it was YAML.
    let was_yaml = parse_yaml(document).is_some();
    if let Ok(after) = set_values(document, &updates)
        && (was_yaml || !updates.is_empty())
    {
        let edited = parse_yaml(&after).unwrap_or_else(|| panic!("an edit leaves YAML:\n{after}"));
        // Anchors, aliases and merge keys share nodes between keys; duplicate keys read
        // as one. Elsewhere, a key no update names keeps its value.
        let shared = ["&", "*", "<<"].iter().any(|s| document.contains(s));
        if let (Some(Value::Object(before)), Value::Object(edited), false) = (parse_yaml(document), &edited, shared) {
            for (key, value) in &before {
                if !updates.iter().any(|(k, _)| k.split('.').next() == Some(key.as_str())) {
                    assert_eq!(edited.get(key), Some(value), "{key} changed without being updated:\n{after}");
                }
            }
        }
    }
    if let Some((key, value)) = updates.first()
        && let Ok(after) = append_to_sequence(document, key, value)
    {
        parse_yaml(&after).unwrap_or_else(|| panic!("an append leaves YAML:\n{after}"));
    }
}

/// `json-update`: `key=value` lines, `%%`, then a JSON file from a repository. An edit
/// either fails with a message or leaves JSON in which the last updated key holds its
/// value. Nothing may panic.
pub fn json_update(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (updates, document) = updates_and_document(text);
    let Ok(after) = edit_json("values.json", document, &updates) else { return };
    let edited: Value = serde_json::from_str(&after).unwrap_or_else(|e| panic!("an edit leaves JSON ({e}):\n{after}"));
    if let Some((key, value)) = updates.last() {
        let read = lookup(&edited, key);
        assert!(read.is_some_and(|read| same_value(read, value)), "{key} reads {read:?}, not {value}:\n{after}");
    }
}

/// `toml-update`: `key=value` lines, `%%`, then a TOML file from a repository. An edit
/// either fails with a message or leaves TOML in which the last updated key holds its
/// value. Nothing may panic.
pub fn toml_update(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (updates, document) = updates_and_document(text);
    let Ok(after) = edit_toml("config.toml", document, &updates) else { return };
    let edited: toml_edit::DocumentMut =
        after.parse().unwrap_or_else(|e| panic!("an edit leaves TOML ({e}):\n{after}"));
    let Some((key, value)) = updates.last() else { return };
    let mut item = edited.as_item();
    for part in key.split('.') {
        item = item.get(part).unwrap_or_else(|| panic!("{key} is missing after the edit:\n{after}"));
    }
    let read = item.as_value();
    match value {
        Value::String(s) => assert_eq!(read.and_then(|v| v.as_str()), Some(s.as_str()), "{key}:\n{after}"),
        Value::Bool(b) => assert_eq!(read.and_then(|v| v.as_bool()), Some(*b), "{key}:\n{after}"),
        Value::Number(n) if n.is_i64() => assert_eq!(read.and_then(|v| v.as_integer()), n.as_i64(), "{key}:\n{after}"),
        _ => {}
    }
}

/// Docker/OCI references and what registries answer: image `repoURL`s (`nginx`,
/// `ghcr.io/org/app`, `oci://…` charts), digests, manifests and image configs,
/// `WWW-Authenticate` challenges, `Link` headers and chart `index.yaml` files. A
/// reference that parses names a host and a repository; a digest that parses matches
/// only the bytes it hashes. Nothing may panic.
pub fn oci_reference(data: &[u8]) {
    let _ = parse_manifest("app@sha256:…", data);
    let _ = parse_config(data);
    let Ok(text) = std::str::from_utf8(data) else { return };

    for insecure in [false, true] {
        if let Ok(repo) = Repository::parse(text, insecure) {
            assert!(!repo.host.is_empty() && !repo.name.is_empty(), "{repo:?}");
        }
    }
    let _ = (normalize_image_repo(text), normalize_chart(text));
    if let Ok(digest) = Digest::parse(text) {
        assert!(digest.verify(data).is_err(), "a digest matches its own text");
    }
    let _ = parse_challenge(text);
    let _ = next_link(text);
    let _ = parse_index(text, Limit::new(64 * 1024, "LADING_CHART_INDEX_MAX"));
}
