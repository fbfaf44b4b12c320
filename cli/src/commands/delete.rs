//! `lading delete freight|stage|warehouse|project NAME [-p P]`.

use clap::ValueEnum;

use super::{Context, segment};

/// Delete freight, a stage, a warehouse or a whole project.
///
/// Refused while something depends on it, naming what: freight a stage holds, a stage
/// another takes freight from, a warehouse a stage requests from. Deleting a project
/// deletes every spec in it. Needs the admin role in the project (on the server for a
/// project).
///
///   lading delete freight leafy-horse -p demo
///   lading delete stage canary
///   lading delete project scratch
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct DeleteArgs {
    /// What to delete.
    pub kind: Deletable,
    /// Its name (freight: name or alias).
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Deletable {
    Freight,
    Stage,
    Warehouse,
    Project,
}

pub async fn run(context: &Context, args: DeleteArgs) -> anyhow::Result<()> {
    let name = segment(&args.name);
    let path = match args.kind {
        Deletable::Project => format!("/api/v1/projects/{name}"),
        Deletable::Freight => format!("{}/freight/{name}", context.project_path()?),
        Deletable::Stage => format!("{}/stages/{name}", context.project_path()?),
        Deletable::Warehouse => format!("{}/warehouses/{name}", context.project_path()?),
    };
    let answer = context.client.delete(&path).await?;
    let deleted = &answer["deleted"];
    let kind = deleted["kind"].as_str().unwrap_or_default().to_lowercase();
    let name = deleted["name"].as_str().unwrap_or(&args.name);
    match deleted["alias"].as_str() {
        Some(alias) => println!("{kind}/{name} ({alias}) deleted"),
        None => println!("{kind}/{name} deleted"),
    }
    Ok(())
}
