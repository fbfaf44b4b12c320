//! One module per command. Each holds its arguments (with the help users read) and its
//! `run`; [`Context`] gives the commands that talk to the api their client and project.

pub mod apply;
pub mod approve;
pub mod completion;
pub mod config;
pub mod crds;
pub mod create;
pub mod delete;
pub mod events;
pub mod freight_id;
pub mod get;
pub mod login;
pub mod promote;
pub mod refresh;
pub mod steps;
pub mod token;
pub mod up;
pub mod update;
pub mod verify;
pub mod version;

use anyhow::Context as _;

use crate::cli::{Cli, Command, Global};
use crate::client::{Client, ServerSource, TlsSettings};
use crate::config::{CliConfig, DEFAULT_SERVER};

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let global = cli.global;
    match cli.command {
        Command::Up(args) => up::run(args).await,
        Command::Freight(args) => freight_id::run(args),
        Command::Completion(args) => completion::run(args),
        Command::Crds(args) => crds::run(args),
        Command::Config(args) => config::run(args),
        Command::Login(args) => login::login(args, &global).await,
        Command::Logout(args) => login::logout(args),
        Command::Version(args) => version::run(args, &global).await,
        Command::Steps(args) => steps::run(args),
        command => {
            let context = Context::new(&global)?;
            match command {
                Command::Apply(args) => apply::run(&context, args).await,
                Command::Get(args) => get::run(&context, args).await,
                Command::Approve(args) => approve::run(&context, args).await,
                Command::Promote(args) => promote::run(&context, args).await,
                Command::Update(args) => update::run(&context, args).await,
                Command::Delete(args) => delete::run(&context, args).await,
                Command::Refresh(args) => refresh::run(&context, args).await,
                Command::Create(args) => create::run(&context, args).await,
                Command::Token(args) => token::run(&context, args).await,
                Command::Events(args) => events::run(&context, args).await,
                Command::Verify(args) => verify::run(&context, args).await,
                Command::Up(_)
                | Command::Freight(_)
                | Command::Completion(_)
                | Command::Crds(_)
                | Command::Config(_)
                | Command::Login(_)
                | Command::Logout(_)
                | Command::Version(_)
                | Command::Steps(_) => unreachable!("handled above"),
            }
        }
    }
}

/// What a command that talks to the api works with.
pub struct Context {
    pub client: Client,
    project: Option<String>,
}

impl Context {
    /// The client for the server the flags, the environment or the config file name,
    /// with the token and TLS settings found the same way.
    pub fn new(global: &Global) -> anyhow::Result<Context> {
        let config = CliConfig::load()?;
        let client = client(global, &config)?;
        Ok(Context { client, project: global.project.clone().or(config.project) })
    }

    /// The project: `-p`, `LADING_PROJECT` or the config file's.
    pub fn project(&self) -> anyhow::Result<&str> {
        self.project.as_deref().filter(|p| !p.is_empty()).with_context(|| {
            "no project given: pass -p PROJECT, set LADING_PROJECT, or set a default with `lading config set-project PROJECT` (`lading get projects` lists them)"
        })
    }

    /// `/api/v1/projects/{project}`.
    pub fn project_path(&self) -> anyhow::Result<String> {
        Ok(format!("/api/v1/projects/{}", segment(self.project()?)))
    }
}

/// The api client `global` and `config` describe.
pub fn client(global: &Global, config: &CliConfig) -> anyhow::Result<Client> {
    let (server, source) = match (&global.server, &config.server) {
        (Some(server), _) => {
            let source = if global.server_from_environment { ServerSource::Environment } else { ServerSource::Flag };
            (server.clone(), source)
        }
        (None, Some(server)) => (server.clone(), ServerSource::ConfigFile(crate::config::path())),
        (None, None) => (DEFAULT_SERVER.to_owned(), ServerSource::Default),
    };
    let tls = TlsSettings {
        insecure_skip_verify: global.insecure_skip_tls_verify || config.insecure_skip_tls_verify,
        certificate_authority: global.certificate_authority.clone().or_else(|| config.certificate_authority.clone()),
    };
    let token = global.token.clone().or_else(|| config.token.clone()).filter(|t| !t.trim().is_empty());
    Ok(Client::new(&server, source, token, &tls)?)
}

/// A name as one segment of a URL path: everything but unreserved characters
/// percent-encoded.
pub fn segment(name: &str) -> String {
    percent_encoding::utf8_percent_encode(name, SEGMENT).to_string()
}

const SEGMENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Reads a file, or standard input for `-` or no file.
pub fn read_input(file: Option<&std::path::Path>) -> anyhow::Result<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_paths_are_encoded() {
        assert_eq!(segment("brave-otter"), "brave-otter");
        assert_eq!(segment("a/b c?"), "a%2Fb%20c%3F");
    }

    #[test]
    fn a_missing_project_says_how_to_give_one() {
        let context = Context {
            client: Client::new("http://127.0.0.1:1", ServerSource::Default, None, &TlsSettings::default()).unwrap(),
            project: None,
        };
        let error = context.project().unwrap_err().to_string();
        assert!(error.contains("-p PROJECT") && error.contains("lading config set-project PROJECT"), "{error}");
    }
}
