//! The CLI's own settings, kept in `$XDG_CONFIG_HOME/lading/config.yaml` (by default
//! `~/.config/lading/config.yaml`, readable by its owner only): the server, the token
//! and a default project, so `--server`, `--token` and `-p` are optional. Flags and
//! environment variables win over it.

use std::path::PathBuf;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// The server used when nothing names one.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:8080";

/// What the config file holds.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CliConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_skip_tls_verify: bool,
}

impl std::fmt::Debug for CliConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CliConfig")
            .field("server", &self.server)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("project", &self.project)
            .finish()
    }
}

/// Where the config file is.
pub fn path() -> PathBuf {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))
        .unwrap_or_else(|| PathBuf::from(".config"));
    base.join("lading").join("config.yaml")
}

impl CliConfig {
    /// Reads the config file; an absent file is an empty config.
    pub fn load() -> anyhow::Result<CliConfig> {
        let path = path();
        match std::fs::read_to_string(&path) {
            Ok(text) if text.trim().is_empty() => Ok(CliConfig::default()),
            Ok(text) => serde_saphyr::from_str(&text).with_context(|| format!("reading {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(CliConfig::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes the config file, readable by its owner only.
    pub fn save(&self) -> anyhow::Result<PathBuf> {
        let path = path();
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let text = serde_saphyr::to_string(self).context("writing the config")?;
        let mut options = std::fs::OpenOptions::new();
        options.create(true).write(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&path).with_context(|| format!("writing {}", path.display()))?;
        std::io::Write::write_all(&mut file, text.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }
}
