//! `json-update`: `key=value` lines, `%%`, then a JSON file from a repository. An edit
//! either fails with a message or leaves JSON in which the last updated key holds its
//! value. Nothing may panic.

#![no_main]

use lading_fuzz::{lookup, same_value, updates_and_document};
use lading_promoter::steps::edit_json;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (updates, document) = updates_and_document(text);
    let Ok(after) = edit_json("values.json", document, &updates) else { return };
    let edited: Value = serde_json::from_str(&after).unwrap_or_else(|e| panic!("an edit leaves JSON ({e}):\n{after}"));
    if let Some((key, value)) = updates.last() {
        let read = lookup(&edited, key);
        assert!(read.is_some_and(|read| same_value(read, value)), "{key} reads {read:?}, not {value}:\n{after}");
    }
});
