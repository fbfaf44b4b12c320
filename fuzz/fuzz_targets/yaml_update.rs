//! `yaml-update` (and `kustomize-set-image`'s appends): `key=value` lines, `%%`, then
//! a YAML file from a repository. An edit either fails with a message or leaves YAML in
//! which the updated key holds its value and every top-level key it did not touch is
//! as it was. Nothing may panic.

#![no_main]

use lading_fuzz::updates_and_document;
use lading_promoter::steps::{append_to_sequence, set_values};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn parse(text: &str) -> Option<Value> {
    serde_saphyr::from_str::<Value>(text).ok()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (updates, document) = updates_and_document(text);
    if let Ok(after) = set_values(document, &updates) {
        let edited = parse(&after).unwrap_or_else(|| panic!("an edit leaves YAML:\n{after}"));
        // Anchors, aliases and merge keys share nodes between keys; duplicate keys read
        // as one. Elsewhere, a key no update names keeps its value.
        let shared = ["&", "*", "<<"].iter().any(|s| document.contains(s));
        if let (Some(Value::Object(before)), Value::Object(edited), false) = (parse(document), &edited, shared) {
            for (key, value) in &before {
                if !updates.iter().any(|(k, _)| k.split('.').next() == Some(key.as_str())) {
                    assert_eq!(edited.get(key), Some(value), "{key} changed without being updated:\n{after}");
                }
            }
        }
    }
    if let Some((key, value)) = updates.first() {
        if let Ok(after) = append_to_sequence(document, key, value) {
            parse(&after).unwrap_or_else(|| panic!("an append leaves YAML:\n{after}"));
        }
    }
});
