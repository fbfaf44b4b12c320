//! `lading version`: this CLI's version, and the server's when it answers.

use serde_json::json;

use crate::cli::Global;
use crate::config::CliConfig;
use crate::output::yaml;

/// Print the CLI's version, and the server's when it answers.
///
///   lading version
///   lading version --client
///   lading version -o json
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct VersionArgs {
    /// Only the CLI's version; do not ask the server.
    #[arg(long)]
    pub client: bool,
    /// Print as json or yaml.
    #[arg(short, long, value_parser = ["json", "yaml"])]
    pub output: Option<String>,
}

pub async fn run(args: VersionArgs, global: &Global) -> anyhow::Result<()> {
    let client_version = env!("CARGO_PKG_VERSION");
    let server = if args.client { None } else { Some(server_version(global).await) };
    match args.output.as_deref() {
        Some(format) => {
            let mut value = json!({"clientVersion": client_version});
            match &server {
                Some(Ok(version)) => value["serverVersion"] = json!(version),
                Some(Err(error)) => value["serverError"] = json!(error),
                None => {}
            }
            if format == "json" {
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                print!("{}", yaml(&value));
            }
        }
        None => {
            println!("Client Version: {client_version}");
            match server {
                Some(Ok(version)) => println!("Server Version: {version}"),
                Some(Err(error)) => eprintln!("Server Version: unknown: {error}"),
                None => {}
            }
        }
    }
    Ok(())
}

/// The server's version, or why it is not known.
async fn server_version(global: &Global) -> Result<String, String> {
    let config = CliConfig::load().map_err(|e| format!("{e:#}"))?;
    let client = super::client(global, &config).map_err(|e| format!("{e:#}"))?;
    let answer = client.get("/api/v1/version").await.map_err(|e| e.to_string())?;
    Ok(answer["version"].as_str().unwrap_or("unknown").to_owned())
}
