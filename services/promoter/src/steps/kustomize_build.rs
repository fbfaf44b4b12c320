//! `kustomize-build`: renders a kustomization with `kustomize build` or `kubectl
//! kustomize`, to one file or to one file per resource in a directory.
//!
//! Kustomize opens files by path itself, so before it runs every kustomization it would
//! load — the one named and, in turn, each base and component — is read through the
//! workspace, and every file or directory they name (resources, bases, components,
//! patches, generator sources, …) must resolve inside the workspace, following `../` and
//! symlinks. Remote bases are refused. Kustomize then runs with its root-only load
//! restrictor, in the workspace, with an empty environment and a scratch home. Output
//! files are written through the workspace, named from sanitized parts only.

use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use lading_domain::kustomization::{ReferenceKind, references};
use lading_domain::rendered_files::{ResourceId, kargo_file_name, kustomize_file_name};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::StepContext;
use super::kustomize_set_image::kustomization_file;
use super::parse_errors;
use crate::engine::workspace::{EntryKind, Field, Workspace, WorkspaceError};

/// The most kustomizations one build may load (bases of bases included).
const MAX_KUSTOMIZATIONS: usize = 500;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BuildConfig {
    path: String,
    out_path: String,
    /// How the files of a directory `outPath` are named (Kargo's): `kargo` (the
    /// default), `[<namespace>-]<kind>-<name>.yaml`; `kustomize`,
    /// `[<namespace>_]<group>_<version>_<kind>_<name>.yaml`.
    #[serde(default)]
    output_format: Option<String>,
}

/// Why a kustomization is not rendered. Each names the step's `config.path`, the
/// kustomization file (workspace-relative) and its field, never where a path led.
#[derive(Debug, thiserror::Error)]
enum LoadError {
    #[error("config.path: {path:?} renders {file}, whose {field} leads outside the promotion's workspace")]
    Outside { path: String, file: String, field: String },
    #[error(
        "config.path: {path:?} renders {file}, whose {field} is not in the promotion's workspace (remote bases are not loaded)"
    )]
    Missing { path: String, file: String, field: String },
    #[error("config.path: {path:?} renders {dir}, which has no kustomization.yaml")]
    NoKustomization { path: String, dir: String },
    #[error("config.path: {path:?} loads more than {MAX_KUSTOMIZATIONS} kustomizations")]
    TooMany { path: String },
    #[error("config.path: {path:?}: {reason}")]
    Invalid { path: String, reason: String },
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
}

/// Reads every kustomization the one in `dir` (workspace-relative, resolved) loads, and
/// checks that everything they name resolves inside the workspace.
fn check_what_kustomize_loads(workspace: &Workspace, path: &str, dir: PathBuf) -> Result<(), LoadError> {
    let at = Field::new("config.path", path);
    let mut seen = HashSet::from([dir.clone()]);
    let mut pending = VecDeque::from([dir]);
    while let Some(dir) = pending.pop_front() {
        let Some(file) = kustomization_file(workspace, "config.path", &dir)? else {
            return Err(LoadError::NoKustomization { path: path.to_owned(), dir: dir.display().to_string() });
        };
        let label = file.strip_prefix(".").unwrap_or(&file).display().to_string();
        let text = workspace.read(Field::new("config.path", &label), &file)?;
        let kustomization: Value = serde_saphyr::from_str(&text)
            .map_err(|e| LoadError::Invalid { path: path.to_owned(), reason: parse_errors::yaml(&label, &e) })?;
        for reference in references(&kustomization) {
            let refused = |outside: bool| {
                let (path, file, field) = (path.to_owned(), label.clone(), reference.field.clone());
                if outside {
                    LoadError::Outside { path, file, field }
                } else {
                    LoadError::Missing { path, file, field }
                }
            };
            let target = match workspace.canonical(at, &dir.join(&reference.path)) {
                Ok(target) => target,
                Err(WorkspaceError::Outside { .. }) => return Err(refused(true)),
                Err(WorkspaceError::NotFound { .. } | WorkspaceError::NotADirectory { .. }) => {
                    return Err(refused(false));
                }
                Err(other) => return Err(other.into()),
            };
            let loads_kustomization = reference.kind == ReferenceKind::FileOrKustomization
                && workspace.kind(at, &target)? == Some(EntryKind::Directory);
            if loads_kustomization && seen.insert(target.clone()) {
                if seen.len() > MAX_KUSTOMIZATIONS {
                    return Err(LoadError::TooMany { path: path.to_owned() });
                }
                pending.push_back(target);
            }
        }
    }
    Ok(())
}

/// Runs `kustomize build` when installed, else `kubectl kustomize`, on the directory
/// `dir` (workspace-relative): root-only loading, in the workspace, with no environment
/// but `PATH` and a scratch `HOME`.
fn render(workspace: &Workspace, dir: &Path, cancel: &lading_remote::Cancellation) -> Result<String, String> {
    let home = tempfile::tempdir().map_err(|e| format!("creating a home for kustomize: {e}"))?;
    let attempts: [(&str, &[&str]); 2] = [("kustomize", &["build"]), ("kubectl", &["kustomize"])];
    let mut missing = Vec::new();
    for (program, args) in attempts {
        let mut command = Command::new(program);
        command
            .args(args)
            .args(["--load-restrictor", "LoadRestrictionsRootOnly"])
            .arg(dir)
            .current_dir(workspace.host_root())
            .env_clear()
            .env("HOME", home.path())
            .stdin(Stdio::null());
        if let Some(path) = std::env::var_os("PATH") {
            command.env("PATH", path);
        }
        match super::child_process::output(&mut command, cancel) {
            Ok(output) if output.status.success() => return Ok(String::from_utf8_lossy(&output.stdout).into_owned()),
            Ok(output) => {
                let message = String::from_utf8_lossy(&output.stderr);
                let message =
                    lading_domain::host_paths::relativize(message.trim(), &home.path().to_string_lossy(), "~");
                return Err(format!("{program} failed: {}", workspace.relativize(&message)));
            }
            Err(_) => missing.push(program),
        }
    }
    Err(format!("neither kustomize nor kubectl is installed ({})", missing.join(", ")))
}

fn resource_id(document: &str) -> ResourceId {
    let value: Value = serde_saphyr::from_str(document).unwrap_or(Value::Null);
    let text = |pointer: &str| value.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_owned();
    ResourceId {
        api_version: text("/apiVersion"),
        kind: text("/kind"),
        namespace: text("/metadata/namespace"),
        name: text("/metadata/name"),
    }
}

/// `kustomize-build`: to one file when `outPath` ends in `.yaml`/`.yml`, otherwise one
/// file per resource in that directory, named as `outputFormat` says.
pub fn build(ctx: &StepContext<'_>, config: BuildConfig) -> Result<Map<String, Value>, String> {
    let at = Field::new("config.path", &config.path);
    let dir = ctx.workspace.canonical(at, Path::new(&config.path))?;
    check_what_kustomize_loads(ctx.workspace, &config.path, dir.clone()).map_err(|e| e.to_string())?;
    // kustomize reads host paths, wherever its kustomizations lead.
    ctx.workspace.materialize_all()?;
    let rendered = render(ctx.workspace, &dir, &ctx.remotes.cancel)?;
    let out = Field::new("config.outPath", &config.out_path);
    let out_path = Path::new(&config.out_path);
    if config.out_path.ends_with(".yaml") || config.out_path.ends_with(".yml") {
        ctx.workspace.write(out, out_path, rendered)?;
    } else {
        let kustomize_format = match config.output_format.as_deref() {
            None | Some("kargo") => false,
            Some("kustomize") => true,
            Some(other) => return Err(format!("config.outputFormat: {other:?} is not one of kargo, kustomize")),
        };
        ctx.workspace.create_dir_all(out, out_path)?;
        let documents: Vec<(usize, &str, ResourceId)> = rendered
            .split("\n---\n")
            .enumerate()
            .filter(|(_, d)| !d.trim().is_empty())
            .map(|(i, d)| {
                let body = d.trim_start_matches("---\n");
                (i, body, resource_id(body))
            })
            .collect();
        let namespaces: HashSet<&str> = documents.iter().map(|(_, _, id)| id.namespace.as_str()).collect();
        for (i, body, id) in &documents {
            let name = if kustomize_format {
                kustomize_file_name(id, namespaces.len() > 1, *i)
            } else {
                kargo_file_name(id, *i)
            };
            ctx.workspace.write(out, &out_path.join(name), format!("{}\n", body.trim_end()))?;
        }
    }
    Ok(Map::new())
}
