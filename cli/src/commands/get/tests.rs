//! Golden tests: what `lading get` prints for a fixed answer of the api, in every format.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::*;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-01T01:00:00Z").unwrap().with_timezone(&Utc)
}

fn freight_list() -> Value {
    json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "lading.dev/v1alpha1", "kind": "Freight",
         "metadata": {"name": "6508e3bfbdb2a34da3fdf17fdf56cf8b4187d66e", "namespace": "demo",
                      "creationTimestamp": "2026-01-01T00:59:30Z"},
         "alias": "frozen-tauntaun", "origin": {"kind": "Warehouse", "name": "app"},
         "commits": [{"repoURL": "https://git.example.com/app.git", "id": "1234567890abcdef", "tag": "v1.2.0"}],
         "images": [{"repoURL": "ghcr.io/org/app", "tag": "1.2.0", "digest": "sha256:00"}],
         "status": {"currentlyIn": {"test": {}}, "verifiedIn": {"test": {}}, "approvedFor": {"prod": {}}}},
        {"apiVersion": "lading.dev/v1alpha1", "kind": "Freight",
         "metadata": {"name": "11bca770c4cde69e08e658eed42800ebc8e39178", "namespace": "demo",
                      "creationTimestamp": "2025-12-31T22:00:00Z"},
         "alias": "leafy-horse", "origin": {"kind": "Warehouse", "name": "web"},
         "commits": [{"repoURL": "https://git.example.com/web.git", "id": "fedcba9876543210"}],
         "status": {"currentlyIn": {}, "verifiedIn": {}, "approvedFor": {}}},
    ]})
}

fn render(format: &str, answer: &Value, no_headers: bool, kind: Kind) -> String {
    let format: OutputFormat = format.parse().unwrap();
    output::render(&format, kind.resource(), answer, no_headers, now()).unwrap()
}

#[test]
fn freight_table_shows_name_alias_origin_and_age() {
    assert_eq!(
        render("table", &freight_list(), false, Kind::Freight),
        "\
NAME                                       ALIAS             ORIGIN   AGE
6508e3bfbdb2a34da3fdf17fdf56cf8b4187d66e   frozen-tauntaun   app      30s
11bca770c4cde69e08e658eed42800ebc8e39178   leafy-horse       web      3h
"
    );
}

#[test]
fn wide_adds_where_freight_is_and_what_it_holds() {
    assert_eq!(
        render("wide", &freight_list(), false, Kind::Freight),
        "\
NAME                                       ALIAS             ORIGIN   AGE   CURRENTLY IN   VERIFIED IN   APPROVED FOR   ARTIFACTS
6508e3bfbdb2a34da3fdf17fdf56cf8b4187d66e   frozen-tauntaun   app      30s   test           test          prod           v1.2.0,1.2.0
11bca770c4cde69e08e658eed42800ebc8e39178   leafy-horse       web      3h                                                fedcba9
"
    );
}

#[test]
fn no_headers_leaves_the_header_line_out() {
    assert_eq!(
        render("table", &freight_list(), true, Kind::Freight),
        "\
6508e3bfbdb2a34da3fdf17fdf56cf8b4187d66e   frozen-tauntaun   app   30s
11bca770c4cde69e08e658eed42800ebc8e39178   leafy-horse       web   3h
"
    );
}

#[test]
fn one_object_is_one_row() {
    let one = freight_list()["items"][1].clone();
    assert_eq!(
        render("table", &one, false, Kind::Freight),
        "NAME                                       ALIAS         ORIGIN   AGE\n11bca770c4cde69e08e658eed42800ebc8e39178   leafy-horse   web      3h\n"
    );
}

#[test]
fn name_prints_kind_slash_name() {
    assert_eq!(
        render("name", &freight_list(), false, Kind::Freight),
        "freight/6508e3bfbdb2a34da3fdf17fdf56cf8b4187d66e\nfreight/11bca770c4cde69e08e658eed42800ebc8e39178\n"
    );
    let projects = json!({"kind": "List", "items": [{"metadata": {"name": "demo"}}, {"metadata": {"name": "ops"}}]});
    assert_eq!(render("name", &projects, false, Kind::Projects), "project/demo\nproject/ops\n");
}

#[test]
fn json_is_the_answer_itself() {
    let answer = json!({"apiVersion": "v1", "kind": "List", "items": [{"metadata": {"name": "a"}, "alias": "b"}]});
    assert_eq!(
        render("json", &answer, false, Kind::Freight),
        r#"{
  "apiVersion": "v1",
  "items": [
    {
      "alias": "b",
      "metadata": {
        "name": "a"
      }
    }
  ],
  "kind": "List"
}
"#
    );
}

#[test]
fn yaml_is_the_answer_itself() {
    let answer = json!({"apiVersion": "v1", "kind": "List", "items": [{"metadata": {"name": "a"}, "alias": "b"}]});
    assert_eq!(
        render("yaml", &answer, false, Kind::Freight),
        "apiVersion: v1\nitems:\n- alias: b\n  metadata:\n    name: a\nkind: List\n"
    );
}

#[test]
fn jsonpath_templates_print_as_kubectl_prints_them() {
    assert_eq!(
        render("jsonpath={.items[*].alias}", &freight_list(), false, Kind::Freight),
        "frozen-tauntaun leafy-horse"
    );
    assert_eq!(
        render(
            r#"jsonpath={range .items[*]}{.alias}{"\t"}{.origin.name}{"\n"}{end}"#,
            &freight_list(),
            false,
            Kind::Freight
        ),
        "frozen-tauntaun\tapp\nleafy-horse\tweb\n"
    );
    assert_eq!(
        render("jsonpath-as-json={.items[*].alias}", &freight_list(), false, Kind::Freight),
        "[\n    \"frozen-tauntaun\",\n    \"leafy-horse\"\n]\n"
    );
}

#[test]
fn stages_show_current_freight_readiness_and_the_last_promotion() {
    let stages = json!({"kind": "List", "items": [
        {"metadata": {"name": "test"}, "spec": {"requestedFreight": [{"origin": {"kind": "Warehouse", "name": "app"}, "sources": {"direct": true}}]},
         "status": {"conditions": [{"type": "Ready", "status": "True", "message": "fine"}],
                    "currentFreight": [{"name": "6508e3b", "alias": "frozen-tauntaun"}],
                    "lastPromotion": {"name": "test.01abc.6508e3b", "status": {"phase": "Succeeded"}},
                    "health": {"status": "Healthy"}, "lastHandledRefresh": "1767225600"}},
        {"metadata": {"name": "late"}, "spec": {"requestedFreight": [{"origin": {"kind": "Warehouse", "name": "app"}, "sources": {"stages": ["test", "uat"]}}]},
         "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "MissingPromotionTask",
                    "message": "PromotionTask \"t\" does not exist"}], "health": {"status": "Degraded"}}},
    ]});
    assert_eq!(
        render("table", &stages, false, Kind::Stages),
        "\
NAME   CURRENT FREIGHT   HEALTH     READY   LAST PROMOTION       PHASE       VERIFICATION   MESSAGE
test   frozen-tauntaun   Healthy    True    test.01abc.6508e3b   Succeeded
late                     Degraded   False                                                   PromotionTask \"t\" does not exist
"
    );
    let wide = render("wide", &stages, false, Kind::Stages);
    assert!(
        wide.lines().next().unwrap().ends_with("SOURCES         CURRENT PROMOTION   LAST HANDLED REFRESH"),
        "{wide}"
    );
    assert!(wide.lines().nth(1).unwrap().contains("warehouse/app"), "{wide}");
    assert!(wide.lines().nth(1).unwrap().ends_with(" 1767225600"), "{wide}");
    assert!(wide.lines().nth(2).unwrap().contains("test,uat"), "{wide}");
}

#[test]
fn promotions_show_stage_freight_phase_and_age() {
    let promotions = json!({"kind": "List", "items": [
        {"metadata": {"name": "prod.01abc.6508e3b", "creationTimestamp": "2026-01-01T00:58:00Z",
                      "annotations": {"lading.dev/created-by": "release-bot"}},
         "spec": {"stage": "prod", "freight": "6508e3b"}, "freight": {"alias": "frozen-tauntaun"},
         "trigger": "Manual", "status": {"phase": "Running"}},
    ]});
    assert_eq!(
        render("wide", &promotions, false, Kind::Promotions),
        "\
NAME                 STAGE   FREIGHT           PHASE     AGE   TRIGGER   CREATED BY    MESSAGE
prod.01abc.6508e3b   prod    frozen-tauntaun   Running   2m    Manual    release-bot
"
    );
}

#[test]
fn warehouses_show_the_newest_discovery_of_each_subscription() {
    let warehouse = json!({"status": {"discoveredArtifacts": {
        "git": [{"commits": [{"id": "1234567890abcdef", "branch": "main"}]}, {"commits": [{"id": "ff", "tag": "v1.2.0"}]}],
        "images": [{"references": [{"tag": "1.2.0", "digest": "sha256:00"}]}],
        "charts": [{"versions": ["0.9.0", "0.8.0"]}],
    }}});
    assert_eq!(columns::newest_discovered(&warehouse), "1234567,v1.2.0,1.2.0,0.9.0");
    assert_eq!(columns::newest_discovered(&json!({"status": {}})), "");
}

#[test]
fn projects_count_their_stages_and_warehouses() {
    let projects = json!({"kind": "List", "items": [
        {"metadata": {"name": "demo"}, "spec": {"promotionPolicies": [
            {"stageSelector": {"name": "test"}, "autoPromotionEnabled": true},
            {"stageSelector": {"name": "uat"}, "autoPromotionEnabled": false}]},
         "status": {"stages": 3, "warehouses": 1}},
    ]});
    assert_eq!(
        render("wide", &projects, false, Kind::Projects),
        "NAME   STAGES   WAREHOUSES   AUTO-PROMOTED STAGES\ndemo   3        1            test\n"
    );
}

#[test]
fn a_name_that_is_not_there_gets_a_close_one() {
    let list = json!({"kind": "List", "items": [{"metadata": {"name": "uat"}}, {"metadata": {"name": "prod"}}]});
    let error = one_of(list.clone(), Some("uta"), "stage", " in project \"demo\"").unwrap_err().to_string();
    assert_eq!(error, "stage \"uta\" not found in project \"demo\" (did you mean \"uat\"?)");
    assert_eq!(one_of(list, Some("prod"), "stage", "").unwrap(), json!({"metadata": {"name": "prod"}}));
}
