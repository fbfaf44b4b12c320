//! The CLI's own settings, kept in `$XDG_CONFIG_HOME/lading/config.yaml` (by default
//! `~/.config/lading/config.yaml`, readable by its owner only): the server, the token,
//! a default project and how to trust the server's certificate, so `--server`,
//! `--token` and `-p` are optional. Flags and environment variables win over it. The
//! token is never shown: `Debug` and [`CliConfig::masked`] print `***` instead.

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
    /// A PEM bundle of CAs trusted besides the system's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_authority: Option<PathBuf>,
}

/// What stands for a token wherever the config is shown.
pub const MASK: &str = "***";

impl std::fmt::Debug for CliConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CliConfig")
            .field("server", &self.server)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("project", &self.project)
            .field("insecure_skip_tls_verify", &self.insecure_skip_tls_verify)
            .field("certificate_authority", &self.certificate_authority)
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
    /// The config as it may be shown: the token replaced by [`MASK`].
    pub fn masked(&self) -> CliConfig {
        CliConfig { token: self.token.as_ref().map(|_| MASK.to_owned()), ..self.clone() }
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> CliConfig {
        CliConfig {
            server: Some("https://lading.example.com".into()),
            token: Some("lading_s3cret-token-value".into()),
            project: Some("demo".into()),
            insecure_skip_tls_verify: false,
            certificate_authority: None,
        }
    }

    #[test]
    fn the_token_never_shows() {
        let masked = serde_saphyr::to_string(&config().masked()).unwrap();
        assert!(!masked.contains("s3cret") && masked.contains("token: \"***\""), "{masked}");
        assert!(masked.contains("server: https://lading.example.com"), "{masked}");
        let debug = format!("{:?}", config());
        assert!(!debug.contains("s3cret"), "{debug}");
        assert_eq!(config().masked().masked(), config().masked());
        assert_eq!(CliConfig::default().masked().token, None);
    }

    #[test]
    fn the_file_keeps_every_setting() {
        let mut original = config();
        original.insecure_skip_tls_verify = true;
        original.certificate_authority = Some("/etc/lading/ca.pem".into());
        let text = serde_saphyr::to_string(&original).unwrap();
        let read: CliConfig = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(read, original);
    }
}
