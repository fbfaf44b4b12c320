//! Manifest parsing and validation, as `POST /api/v1/apply` does it: a body of YAML or
//! JSON documents, parsed, validated (every expression in them checked), and checked for
//! stage cycles. A manifest that is accepted is stored as its JSON and read back by every
//! service: that JSON must validate again to the same manifest. Nothing may panic.

#![no_main]

use std::collections::{BTreeMap, BTreeSet};

use lading_domain::spec::references::{describe_cycle, find_cycle, upstream_stages};
use lading_domain::spec::{Spec, parse_manifests, validate_manifest};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = std::str::from_utf8(data) else { return };
    let Ok(documents) = serde_saphyr::from_multiple::<Value>(body) else { return };
    let manifests = match parse_manifests(documents) {
        Ok(manifests) => manifests,
        Err(errors) => {
            assert!(!errors.is_empty());
            for error in errors {
                assert!(!error.field.is_empty(), "an error names its field: {error}");
            }
            return;
        }
    };
    let mut stages: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for manifest in &manifests {
        let stored = manifest.to_json();
        let read = validate_manifest(1, stored.clone())
            .unwrap_or_else(|e| panic!("a stored manifest reads back: {e}\n{stored:#}"));
        assert_eq!(read.to_json(), stored, "a stored manifest reads back the same");
        if let Spec::Stage(spec) = &manifest.spec {
            stages.insert(manifest.name().to_owned(), upstream_stages(spec));
        }
    }
    if let Some(cycle) = find_cycle(&stages) {
        assert!(!describe_cycle(&cycle).is_empty());
    }
});
