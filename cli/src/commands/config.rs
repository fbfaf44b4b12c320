//! `lading config set-project P` and `lading config view`: the CLI's config file.

use crate::config::{self, CliConfig};
use crate::output::yaml;

/// Show the CLI's config file, or set its default project.
///
/// The file is $XDG_CONFIG_HOME/lading/config.yaml (by default
/// ~/.config/lading/config.yaml): server, token, default project and TLS settings, as
/// `lading login`, `lading up` and `lading config set-project` save them.
///
///   lading config set-project demo
///   lading config view
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub command: ConfigCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Make PROJECT the default, so `-p` is optional; `""` clears it.
    SetProject {
        /// The project.
        project: String,
    },
    /// Print the config file (the token is shown as ***).
    View,
}

pub fn run(args: ConfigArgs) -> anyhow::Result<()> {
    match args.command {
        ConfigCommand::SetProject { project } => {
            let mut config = CliConfig::load()?;
            config.project = Some(project.trim().to_owned()).filter(|p| !p.is_empty());
            let path = config.save()?;
            match &config.project {
                Some(project) => println!("Default project: {project} (saved in {}).", path.display()),
                None => println!("No default project (saved in {}).", path.display()),
            }
        }
        ConfigCommand::View => {
            let config = CliConfig::load()?;
            println!("# {}", config::path().display());
            let value = serde_json::to_value(config.masked())?;
            print!("{}", yaml(&value));
        }
    }
    Ok(())
}
