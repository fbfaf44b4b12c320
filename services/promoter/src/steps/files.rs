//! File steps: `copy`, `delete`, `file-write`, `git-clear`, and the control steps
//! `fail` and `compose-output`.

use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::StepContext;
use crate::engine::workspace::{EntryKind, Field};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CopyConfig {
    in_path: String,
    out_path: String,
}

/// `copy`: a file or a directory tree, inside the workspace; symlinks are copied as
/// symlinks, and only when they lead inside it.
pub fn copy(ctx: &StepContext<'_>, config: CopyConfig) -> Result<Map<String, Value>, String> {
    let from = Field::new("config.inPath", &config.in_path);
    let to = Field::new("config.outPath", &config.out_path);
    ctx.workspace.copy(from, to)?;
    Ok(Map::new())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteConfig {
    path: String,
    /// Fail when the path does not exist.
    #[serde(default)]
    strict: bool,
}

/// `delete`: a file, a symlink (not what it points to) or a directory tree.
pub fn delete(ctx: &StepContext<'_>, config: DeleteConfig) -> Result<Map<String, Value>, String> {
    let at = Field::new("config.path", &config.path);
    let removed = ctx.workspace.remove(at, Path::new(&config.path))?;
    if !removed && config.strict {
        return Err(format!("config.path: {:?} does not exist", config.path));
    }
    Ok(Map::new())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileWriteConfig {
    path: String,
    contents: String,
}

/// `file-write`: writes `contents` to `path`, creating directories on the way.
pub fn file_write(ctx: &StepContext<'_>, config: FileWriteConfig) -> Result<Map<String, Value>, String> {
    let at = Field::new("config.path", &config.path);
    ctx.workspace.write(at, Path::new(&config.path), config.contents)?;
    Ok(Map::new())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitClearConfig {
    path: String,
}

/// `git-clear`: removes everything in a working tree but its `.git`.
pub fn git_clear(ctx: &StepContext<'_>, config: GitClearConfig) -> Result<Map<String, Value>, String> {
    let at = Field::new("config.path", &config.path);
    let path = Path::new(&config.path);
    if ctx.workspace.kind(at, &path.join(".git"))?.is_none() {
        return Err(format!("config.path: {:?} is not a git working tree", config.path));
    }
    if ctx.workspace.kind(at, path)? != Some(EntryKind::Directory) {
        return Err(format!("config.path: {:?} is not a directory", config.path));
    }
    ctx.workspace.clear_dir(at, path, &[".git"])?;
    Ok(Map::new())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailConfig {
    #[serde(default)]
    message: Option<String>,
}

/// `fail`: fails the promotion, with a message.
pub fn fail(config: FailConfig) -> Result<Map<String, Value>, String> {
    Err(config.message.unwrap_or_else(|| "failed by a fail step".to_owned()))
}

/// `compose-output`: its (evaluated) config becomes its outputs.
pub fn compose_output(config: Value) -> Result<Map<String, Value>, String> {
    match config {
        Value::Object(map) => Ok(map),
        other => Err(format!("config must be a mapping of outputs, got {}", json!(other))),
    }
}
