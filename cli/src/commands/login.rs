//! `lading login SERVER --token T` and `lading logout`: the server and token the CLI
//! keeps in its config file.

use anyhow::{Context as _, bail};

use crate::cli::Global;
use crate::config::CliConfig;
use crate::output::text;

/// Log in to a Lading api: save its URL and a token for the other commands.
///
/// The token is checked with the server (`/api/v1/whoami`) before anything is saved.
/// `lading up` prints a server admin token on its first start; `lading token create`
/// makes others. A project token also becomes the default project when none is set.
/// TLS flags given here (--insecure-skip-tls-verify, --certificate-authority) are saved
/// too.
///
///   lading login https://lading.example.com --token lading_…
///   LADING_TOKEN=lading_… lading login http://127.0.0.1:8080
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct LoginArgs {
    /// The api's URL, e.g. https://lading.example.com or http://127.0.0.1:8080.
    pub server: String,
}

/// Forget the saved token (the server and default project stay).
#[derive(Debug, clap::Args)]
pub struct LogoutArgs {}

pub async fn login(args: LoginArgs, global: &Global) -> anyhow::Result<()> {
    let Some(token) = global.token.clone().filter(|t| !t.trim().is_empty()) else {
        bail!("pass the token: `lading login {} --token TOKEN` (or set LADING_TOKEN)", args.server);
    };
    let mut config = CliConfig::load()?;
    config.server = Some(args.server.trim_end_matches('/').to_owned());
    config.token = Some(token.trim().to_owned());
    config.insecure_skip_tls_verify |= global.insecure_skip_tls_verify;
    if let Some(ca) = &global.certificate_authority {
        let absolute = std::path::absolute(ca).with_context(|| format!("resolving {}", ca.display()))?;
        config.certificate_authority = Some(absolute);
    }
    // Checked with exactly what will be saved (no other flag), before it is saved.
    let client = super::client(&Global::default(), &config)?;
    let me = client.get("/api/v1/whoami").await?;
    if config.project.is_none() {
        config.project = me["project"].as_str().map(str::to_owned);
    }
    let path = config.save()?;
    println!("Logged in to {} as {} ({}).", client.server(), text(&me, "/name"), text(&me, "/grant"));
    if let Some(project) = &config.project {
        println!("Default project: {project}.");
    }
    eprintln!("Saved in {}.", path.display());
    Ok(())
}

pub fn logout(_args: LogoutArgs) -> anyhow::Result<()> {
    let mut config = CliConfig::load()?;
    if config.token.take().is_none() {
        println!("Not logged in: {} holds no token.", crate::config::path().display());
        return Ok(());
    }
    let path = config.save()?;
    println!("Logged out: the token was removed from {}.", path.display());
    Ok(())
}
