//! Promotion steps, one module per step, with Kargo's names, config fields and outputs.

mod archives;
pub mod argocd;
mod child_process;
pub mod commit_signing;
mod credentials;
mod files;
mod git_clone;
mod git_commit;
mod git_push;
mod git_tag;
mod github_push;
mod helm;
pub mod helm_library;
mod helm_lock_digest;
mod helm_repository_credentials;
mod helm_template;
mod http;
mod http_download;
mod kept_trees;
mod kustomize_build;
mod kustomize_set_image;
pub mod oci;
mod parse;
mod parse_errors;
mod partial_clone;
pub mod pull_requests;
mod remotes;
mod structured_update;
mod working_tree;
mod yaml_edit;
mod yaml_update;

use std::path::Path;

use lading_domain::Freight;
use lading_domain::host_paths::relativize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

pub use credentials::GitCredentials;
pub use kept_trees::keep_working_trees;
pub use partial_clone::check_git_available as git_available;
pub use remotes::{HttpStepBudget, RemoteBudgets, Remotes, parse_git_providers};
pub use structured_update::{edit_json, edit_toml};
pub use yaml_edit::{append_to_sequence, set_values};

use crate::engine::workspace::Workspace;

/// The name and email promotion commits are made with, and the promoter-wide key that
/// signs them and annotated tags (`LADING_GIT_SIGNING_KEY_PATH`; none: unsigned).
#[derive(Debug, Clone)]
pub struct CommitAuthor {
    pub name: String,
    pub email: String,
    pub signing_key: Option<std::sync::Arc<commit_signing::SigningKey>>,
}

impl Default for CommitAuthor {
    fn default() -> Self {
        Self { name: "Lading".to_owned(), email: "lading@localhost".to_owned(), signing_key: None }
    }
}

/// What every step may use.
pub struct StepContext<'a> {
    /// The only directory a step reads or writes; see [`Workspace`].
    pub workspace: &'a Workspace,
    pub project: &'a str,
    pub stage: &'a str,
    pub promotion: &'a str,
    pub freight: &'a Freight,
    /// The freight of each origin, the promoted one first, then what the stage holds
    /// from its other origins (`git-clone`'s `fromFreight` / `fromOrigin` pick from it).
    pub origins: &'a [Freight],
    pub author: &'a CommitAuthor,
    /// Git credentials, and the budgets of calls to remote servers.
    pub remotes: &'a Remotes,
    /// Where `git-clone` keeps a mirror per repository, fetched before each clone; clones
    /// are then local. `None` clones straight from the remote.
    pub mirrors: Option<&'a Path>,
    /// Asked right before every effect outside the workspace (push, HTTP call).
    pub effects: &'a dyn crate::engine::EffectGuard,
    /// The step's `retry.timeout`: how long a step that waits may wait (`None`: its default).
    pub timeout: Option<std::time::Duration>,
    /// Where a step that waits on something outside (a pull request) parks the run
    /// instead of polling in it; `None`: it polls in the run.
    pub wait: Option<&'a crate::engine::WaitSlot>,
}

/// The trailer naming the promotion in every commit it makes; a retried promotion finds
/// it and does not commit twice.
pub const PROMOTION_TRAILER: &str = "Lading-Promotion";

/// Parses a step's (already evaluated) config, naming the bad field on failure.
pub(crate) fn parse_config<T: DeserializeOwned>(config: Value) -> Result<T, String> {
    lading_domain::spec::deserialize_at::<T>("config", config).map_err(|e| format!("{}: {}", e.field, e.reason))
}

/// Runs the step `uses` with `config`, returning its outputs. Its error names paths
/// relative to the workspace, never the host's directories (libgit2 and kustomize name
/// the paths they were given).
pub fn run_step(uses: &str, ctx: &StepContext<'_>, config: Value) -> Result<Map<String, Value>, String> {
    dispatch(uses, ctx, config).map_err(|error| {
        let error = ctx.workspace.relativize(&error);
        match ctx.mirrors {
            Some(mirrors) => relativize(&error, &mirrors.to_string_lossy(), "the mirrors"),
            None => error,
        }
    })
}

fn dispatch(uses: &str, ctx: &StepContext<'_>, config: Value) -> Result<Map<String, Value>, String> {
    match uses {
        "git-clone" => git_clone::run(ctx, parse_config(config)?),
        "yaml-update" => yaml_update::run(ctx, parse_config(config)?),
        "git-commit" => git_commit::run(ctx, parse_config(config)?),
        "git-push" => git_push::run(ctx, parse_config(config)?),
        "github-push" => github_push::run(ctx, parse_config(config)?),
        "git-clear" => files::git_clear(ctx, parse_config(config)?),
        "copy" => files::copy(ctx, parse_config(config)?),
        "delete" => files::delete(ctx, parse_config(config)?),
        "file-write" => files::file_write(ctx, parse_config(config)?),
        "fail" => files::fail(parse_config(config)?),
        "compose-output" => files::compose_output(config),
        "json-update" => structured_update::json_update(ctx, parse_config(config)?),
        "toml-update" => structured_update::toml_update(ctx, parse_config(config)?),
        "kustomize-set-image" => kustomize_set_image::set_image(ctx, parse_config(config)?),
        "kustomize-build" => kustomize_build::build(ctx, parse_config(config)?),
        "helm-update-chart" => helm::run(ctx, parse_config(config)?),
        "helm-template" => helm_template::run(ctx, parse_config(config)?),
        "http" => http::run(ctx, parse_config(config)?),
        "http-download" => http_download::run(ctx, parse_config(config)?),
        "git-tag" => git_tag::run(ctx, parse_config(config)?),
        "git-open-pr" => pull_requests::open_pr(ctx, parse_config(config)?),
        "git-wait-for-pr" => pull_requests::wait_for_pr(ctx, parse_config(config)?),
        "git-merge-pr" => pull_requests::merge_pr(ctx, parse_config(config)?),
        "json-parse" => parse::parse_file(ctx, parse::Format::Json, parse_config(config)?),
        "yaml-parse" => parse::parse_file(ctx, parse::Format::Yaml, parse_config(config)?),
        "toml-parse" => parse::parse_file(ctx, parse::Format::Toml, parse_config(config)?),
        "yaml-merge" => parse::yaml_merge(ctx, parse_config(config)?),
        "tar" => archives::tar(ctx, parse_config(config)?),
        "untar" => archives::untar(ctx, parse_config(config)?),
        "argocd-update" => argocd::update(ctx, parse_config(config)?),
        "argocd-wait" => argocd::wait(ctx, parse_config(config)?),
        "oci-download" => oci::download::run(ctx, parse_config(config)?),
        "oci-push" => oci::push::run(ctx, parse_config(config)?),
        other => Err(format!("unknown step {other:?}")),
    }
}

fn git_error(action: &str, error: git2::Error) -> String {
    format!("{action}: {}", error.message())
}
