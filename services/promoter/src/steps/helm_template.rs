//! `helm-template`: renders a Helm chart of the workspace with values to a file or a
//! directory, as `helm template` does.
//!
//! Helm's own rendering runs through Helm's library (see [`super::helm_library`]), on a
//! mirror of the chart: the workspace is read through checks and only `outPath` is
//! written. `buildDependencies` first builds the mirror's `charts/` from `Chart.lock`
//! (`helm dependency build`); `kubeVersion` and `apiVersions` set the render's
//! `.Capabilities`. Values files are read through the workspace and merged in order, then
//! `setValues` apply; rendered files are written through the workspace.

use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::StepContext;
use super::helm_library::Mirror;
use super::parse::merge;
use super::parse_errors;
use crate::engine::workspace::Field;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetValue {
    key: String,
    value: Value,
    #[serde(default)]
    literal: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    path: String,
    out_path: String,
    #[serde(default)]
    out_layout: Option<String>,
    #[serde(default)]
    release_name: Option<String>,
    #[serde(default)]
    use_release_name: bool,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    values_files: Vec<String>,
    #[serde(default)]
    ignore_missing_value_files: bool,
    #[serde(default)]
    build_dependencies: bool,
    #[serde(default, rename = "includeCRDs")]
    include_crds: bool,
    #[serde(default)]
    disable_hooks: bool,
    #[serde(default)]
    skip_tests: bool,
    #[serde(default)]
    kube_version: Option<String>,
    #[serde(default)]
    api_versions: Vec<String>,
    #[serde(default)]
    set_values: Vec<SetValue>,
}

/// `--set key=value`: dotted keys; a value read as YAML (number, bool) unless `literal`.
fn set_value(values: &mut Value, set: &SetValue, field: &str) -> Result<(), String> {
    let parts: Vec<&str> = set.key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!("{field}.key: {:?} is not a dotted key", set.key));
    }
    let value = match (&set.value, set.literal) {
        (Value::String(text), false) => match serde_saphyr::from_str::<Value>(text) {
            Ok(parsed @ (Value::Number(_) | Value::Bool(_) | Value::Null)) if !text.is_empty() => parsed,
            _ => Value::String(text.clone()),
        },
        (Value::String(text), true) => Value::String(text.clone()),
        (other, _) => other.clone(),
    };
    let mut node = values;
    for (i, part) in parts.iter().enumerate() {
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        let map = node.as_object_mut().expect("made an object above");
        if i == parts.len() - 1 {
            map.insert((*part).to_owned(), value);
            return Ok(());
        }
        node = map.entry((*part).to_owned()).or_insert_with(|| Value::Object(Map::new()));
    }
    Ok(())
}

/// Whether `text` reads as a version Helm takes for `.Capabilities.KubeVersion`: an
/// optional `v`, one to three numbers, then an optional `-pre` or `+build`.
fn is_kube_version(text: &str) -> bool {
    let text = text.strip_prefix('v').unwrap_or(text);
    let core = text.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<&str> = core.split('.').collect();
    (1..=3).contains(&parts.len()) && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// Whether a rendered document is a hook (`helm.sh/hook`), and a test hook.
fn hook_kind(document: &str) -> (bool, bool) {
    let parsed: Value = serde_saphyr::from_str(document).unwrap_or(Value::Null);
    let hook = parsed["metadata"]["annotations"]["helm.sh/hook"].as_str().unwrap_or_default();
    (!hook.is_empty(), hook.split(',').any(|h| h.trim() == "test" || h.trim() == "test-success"))
}

pub fn run(ctx: &StepContext<'_>, config: Config) -> Result<Map<String, Value>, String> {
    let layout = config.out_layout.as_deref().unwrap_or("helm");
    if !matches!(layout, "helm" | "flat") {
        return Err(format!("config.outLayout: {layout:?} must be helm or flat"));
    }
    let mirror =
        Mirror::new(ctx, Field::new("config.path", &config.path), Path::new(&config.path), config.build_dependencies)?;
    let mut values = Value::Object(Map::new());
    for (i, file) in config.values_files.iter().enumerate() {
        let field = format!("config.valuesFiles[{i}]");
        let at = Field::new(&field, file);
        if ctx.workspace.kind(at, Path::new(file))?.is_none() {
            if config.ignore_missing_value_files {
                continue;
            }
            return Err(format!("{field}: {file:?} does not exist"));
        }
        let bytes = ctx.workspace.read_bounded(at, Path::new(file), super::parse::MAX_PARSED_FILE)?;
        let text = String::from_utf8_lossy(&bytes);
        let parsed: Value = serde_saphyr::from_str(&text).map_err(|e| parse_errors::yaml(file, &e))?;
        if !parsed.is_null() {
            merge(&mut values, parsed);
        }
    }
    for (i, set) in config.set_values.iter().enumerate() {
        set_value(&mut values, set, &format!("config.setValues[{i}]"))?;
    }
    let release = config.release_name.clone().unwrap_or_else(|| "release-name".to_owned());
    if let Some(version) = &config.kube_version
        && !is_kube_version(version)
    {
        return Err(format!("config.kubeVersion: {version:?} is not a version (1.29.3, v1.29)"));
    }
    let request = json!({
        "values": values,
        "name": release,
        "namespace": config.namespace.clone().unwrap_or_else(|| "default".to_owned()),
        "includeCRDs": config.include_crds,
        "kubeVersion": config.kube_version,
        "apiVersions": config.api_versions,
    });
    let build = config.build_dependencies.then_some("build");
    let answer = mirror.run(ctx, "config.path", build, Some(request))?;
    let chart_name = answer["chart"].as_str().unwrap_or_default().to_owned();
    let mut documents: Vec<(String, String)> = Vec::new();
    if let Some(crds) = answer["crds"].as_object() {
        for (name, text) in crds {
            if let Some(text) = text.as_str() {
                documents.push((format!("{chart_name}/crds/{name}"), text.to_owned()));
            }
        }
    }
    if let Some(manifests) = answer["manifests"].as_object() {
        for (name, text) in manifests {
            let Some(text) = text.as_str() else { continue };
            let base = name.rsplit('/').next().unwrap_or_default();
            if text.trim().is_empty() || base == "NOTES.txt" || base.starts_with('_') {
                continue;
            }
            let (hook, test) = hook_kind(text);
            if (hook && config.disable_hooks) || (test && config.skip_tests) {
                continue;
            }
            documents.push((name.clone(), text.to_owned()));
        }
    }
    documents.sort();
    let out = Path::new(&config.out_path);
    let out_at = Field::new("config.outPath", &config.out_path);
    if config.out_path.ends_with(".yaml") || config.out_path.ends_with(".yml") {
        let text: String =
            documents.iter().map(|(name, text)| format!("---\n# Source: {name}\n{}\n", text.trim_end())).collect();
        ctx.workspace.write(out_at, out, text)?;
    } else {
        for (name, text) in &documents {
            let relative = match layout {
                "flat" => name.rsplit('/').next().unwrap_or(name).to_owned(),
                _ if config.use_release_name => match name.split_once('/') {
                    Some((_, rest)) => format!("{release}/{rest}"),
                    None => name.clone(),
                },
                _ => name.clone(),
            };
            if Path::new(&relative).components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
                return Err(format!("config.path: the chart renders a file named {relative:?}"));
            }
            ctx.workspace.write(out_at, &out.join(&relative), format!("{}\n", text.trim_end()))?;
        }
    }
    Ok(Map::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_set_values_when_applied_then_numbers_parse_unless_literal() {
        let mut values = json!({"image": {"repository": "nginx"}});
        let set = |key: &str, value: &str, literal: bool| SetValue { key: key.into(), value: json!(value), literal };
        set_value(&mut values, &set("image.tag", "1.2.3", false), "s").unwrap();
        set_value(&mut values, &set("replicas", "3", false), "s").unwrap();
        set_value(&mut values, &set("port", "8080", true), "s").unwrap();
        assert_eq!(values, json!({"image": {"repository": "nginx", "tag": "1.2.3"}, "replicas": 3, "port": "8080"}));
        assert!(set_value(&mut values, &set("a..b", "1", false), "s").is_err());
    }

    #[test]
    fn given_kube_versions_when_checked_then_helms_forms_pass() {
        for good in ["1.29.3", "v1.29", "1", "v1.30.0-rc.1", "1.29.3+k3s1"] {
            assert!(is_kube_version(good), "{good}");
        }
        for bad in ["", "v", "not-a-version", "1..2", "1.2.3.4", "1.x"] {
            assert!(!is_kube_version(bad), "{bad}");
        }
    }

    #[test]
    fn given_rendered_documents_when_classified_then_hooks_and_tests_are_found() {
        assert_eq!(hook_kind("kind: Pod\nmetadata:\n  annotations:\n    helm.sh/hook: test\n"), (true, true));
        assert_eq!(hook_kind("kind: Job\nmetadata:\n  annotations:\n    helm.sh/hook: pre-install\n"), (true, false));
        assert_eq!(hook_kind("kind: Service\n"), (false, false));
    }
}
