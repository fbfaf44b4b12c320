//! `lading promote --freight F --stage S -p P [--wait]` and `lading promote --abort`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use lading_domain::duration::parse_go_duration;
use serde_json::{Value, json};

use crate::cli::PromoteArgs;
use crate::client::Client;
use crate::output::text;

pub async fn run(client: &Client, args: PromoteArgs) -> anyhow::Result<()> {
    let stage_path = format!("/api/v1/projects/{}/stages/{}", args.project, args.stage);
    if args.abort {
        let body = json!({"promotion": args.promotion});
        let response = client.post_json(&format!("{stage_path}/abort"), &body).await?;
        println!("promotion/{} aborted", text(&response, "/name"));
        return Ok(());
    }
    let freight = args.freight.unwrap_or_default();
    let response = client.post_json(&format!("{stage_path}/promotions"), &json!({"freight": freight})).await?;
    let name = text(&response, "/name").to_owned();
    println!("promotion/{name} created");
    if args.wait {
        let timeout = parse_go_duration(&args.timeout).with_context(|| format!("--timeout {:?}", args.timeout))?;
        wait(client, &args.project, &args.stage, &name, timeout).await?;
    }
    Ok(())
}

fn find_promotion<'a>(stages: &'a Value, stage: &str, name: &str) -> Option<&'a Value> {
    stages["items"]
        .as_array()?
        .iter()
        .find(|s| s["metadata"]["name"] == stage)?
        .pointer("/status/promotions")?
        .as_array()?
        .iter()
        .find(|p| p["name"] == name)
}

/// Follows a promotion until it ends, printing each phase change and finished step.
async fn wait(client: &Client, project: &str, stage: &str, name: &str, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut last_phase = String::new();
    let mut steps_seen = BTreeSet::new();
    loop {
        let stages = client.get(&format!("/api/v1/projects/{project}/stages")).await?;
        if let Some(promotion) = find_promotion(&stages, stage, name) {
            for step in
                promotion.pointer("/status/stepExecutionMetadata").and_then(Value::as_array).into_iter().flatten()
            {
                let key = (text(step, "/alias").to_owned(), text(step, "/status").to_owned());
                if steps_seen.insert(key) {
                    let message = text(step, "/message");
                    let suffix = if message.is_empty() { String::new() } else { format!(": {message}") };
                    println!("  {} ({}) {}{suffix}", text(step, "/alias"), text(step, "/uses"), text(step, "/status"));
                }
            }
            let phase = text(promotion, "/status/phase").to_owned();
            if phase != last_phase {
                println!("{phase}");
                last_phase = phase.clone();
            }
            match phase.as_str() {
                "Succeeded" => return Ok(()),
                "Failed" | "Errored" | "Aborted" => {
                    bail!("promotion {name} {}: {}", phase.to_lowercase(), text(promotion, "/status/message"))
                }
                _ => {}
            }
        }
        if Instant::now() > deadline {
            bail!(
                "promotion {name} did not finish within {timeout:?} (it is {})",
                if last_phase.is_empty() { "unknown" } else { &last_phase }
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
