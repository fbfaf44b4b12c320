//! `lading create freight --warehouse W [--commit …] [--image …] [--chart …] [-p P]`.

use serde_json::{Value, json};

use super::Context;

/// Create resources by hand.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    #[command(subcommand)]
    pub command: CreateCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum CreateCommand {
    /// Assemble freight from what a warehouse discovered: one pick per subscription.
    ///
    /// Each pick must be among the warehouse's discovered artifacts (see
    /// `lading get warehouses -o yaml`, status.discoveredArtifacts). Prefix a pick with
    /// `REPO_URL=` when the warehouse has more than one subscription of that kind.
    /// Works whatever the warehouse's freightCreationPolicy; with `Manual`, it is the
    /// only way freight is made. Needs the promoter role.
    ///
    ///   lading create freight -p demo --warehouse app --commit v1.4.0 --image 1.4.0
    ///   lading create freight -p demo --warehouse app \
    ///       --image ghcr.io/org/api=1.4.0 --image ghcr.io/org/web=2.1.0 --chart 0.9.0
    #[command(verbatim_doc_comment)]
    Freight(CreateFreightArgs),
}

#[derive(Debug, clap::Args)]
pub struct CreateFreightArgs {
    /// The warehouse whose discoveries the freight is made of.
    #[arg(long)]
    pub warehouse: String,
    /// A commit: `[REPO_URL=]ID`, where ID is a commit ID (7+ characters) or a tag.
    #[arg(long = "commit", value_name = "[REPO_URL=]ID")]
    pub commits: Vec<String>,
    /// An image: `[REPO_URL=]TAG`.
    #[arg(long = "image", value_name = "[REPO_URL=]TAG")]
    pub images: Vec<String>,
    /// A chart: `[REPO_URL=]VERSION`.
    #[arg(long = "chart", value_name = "[REPO_URL=]VERSION")]
    pub charts: Vec<String>,
}

pub async fn run(context: &Context, args: CreateArgs) -> anyhow::Result<()> {
    match args.command {
        CreateCommand::Freight(args) => freight(context, args).await,
    }
}

/// Splits `[REPO_URL=]VALUE` at its last `=`.
fn pick(text: &str, field: &str) -> Value {
    match text.rsplit_once('=') {
        Some((repo, value)) => json!({"repoURL": repo, field: value}),
        None => json!({ field: text }),
    }
}

/// The request body for the picks.
pub fn body(args: &CreateFreightArgs) -> Value {
    json!({
        "warehouse": args.warehouse,
        "commits": args.commits.iter().map(|c| pick(c, "id")).collect::<Vec<_>>(),
        "images": args.images.iter().map(|i| pick(i, "tag")).collect::<Vec<_>>(),
        "charts": args.charts.iter().map(|c| pick(c, "version")).collect::<Vec<_>>(),
    })
}

async fn freight(context: &Context, args: CreateFreightArgs) -> anyhow::Result<()> {
    let path = format!("{}/freight", context.project_path()?);
    let reply = context.client.post_json(&path, &body(&args)).await?;
    let name = reply["name"].as_str().unwrap_or_default();
    let alias = reply["alias"].as_str().unwrap_or_default();
    if reply["created"].as_bool().unwrap_or(false) {
        println!("freight/{name} ({alias}) created");
    } else {
        println!("freight/{name} ({alias}) already exists");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_name_their_repository_when_given() {
        let args = CreateFreightArgs {
            warehouse: "app".into(),
            commits: vec!["v1.0.0".into()],
            images: vec!["127.0.0.1:5000/app=1.2.0".into()],
            charts: vec!["https://charts.example.com=0.9.0".into()],
        };
        assert_eq!(
            body(&args),
            json!({
                "warehouse": "app",
                "commits": [{"id": "v1.0.0"}],
                "images": [{"repoURL": "127.0.0.1:5000/app", "tag": "1.2.0"}],
                "charts": [{"repoURL": "https://charts.example.com", "version": "0.9.0"}],
            })
        );
    }
}
