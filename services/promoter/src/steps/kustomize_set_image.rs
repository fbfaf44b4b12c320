//! Kustomize steps: `kustomize-set-image` edits `images` in a kustomization (changing
//! only those lines), `kustomize-build` renders a directory with `kustomize build` or
//! `kubectl kustomize`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::StepContext;
use super::yaml_edit::{append_to_sequence, set_values};
use crate::engine::workspace::resolve;

const KUSTOMIZATION_FILES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

fn kustomization_file(dir: &Path) -> Option<PathBuf> {
    KUSTOMIZATION_FILES.iter().map(|f| dir.join(f)).find(|p| p.is_file())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageUpdate {
    /// The image name as the kustomization refers to it.
    image: String,
    #[serde(default)]
    tag: Option<String>,
    #[serde(default)]
    digest: Option<String>,
    #[serde(default)]
    use_digest: bool,
    #[serde(default)]
    new_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetImageConfig {
    path: String,
    images: Vec<ImageUpdate>,
}

/// `kustomize-set-image`.
pub fn set_image(ctx: &StepContext<'_>, config: SetImageConfig) -> Result<Map<String, Value>, String> {
    let dir = resolve(ctx.workspace, &config.path).map_err(|e| format!("config.path: {e}"))?;
    let file =
        kustomization_file(&dir).ok_or_else(|| format!("config.path: no kustomization.yaml in {:?}", config.path))?;
    let mut text = fs::read_to_string(&file).map_err(|e| format!("reading {}: {e}", file.display()))?;
    let mut summary = Vec::new();
    for (i, update) in config.images.iter().enumerate() {
        let field = format!("config.images[{i}]");
        // Tag or digest: as given, else from the freight being promoted.
        let from_freight = ctx.freight.images.iter().find(|img| {
            lading_domain::url_normalize::normalize_image_repo(&img.repo_url.to_lowercase())
                == lading_domain::url_normalize::normalize_image_repo(&update.image.to_lowercase())
        });
        let (key, value) = match (&update.digest, &update.tag) {
            (Some(digest), _) => ("digest", digest.clone()),
            (None, Some(tag)) => ("newTag", tag.clone()),
            (None, None) => match from_freight {
                Some(img) if update.use_digest && !img.digest.is_empty() => ("digest", img.digest.clone()),
                Some(img) if !img.tag.is_empty() => ("newTag", img.tag.clone()),
                Some(img) => ("digest", img.digest.clone()),
                None => {
                    return Err(format!(
                        "{field}: no tag or digest given and the freight has no image {:?}",
                        update.image
                    ));
                }
            },
        };
        let document: Value =
            serde_saphyr::from_str(&text).map_err(|e| format!("{} is not valid YAML: {e}", file.display()))?;
        let index = document
            .get("images")
            .and_then(Value::as_array)
            .and_then(|images| images.iter().position(|entry| entry.get("name") == Some(&json!(update.image))));
        text = match index {
            Some(index) => {
                let mut updates = vec![(format!("images.{index}.{key}"), json!(value))];
                if let Some(new_name) = &update.new_name {
                    updates.push((format!("images.{index}.newName"), json!(new_name)));
                }
                set_values(&text, &updates).map_err(|e| format!("{field}: {e}"))?
            }
            None => {
                let mut entry = Map::new();
                entry.insert("name".into(), json!(update.image));
                if let Some(new_name) = &update.new_name {
                    entry.insert("newName".into(), json!(new_name));
                }
                entry.insert(key.into(), json!(value));
                append_to_sequence(&text, "images", &Value::Object(entry)).map_err(|e| format!("{field}: {e}"))?
            }
        };
        summary.push(format!("{}:{value}", update.image));
    }
    fs::write(&file, text).map_err(|e| format!("writing {}: {e}", file.display()))?;
    let mut outputs = Map::new();
    outputs.insert("commitMessage".into(), json!(format!("Updated images: {}", summary.join(", "))));
    Ok(outputs)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BuildConfig {
    path: String,
    out_path: String,
}

/// Runs `kustomize build` when installed, else `kubectl kustomize`.
fn render(dir: &Path) -> Result<String, String> {
    let attempts: [(&str, &[&str]); 2] = [("kustomize", &["build"]), ("kubectl", &["kustomize"])];
    let mut missing = Vec::new();
    for (program, args) in attempts {
        match Command::new(program).args(args).arg(dir).output() {
            Ok(output) if output.status.success() => return Ok(String::from_utf8_lossy(&output.stdout).into_owned()),
            Ok(output) => return Err(format!("{program} failed: {}", String::from_utf8_lossy(&output.stderr).trim())),
            Err(_) => missing.push(program),
        }
    }
    Err(format!("neither kustomize nor kubectl is installed ({})", missing.join(", ")))
}

fn document_file_name(document: &str, index: usize) -> String {
    let value: Value = serde_saphyr::from_str(document).unwrap_or(Value::Null);
    let text = |pointer: &str| value.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_lowercase();
    match (text("/kind"), text("/metadata/name")) {
        (kind, name) if !kind.is_empty() && !name.is_empty() => format!("{kind}-{name}.yaml"),
        _ => format!("resource-{index}.yaml"),
    }
}

/// `kustomize-build`: to one file when `outPath` ends in `.yaml`/`.yml`, otherwise one
/// file per resource in that directory.
pub fn build(ctx: &StepContext<'_>, config: BuildConfig) -> Result<Map<String, Value>, String> {
    let dir = resolve(ctx.workspace, &config.path).map_err(|e| format!("config.path: {e}"))?;
    let out = resolve(ctx.workspace, &config.out_path).map_err(|e| format!("config.outPath: {e}"))?;
    let rendered = render(&dir)?;
    if config.out_path.ends_with(".yaml") || config.out_path.ends_with(".yml") {
        if let Some(parent) = out.parent() {
            fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        fs::write(&out, rendered).map_err(|e| format!("writing {}: {e}", config.out_path))?;
    } else {
        fs::create_dir_all(&out).map_err(|e| e.to_string())?;
        for (i, document) in rendered.split("\n---\n").enumerate().filter(|(_, d)| !d.trim().is_empty()) {
            let body = document.trim_start_matches("---\n");
            let file = out.join(document_file_name(body, i));
            fs::write(&file, format!("{}\n", body.trim_end()))
                .map_err(|e| format!("writing {}: {e}", file.display()))?;
        }
    }
    Ok(Map::new())
}
