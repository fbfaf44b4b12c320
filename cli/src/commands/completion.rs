//! `lading completion bash|zsh|fish|…`: shell completions, from the grammar itself.

use clap::CommandFactory;
use clap_complete::Shell;

/// Print a shell completion script.
///
///   lading completion bash > /etc/bash_completion.d/lading   # or: source <(lading completion bash)
///   lading completion zsh > "${fpath[1]}/_lading"
///   lading completion fish > ~/.config/fish/completions/lading.fish
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct CompletionArgs {
    /// The shell.
    pub shell: Shell,
}

pub fn run(args: CompletionArgs) -> anyhow::Result<()> {
    let mut command = crate::cli::Cli::command();
    clap_complete::generate(args.shell, &mut command, "lading", &mut std::io::stdout());
    Ok(())
}
