//! `lading apply -f FILE`: store manifests.

use std::path::PathBuf;

use serde_json::Value;

use super::{Context, read_input};

/// Apply manifests from a file.
///
/// Projects, ProjectConfigs, Warehouses, Stages and the other kinds Lading reads, as
/// multi-document YAML or JSON; `kargo.akuity.io/v1alpha1` manifests are accepted. All
/// documents are validated first: if any is invalid, nothing is applied and each error
/// names the document, the field and the reason. Needs the admin role in each
/// document's project (and on the server for a new project).
///
///   lading apply -f lading.yaml
///   kustomize build overlays/prod | lading apply -f -
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct ApplyArgs {
    /// File to apply; `-` reads standard input.
    #[arg(short = 'f', long = "filename")]
    pub file: PathBuf,
}

pub async fn run(context: &Context, args: ApplyArgs) -> anyhow::Result<()> {
    let body = read_input(Some(&args.file))?;
    let response = context.client.post_yaml("/api/v1/apply", body).await?;
    for result in response.get("results").and_then(Value::as_array).into_iter().flatten() {
        let text = |k: &str| result.get(k).and_then(Value::as_str).unwrap_or_default();
        println!("{}/{} {}", text("kind").to_lowercase(), text("name"), text("action"));
    }
    Ok(())
}
