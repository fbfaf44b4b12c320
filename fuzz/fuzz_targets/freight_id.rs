//! Freight-ID input: a Freight document (YAML or JSON, Kargo's fields) as `lading
//! freight id` and the api read it, and freight IDs and aliases as requests name them.
//! An ID that is computed does not depend on the order of the artifacts, survives the
//! freight being printed as JSON and read again, parses as an ID and has an alias.
//! Nothing may panic.

#![no_main]

use lading_domain::url_normalize::{go_path_clean, normalize_chart, normalize_git, normalize_image_repo};
use lading_domain::{Freight, FreightId, alias, freight_id};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // As a name in a request: an ID, an alias, or a repository URL.
    let _ = FreightId::parse(text);
    let _ = alias::looks_like_alias(text);
    let _ = (normalize_git(text), normalize_chart(text), normalize_image_repo(text), go_path_clean(text));

    let Ok(Value::Object(mut map)) = serde_saphyr::from_str::<Value>(text) else { return };
    map.remove("status");
    let Ok(freight) = lading_domain::spec::deserialize_at::<Freight>("", Value::Object(map)) else { return };
    let Ok(id) = freight_id::compute(&freight) else { return };

    let mut reversed = freight.clone();
    reversed.commits.reverse();
    reversed.images.reverse();
    reversed.charts.reverse();
    assert_eq!(freight_id::compute(&reversed).ok(), Some(id.clone()), "the order of artifacts counts");

    let printed = serde_json::to_value(&freight).expect("a freight prints as JSON");
    let read: Freight = serde_json::from_value(printed).expect("a printed freight reads back");
    assert_eq!(freight_id::compute(&read).ok(), Some(id.clone()), "printing changed the ID");

    assert_eq!(FreightId::parse(id.as_str()).ok(), Some(id.clone()));
    assert!(alias::looks_like_alias(&alias::candidate(&id, 0)));
});
