//! Freight-ID input: a Freight document (YAML or JSON, Kargo's fields) as `lading
//! freight id` and the api read it, and freight IDs and aliases as requests name them.
//! An ID that is computed does not depend on the order of the artifacts, survives the
//! freight being printed as JSON and read again, parses as an ID and has an alias.
//! Nothing may panic.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lading_fuzz::targets::freight_id(data));
