//! `lading verify stage S [--abort] [--wait [--timeout D]] [-p P]`.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::ValueEnum;
use lading_domain::duration::parse_go_duration;
use serde_json::{Value, json};

use super::{Context, segment};
use crate::output::text;

/// How often `--wait` asks the api.
const POLL: Duration = Duration::from_millis(250);

/// Verify a stage's current freight again with its analysis templates (Kargo's
/// `kargo verify stage`), or stop the running verification with --abort.
///
/// With --wait, returns once the verification has finished and prints its phase and
/// message; exits non-zero unless it was Successful. Needs the promoter role.
///
///   lading verify stage test -p demo
///   lading verify stage test --wait --timeout 10m
///   lading verify stage test --abort
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct VerifyArgs {
    /// What to verify.
    pub kind: Verifiable,
    /// Its name.
    pub name: String,
    /// Stop the running verification (its phase becomes Aborted).
    #[arg(long)]
    pub abort: bool,
    /// Wait until the verification has finished.
    #[arg(long, conflicts_with = "abort")]
    pub wait: bool,
    /// How long --wait waits (e.g. 30s, 5m).
    #[arg(long, default_value = "10m", requires = "wait")]
    pub timeout: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Verifiable {
    Stage,
}

pub async fn run(context: &Context, args: VerifyArgs) -> anyhow::Result<()> {
    let Verifiable::Stage = args.kind;
    let timeout = parse_go_duration(&args.timeout).with_context(|| format!("--timeout {:?}", args.timeout))?;
    let path = format!("{}/stages/{}/verify", context.project_path()?, segment(&args.name));
    let answer = context.client.post_json(&path, &json!({"abort": args.abort})).await?;
    let request = text(&answer, "/requestId").to_owned();
    if args.abort {
        println!("stage/{} verification abort requested", args.name);
        return Ok(());
    }
    println!("stage/{} verification requested", args.name);
    if !args.wait {
        return Ok(());
    }
    let stages = format!("{}/stages", context.project_path()?);
    let deadline = Instant::now() + timeout;
    loop {
        let list = context.client.get(&stages).await?;
        let stage =
            list["items"].as_array().and_then(|items| items.iter().find(|s| s["metadata"]["name"] == args.name));
        let Some(stage) = stage else { bail!("stage {:?} was deleted while verifying", args.name) };
        if let Some(verification) = verification(stage, &request) {
            let phase = text(verification, "/phase");
            if !matches!(phase, "" | "Pending" | "Running") {
                println!("stage/{} verification {phase}: {}", args.name, text(verification, "/message"));
                if phase != "Successful" {
                    bail!("verification of stage {:?} ended {phase}", args.name);
                }
                return Ok(());
            }
        }
        if Instant::now() >= deadline {
            bail!("the verification of stage {:?} did not finish within {}", args.name, args.timeout);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The verification named `id` in a stage's freight history.
fn verification<'a>(stage: &'a Value, id: &str) -> Option<&'a Value> {
    stage["status"]["freightHistory"]
        .as_array()?
        .iter()
        .filter_map(|entry| entry["verificationHistory"].as_array())
        .flatten()
        .find(|v| v["id"] == id)
}
