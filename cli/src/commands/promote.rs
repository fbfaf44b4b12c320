//! `lading promote --freight F --stage S [--wait]`, `lading promote --downstream-from S`
//! and `lading promote --abort --stage S`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use lading_domain::duration::parse_go_duration;
use serde_json::{Value, json};

use super::{Context, segment};
use crate::output::text;

/// How often `--wait` asks the api.
const POLL: Duration = Duration::from_millis(250);

/// Promote freight into a stage (or into every stage after one), or abort a promotion.
///
/// The freight (name or alias) must be available to the stage: straight from its
/// warehouse, verified upstream, or approved (`lading approve`). Promoting other freight
/// than the one auto-promotion would pick holds auto-promotion of that stage until its
/// candidate is promoted again. Promotions of a stage run one at a time, in order.
///
/// --downstream-from S promotes the freight currently in S (or --freight) into every
/// stage that takes freight from S. Needs the promoter role.
///
///   lading promote --freight brave-otter --stage uat -p demo --wait
///   lading promote --downstream-from uat --wait
///   lading promote --abort --stage uat
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct PromoteArgs {
    /// The freight to promote: its name (ID) or alias.
    #[arg(long, required_unless_present_any = ["abort", "downstream_from"], conflicts_with = "abort")]
    pub freight: Option<String>,
    /// The stage.
    #[arg(long, required_unless_present = "downstream_from", conflicts_with = "downstream_from")]
    pub stage: Option<String>,
    /// Promote into every stage that takes freight from this one (the freight currently
    /// in it, unless --freight names another).
    #[arg(long, value_name = "STAGE", conflicts_with = "abort")]
    pub downstream_from: Option<String>,
    /// Wait until the promotion ends, showing its steps; fails unless it succeeds.
    #[arg(long, conflicts_with = "abort")]
    pub wait: bool,
    /// How long --wait waits (e.g. 30s, 10m).
    #[arg(long, default_value = "10m", requires = "wait")]
    pub timeout: String,
    /// Abort the stage's current promotion (or --promotion NAME) instead.
    #[arg(long)]
    pub abort: bool,
    /// With --abort: the promotion to abort.
    #[arg(long, requires = "abort")]
    pub promotion: Option<String>,
}

pub async fn run(context: &Context, args: PromoteArgs) -> anyhow::Result<()> {
    let timeout = parse_go_duration(&args.timeout).with_context(|| format!("--timeout {:?}", args.timeout))?;
    let deadline = Instant::now() + timeout;
    if let Some(upstream) = &args.downstream_from {
        return downstream(context, upstream, args.freight.as_deref(), args.wait.then_some(deadline)).await;
    }
    let stage = args.stage.as_deref().unwrap_or_default();
    let stage_path = format!("{}/stages/{}", context.project_path()?, segment(stage));
    if args.abort {
        let body = json!({"promotion": args.promotion});
        let response = context.client.post_json(&format!("{stage_path}/abort"), &body).await?;
        println!("promotion/{} aborted", text(&response, "/name"));
        return Ok(());
    }
    let freight = args.freight.unwrap_or_default();
    let name = promote(context, stage, &freight).await?;
    if args.wait {
        wait(context, stage, &name, deadline).await?;
    }
    Ok(())
}

/// Queues a promotion of `freight` into `stage`; its name.
async fn promote(context: &Context, stage: &str, freight: &str) -> anyhow::Result<String> {
    let path = format!("{}/stages/{}/promotions", context.project_path()?, segment(stage));
    let response = context.client.post_json(&path, &json!({"freight": freight})).await?;
    let name = text(&response, "/name").to_owned();
    println!("promotion/{name} created");
    Ok(name)
}

/// Promotes into every stage that takes freight from `upstream`.
async fn downstream(
    context: &Context,
    upstream: &str,
    freight: Option<&str>,
    wait_until: Option<Instant>,
) -> anyhow::Result<()> {
    let stages = context.client.get(&format!("{}/stages", context.project_path()?)).await?;
    let plan = plan_downstream(&stages, upstream, freight)?;
    let mut promotions = Vec::new();
    for (stage, freight) in &plan {
        promotions.push((stage.clone(), promote(context, stage, freight).await?));
    }
    if let Some(deadline) = wait_until {
        for (stage, name) in promotions {
            wait(context, &stage, &name, deadline).await?;
        }
    }
    Ok(())
}

/// The `(stage, freight)` promotions `--downstream-from upstream` makes: for each stage
/// taking freight from `upstream`, the freight given, or else the freight `upstream`
/// holds from the origin that stage requests.
fn plan_downstream(stages: &Value, upstream: &str, freight: Option<&str>) -> anyhow::Result<Vec<(String, String)>> {
    let items = stages["items"].as_array().map(Vec::as_slice).unwrap_or_default();
    let names: Vec<&str> = items.iter().map(|s| text(s, "/metadata/name")).collect();
    let Some(source) = items.iter().find(|s| s["metadata"]["name"] == upstream) else {
        let hint = lading_domain::suggest::did_you_mean(upstream, names.iter().copied());
        bail!("stage {upstream:?} not found{hint}");
    };
    let current = source["status"]["currentFreight"].as_array().map(Vec::as_slice).unwrap_or_default();
    let mut plan = Vec::new();
    for stage in items {
        for request in stage["spec"]["requestedFreight"].as_array().into_iter().flatten() {
            let from_upstream =
                request["sources"]["stages"].as_array().is_some_and(|s| s.iter().any(|n| n == upstream));
            if !from_upstream {
                continue;
            }
            // The api names a stage's current freight's origin `Kind/name`.
            let origin = format!("{}/{}", text(request, "/origin/kind"), text(request, "/origin/name"));
            let chosen = match freight {
                Some(freight) => Some(freight.to_owned()),
                None => current.iter().find(|f| f["origin"] == origin.as_str()).map(|f| text(f, "/name").to_owned()),
            };
            if let Some(chosen) = chosen {
                plan.push((text(stage, "/metadata/name").to_owned(), chosen));
            }
        }
    }
    if plan.is_empty() {
        if freight.is_none() && current.is_empty() {
            bail!("stage {upstream:?} holds no freight to promote; name one with --freight");
        }
        bail!("no stage takes freight from {upstream:?}");
    }
    Ok(plan)
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
async fn wait(context: &Context, stage: &str, name: &str, deadline: Instant) -> anyhow::Result<()> {
    let mut last_phase = String::new();
    let mut steps_seen = BTreeSet::new();
    let stages_path = format!("{}/stages", context.project_path()?);
    loop {
        let stages = context.client.get(&stages_path).await?;
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
                "promotion {name} did not finish within --timeout (it is {})",
                if last_phase.is_empty() { "unknown" } else { &last_phase }
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn stages() -> Value {
        let stage = |name: &str, sources: Value, current: Value| {
            json!({"metadata": {"name": name},
                "spec": {"requestedFreight": [{"origin": {"kind": "Warehouse", "name": "app"}, "sources": sources}]},
                "status": {"currentFreight": current}})
        };
        json!({"items": [
            stage("test", json!({"direct": true}), json!([{"name": "f1", "alias": "a1", "origin": "Warehouse/app"}])),
            stage("uat-eu", json!({"stages": ["test"]}), json!([])),
            stage("uat-us", json!({"stages": ["test"]}), json!([])),
            stage("prod", json!({"stages": ["uat-eu", "uat-us"]}), json!([])),
        ]})
    }

    #[test]
    fn downstream_promotes_what_the_stage_holds_into_every_stage_fed_by_it() {
        let plan = plan_downstream(&stages(), "test", None).unwrap();
        assert_eq!(plan, vec![("uat-eu".to_owned(), "f1".to_owned()), ("uat-us".to_owned(), "f1".to_owned())]);
        let named = plan_downstream(&stages(), "uat-eu", Some("a1")).unwrap();
        assert_eq!(named, vec![("prod".to_owned(), "a1".to_owned())]);
    }

    #[test]
    fn downstream_says_why_there_is_nothing_to_promote() {
        let error = |upstream: &str| plan_downstream(&stages(), upstream, None).unwrap_err().to_string();
        assert_eq!(error("uat-eu"), "stage \"uat-eu\" holds no freight to promote; name one with --freight");
        assert_eq!(error("tset"), "stage \"tset\" not found (did you mean \"test\"?)");
        let none = plan_downstream(&stages(), "prod", Some("a1")).unwrap_err().to_string();
        assert_eq!(none, "no stage takes freight from \"prod\"");
    }
}
