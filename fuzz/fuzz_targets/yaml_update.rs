//! `yaml-update` (and `kustomize-set-image`'s appends): `key=value` lines, `%%`, then
//! a YAML file from a repository. An edit either fails with a message or leaves YAML in
//! which the updated key holds its value and every top-level key it did not touch is
//! as it was. Nothing may panic.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| lading_fuzz::service_targets::yaml_update(data));
