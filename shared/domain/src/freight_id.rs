//! The freight name: a SHA-1 of a canonical form of the freight's contents, computed
//! exactly as Kargo computes it, so the same artifacts get the same name in both.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use crate::freight::Freight;
use crate::url_normalize::{go_path_join, normalize_chart, normalize_git};

/// A freight's ID: 40 lowercase hex characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FreightId(String);

impl FreightId {
    /// Wraps an ID read from an event or a request, checking its shape.
    pub fn parse(raw: &str) -> Result<Self, FreightIdError> {
        if raw.len() == 40 && raw.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(FreightIdError::Malformed(raw.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first seven characters, as used in promotion names.
    pub fn short(&self) -> &str {
        &self.0[..7]
    }
}

impl fmt::Display for FreightId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a freight ID could not be computed; each names the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FreightIdError {
    #[error("{field}: {reason}")]
    Field { field: String, reason: String },
    #[error("a freight must contain at least one commit, image or chart")]
    Empty,
    #[error("{0:?} is not a freight ID (40 lowercase hex characters)")]
    Malformed(String),
}

fn field_error(field: impl Into<String>, reason: impl Into<String>) -> FreightIdError {
    FreightIdError::Field { field: field.into(), reason: reason.into() }
}

fn require(value: &str, field: String) -> Result<(), FreightIdError> {
    if value.trim().is_empty() { Err(field_error(field, "is required")) } else { Ok(()) }
}

fn with_subscription(part: String, subscription_name: &str) -> String {
    if subscription_name.is_empty() { part } else { format!("{part}:{subscription_name}") }
}

/// The canonical parts of a freight, one per artifact, before sorting.
fn artifact_parts(freight: &Freight) -> Result<Vec<String>, FreightIdError> {
    let mut parts = Vec::new();
    for (i, commit) in freight.commits.iter().enumerate() {
        require(&commit.repo_url, format!("commits[{i}].repoURL"))?;
        require(&commit.id, format!("commits[{i}].id"))?;
        let url =
            normalize_git(&commit.repo_url).map_err(|e| field_error(format!("commits[{i}].repoURL"), e.to_string()))?;
        let part = if commit.tag.is_empty() {
            format!("{url}:{}", commit.id)
        } else {
            format!("{url}:{}:{}", commit.tag, commit.id)
        };
        parts.push(with_subscription(part, &commit.subscription_name));
    }
    for (i, image) in freight.images.iter().enumerate() {
        require(&image.repo_url, format!("images[{i}].repoURL"))?;
        if image.tag.is_empty() && image.digest.is_empty() {
            return Err(field_error(format!("images[{i}]"), "needs a tag or a digest"));
        }
        let part = format!("{}:{}@{}", image.repo_url, image.tag, image.digest);
        parts.push(with_subscription(part, &image.subscription_name));
    }
    for (i, chart) in freight.charts.iter().enumerate() {
        require(&chart.repo_url, format!("charts[{i}].repoURL"))?;
        require(&chart.version, format!("charts[{i}].version"))?;
        let repo = normalize_chart(&chart.repo_url);
        let part = format!("{}:{}", go_path_join(&[&repo, &chart.name]), chart.version);
        parts.push(with_subscription(part, &chart.subscription_name));
    }
    Ok(parts)
}

/// The canonical string hashed into the ID: `<kind>/<name>:<sorted parts joined by |>`.
pub fn canonical_form(freight: &Freight) -> Result<String, FreightIdError> {
    require(&freight.origin.kind, "origin.kind".to_owned())?;
    require(&freight.origin.name, "origin.name".to_owned())?;
    let mut parts = artifact_parts(freight)?;
    if parts.is_empty() {
        return Err(FreightIdError::Empty);
    }
    parts.sort_unstable();
    Ok(format!("{}/{}:{}", freight.origin.kind, freight.origin.name, parts.join("|")))
}

/// Computes a freight's ID.
pub fn compute(freight: &Freight) -> Result<FreightId, FreightIdError> {
    let canonical = canonical_form(freight)?;
    let digest = Sha1::digest(canonical.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok(FreightId(hex))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::freight::Freight;

    const ZERO_DIGEST: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

    #[test]
    fn matches_kargo_for_the_reference_freight() {
        let freight = Freight::from_warehouse("my-warehouse")
            .with_commit("https://github.com/example/app.git", "1234567890abcdef1234567890abcdef12345678")
            .with_image("nginx", "1.27.0", ZERO_DIGEST);
        assert_eq!(compute(&freight).unwrap().as_str(), "1edc32a855f4aceead43bf3774b7fdd88bb48a79");
    }

    #[test]
    fn artifact_order_does_not_matter() {
        let a = Freight::from_warehouse("w").with_image("b", "1", "").with_image("a", "1", "");
        let b = Freight::from_warehouse("w").with_image("a", "1", "").with_image("b", "1", "");
        assert_eq!(compute(&a).unwrap(), compute(&b).unwrap());
    }

    #[test]
    fn canonical_form_follows_kargo_rules() {
        let mut freight = Freight::from_warehouse("w")
            .with_commit("git@github.com:x/y.git", "abc")
            .with_chart("oci://ghcr.io/x/charts", "app", "1.0.0")
            .with_chart("https://charts.example.com", "", "2.0.0")
            .with_image("docker.io/library/nginx", "1.0", "");
        freight.commits[0].tag = "v1".into();
        freight.images[0].subscription_name = "img".into();
        assert_eq!(
            canonical_form(&freight).unwrap(),
            "Warehouse/w:docker.io/library/nginx:1.0@:img|ghcr.io/x/charts/app:1.0.0|https:/charts.example.com:2.0.0|ssh://git@github.com/x/y:v1:abc"
        );
    }

    #[test]
    fn the_origin_is_part_of_the_id() {
        let a = Freight::from_warehouse("a").with_commit("https://h/x", "1");
        let b = Freight::from_warehouse("b").with_commit("https://h/x", "1");
        assert_ne!(compute(&a).unwrap(), compute(&b).unwrap());
    }

    #[test]
    fn bad_input_names_the_field() {
        let no_id = Freight::from_warehouse("w").with_commit("https://h/x", "");
        assert_eq!(compute(&no_id).unwrap_err().to_string(), "commits[0].id: is required");
        let query = Freight::from_warehouse("w").with_commit("https://h/x?a=b", "1");
        assert!(compute(&query).unwrap_err().to_string().starts_with("commits[0].repoURL: "));
        let no_origin = Freight::default().with_commit("https://h/x", "1");
        assert_eq!(compute(&no_origin).unwrap_err().to_string(), "origin.kind: is required");
        assert_eq!(compute(&Freight::from_warehouse("w")).unwrap_err(), FreightIdError::Empty);
        let no_tag = Freight::from_warehouse("w").with_image("nginx", "", "");
        assert_eq!(compute(&no_tag).unwrap_err().to_string(), "images[0]: needs a tag or a digest");
    }

    #[test]
    fn parse_checks_the_shape() {
        assert!(FreightId::parse("1edc32a855f4aceead43bf3774b7fdd88bb48a79").is_ok());
        assert!(FreightId::parse("1EDC32a855f4aceead43bf3774b7fdd88bb48a79").is_err());
        assert!(FreightId::parse("abc").is_err());
    }
}
