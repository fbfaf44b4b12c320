//! `lading get freight|stages|warehouses -p PROJECT [-o table|json|yaml]`.

use serde_json::Value;

use crate::cli::{GetArgs, OutputFormat, Resource};
use crate::client::Client;
use crate::output::{age, table, text, yaml};

pub async fn run(client: &Client, args: GetArgs) -> anyhow::Result<()> {
    let segment = match args.resource {
        Resource::Freight => "freight",
        Resource::Stages => "stages",
        Resource::Warehouses => "warehouses",
    };
    let list = client.get(&format!("/api/v1/projects/{}/{segment}", args.project)).await?;
    match args.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&list)?),
        OutputFormat::Yaml => print!("{}", yaml(&list)?),
        OutputFormat::Table => {
            let items = list.get("items").and_then(Value::as_array).cloned().unwrap_or_default();
            if items.is_empty() {
                eprintln!("No {segment} found in project {}.", args.project);
                return Ok(());
            }
            println!("{}", render_table(args.resource, &items, chrono::Utc::now()));
        }
    }
    Ok(())
}

fn render_table(resource: Resource, items: &[Value], now: chrono::DateTime<chrono::Utc>) -> String {
    match resource {
        Resource::Freight => {
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|f| {
                    vec![
                        text(f, "/metadata/name").to_owned(),
                        text(f, "/alias").to_owned(),
                        age(f.pointer("/metadata/creationTimestamp").and_then(Value::as_str), now),
                    ]
                })
                .collect();
            table(&["NAME", "ALIAS", "AGE"], &rows)
        }
        Resource::Stages => {
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|s| {
                    vec![
                        text(s, "/metadata/name").to_owned(),
                        s.pointer("/status/currentFreight")
                            .and_then(Value::as_array)
                            .map(|current| current.iter().map(|f| text(f, "/alias")).collect::<Vec<_>>().join(","))
                            .unwrap_or_default(),
                        ready(s, "status").to_owned(),
                        text(s, "/status/lastPromotion/name").to_owned(),
                        text(s, "/status/lastPromotion/status/phase").to_owned(),
                        if ready(s, "status") == "False" { ready(s, "message").to_owned() } else { String::new() },
                    ]
                })
                .collect();
            table(&["NAME", "CURRENT FREIGHT", "READY", "LAST PROMOTION", "PHASE", "MESSAGE"], &rows)
        }
        Resource::Warehouses => {
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|w| {
                    vec![
                        text(w, "/metadata/name").to_owned(),
                        newest_discovered(w),
                        text(w, "/status/lastFreightID").to_owned(),
                        text(w, "/status/lastDiscoveryError/message").to_owned(),
                    ]
                })
                .collect();
            table(&["NAME", "NEWEST DISCOVERED", "LAST FREIGHT", "LAST ERROR"], &rows)
        }
    }
}

/// A field of a stage's `Ready` condition.
fn ready<'a>(stage: &'a Value, field: &str) -> &'a str {
    stage
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|conditions| conditions.iter().find(|c| c["type"] == "Ready"))
        .and_then(|c| c[field].as_str())
        .unwrap_or_default()
}

/// The newest discovered revision of each subscription: `tag` or a short commit ID,
/// image tags, chart versions, joined by commas.
fn newest_discovered(warehouse: &Value) -> String {
    let found = &warehouse["status"]["discoveredArtifacts"];
    let list = |key: &str| found[key].as_array().cloned().unwrap_or_default();
    let mut newest = Vec::new();
    for git in list("git") {
        let first = &git["commits"][0];
        match first["tag"].as_str() {
            Some(tag) => newest.push(tag.to_owned()),
            None => newest.push(first["id"].as_str().unwrap_or("-").chars().take(7).collect()),
        }
    }
    for image in list("images") {
        newest.push(image["references"][0]["tag"].as_str().unwrap_or("-").to_owned());
    }
    for chart in list("charts") {
        newest.push(chart["versions"][0].as_str().unwrap_or("-").to_owned());
    }
    newest.join(",")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn warehouses_show_the_newest_discovery_of_each_subscription() {
        let warehouse = json!({"status": {"discoveredArtifacts": {
            "git": [{"commits": [{"id": "1234567890abcdef", "branch": "main"}]}, {"commits": [{"id": "ff", "tag": "v1.2.0"}]}],
            "images": [{"references": [{"tag": "1.2.0", "digest": "sha256:00"}]}],
            "charts": [{"versions": ["0.9.0", "0.8.0"]}],
        }}});
        assert_eq!(newest_discovered(&warehouse), "1234567,v1.2.0,1.2.0,0.9.0");
        assert_eq!(newest_discovered(&json!({"status": {}})), "");
    }

    #[test]
    fn stages_that_are_not_ready_say_why() {
        let now = chrono::Utc::now();
        let items = [
            json!({"metadata": {"name": "late"}, "status": {"conditions": [{"type": "Ready", "status": "False",
            "reason": "MissingPromotionTask", "message": "spec.promotionTemplate.spec.steps[0].task: PromotionTask \"t\" does not exist"}]}}),
        ];
        let table = render_table(Resource::Stages, &items, now);
        assert!(table.contains("False"), "{table}");
        assert!(table.contains("PromotionTask \"t\" does not exist"), "{table}");
    }

    #[test]
    fn freight_table_has_name_alias_age() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:01:00Z").unwrap().with_timezone(&chrono::Utc);
        let items =
            [json!({"metadata": {"name": "abc", "creationTimestamp": "2026-01-01T00:00:00Z"}, "alias": "brave-otter"})];
        assert_eq!(render_table(Resource::Freight, &items, now), "NAME   ALIAS         AGE\nabc    brave-otter   60s");
    }
}
