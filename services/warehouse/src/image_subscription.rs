//! Image subscriptions: tags of a registry repository chosen by Kargo's strategies
//! (`SemVer`, `Lexical`, `NewestBuild`, `Digest`), each with the digest it points at —
//! for multi-platform images, the digest of the `platform` asked for.

use std::time::Instant;

use lading_domain::Image;
use lading_domain::credentials::CredentialType;
use lading_domain::digest::Digest;
use lading_domain::selection::{SemverConstraint, TagFilter, newest_lexical, newest_semver};
use lading_domain::spec::{ImageSelectionStrategy, ImageSubscription, discovery_limit};
use lading_events::catalog::{DiscoveredImageV1, ImageDiscoveryResultV1};

use crate::registry::{Manifest, Registries, Repository};

const KIND: CredentialType = CredentialType::Image;

/// Discovers a subscription's images, newest first. Blocking.
pub fn discover(
    registries: &Registries,
    sub: &ImageSubscription,
    asked: Instant,
) -> Result<ImageDiscoveryResultV1, String> {
    let repo = Repository::parse(&sub.repo_url, sub.insecure_skip_tls_verify)?;
    let limit = discovery_limit(sub.discovery_limit);
    let need_created = sub.image_selection_strategy == ImageSelectionStrategy::NewestBuild;
    let resolve = |tag: &str| resolve(registries, &repo, tag, &sub.platform, need_created, (asked, sub.cache_by_tag));
    let mut references = Vec::new();
    if sub.image_selection_strategy == ImageSelectionStrategy::Digest {
        let tag = sub.constraint.as_str();
        let (digest, created_at_ms) = resolve(tag)?
            .ok_or_else(|| format!("{}:{tag} has no image for platform {}", sub.repo_url, sub.platform))?;
        references.push(DiscoveredImageV1 { tag: tag.to_owned(), digest, created_at_ms });
        return Ok(result(sub, references));
    }
    let filter = TagFilter::new(&sub.allow_tags_regexes, &sub.ignore_tags_regexes)
        .map_err(|(_, i, e)| format!("tag regex {i}: {e}"))?;
    let tags = registries.tags(&repo, KIND, asked).map_err(|e| e.to_string())?;
    let allowed = tags.iter().map(String::as_str).filter(|t| filter.allows(t));
    let ordered: Vec<&str> = match sub.image_selection_strategy {
        ImageSelectionStrategy::SemVer => {
            let constraint = match sub.constraint.as_str() {
                "" => None,
                c => Some(SemverConstraint::parse(c)?),
            };
            newest_semver(allowed, constraint.as_ref(), sub.strict_semvers, usize::MAX)
                .into_iter()
                .map(|(t, _)| t)
                .collect()
        }
        ImageSelectionStrategy::Lexical => newest_lexical(allowed, usize::MAX),
        _ => allowed.collect(),
    };
    if sub.image_selection_strategy == ImageSelectionStrategy::NewestBuild {
        // Every candidate's build time is needed to order them.
        let mut built = Vec::new();
        for tag in ordered {
            if let Some((digest, created)) = resolve(tag)? {
                built.push(DiscoveredImageV1 { tag: tag.to_owned(), digest, created_at_ms: created });
            }
        }
        built.sort_by(|a, b| b.created_at_ms.cmp(&a.created_at_ms).then_with(|| b.tag.cmp(&a.tag)));
        built.truncate(limit);
        return Ok(result(sub, built));
    }
    for tag in ordered {
        // Tags without an image for the platform are passed over.
        if let Some((digest, created_at_ms)) = resolve(tag)? {
            references.push(DiscoveredImageV1 { tag: tag.to_owned(), digest, created_at_ms });
            if references.len() == limit {
                break;
            }
        }
    }
    Ok(result(sub, references))
}

fn result(sub: &ImageSubscription, references: Vec<DiscoveredImageV1>) -> ImageDiscoveryResultV1 {
    ImageDiscoveryResultV1 { repo_url: sub.repo_url.clone(), platform: sub.platform.clone(), references }
}

/// The digest `tag` points at (for `platform`, when set) and its build time when
/// `need_created` (or when the platform had to be read from its config; 0 otherwise).
/// `None` when the tag has no image for the platform.
fn resolve(
    registries: &Registries,
    repo: &Repository,
    tag: &str,
    platform: &str,
    need_created: bool,
    (asked, by_tag): (Instant, bool),
) -> Result<Option<(String, i64)>, String> {
    let head = registries.head(repo, tag, KIND, asked, by_tag).map_err(|e| e.to_string())?;
    // The image manifest whose config tells the build time (and platform).
    let (digest, image) = if head.is_index() {
        let Manifest::Index(entries) = registries.manifest(repo, &head.digest, KIND).map_err(|e| e.to_string())? else {
            return Ok(Some((head.digest.to_string(), 0)));
        };
        if platform.is_empty() {
            // The index itself is what is deployed; its first image tells the build time.
            (head.digest.clone(), entries.first().map(|e| e.digest.clone()))
        } else {
            match entries.into_iter().find(|e| e.platform == platform) {
                Some(entry) => (entry.digest.clone(), Some(entry.digest)),
                None => return Ok(None),
            }
        }
    } else {
        (head.digest.clone(), Some(head.digest.clone()))
    };
    let digest = digest.to_string();
    let check_platform = !platform.is_empty() && !head.is_index();
    if !need_created && !check_platform {
        return Ok(Some((digest, 0)));
    }
    let (created, image_platform) = match image {
        Some(image) => build_time(registries, repo, &image)?,
        None => (0, String::new()),
    };
    if check_platform && image_platform != platform {
        return Ok(None);
    }
    Ok(Some((digest, created)))
}

/// An image manifest's build time (0 when unknown) and platform, from its config.
fn build_time(registries: &Registries, repo: &Repository, digest: &Digest) -> Result<(i64, String), String> {
    match registries.manifest(repo, digest, KIND).map_err(|e| e.to_string())? {
        Manifest::Image { config_digest: Some(config_digest) } => {
            let config = registries.config(repo, &config_digest, KIND).map_err(|e| e.to_string())?;
            Ok((config.created_ms.unwrap_or(0), config.platform))
        }
        _ => Ok((0, String::new())),
    }
}

/// The freight image for a discovered one.
pub fn freight_image(result: &ImageDiscoveryResultV1, discovered: &DiscoveredImageV1) -> Image {
    Image {
        repo_url: result.repo_url.clone(),
        tag: discovered.tag.clone(),
        digest: discovered.digest.clone(),
        ..Default::default()
    }
}
