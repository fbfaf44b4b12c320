//! Manifest parsing and validation, as `POST /api/v1/apply` does it: a body of YAML or
//! JSON documents, parsed, validated (every expression in them checked), and checked for
//! stage cycles. A manifest that is accepted is stored as its JSON and read back by every
//! service: that JSON must validate again to the same manifest. Nothing may panic.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lading_fuzz::targets::manifest(data));
