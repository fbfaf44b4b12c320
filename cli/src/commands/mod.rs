//! One module per command.

mod apply;
mod create;
mod freight_id;
mod get;
mod promote;
mod refresh;
mod up;

use crate::cli::{Cli, Command, CreateCommand, FreightCommand};
use crate::client::Client;
use crate::config::{CliConfig, DEFAULT_SERVER};

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Up(args) = cli.command {
        return up::run(args).await;
    }
    let config = CliConfig::load()?;
    let server = cli.server.or(config.server).unwrap_or_else(|| DEFAULT_SERVER.to_owned());
    let client = Client::new(&server, cli.token.or(config.token));
    match cli.command {
        Command::Up(_) => unreachable!("handled above"),
        Command::Apply(args) => apply::run(&client, args).await,
        Command::Get(args) => get::run(&client, args).await,
        Command::Refresh(args) => refresh::run(&client, args).await,
        Command::Promote(args) => promote::run(&client, args).await,
        Command::Freight(args) => match args.command {
            FreightCommand::Id { file } => freight_id::run(file.as_deref()),
        },
        Command::Create(args) => match args.command {
            CreateCommand::Freight(args) => create::freight(&client, args).await,
        },
    }
}

/// Reads a file, or standard input for `-` or no file.
pub fn read_input(file: Option<&std::path::Path>) -> anyhow::Result<String> {
    use anyhow::Context;
    use std::io::Read;
    match file {
        Some(path) if path.as_os_str() != "-" => {
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
        }
        _ => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).context("reading standard input")?;
            Ok(text)
        }
    }
}
