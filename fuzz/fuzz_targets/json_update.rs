//! `json-update`: `key=value` lines, `%%`, then a JSON file from a repository. An edit
//! either fails with a message or leaves JSON in which the last updated key holds its
//! value. Nothing may panic.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lading_fuzz::service_targets::json_update(data));
