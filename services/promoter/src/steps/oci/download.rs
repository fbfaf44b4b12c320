//! `oci-download`: writes one layer of an OCI artifact (a Helm chart's archive, a
//! configuration file) to a file of the workspace: the first layer of `mediaType`, or
//! the first layer. An index resolves to its `linux/amd64` manifest, or its first.
//! The layer's announced size is checked against the limit before it is fetched, the
//! bytes against size and digest while they arrive; the file appears at `outPath` only
//! once complete, and replaces one there only with `allowOverwrite`.

use std::io::Write;
use std::path::Path;

use futures::StreamExt;
use oci_client::manifest::OciDescriptor;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::{ArtifactRef, auth, block_on, client, explain, is_index, manifest};
use crate::engine::Effect;
use crate::engine::workspace::Field;
use crate::steps::StepContext;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    image_ref: String,
    out_path: String,
    #[serde(default)]
    allow_overwrite: bool,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default, rename = "insecureSkipTLSVerify", alias = "insecureSkipTlsVerify")]
    insecure_skip_tls_verify: bool,
}

/// The manifest of an index to download from: `linux/amd64`, else the first.
fn pick_from_index(index: &Value) -> Option<String> {
    let manifests = index.get("manifests")?.as_array()?;
    let platform = |m: &&Value| {
        let p = m.get("platform");
        p.and_then(|p| p.get("os")).and_then(Value::as_str) == Some("linux")
            && p.and_then(|p| p.get("architecture")).and_then(Value::as_str) == Some("amd64")
    };
    manifests.iter().find(platform).or(manifests.first())?.get("digest")?.as_str().map(str::to_owned)
}

pub fn run(ctx: &StepContext<'_>, config: Config) -> Result<Map<String, Value>, String> {
    let artifact = ArtifactRef::parse("config.imageRef", &config.image_ref)?;
    let at = Field::new("config.outPath", &config.out_path);
    let out = Path::new(&config.out_path);
    if !config.allow_overwrite && ctx.workspace.kind(at, out)?.is_some() {
        return Err(format!("config.outPath: {:?} exists already (set allowOverwrite to replace it)", config.out_path));
    }
    let client = client(ctx, &[&artifact], config.insecure_skip_tls_verify);
    let auth = auth(ctx, &artifact);
    let action = format!("downloading {}", artifact.text);
    let limit = ctx.remotes.budgets.oci.max_download;
    ctx.effects.before_effect(Effect::Call)?;
    // Written to a temporary name beside the target, renamed when complete.
    let partial = format!("{}.lading-partial", config.out_path);
    let result = block_on(ctx, &action, async {
        let (bytes, _) = manifest(&client, &artifact.reference, &auth, &action).await?;
        let mut document: Value =
            serde_json::from_slice(&bytes).map_err(|e| format!("{action}: the manifest is not JSON: {e}"))?;
        let mut reference = artifact.reference.clone();
        if is_index(&document) {
            let digest = pick_from_index(&document).ok_or_else(|| format!("{action}: the index lists no manifest"))?;
            reference = oci_client::Reference::with_digest(
                reference.registry().to_owned(),
                reference.repository().to_owned(),
                digest,
            );
            let (bytes, _) = manifest(&client, &reference, &auth, &action).await?;
            document =
                serde_json::from_slice(&bytes).map_err(|e| format!("{action}: the manifest is not JSON: {e}"))?;
        }
        let layers: Vec<OciDescriptor> = serde_json::from_value(document.get("layers").cloned().unwrap_or(json!([])))
            .map_err(|e| format!("{action}: the manifest's layers: {e}"))?;
        let layer = match &config.media_type {
            Some(wanted) => layers
                .into_iter()
                .find(|l| &l.media_type == wanted)
                .ok_or_else(|| format!("{action}: no layer of media type {wanted:?}"))?,
            None => layers.into_iter().next().ok_or_else(|| format!("{action}: the artifact has no layer"))?,
        };
        let too_large = || format!("{action}: the layer is larger than {} bytes ({})", limit.value, limit.setting);
        if layer.size < 0 || !limit.allows(layer.size as u64) {
            return Err(too_large());
        }
        let mut stream = client.pull_blob_stream(&reference, &layer).await.map_err(|e| explain(&action, e))?;
        let mut file = ctx.workspace.create_file(at, Path::new(&partial), true).map_err(|e| e.to_string())?;
        let mut hasher = Sha256::new();
        let mut written = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| format!("{action}: {e}"))?;
            written += chunk.len() as u64;
            if written > layer.size as u64 {
                return Err(format!("{action}: the registry sent more than the layer's {} bytes", layer.size));
            }
            hasher.update(&chunk);
            file.write_all(&chunk).map_err(|e| format!("config.outPath: writing: {e}"))?;
        }
        file.flush().map_err(|e| format!("config.outPath: writing: {e}"))?;
        let digest = format!("sha256:{}", hasher.finalize().iter().map(|b| format!("{b:02x}")).collect::<String>());
        if layer.digest.starts_with("sha256:") && digest != layer.digest {
            return Err(format!("{action}: the layer's digest is {digest}, not {}", layer.digest));
        }
        Ok(())
    });
    match result {
        Ok(()) => {
            ctx.workspace.rename(at, Path::new(&partial), out)?;
            Ok(Map::new())
        }
        Err(error) => {
            let _ = ctx.workspace.remove(at, Path::new(&partial));
            Err(error)
        }
    }
}
