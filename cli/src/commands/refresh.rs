//! `lading refresh warehouse|stage NAME [--wait [--timeout D]] [-p P]`.

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
/// With --wait, returns once the warehouse or stage has handled this very request
/// (Kargo's `status.lastHandledRefresh`); for a warehouse, prints the discovery's error
/// if it failed. Needs the promoter role.
///
///   lading refresh warehouse app -p demo
///   lading refresh warehouse app --wait --timeout 2m
///   lading refresh stage test --wait -p demo
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct RefreshArgs {
    /// What to refresh.
    pub kind: Refreshable,
    /// Its name.
    pub name: String,
    /// Wait until the warehouse or stage has handled the refresh.
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

impl Refreshable {
    fn singular(self) -> &'static str {
        match self {
            Refreshable::Warehouse => "warehouse",
            Refreshable::Stage => "stage",
        }
    }

    fn plural(self) -> &'static str {
        match self {
            Refreshable::Warehouse => "warehouses",
            Refreshable::Stage => "stages",
        }
    }
}

pub async fn run(context: &Context, args: RefreshArgs) -> anyhow::Result<()> {
    let (kind, kinds) = (args.kind.singular(), args.kind.plural());
    let timeout = parse_go_duration(&args.timeout).with_context(|| format!("--timeout {:?}", args.timeout))?;
    let list = format!("{}/{kinds}", context.project_path()?);
    let answer = context.client.post_json(&format!("{list}/{}/refresh", segment(&args.name)), &Value::Null).await?;
    let request = text(&answer, "/requestId").to_owned();
    println!("{kind}/{} refresh requested", args.name);
    if !args.wait {
        return Ok(());
    }
    let deadline = Instant::now() + timeout;
    loop {
        let items = context.client.get(&list).await?;
        let object =
            items["items"].as_array().and_then(|items| items.iter().find(|o| o["metadata"]["name"] == args.name));
        let Some(object) = object else { bail!("{kind} {:?} was deleted while refreshing", args.name) };
        if handled(object, &request) {
            let error = text(object, "/status/lastDiscoveryError/message");
            if !error.is_empty() {
                eprintln!("warning: the warehouse's last discovery failed: {error}");
            }
            println!("{kind}/{} refreshed", args.name);
            return Ok(());
        }
        if Instant::now() >= deadline {
            let doing = match args.kind {
                Refreshable::Warehouse => "discovering",
                Refreshable::Stage => "assessing its health",
            };
            bail!(
                "{kind} {:?} did not handle the refresh within {}; it may still be {doing} (see `lading get {kinds}`)",
                args.name,
                args.timeout
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Whether the warehouse or stage `object` has handled the refresh `request` (Kargo's
/// `lastHandledRefresh`).
fn handled(object: &Value, request: &str) -> bool {
    !request.is_empty() && text(object, "/status/lastHandledRefresh") == request
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_refresh_is_handled_when_the_object_names_its_request() {
        let warehouse = json!({"status": {"lastHandledRefresh": "01abc"}});
        assert!(handled(&warehouse, "01abc"));
        assert!(!handled(&warehouse, "01abd"), "an earlier refresh is not this one");
        assert!(!handled(&json!({"status": {}}), "01abc"));
        assert!(!handled(&json!({"status": {"lastHandledRefresh": ""}}), ""));
    }
}
