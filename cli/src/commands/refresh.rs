//! `lading refresh warehouse W [--wait [--timeout D]] [-p P]`, `lading refresh stage S [-p P]`.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::ValueEnum;
use lading_domain::duration::parse_go_duration;
use serde_json::Value;

use super::{Context, segment};
use crate::output::text;

/// How often `--wait` asks the api.
const POLL: Duration = Duration::from_millis(250);

/// Ask a warehouse to discover now, or a stage to assess its health now, instead of at
/// its next interval.
///
/// With --wait (warehouses), returns once the warehouse has handled this very request
/// (Kargo's `status.lastHandledRefresh`), printing the discovery's error if it failed.
/// Needs the promoter role.
///
///   lading refresh warehouse app -p demo
///   lading refresh warehouse app --wait --timeout 2m
///   lading refresh stage test -p demo
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct RefreshArgs {
    /// What to refresh.
    pub kind: Refreshable,
    /// Its name.
    pub name: String,
    /// Wait until the warehouse has handled the refresh.
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits (e.g. 30s, 5m).
    #[arg(long, default_value = "5m", requires = "wait")]
    pub timeout: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Refreshable {
    Warehouse,
    Stage,
}

pub async fn run(context: &Context, args: RefreshArgs) -> anyhow::Result<()> {
    if let Refreshable::Stage = args.kind {
        if args.wait {
            bail!("--wait is for warehouses: a stage's refresh shows in its status.health");
        }
        let path = format!("{}/stages/{}/refresh", context.project_path()?, segment(&args.name));
        context.client.post_json(&path, &Value::Null).await?;
        println!("stage/{} refresh requested", args.name);
        return Ok(());
    }
    let timeout = parse_go_duration(&args.timeout).with_context(|| format!("--timeout {:?}", args.timeout))?;
    let path = format!("{}/warehouses/{}/refresh", context.project_path()?, segment(&args.name));
    let answer = context.client.post_json(&path, &Value::Null).await?;
    let request = text(&answer, "/requestId").to_owned();
    println!("warehouse/{} refresh requested", args.name);
    if !args.wait {
        return Ok(());
    }
    let warehouses = format!("{}/warehouses", context.project_path()?);
    let deadline = Instant::now() + timeout;
    loop {
        let list = context.client.get(&warehouses).await?;
        let warehouse =
            list["items"].as_array().and_then(|items| items.iter().find(|w| w["metadata"]["name"] == args.name));
        let Some(warehouse) = warehouse else { bail!("warehouse {:?} was deleted while refreshing", args.name) };
        if handled(warehouse, &request) {
            let error = text(warehouse, "/status/lastDiscoveryError/message");
            if !error.is_empty() {
                eprintln!("warning: the warehouse's last discovery failed: {error}");
            }
            println!("warehouse/{} refreshed", args.name);
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "warehouse {:?} did not handle the refresh within {}; it may still be discovering (see `lading get warehouses`)",
                args.name,
                args.timeout
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Whether `warehouse` has handled the refresh `request` (Kargo's `lastHandledRefresh`).
fn handled(warehouse: &Value, request: &str) -> bool {
    !request.is_empty() && text(warehouse, "/status/lastHandledRefresh") == request
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_refresh_is_handled_when_the_warehouse_names_its_request() {
        let warehouse = json!({"status": {"lastHandledRefresh": "01abc"}});
        assert!(handled(&warehouse, "01abc"));
        assert!(!handled(&warehouse, "01abd"), "an earlier refresh is not this one");
        assert!(!handled(&json!({"status": {}}), "01abc"));
        assert!(!handled(&json!({"status": {"lastHandledRefresh": ""}}), ""));
    }
}
