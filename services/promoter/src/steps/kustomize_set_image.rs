//! `kustomize-set-image`: edits `images` in a kustomization, changing only those lines.

use std::path::{Path, PathBuf};

use lading_domain::kustomization::KUSTOMIZATION_FILE_NAMES;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::StepContext;
use super::parse_errors;
use super::yaml_edit::{append_to_sequence, set_values};
use crate::engine::workspace::{EntryKind, Field, Workspace, WorkspaceError};

/// The kustomization file in the directory `dir` (as the config names it), if any; one
/// that leads outside the workspace is refused.
pub(super) fn kustomization_file(
    workspace: &Workspace,
    field: &str,
    dir: &Path,
) -> Result<Option<PathBuf>, WorkspaceError> {
    for name in KUSTOMIZATION_FILE_NAMES {
        let file = dir.join(name);
        let label = file.display().to_string();
        if workspace.kind(Field::new(field, &label), &file)? == Some(EntryKind::File) {
            return Ok(Some(file));
        }
    }
    Ok(None)
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
    let file = kustomization_file(ctx.workspace, "config.path", Path::new(&config.path))?
        .ok_or_else(|| format!("config.path: no kustomization.yaml in {:?}", config.path))?;
    let label = file.display().to_string();
    let at = Field::new("config.path", &label);
    let mut text = ctx.workspace.read(at, &file)?;
    let mut summary = Vec::new();
    for (i, update) in config.images.iter().enumerate() {
        let field = format!("config.images[{i}]");
        // Tag or digest: as given, else from the freight being promoted; with neither, a
        // new name alone (Kargo's ECR example) changes only the name.
        let from_freight = ctx.freight.images.iter().find(|img| {
            lading_domain::url_normalize::normalize_image_repo(&img.repo_url.to_lowercase())
                == lading_domain::url_normalize::normalize_image_repo(&update.image.to_lowercase())
        });
        let revision = match (&update.digest, &update.tag) {
            (Some(digest), _) => Some(("digest", digest.clone())),
            (None, Some(tag)) => Some(("newTag", tag.clone())),
            (None, None) => match from_freight {
                Some(img) if update.use_digest && !img.digest.is_empty() => Some(("digest", img.digest.clone())),
                Some(img) if !img.tag.is_empty() => Some(("newTag", img.tag.clone())),
                Some(img) => Some(("digest", img.digest.clone())),
                None if update.new_name.is_some() => None,
                None => {
                    return Err(format!(
                        "{field}: no tag or digest given and the freight has no image {:?}",
                        update.image
                    ));
                }
            },
        };
        let document: Value = serde_saphyr::from_str(&text).map_err(|e| parse_errors::yaml(&label, &e))?;
        let index = document
            .get("images")
            .and_then(Value::as_array)
            .and_then(|images| images.iter().position(|entry| entry.get("name") == Some(&json!(update.image))));
        text = match index {
            Some(index) => {
                let mut updates: Vec<(String, Value)> =
                    revision.iter().map(|(key, value)| (format!("images.{index}.{key}"), json!(value))).collect();
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
                if let Some((key, value)) = &revision {
                    entry.insert((*key).into(), json!(value));
                }
                append_to_sequence(&text, "images", &Value::Object(entry)).map_err(|e| format!("{field}: {e}"))?
            }
        };
        summary.push(match (&revision, &update.new_name) {
            (Some((_, value)), _) => format!("{}:{value}", update.image),
            (None, Some(new_name)) => format!("{} as {new_name}", update.image),
            (None, None) => update.image.clone(),
        });
    }
    ctx.workspace.write(at, &file, text)?;
    let mut outputs = Map::new();
    outputs.insert("commitMessage".into(), json!(format!("Updated images: {}", summary.join(", "))));
    Ok(outputs)
}
