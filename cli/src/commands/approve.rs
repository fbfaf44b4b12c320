//! `lading approve --freight NAME|ALIAS --stage S [-p P]`: a hotfix past the stages in
//! between.

use serde_json::Value;

use super::{Context, segment};
use crate::output::text;

/// Approve freight for a stage, past the stages before it (a hotfix).
///
/// The freight becomes available to the stage whatever its upstream stages say. The
/// stage may then promote it: at once if it auto-promotes, else with `lading
/// promote`. Approving creates no promotion, and approving twice changes nothing. The
/// stage must request freight from the freight's warehouse. Needs the promoter role
/// (as promoting does).
///
///   lading approve --freight frozen-tauntaun --stage prod -p demo
///   lading approve --freight 6508e3bfbdb2a34da3fdf17fdf56cf8b4187d66e --stage prod
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct ApproveArgs {
    /// The freight: its name (ID) or alias.
    #[arg(long)]
    pub freight: String,
    /// The stage it is approved for.
    #[arg(long)]
    pub stage: String,
}

pub async fn run(context: &Context, args: ApproveArgs) -> anyhow::Result<()> {
    let path = format!(
        "{}/freight/{}/approve?stage={}",
        context.project_path()?,
        segment(&args.freight),
        segment(&args.stage)
    );
    let answer = context.client.post_json(&path, &Value::Null).await?;
    let freight = text(&answer, "/freight");
    if answer["changed"] == false {
        println!("freight/{freight} was already approved for stage {}", args.stage);
    } else {
        println!("freight/{freight} approved for stage {}", args.stage);
    }
    Ok(())
}
