use serde_json::json;

use super::*;

fn list() -> Value {
    json!({"apiVersion": "v1", "kind": "List", "items": [
        {"metadata": {"name": "abc", "labels": {"lading.dev/alias": "brave-otter"}}, "alias": "brave-otter",
         "origin": {"kind": "Warehouse", "name": "app"}, "status": {"currentlyIn": {"test": {}}, "approvedFor": {}}},
        {"metadata": {"name": "def", "labels": {"lading.dev/alias": "frozen-tauntaun"}}, "alias": "frozen-tauntaun",
         "origin": {"kind": "Warehouse", "name": "web"}, "status": {"count": 2, "ok": true}},
    ]})
}

fn text(template: &str) -> String {
    Template::parse(template).unwrap().render_text(&list())
}

#[test]
fn a_wildcard_prints_every_result_separated_by_spaces() {
    assert_eq!(text("{.items[*].metadata.name}"), "abc def");
    assert_eq!(text("{.kind}"), "List");
    assert_eq!(text("names: {.items[*].alias}!"), "names: brave-otter frozen-tauntaun!");
}

#[test]
fn range_visits_each_element_with_literals_between() {
    assert_eq!(
        text(r#"{range .items[*]}{.metadata.name}{"\t"}{.alias}{"\n"}{end}"#),
        "abc\tbrave-otter\ndef\tfrozen-tauntaun\n"
    );
    assert_eq!(text("{range .items[*]}[{@.origin.name}]{end}"), "[app][web]");
    assert_eq!(text("{range .items[*]}{$.alias},{end}"), "brave-otter,frozen-tauntaun,");
    assert_eq!(text(r"{range .items[*]}{range .origin.*}{@}{' '}{end}{end}"), "Warehouse app Warehouse web ");
}

#[test]
fn filters_indexes_slices_and_recursive_descent_are_jsonpath_s() {
    assert_eq!(text(r#"{.items[?(@.origin.name=="web")].alias}"#), "frozen-tauntaun");
    assert_eq!(text(r#"{.items[?(@.origin.name=='app')].metadata.name}"#), "abc");
    assert_eq!(text("{.items[0].alias}"), "brave-otter");
    assert_eq!(text("{.items[-1].alias}"), "frozen-tauntaun");
    assert_eq!(text("{.items[0:1].metadata.name}"), "abc");
    assert_eq!(text("{..origin.name}"), "app web");
    assert_eq!(text("{.items[*]['alias']}"), "brave-otter frozen-tauntaun");
}

#[test]
fn field_names_with_dots_or_dashes_are_escaped_as_kubectl_writes_them() {
    assert_eq!(text(r"{.items[*].metadata.labels.lading\.dev/alias}"), "brave-otter frozen-tauntaun");
    assert_eq!(translate(".status.last-seen"), r#"$.status["last-seen"]"#);
    assert_eq!(translate("..app\\.kubernetes\\.io/name"), r#"$..["app.kubernetes.io/name"]"#);
}

#[test]
fn objects_print_as_json_and_scalars_as_text() {
    assert_eq!(text("{.items[0].origin}"), r#"{"kind":"Warehouse","name":"app"}"#);
    assert_eq!(text("{.items[1].status.count} {.items[1].status.ok}"), "2 true");
    assert_eq!(text("{.items[0].status.approvedFor}"), "{}");
}

#[test]
fn a_missing_field_prints_nothing() {
    assert_eq!(text("[{.nothing.here}]"), "[]");
    assert_eq!(text("{range .nothing[*]}x{end}"), "");
}

#[test]
fn as_json_collects_every_result_into_one_array() {
    let template = Template::parse("{.items[*].metadata.name}").unwrap();
    assert_eq!(template.render_json(&list()), vec![json!("abc"), json!("def")]);
    let ranged = Template::parse(r#"{range .items[*]}{.origin}{"\n"}{end}"#).unwrap();
    assert_eq!(
        ranged.render_json(&list()),
        vec![json!({"kind": "Warehouse", "name": "app"}), json!({"kind": "Warehouse", "name": "web"})]
    );
}

#[test]
fn malformed_templates_say_what_is_wrong() {
    let error = |t: &str| Template::parse(t).unwrap_err().to_string();
    assert_eq!(error("{.items"), "unclosed action: a `{` at byte 0 has no `}`");
    assert_eq!(error("x{range .items[*]}{.a}"), "`{range}` at byte 1 has no `{end}`");
    assert_eq!(error("{.a}{end}"), "`{end}` at byte 4 closes no `{range}`");
    assert_eq!(error("{}"), "empty action `{}` at byte 0");
    assert!(error("{.items[}").starts_with(".items[: "), "{}", error("{.items[}"));
    assert!(error(r#"{"\q"}"#).contains("not a quoted string"), "{}", error(r#"{"\q"}"#));
}

#[test]
fn a_brace_inside_a_quoted_literal_does_not_end_the_action() {
    assert_eq!(text(r#"{"}"}{.kind}"#), "}List");
}
