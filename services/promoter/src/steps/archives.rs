//! `tar` and `untar`: pack a file or directory of the workspace into a tar file (gzipped
//! with `gzip`), and unpack one into a directory, confined to the workspace (see
//! [`crate::engine::workspace::archive`]).

use serde::Deserialize;
use serde_json::{Map, Value};

use super::StepContext;
use crate::engine::workspace::Field;
use crate::engine::workspace::archive::ignore_patterns;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TarConfig {
    in_path: String,
    out_path: String,
    #[serde(default)]
    ignore: Option<String>,
    #[serde(default)]
    gzip: bool,
}

/// `tar`.
pub fn tar(ctx: &StepContext<'_>, config: TarConfig) -> Result<Map<String, Value>, String> {
    let ignore = ignore_patterns("config.ignore", config.ignore.as_deref())?;
    let from = Field::new("config.inPath", &config.in_path);
    let to = Field::new("config.outPath", &config.out_path);
    ctx.workspace.tar(from, to, config.gzip, &ignore)?;
    Ok(Map::new())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UntarConfig {
    in_path: String,
    out_path: String,
    #[serde(default)]
    strip_components: Option<i64>,
    #[serde(default)]
    ignore: Option<String>,
}

/// `untar`.
pub fn untar(ctx: &StepContext<'_>, config: UntarConfig) -> Result<Map<String, Value>, String> {
    let strip = match config.strip_components {
        None => 0,
        Some(n) => usize::try_from(n).map_err(|_| format!("config.stripComponents: must not be negative, got {n}"))?,
    };
    let ignore = ignore_patterns("config.ignore", config.ignore.as_deref())?;
    let from = Field::new("config.inPath", &config.in_path);
    let to = Field::new("config.outPath", &config.out_path);
    ctx.workspace.untar(from, to, strip, &ignore, ctx.remotes.budgets.unpack)?;
    Ok(Map::new())
}
