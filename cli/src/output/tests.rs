use serde_json::json;

use super::*;

const THINGS: Resource = Resource {
    kind: "thing",
    plural: "things",
    columns: &[
        Column::new("NAME", |t, _| object_name(t).to_owned()),
        Column::wide("COLOUR", |t, _| text(t, "/colour").to_owned()),
    ],
};

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().with_timezone(&Utc)
}

#[test]
fn every_format_parses_and_templates_are_checked_up_front() {
    assert_eq!("table".parse(), Ok(OutputFormat::Table));
    assert_eq!("wide".parse(), Ok(OutputFormat::Wide));
    assert_eq!("json".parse(), Ok(OutputFormat::Json));
    assert_eq!("yaml".parse(), Ok(OutputFormat::Yaml));
    assert_eq!("name".parse(), Ok(OutputFormat::Name));
    assert!(matches!("jsonpath={.kind}".parse(), Ok(OutputFormat::JsonPath(_))));
    assert!(matches!("jsonpath-as-json={.kind}".parse(), Ok(OutputFormat::JsonPathAsJson(_))));
    assert!("jsonpath={.kind".parse::<OutputFormat>().unwrap_err().contains("unclosed action"));
    assert!("csv".parse::<OutputFormat>().unwrap_err().contains(FORMATS));
}

#[test]
fn wide_columns_show_only_with_wide() {
    let answer = json!({"kind": "List", "items": [{"metadata": {"name": "a"}, "colour": "red"}]});
    assert_eq!(render(&OutputFormat::Table, &THINGS, &answer, false, now()).unwrap(), "NAME\na\n");
    assert_eq!(render(&OutputFormat::Wide, &THINGS, &answer, false, now()).unwrap(), "NAME   COLOUR\na      red\n");
}

#[test]
fn an_empty_list_is_an_empty_table_but_still_a_list_in_json() {
    let answer = json!({"kind": "List", "items": []});
    assert_eq!(render(&OutputFormat::Table, &THINGS, &answer, false, now()).unwrap(), "");
    assert_eq!(render(&OutputFormat::Name, &THINGS, &answer, false, now()).unwrap(), "");
    let json = render(&OutputFormat::Json, &THINGS, &answer, false, now()).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&json).unwrap(), answer);
}

#[test]
fn an_object_with_an_items_field_is_one_object() {
    let object = json!({"kind": "Thing", "metadata": {"name": "x"}, "items": [1, 2]});
    assert_eq!(items(&object), vec![&object]);
    let tokens = json!({"items": [{"name": "ci"}]});
    assert_eq!(render(&OutputFormat::Name, &THINGS, &tokens, false, now()).unwrap(), "thing/ci\n");
}
