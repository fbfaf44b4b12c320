//! `oci-push`: copies an OCI artifact (an image, a Helm chart, a whole multi-arch index)
//! from `srcRef` to `destRef`, or retags it within its repository. Blobs the destination
//! lacks are streamed across, each checked against its digest; within one repository
//! none move. `annotations` are added to the destination's manifests (`index:` keys to
//! an index, `manifest:` and unprefixed keys to each image manifest); an artifact pushed
//! without them keeps its digest. Outputs `image`, `digest`, `tag`.

use std::collections::BTreeMap;

use futures::StreamExt;
use oci_client::manifest::OciDescriptor;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::{ArtifactRef, auth, block_on, client, explain, is_index, manifest};
use crate::engine::Effect;
use crate::steps::StepContext;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    src_ref: String,
    dest_ref: String,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default, rename = "insecureSkipTLSVerify", alias = "insecureSkipTlsVerify")]
    insecure_skip_tls_verify: bool,
}

/// Annotations split by where they go.
#[derive(Default)]
struct Annotations {
    index: BTreeMap<String, String>,
    manifest: BTreeMap<String, String>,
}

fn split_annotations(all: BTreeMap<String, String>) -> Annotations {
    let mut split = Annotations::default();
    for (key, value) in all {
        match key.split_once(':') {
            Some(("index", key)) => split.index.insert(key.to_owned(), value),
            Some(("manifest", key)) => split.manifest.insert(key.to_owned(), value),
            _ => split.manifest.insert(key, value),
        };
    }
    split
}

/// `document` with `annotations` added to its own.
fn annotate(document: &mut Value, annotations: &BTreeMap<String, String>) {
    if annotations.is_empty() {
        return;
    }
    if !document.get("annotations").is_some_and(Value::is_object) {
        document["annotations"] = json!({});
    }
    for (key, value) in annotations {
        document["annotations"][key] = json!(value);
    }
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn media_type_of(document: &Value, fallback: &str) -> String {
    document.get("mediaType").and_then(Value::as_str).unwrap_or(fallback).to_owned()
}

fn at_digest(reference: &Reference, digest: &str) -> Reference {
    Reference::with_digest(reference.registry().to_owned(), reference.repository().to_owned(), digest.to_owned())
}

/// One side of the copy.
struct Side<'a> {
    reference: &'a Reference,
    auth: &'a RegistryAuth,
}

struct Copy<'a> {
    client: &'a Client,
    src: Side<'a>,
    dest: Side<'a>,
    same_repository: bool,
    action: &'a str,
}

impl Copy<'_> {
    /// Copies the blobs of an image manifest the destination lacks.
    async fn blobs(&self, document: &Value) -> Result<(), String> {
        if self.same_repository {
            return Ok(());
        }
        let action = self.action;
        let mut blobs: Vec<OciDescriptor> = Vec::new();
        if let Some(config) = document.get("config") {
            blobs.push(serde_json::from_value(config.clone()).map_err(|e| format!("{action}: the config: {e}"))?);
        }
        let layers: Vec<OciDescriptor> = serde_json::from_value(document.get("layers").cloned().unwrap_or(json!([])))
            .map_err(|e| format!("{action}: the layers: {e}"))?;
        blobs.extend(layers);
        for blob in blobs {
            if self.client.blob_exists(self.dest.reference, &blob.digest).await.map_err(|e| explain(action, e))? {
                continue;
            }
            let size = blob.size;
            let stream =
                self.client.pull_blob_stream(self.src.reference, &blob).await.map_err(|e| explain(action, e))?;
            // Cut off a registry that sends more than it announced.
            let mut sent = 0u64;
            let bounded = stream.stream.map(move |chunk| {
                let chunk = chunk?;
                sent += chunk.len() as u64;
                if sent > size.max(0) as u64 {
                    return Err(std::io::Error::other(format!("the registry sent more than the blob's {size} bytes")));
                }
                Ok(chunk)
            });
            let bounded = bounded.map(|chunk| chunk.map_err(oci_client::errors::OciDistributionError::from));
            self.client
                .push_blob_stream(self.dest.reference, bounded, &blob.digest, Some(size.max(0) as u64))
                .await
                .map_err(|e| explain(action, e))?;
        }
        Ok(())
    }

    /// Pushes a manifest as bytes under `reference`; returns its digest.
    async fn push_manifest(&self, reference: &Reference, bytes: Vec<u8>, media_type: &str) -> Result<String, String> {
        let action = self.action;
        let digest = sha256(&bytes);
        let content_type = media_type.parse().map_err(|_| format!("{action}: media type {media_type:?} is invalid"))?;
        self.client.push_manifest_raw(reference, bytes, content_type).await.map_err(|e| explain(action, e))?;
        Ok(digest)
    }
}

/// The sum of the blob sizes of an image manifest.
fn blob_bytes(document: &Value) -> u64 {
    let size = |d: &Value| d.get("size").and_then(Value::as_u64).unwrap_or(0);
    let layers = document.get("layers").and_then(Value::as_array).map(|l| l.iter().map(size).sum()).unwrap_or(0);
    document.get("config").map(size).unwrap_or(0) + layers
}

pub fn run(ctx: &StepContext<'_>, config: Config) -> Result<Map<String, Value>, String> {
    let src = ArtifactRef::parse("config.srcRef", &config.src_ref)?;
    let dest = ArtifactRef::parse("config.destRef", &config.dest_ref)?;
    let tag = dest
        .reference
        .tag()
        .map(str::to_owned)
        .ok_or_else(|| format!("config.destRef: {:?} must name a tag", config.dest_ref))?;
    if dest.reference.digest().is_some() {
        return Err(format!("config.destRef: {:?} must name a tag, not a digest", config.dest_ref));
    }
    let annotations = split_annotations(config.annotations);
    let client = client(ctx, &[&src, &dest], config.insecure_skip_tls_verify);
    let (src_auth, dest_auth) = (auth(ctx, &src), auth(ctx, &dest));
    let action = format!("copying {} to {}", src.text, dest.text);
    let limit = ctx.remotes.budgets.oci.max_push;
    let same_repository = src.same_repository(&dest);
    ctx.effects.before_effect(Effect::Push)?;
    let digest = block_on(ctx, &action, async {
        // Both sides authenticate before the first call (a token per scope).
        client
            .auth(&dest.reference, &dest_auth, oci_client::RegistryOperation::Push)
            .await
            .map_err(|e| explain(&action, e))?;
        let copy = Copy {
            client: &client,
            src: Side { reference: &src.reference, auth: &src_auth },
            dest: Side { reference: &dest.reference, auth: &dest_auth },
            same_repository,
            action: &action,
        };
        let (bytes, _) = manifest(&client, copy.src.reference, copy.src.auth, &action).await?;
        let mut top: Value =
            serde_json::from_slice(&bytes).map_err(|e| format!("{action}: the manifest is not JSON: {e}"))?;
        let top_type = media_type_of(&top, oci_client::manifest::OCI_IMAGE_MEDIA_TYPE);
        if is_index(&top) {
            // Every child first, each (annotated) under its digest, then the index.
            let children = top.get("manifests").and_then(Value::as_array).cloned().unwrap_or_default();
            let mut documents = Vec::with_capacity(children.len());
            for child in &children {
                let digest = child.get("digest").and_then(Value::as_str).unwrap_or_default();
                let (bytes, _) =
                    manifest(&client, &at_digest(copy.src.reference, digest), copy.src.auth, &action).await?;
                let document: Value =
                    serde_json::from_slice(&bytes).map_err(|e| format!("{action}: a manifest is not JSON: {e}"))?;
                documents.push((bytes, document));
            }
            let total: u64 = documents.iter().map(|(_, d)| blob_bytes(d)).sum();
            if !same_repository && !limit.allows(total) {
                return Err(format!(
                    "{action}: the artifact's blobs add up to {total} bytes, more than {} ({})",
                    limit.value, limit.setting
                ));
            }
            for (i, (bytes, mut document)) in documents.into_iter().enumerate() {
                copy.blobs(&document).await?;
                let child_type = media_type_of(&document, oci_client::manifest::OCI_IMAGE_MEDIA_TYPE);
                let body = if annotations.manifest.is_empty() {
                    bytes.to_vec()
                } else {
                    annotate(&mut document, &annotations.manifest);
                    serde_json::to_vec(&document).map_err(|e| format!("{action}: {e}"))?
                };
                let size = body.len();
                let digest = sha256(&body);
                copy.push_manifest(&at_digest(copy.dest.reference, &digest), body, &child_type).await?;
                top["manifests"][i]["digest"] = json!(digest);
                top["manifests"][i]["size"] = json!(size);
            }
            if annotations.manifest.is_empty() && annotations.index.is_empty() {
                copy.push_manifest(copy.dest.reference, bytes.to_vec(), &top_type).await
            } else {
                annotate(&mut top, &annotations.index);
                let body = serde_json::to_vec(&top).map_err(|e| format!("{action}: {e}"))?;
                copy.push_manifest(copy.dest.reference, body, &top_type).await
            }
        } else {
            let total = blob_bytes(&top);
            if !same_repository && !limit.allows(total) {
                return Err(format!(
                    "{action}: the artifact's blobs add up to {total} bytes, more than {} ({})",
                    limit.value, limit.setting
                ));
            }
            copy.blobs(&top).await?;
            if annotations.manifest.is_empty() {
                copy.push_manifest(copy.dest.reference, bytes.to_vec(), &top_type).await
            } else {
                annotate(&mut top, &annotations.manifest);
                let body = serde_json::to_vec(&top).map_err(|e| format!("{action}: {e}"))?;
                copy.push_manifest(copy.dest.reference, body, &top_type).await
            }
        }
    })?;
    let mut outputs = Map::new();
    outputs.insert("image".to_owned(), json!(dest.text));
    outputs.insert("digest".to_owned(), json!(digest));
    outputs.insert("tag".to_owned(), json!(tag));
    Ok(outputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_annotations_when_split_then_prefixes_choose_index_or_manifest() {
        let split = split_annotations(BTreeMap::from([
            ("org.opencontainers.image.source".to_owned(), "s".to_owned()),
            ("index:org.opencontainers.image.revision".to_owned(), "r".to_owned()),
            ("manifest:org.opencontainers.image.description".to_owned(), "d".to_owned()),
        ]));
        assert_eq!(split.index, BTreeMap::from([("org.opencontainers.image.revision".to_owned(), "r".to_owned())]));
        assert_eq!(
            split.manifest,
            BTreeMap::from([
                ("org.opencontainers.image.description".to_owned(), "d".to_owned()),
                ("org.opencontainers.image.source".to_owned(), "s".to_owned()),
            ])
        );
    }

    #[test]
    fn given_a_manifest_when_annotated_then_its_own_annotations_stay() {
        let mut document = json!({"schemaVersion": 2, "annotations": {"a": "1", "b": "2"}});
        annotate(&mut document, &BTreeMap::from([("b".to_owned(), "3".to_owned()), ("c".to_owned(), "4".to_owned())]));
        assert_eq!(document["annotations"], json!({"a": "1", "b": "3", "c": "4"}));
    }
}
