//! `lading`: the command-line client, and `lading up`, all of Lading in one process.
//!
//! # Layout
//!
//! - [`cli`]: the command-line grammar (clap), with the help text users read.
//! - [`commands`]: one module per command.
//! - [`client`]: the HTTP client for the api.
//! - [`config`]: the CLI's config file: server, token, default project.
//! - [`output`]: tables, JSON and YAML.

mod cli;
mod client;
mod commands;
mod config;
mod output;

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
