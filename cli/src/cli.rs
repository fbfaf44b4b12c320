//! The command-line grammar: the flags every command takes and the list of commands.
//! Each command's own arguments live with it in [`crate::commands`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::commands::{
    apply, approve, completion, config, crds, create, delete, events, freight_id, get, login, promote, refresh, steps,
    token, up, update, verify, version,
};
use crate::output::{FORMATS, OutputFormat};

/// Lading moves new versions of your artifacts through your environments by editing
/// GitOps repositories: warehouses discover freight, stages promote it, verification
/// makes it available downstream.
#[derive(Debug, Parser)]
#[command(name = "lading", version, propagate_version = true)]
#[command(after_help = "Start with `lading up` (prints an admin token and logs this CLI in), then \
`lading apply -f lading.yaml` and `lading get stages`. `lading <command> --help` explains each command.")]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,

    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes; each wins over the config file (`lading config view`).
#[derive(Debug, Args, Default)]
pub struct Global {
    /// The api server (default: the config file's, else http://127.0.0.1:8080).
    #[arg(long, global = true, env = "LADING_SERVER", value_name = "URL")]
    pub server: Option<String>,

    /// The api token (default: the config file's; `lading login` saves one there).
    #[arg(long, global = true, env = "LADING_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    /// The project (default: the config file's; `lading config set-project`).
    #[arg(short, long, global = true, env = "LADING_PROJECT")]
    pub project: Option<String>,

    /// Accept any certificate from an HTTPS server (its traffic is still encrypted, but
    /// to whoever answers).
    #[arg(long, global = true)]
    pub insecure_skip_tls_verify: bool,

    /// A PEM file of CAs to trust for an HTTPS server, besides the system's.
    #[arg(long, global = true, value_name = "FILE")]
    pub certificate_authority: Option<PathBuf>,

    /// Where --server came from (flag, environment): filled in after parsing.
    #[arg(skip)]
    pub server_from_environment: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Up(up::UpArgs),
    Login(login::LoginArgs),
    Logout(login::LogoutArgs),
    Config(config::ConfigArgs),
    Apply(apply::ApplyArgs),
    Get(get::GetArgs),
    Approve(approve::ApproveArgs),
    Promote(promote::PromoteArgs),
    Update(update::UpdateArgs),
    Delete(delete::DeleteArgs),
    Refresh(refresh::RefreshArgs),
    Verify(verify::VerifyArgs),
    Create(create::CreateArgs),
    Token(token::TokenArgs),
    Events(events::EventsArgs),
    Freight(freight_id::FreightArgs),
    Steps(steps::StepsArgs),
    Version(version::VersionArgs),
    Completion(completion::CompletionArgs),
    Crds(crds::CrdsArgs),
}

/// `-o` and `--no-headers`, as `get` and other listings take them.
#[derive(Debug, Args, Clone, Default)]
pub struct OutputArgs {
    /// Output format: table, wide (more columns), json, yaml, name (KIND/NAME),
    /// jsonpath=TEMPLATE or jsonpath-as-json=TEMPLATE (kubectl's templates, e.g.
    /// '{.items[*].metadata.name}' or '{range .items[*]}{.metadata.name}{"\n"}{end}').
    #[arg(short, long, default_value = "table", value_parser = parse_output, value_name = "FORMAT")]
    pub output: OutputFormat,
    /// Tables without their header line.
    #[arg(long)]
    pub no_headers: bool,
}

fn parse_output(text: &str) -> Result<OutputFormat, String> {
    text.parse().map_err(|e: String| if e.contains(FORMATS) { e } else { format!("{e}; formats: {FORMATS}") })
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_grammar_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_go_before_or_after_the_command() {
        let before = Cli::try_parse_from(["lading", "-p", "demo", "get", "freight"]).unwrap();
        let after = Cli::try_parse_from(["lading", "get", "freight", "-p", "demo"]).unwrap();
        assert_eq!(before.global.project.as_deref(), Some("demo"));
        assert_eq!(after.global.project.as_deref(), Some("demo"));
    }

    #[test]
    fn an_unknown_output_format_lists_the_known_ones() {
        let error = Cli::try_parse_from(["lading", "get", "freight", "-o", "xml"]).unwrap_err().to_string();
        assert!(error.contains("unknown output format \"xml\"") && error.contains("jsonpath=TEMPLATE"), "{error}");
        let error = Cli::try_parse_from(["lading", "get", "freight", "-o", "jsonpath"]).unwrap_err().to_string();
        assert!(error.contains("jsonpath needs a template"), "{error}");
        let error =
            Cli::try_parse_from(["lading", "get", "freight", "-o", "jsonpath={.items"]).unwrap_err().to_string();
        assert!(error.contains("unclosed action"), "{error}");
    }
}
