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
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteConfig {
    #[serde(default)]
    path: Option<String>,
    /// More paths (Kargo's), deleted after `path`.
    #[serde(default)]
    paths: Vec<String>,
    /// The paths are doublestar globs, matched against every path of the workspace.
    #[serde(default)]
    paths_are_globs: bool,
    /// Fail when a path does not exist (a glob: when it matches nothing).
    #[serde(default)]
    strict: bool,
}

/// `delete`: files, symlinks (not what they point to) or directory trees, named by
/// `path` and `paths`, or matched by them as globs (`pathsAreGlobs`), as in Kargo.
pub fn delete(ctx: &StepContext<'_>, config: DeleteConfig) -> Result<Map<String, Value>, String> {
    let mut named: Vec<(String, &str)> = Vec::new();
    if let Some(path) = &config.path {
        named.push(("config.path".to_owned(), path));
    }
    named.extend(config.paths.iter().enumerate().map(|(i, p)| (format!("config.paths[{i}]"), p.as_str())));
    if named.is_empty() {
        return Err("config.path: is required (or config.paths)".to_owned());
    }
    if !config.paths_are_globs {
        for (field, path) in &named {
            let removed = ctx.workspace.remove(Field::new(field, path), Path::new(path))?;
            if !removed && config.strict {
                return Err(format!("{field}: {path:?} does not exist"));
            }
        }
        return Ok(Map::new());
    }
    let mut matchers = Vec::new();
    for (field, pattern) in &named {
        // As with doublestar (Kargo's globs) and a shell, a pattern ending in `/` matches
        // directories only.
        let glob = globset::GlobBuilder::new(pattern.trim_start_matches("./").trim_end_matches('/'))
            .literal_separator(true)
            .build()
            .map_err(|e| format!("{field}: {pattern:?} is not a valid glob: {}", e.kind()))?;
        matchers.push((field, *pattern, glob.compile_matcher()));
    }
    let all = ctx.workspace.all_paths(Field::new(&named[0].0, named[0].1))?;
    let mut doomed = Vec::new();
    for (field, pattern, matcher) in &matchers {
        let mut matches: Vec<&std::path::PathBuf> = all.iter().filter(|p| matcher.is_match(p)).collect();
        if pattern.ends_with('/') {
            let at = Field::new(field, pattern);
            let mut directories = Vec::new();
            for path in matches {
                if ctx.workspace.kind(at, path)? == Some(crate::engine::workspace::EntryKind::Directory) {
                    directories.push(path);
                }
            }
            matches = directories;
        }
        if matches.is_empty() && config.strict {
            return Err(format!("{field}: no path matches {pattern:?}"));
        }
        doomed.extend(matches.into_iter().map(|p| (field.as_str(), *pattern, p)));
    }
    // Parents come first: a path inside a tree already removed is gone with it.
    doomed.sort_by(|a, b| a.2.cmp(b.2));
    doomed.dedup_by(|a, b| a.2 == b.2);
    for (field, pattern, path) in doomed {
        ctx.workspace.remove(Field::new(field, pattern), path)?;
    }
    Ok(Map::new())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileWriteConfig {
    path: String,
    contents: String,
    /// Replace a file that exists already (Kargo's; without it such a file is refused).
    #[serde(default)]
    overwrite: bool,
}

/// `file-write`: writes `contents` to `path`, creating directories on the way; a file
/// already there is replaced only with `overwrite`.
pub fn file_write(ctx: &StepContext<'_>, config: FileWriteConfig) -> Result<Map<String, Value>, String> {
    let at = Field::new("config.path", &config.path);
    if !config.overwrite && ctx.workspace.kind(at, Path::new(&config.path))?.is_some() {
        return Err(format!("config.path: {:?} exists already; set overwrite to true to replace it", config.path));
    }
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
