//! Reading manifests, image indexes and image configs: only what discovery needs, every
//! digest in them checked for its format.

use lading_domain::digest::Digest;
use serde_json::Value;

use super::error::{RegistryError, Result};

/// A manifest as far as discovery reads it.
#[derive(Debug, Clone)]
pub enum Manifest {
    /// An index / manifest list: per-platform manifests.
    Index(Vec<PlatformManifest>),
    /// One image: its config blob's digest (`None` when it names none).
    Image { config_digest: Option<Digest> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformManifest {
    pub digest: Digest,
    /// `os/arch[/variant]`.
    pub platform: String,
}

/// What discovery reads of an image's config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageConfig {
    /// Its `created` time in milliseconds, when it says.
    pub created_ms: Option<i64>,
    /// `os/arch[/variant]`.
    pub platform: String,
}

fn platform_of(value: &Value, arch_key: &str) -> String {
    let mut platform = format!("{}/{}", value["os"].as_str().unwrap_or(""), value[arch_key].as_str().unwrap_or(""));
    if let Some(variant) = value["variant"].as_str() {
        platform = format!("{platform}/{variant}");
    }
    platform
}

/// Reads the manifest `what` (for errors) from its bytes.
pub fn parse_manifest(what: &str, bytes: &[u8]) -> Result<Manifest> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| RegistryError::Unreadable { what: what.to_owned(), reason: format!("not a manifest: {e}") })?;
    let digest = |text: &str, field: String| {
        Digest::parse(text).map_err(|source| RegistryError::Digest { what: format!("{what} {field}"), source })
    };
    if let Some(entries) = value.get("manifests").and_then(Value::as_array) {
        let mut platforms = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter().enumerate() {
            platforms.push(PlatformManifest {
                digest: digest(entry["digest"].as_str().unwrap_or_default(), format!("manifests[{i}].digest"))?,
                platform: platform_of(&entry["platform"], "architecture"),
            });
        }
        return Ok(Manifest::Index(platforms));
    }
    let config_digest = match value["config"]["digest"].as_str() {
        Some(text) => Some(digest(text, "config.digest".to_owned())?),
        None => None,
    };
    Ok(Manifest::Image { config_digest })
}

/// Reads an image config from its bytes; an unreadable one tells nothing.
pub fn parse_config(bytes: &[u8]) -> ImageConfig {
    let value: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    let created_ms = value["created"]
        .as_str()
        .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok())
        .map(|t| t.timestamp_millis());
    ImageConfig { created_ms, platform: platform_of(&value, "architecture") }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    #[test]
    fn an_index_lists_platforms_and_refuses_a_malformed_entry_digest() {
        let index = format!(
            r#"{{"manifests":[{{"digest":"{DIGEST}","platform":{{"os":"linux","architecture":"arm","variant":"v7"}}}}]}}"#
        );
        let Manifest::Index(entries) = parse_manifest("r@x", index.as_bytes()).unwrap() else { panic!("an index") };
        assert_eq!(entries[0].platform, "linux/arm/v7");
        let evil = r#"{"manifests":[{"digest":"sha256:../../evil","platform":{}}]}"#;
        let error = parse_manifest("r@x", evil.as_bytes()).unwrap_err().to_string();
        assert!(error.starts_with("r@x manifests[0].digest: \"sha256:../../evil\" is not a digest"), "{error}");
    }

    #[test]
    fn an_image_names_its_config_and_garbage_is_unreadable() {
        let image = format!(r#"{{"config":{{"digest":"{DIGEST}"}}}}"#);
        let Manifest::Image { config_digest } = parse_manifest("r@x", image.as_bytes()).unwrap() else {
            panic!("an image")
        };
        assert_eq!(config_digest.unwrap().as_str(), DIGEST);
        assert!(matches!(parse_manifest("r@x", b"<html>"), Err(RegistryError::Unreadable { .. })));
    }
}
