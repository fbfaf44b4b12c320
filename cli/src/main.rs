//! `lading`: the command-line client, and `lading up`, all of Lading in one process.
//!
//! # Layout
//!
//! - [`cli`]: the flags every command takes, and the list of commands.
//! - [`commands`]: one module per command, with its arguments and help.
//! - [`client`]: the HTTP(S) client for the api and its errors.
//! - [`config`]: the CLI's config file: server, token, default project, TLS.
//! - [`output`]: tables, JSON, YAML, names and JSONPath templates.

mod cli;
mod client;
mod commands;
mod config;
mod output;

use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};

#[tokio::main]
async fn main() -> ExitCode {
    // One TLS provider for every client (kube's included): ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let matches = cli::Cli::command().get_matches();
    let mut cli = match cli::Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    cli.global.server_from_environment = matches.value_source("server") == Some(ValueSource::EnvVariable);
    match commands::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
