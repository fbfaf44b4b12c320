//! Given/when/then tests of the public CloudEvents and the drift test of their schemas.

use std::path::PathBuf;

use super::*;
use crate::codec::golden::samples;
use crate::headers::EventHeaders;

/// Setting this writes `docs/events/` from the types instead of comparing.
const WRITE_ENV: &str = "LADING_WRITE_EVENT_SCHEMAS";

fn docs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/events")
}

#[test]
fn a_cloudevent_carries_the_internal_identity_and_the_trace() {
    // Given a freight-created event published by the warehouse in a trace,
    let event = samples().into_iter().find(|e| e.event_type() == EventType::FreightCreatedV1).unwrap();
    let trace = TraceContext::root(0x0af7651916cd43dd8448eb211c80319c, 0xb7ad6b7169203331);
    // when it is made public,
    let public = CloudEvent::of(&event, "/lading/warehouse", Some(&trace));
    let json: serde_json::Value = serde_json::from_slice(&public.to_json()).unwrap();
    // then the envelope is CloudEvents 1.0 with the internal id, type, subject and time,
    assert_eq!(json["specversion"], "1.0");
    assert_eq!(json["id"], event.identity());
    assert_eq!(json["type"], "dev.lading.freight.created.v1");
    assert_eq!(json["source"], "/lading/warehouse");
    assert_eq!(json["subject"], event.ce_subject());
    assert_eq!(json["time"], EventHeaders::for_event(&event, "", &trace).time);
    assert_eq!(json["datacontenttype"], "application/json");
    assert_eq!(json["dataschema"], "https://lading.dev/events/dev.lading.freight.created.v1.json");
    assert_eq!(json["traceparent"], "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    // and the data speaks JSON's camelCase.
    let Event::FreightCreated(payload) = &event else { unreachable!() };
    assert_eq!(json["data"]["freightId"], payload.freight_id);
    assert_eq!(json["data"]["createdAtMs"], payload.created_at_ms);
    assert!(json["data"].get("freight_id").is_none());
}

#[test]
fn an_event_without_a_trace_has_no_traceparent() {
    let event = samples().remove(0);
    let json: serde_json::Value = serde_json::from_slice(&CloudEvent::of(&event, "/x", None).to_json()).unwrap();
    assert!(json.get("traceparent").is_none());
}

#[test]
fn every_data_has_exactly_the_properties_its_schema_names() {
    // Given one sample of every type,
    for event in samples() {
        // when its data and its schema are produced,
        let data = data(&event);
        let schema = serde_json::to_value(data_schema(event.event_type())).unwrap();
        // then the data's fields are the schema's properties, and every one is required.
        let fields: Vec<&String> = data.as_object().unwrap().keys().collect();
        let properties: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
        assert_eq!(fields, properties, "{}", event.event_type().ce_type());
        let required = schema["required"].as_array().unwrap();
        assert_eq!(required.len(), properties.len(), "{}", event.event_type().ce_type());
    }
}

/// The schema file of one type, pretty-printed as published.
fn rendered_schema(event_type: EventType) -> String {
    format!("{}\n", serde_json::to_string_pretty(&data_schema(event_type)).unwrap())
}

/// The index of `docs/events/`: every type with its subject and schema.
fn rendered_index() -> String {
    let mut index = String::from(
        "# Event types\n\n\
         Every event Lading publishes on `lading.pub.<project>.<kind>.<name>.<type>` is a\n\
         structured-mode CloudEvent in JSON; `data` follows the JSON Schema named below.\n\
         This page and the schemas are generated from the Rust types\n\
         (`LADING_WRITE_EVENT_SCHEMAS=1 cargo test -p lading-events`); a test fails when\n\
         they drift.\n\n\
         | type | subject | schema |\n|---|---|---|\n",
    );
    for event_type in EventType::ALL {
        index.push_str(&format!(
            "| `{ce}` | `lading.pub.<project>.{kind}.<name>.{token}` | [{ce}.json]({ce}.json) |\n",
            ce = event_type.ce_type(),
            kind = event_type.entity_kind(),
            token = event_type.subject_token(),
        ));
    }
    index
}

#[test]
fn published_schemas_match_the_types() {
    // Given the schemas generated from the payload types,
    let mut expected: Vec<(String, String)> =
        EventType::ALL.into_iter().map(|t| (format!("{}.json", t.ce_type()), rendered_schema(t))).collect();
    expected.push(("README.md".to_owned(), rendered_index()));
    let dir = docs_dir();
    if std::env::var_os(WRITE_ENV).is_some() {
        for (name, text) in &expected {
            std::fs::write(dir.join(name), text).unwrap();
        }
    }
    // then docs/events/ holds exactly them, byte for byte.
    let mut drifted = Vec::new();
    for (name, text) in &expected {
        if std::fs::read_to_string(dir.join(name)).ok().as_deref() != Some(text.as_str()) {
            drifted.push(name.clone());
        }
    }
    let mut stray: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !expected.iter().any(|(known, _)| known == name))
        .collect();
    stray.sort();
    assert!(
        drifted.is_empty() && stray.is_empty(),
        "docs/events/ has drifted from the event types (changed: {drifted:?}, unknown: {stray:?}); \
         regenerate with {WRITE_ENV}=1 cargo test -p lading-events"
    );
}

#[test]
fn a_type_filter_names_one_version_or_all_of_them() {
    // Given filters in each accepted spelling, then they name the expected types.
    assert_eq!(types_named("dev.lading.freight.created.v1").unwrap(), [EventType::FreightCreatedV1]);
    assert_eq!(types_named("freight.created.v1").unwrap(), [EventType::FreightCreatedV1]);
    assert_eq!(
        types_named("promotion.step-finished").unwrap(),
        [EventType::PromotionStepFinishedV1, EventType::PromotionStepFinishedV2]
    );
    assert_eq!(types_named(" promotion.created.v2 ").unwrap(), [EventType::PromotionCreatedV2]);
}

#[test]
fn an_unknown_type_filter_is_refused_with_the_nearest_type() {
    let error = types_named("freight.craeted").unwrap_err();
    assert!(error.to_string().contains("(did you mean \"freight.created\"?)"), "{error}");
    let error = types_named("banana").unwrap_err();
    assert!(error.to_string().starts_with("\"banana\" is not an event type;"), "{error}");
    assert!(types_named("freight").is_err(), "a bare entity names no type");
}
