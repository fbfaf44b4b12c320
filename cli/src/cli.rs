//! The command-line grammar.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Lading moves new versions of your artifacts through your environments by editing
/// GitOps repositories: warehouses discover freight, stages promote it, verification
/// makes it available downstream.
#[derive(Debug, Parser)]
#[command(name = "lading", version, propagate_version = true)]
pub struct Cli {
    /// The api server to talk to (default: the config file's, else http://127.0.0.1:8080).
    #[arg(long, global = true, env = "LADING_SERVER")]
    pub server: Option<String>,

    /// The api token (default: the config file's; `lading login` saves one there).
    #[arg(long, global = true, env = "LADING_TOKEN", hide_env_values = true)]
    pub token: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run all of Lading in this process: api, warehouse, promoter and verifier.
    ///
    /// Without --nats-url, starts `nats-server` (≥ 2.10, from PATH) as a child process
    /// that keeps its data under --data-dir and dies with this process. One `lading up`
    /// at a time uses a data dir. Ready when `GET /readyz` answers 200. Stop with Ctrl-C.
    ///
    /// Reads the same environment as the separate service binaries (for example
    /// LADING_CREDENTIALS_FILE, LADING_GIT_CREDENTIALS_FILE, LADING_REGISTRY_RATE_LIMIT,
    /// LADING_GIT_AUTHOR_NAME); the flags below win over it.
    Up(UpArgs),
    /// Apply manifests (Project, ProjectConfig, Warehouse, Stage) from a file.
    ///
    /// Multi-document YAML or JSON; `kargo.akuity.io/v1alpha1` manifests are accepted.
    /// All documents are validated first: if any is invalid, nothing is applied and each
    /// error names the document, the field and the reason.
    Apply(ApplyArgs),
    /// List freight, stages or warehouses of a project.
    Get(GetArgs),
    /// Ask a warehouse to discover new artifacts now instead of at its next interval.
    Refresh(RefreshArgs),
    /// Promote freight into a stage by hand, or abort a stage's promotion.
    ///
    /// The freight (name or alias) must be available to the stage: straight from its
    /// warehouse, verified upstream, or approved. Promoting other freight than the one
    /// auto-promotion would pick holds auto-promotion of that stage until its candidate
    /// is promoted again. Promotions of a stage run one at a time, in order.
    ///
    ///   lading promote --freight brave-otter --stage uat -p demo --wait
    ///   lading promote --abort --stage uat -p demo
    Promote(PromoteArgs),
    /// Work with freight offline.
    Freight(FreightArgs),
    /// Create resources by hand.
    Create(CreateArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(subcommand)]
    pub command: CreateCommand,
}

#[derive(Debug, Subcommand)]
pub enum CreateCommand {
    /// Assemble freight from what a warehouse discovered: one pick per subscription.
    ///
    /// Each pick must be among the warehouse's discovered artifacts (see
    /// `lading get warehouses -o yaml`, status.discoveredArtifacts). Prefix a pick with
    /// `REPO_URL=` when the warehouse has more than one subscription of that kind.
    /// Works whatever the warehouse's freightCreationPolicy; with `Manual`, it is the
    /// only way freight is made.
    ///
    ///   lading create freight -p demo --warehouse app --commit v1.4.0 --image 1.4.0
    ///   lading create freight -p demo --warehouse app \
    ///       --image ghcr.io/org/api=1.4.0 --image ghcr.io/org/web=2.1.0 --chart 0.9.0
    #[command(verbatim_doc_comment)]
    Freight(CreateFreightArgs),
}

#[derive(Debug, Args)]
pub struct CreateFreightArgs {
    /// The warehouse whose discoveries the freight is made of.
    #[arg(long)]
    pub warehouse: String,
    /// A commit: `[REPO_URL=]ID`, where ID is a commit ID (7+ characters) or a tag.
    #[arg(long = "commit", value_name = "[REPO_URL=]ID")]
    pub commits: Vec<String>,
    /// An image: `[REPO_URL=]TAG`.
    #[arg(long = "image", value_name = "[REPO_URL=]TAG")]
    pub images: Vec<String>,
    /// A chart: `[REPO_URL=]VERSION`.
    #[arg(long = "chart", value_name = "[REPO_URL=]VERSION")]
    pub charts: Vec<String>,
    /// The project.
    #[arg(short, long, env = "LADING_PROJECT")]
    pub project: String,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Where Lading keeps its data (NATS storage, Git mirrors, promotion workspaces).
    #[arg(long, env = "LADING_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address the api listens on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub api_addr: SocketAddr,
    /// Use this NATS server (JetStream enabled, ≥ 2.10) instead of starting one.
    #[arg(long, env = "LADING_NATS_URL")]
    pub nats_url: Option<String>,
    /// Credentials for warehouses: a YAML list like Kargo's credential Secrets
    /// (`type: git|image|helm`, `repoURL`, `username`, `password`).
    #[arg(long, env = "LADING_CREDENTIALS_FILE", value_name = "FILE")]
    pub credentials_file: Option<PathBuf>,
    /// Credentials for the Git repositories promotions clone and push: a YAML list of
    /// `{repoURL, repoURLIsRegex, username, password}`.
    #[arg(long, env = "LADING_GIT_CREDENTIALS_FILE", value_name = "FILE")]
    pub git_credentials_file: Option<PathBuf>,
    /// Secrets steps read with `${{ secret('name').key }}` and webhook receivers
    /// authenticate with: Kubernetes Secret manifests (`metadata.namespace` is the
    /// project; none for every project), or a map of secret name → key → value.
    #[arg(long, env = "LADING_SECRETS_FILE", value_name = "FILE")]
    pub secrets_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// File to apply; `-` reads standard input.
    #[arg(short = 'f', long = "filename")]
    pub file: PathBuf,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Resource {
    Freight,
    #[value(alias = "stage")]
    Stages,
    #[value(alias = "warehouse")]
    Warehouses,
}

#[derive(Debug, Clone, Copy, ValueEnum, Default)]
pub enum OutputFormat {
    #[default]
    Table,
    Json,
    Yaml,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// What to list.
    pub resource: Resource,
    /// The project.
    #[arg(short, long, env = "LADING_PROJECT")]
    pub project: String,
    /// Output format: a table, or a kubectl-style List as JSON or YAML.
    #[arg(short, long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Refreshable {
    Warehouse,
}

#[derive(Debug, Args)]
pub struct RefreshArgs {
    /// What to refresh.
    pub kind: Refreshable,
    /// Its name.
    pub name: String,
    /// The project.
    #[arg(short, long, env = "LADING_PROJECT")]
    pub project: String,
}

#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The freight to promote: its name (ID) or alias.
    #[arg(long, required_unless_present = "abort", conflicts_with = "abort")]
    pub freight: Option<String>,
    /// The stage.
    #[arg(long)]
    pub stage: String,
    /// The project.
    #[arg(short, long, env = "LADING_PROJECT")]
    pub project: String,
    /// Wait until the promotion ends, showing its steps; fails unless it succeeds.
    #[arg(long, conflicts_with = "abort")]
    pub wait: bool,
    /// How long --wait waits (e.g. 30s, 10m).
    #[arg(long, default_value = "10m", requires = "wait")]
    pub timeout: String,
    /// Abort the stage's current promotion (or --promotion NAME) instead.
    #[arg(long)]
    pub abort: bool,
    /// With --abort: the promotion to abort.
    #[arg(long, requires = "abort")]
    pub promotion: Option<String>,
}

#[derive(Debug, Args)]
pub struct FreightArgs {
    #[command(subcommand)]
    pub command: FreightCommand,
}

#[derive(Debug, Subcommand)]
pub enum FreightCommand {
    /// Print the ID (name) of a freight, computed as Kargo computes it.
    ///
    /// Reads a Freight (YAML or JSON, Kargo's fields: origin, commits, images, charts);
    /// the same artifacts always get the same ID.
    Id {
        /// File to read; `-` or none reads standard input.
        #[arg(short = 'f', long = "filename")]
        file: Option<PathBuf>,
    },
}
