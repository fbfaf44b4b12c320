//! `toml-update`: `key=value` lines, `%%`, then a TOML file from a repository. An edit
//! either fails with a message or leaves TOML in which the last updated key holds its
//! value. Nothing may panic.

#![no_main]

use lading_fuzz::updates_and_document;
use lading_promoter::steps::edit_toml;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
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
});
