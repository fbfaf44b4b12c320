//! `lading update freight NAME|ALIAS --alias NEW [-p P]`.

use serde_json::json;

use super::{Context, segment};
use crate::output::text;

/// Change something about a resource.
#[derive(Debug, clap::Args)]
pub struct UpdateArgs {
    #[command(subcommand)]
    pub command: UpdateCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum UpdateCommand {
    /// Give freight another alias.
    ///
    /// The alias must be a DNS label (lowercase letters, digits and `-`) not held by other
    /// freight of the project; the old one is free again. Every command that takes a
    /// freight takes the new alias at once. Needs the promoter role.
    ///
    ///   lading update freight brave-otter --alias frozen-tauntaun -p demo
    ///   lading promote --freight frozen-tauntaun --stage uat
    #[command(verbatim_doc_comment)]
    Freight(UpdateFreightArgs),
}

#[derive(Debug, clap::Args)]
pub struct UpdateFreightArgs {
    /// The freight: its name (ID) or current alias.
    pub freight: String,
    /// Its new alias.
    #[arg(long)]
    pub alias: String,
}

pub async fn run(context: &Context, args: UpdateArgs) -> anyhow::Result<()> {
    let UpdateCommand::Freight(args) = args.command;
    let path = format!("{}/freight/{}", context.project_path()?, segment(&args.freight));
    let freight = context.client.patch_json(&path, &json!({"alias": args.alias})).await?;
    println!("freight/{} is now {}", text(&freight, "/metadata/name"), text(&freight, "/alias"));
    Ok(())
}
