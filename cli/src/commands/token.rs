//! `lading token create|list|delete`: api tokens and the roles they carry.

use anyhow::bail;
use clap::ValueEnum;
use serde_json::json;

use super::{Context, segment};
use crate::cli::OutputArgs;
use crate::output::{self, Column, OutputFormat, Resource, age, text};

/// Make, list and delete api tokens.
///
/// A token carries one role in one project, or in every project (--server-wide):
///   viewer    reads everything in its project
///   promoter  viewer, and promotes, approves, aborts, changes aliases, refreshes
///   admin     promoter, and applies and deletes specs, manages the project's tokens
/// The server's admin also creates projects and manages every token. A project's admin
/// manages that project's tokens.
///
///   lading token create ci --role promoter -p demo
///   lading token create auditor --role viewer --server-wide
///   lading token list
///   lading token delete ci
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub command: TokenCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Make a token and print it, this once: it is stored only as a hash.
    ///
    /// The role holds in the project (-p, LADING_PROJECT or the config's), or in every
    /// project with --server-wide. Only the token goes to standard output, so
    /// `TOKEN=$(lading token create …)` keeps it.
    Create {
        /// The token's name: a DNS label, unique on the server.
        name: String,
        /// What it may do.
        #[arg(long)]
        role: Role,
        /// The role holds in every project, and on the server.
        #[arg(long)]
        server_wide: bool,
    },
    /// List the tokens you may manage (never the tokens themselves).
    List {
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Delete a token; requests with it are refused from then on.
    Delete {
        /// The token's name.
        name: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Role {
    Viewer,
    Promoter,
    Admin,
}

const TOKENS: Resource = Resource {
    kind: "token",
    plural: "tokens",
    columns: &[
        Column::new("NAME", |t, _| text(t, "/name").to_owned()),
        Column::new("ROLE", |t, _| text(t, "/role").to_owned()),
        Column::new("PROJECT", |t, _| t["project"].as_str().unwrap_or("*").to_owned()),
        Column::new("CREATED BY", |t, _| text(t, "/createdBy").to_owned()),
        Column::new("AGE", |t, now| age(t["createdAt"].as_str(), now)),
    ],
};

pub async fn run(context: &Context, args: TokenArgs) -> anyhow::Result<()> {
    match args.command {
        TokenCommand::Create { name, role, server_wide } => {
            let project = if server_wide {
                None
            } else {
                match context.project() {
                    Ok(project) => Some(project.to_owned()),
                    Err(_) => bail!(
                        "name the token's project with -p PROJECT (or LADING_PROJECT, or `lading config set-project`), or pass --server-wide for a token that holds in every project"
                    ),
                }
            };
            let role = role.to_possible_value().map(|v| v.get_name().to_owned()).unwrap_or_default();
            let body = json!({"name": name, "role": role, "project": project});
            let answer = context.client.post_json("/api/v1/tokens", &body).await?;
            eprintln!("token {name} ({}) created; it is shown only now:", text(&answer, "/grant"));
            println!("{}", text(&answer, "/token"));
        }
        TokenCommand::List { output: args } => {
            let mut answer = context.client.get("/api/v1/tokens").await?;
            answer["kind"] = json!("List");
            if matches!(args.output, OutputFormat::Table | OutputFormat::Wide) && output::items(&answer).is_empty() {
                eprintln!("No tokens found.");
                return Ok(());
            }
            print!("{}", output::render(&args.output, &TOKENS, &answer, args.no_headers, chrono::Utc::now())?);
        }
        TokenCommand::Delete { name } => {
            context.client.delete(&format!("/api/v1/tokens/{}", segment(&name))).await?;
            println!("token/{name} deleted");
        }
    }
    Ok(())
}
