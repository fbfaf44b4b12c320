//! File steps: `copy`, `delete`, `file-write`, `git-clear`, and the control steps
//! `fail` and `compose-output`.

use std::fs;
use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::StepContext;
use crate::engine::workspace::resolve;

fn copy_recursive(from: &Path, to: &Path) -> std::io::Result<()> {
    if from.is_dir() {
        fs::create_dir_all(to)?;
        for entry in fs::read_dir(from)? {
            let entry = entry?;
            copy_recursive(&entry.path(), &to.join(entry.file_name()))?;
        }
        Ok(())
    } else {
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::copy(from, to).map(|_| ())
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CopyConfig {
    in_path: String,
    out_path: String,
}

/// `copy`: a file or a directory tree, inside the workspace.
pub fn copy(ctx: &StepContext<'_>, config: CopyConfig) -> Result<Map<String, Value>, String> {
    let from = resolve(ctx.workspace, &config.in_path).map_err(|e| format!("config.inPath: {e}"))?;
    let to = resolve(ctx.workspace, &config.out_path).map_err(|e| format!("config.outPath: {e}"))?;
    if !from.exists() {
        return Err(format!("config.inPath: {:?} does not exist", config.in_path));
    }
    copy_recursive(&from, &to).map_err(|e| format!("copying {} to {}: {e}", config.in_path, config.out_path))?;
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

/// `delete`: a file or a directory tree.
pub fn delete(ctx: &StepContext<'_>, config: DeleteConfig) -> Result<Map<String, Value>, String> {
    let path = resolve(ctx.workspace, &config.path).map_err(|e| format!("config.path: {e}"))?;
    if path == ctx.workspace {
        return Err("config.path: refusing to delete the whole workspace".to_owned());
    }
    let removed = if path.is_dir() {
        fs::remove_dir_all(&path)
    } else if path.exists() {
        fs::remove_file(&path)
    } else if config.strict {
        return Err(format!("config.path: {:?} does not exist", config.path));
    } else {
        Ok(())
    };
    removed.map_err(|e| format!("deleting {}: {e}", config.path))?;
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
    let path = resolve(ctx.workspace, &config.path).map_err(|e| format!("config.path: {e}"))?;
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| format!("creating {}: {e}", parent.display()))?;
    }
    fs::write(&path, config.contents).map_err(|e| format!("writing {}: {e}", config.path))?;
    Ok(Map::new())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitClearConfig {
    path: String,
}

/// `git-clear`: removes everything in a working tree but its `.git`.
pub fn git_clear(ctx: &StepContext<'_>, config: GitClearConfig) -> Result<Map<String, Value>, String> {
    let path = resolve(ctx.workspace, &config.path).map_err(|e| format!("config.path: {e}"))?;
    if !path.join(".git").exists() {
        return Err(format!("config.path: {:?} is not a git working tree", config.path));
    }
    for entry in fs::read_dir(&path).map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        if entry.file_name() == ".git" {
            continue;
        }
        let target = entry.path();
        let removed = if target.is_dir() { fs::remove_dir_all(&target) } else { fs::remove_file(&target) };
        removed.map_err(|e| format!("clearing {}: {e}", target.display()))?;
    }
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
