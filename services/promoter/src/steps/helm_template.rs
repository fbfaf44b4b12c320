//! `helm-template`: renders a Helm chart of the workspace with values to a file or a
//! directory, as `helm template` does.
//!
//! Helm's own rendering runs through Helm's Go library as the PyPI package
//! `helm-python-sdk` ships it (`libhelm_c.so`, Helm v4), driven by `python3` from `PATH`
//! with the short script below; no `helm` binary is needed. The chart directory is
//! checked first through the workspace: a symlink in it that leads outside refuses the
//! step, so Helm (which follows symlinks) reads nothing outside. Values files are read
//! through the workspace and merged in order, then `setValues` apply; rendered files are
//! written through the workspace.
//!
//! Not supported: `buildDependencies` (dependencies must already be in `charts/`),
//! `kubeVersion` and `apiVersions` (the library takes neither); a step setting them fails
//! naming the field.

use std::path::Path;
use std::process::{Command, Stdio};

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::StepContext;
use super::parse::merge;
use super::parse_errors;
use crate::engine::workspace::{EntryKind, Field};

/// Reads the request (a JSON file named by the first argument), renders, prints JSON.
const RENDER_SCRIPT: &str = r#"
import json, sys
try:
    from helm_python import Chart
except ImportError as error:
    sys.stderr.write("helm-python-sdk is not installed for this python3 (pip install helm-python-sdk): %s\n" % error)
    sys.exit(3)
request = json.load(open(sys.argv[1]))
try:
    with Chart.load(request["chart"]) as chart:
        rendered = chart.render(request["values"], name=request["name"], namespace=request["namespace"], is_install=True)
        crds = {}
        if request["includeCRDs"]:
            crds = {c["filename"]: c["data"] for c in chart.crds}
        json.dump({"chart": chart.name, "manifests": rendered, "crds": crds}, sys.stdout)
except Exception as error:
    sys.stderr.write("%s\n" % error)
    sys.exit(2)
"#;

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

/// Whether a rendered document is a hook (`helm.sh/hook`), and a test hook.
fn hook_kind(document: &str) -> (bool, bool) {
    let parsed: Value = serde_saphyr::from_str(document).unwrap_or(Value::Null);
    let hook = parsed["metadata"]["annotations"]["helm.sh/hook"].as_str().unwrap_or_default();
    (!hook.is_empty(), hook.split(',').any(|h| h.trim() == "test" || h.trim() == "test-success"))
}

fn render(ctx: &StepContext<'_>, request: &Value) -> Result<Value, String> {
    let scratch = tempfile::tempdir().map_err(|e| format!("creating a scratch directory: {e}"))?;
    let request_file = scratch.path().join("request.json");
    std::fs::write(&request_file, request.to_string()).map_err(|e| format!("writing the render request: {e}"))?;
    let mut command = Command::new("python3");
    command
        .arg("-c")
        .arg(RENDER_SCRIPT)
        .arg(&request_file)
        .current_dir(scratch.path())
        .env_clear()
        .env("HOME", scratch.path())
        .stdin(Stdio::null());
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    let output = super::child_process::output(&mut command, &ctx.remotes.cancel)
        .map_err(|e| format!("running python3 for Helm: {e}"))?;
    if !output.status.success() {
        let message = String::from_utf8_lossy(&output.stderr);
        let message = lading_domain::excerpt::shortened(message.trim(), 2000);
        return Err(format!("rendering the chart failed: {}", ctx.workspace.relativize(&message)));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("reading Helm's rendered manifests: {e}"))
}

pub fn run(ctx: &StepContext<'_>, config: Config) -> Result<Map<String, Value>, String> {
    if config.build_dependencies {
        return Err("config.buildDependencies: building dependencies is not supported; vendor them in charts/".into());
    }
    if config.kube_version.is_some() {
        return Err("config.kubeVersion: not supported by this version of Lading".into());
    }
    if !config.api_versions.is_empty() {
        return Err("config.apiVersions: not supported by this version of Lading".into());
    }
    let layout = config.out_layout.as_deref().unwrap_or("helm");
    if !matches!(layout, "helm" | "flat") {
        return Err(format!("config.outLayout: {layout:?} must be helm or flat"));
    }
    let at = Field::new("config.path", &config.path);
    let chart = ctx.workspace.canonical(at, Path::new(&config.path))?;
    if ctx.workspace.kind(at, &chart.join("Chart.yaml"))? != Some(EntryKind::File) {
        return Err(format!("config.path: {:?} holds no Chart.yaml", config.path));
    }
    // Refuses a chart holding a symlink that leads outside (Helm follows symlinks).
    ctx.workspace.check_tree(at, &chart)?;
    let chart_host = ctx.workspace.host_path(at, &chart)?;
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
    let request = json!({
        "chart": chart_host,
        "values": values,
        "name": release,
        "namespace": config.namespace.clone().unwrap_or_else(|| "default".to_owned()),
        "includeCRDs": config.include_crds,
    });
    let answer = render(ctx, &request)?;
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
    fn given_rendered_documents_when_classified_then_hooks_and_tests_are_found() {
        assert_eq!(hook_kind("kind: Pod\nmetadata:\n  annotations:\n    helm.sh/hook: test\n"), (true, true));
        assert_eq!(hook_kind("kind: Job\nmetadata:\n  annotations:\n    helm.sh/hook: pre-install\n"), (true, false));
        assert_eq!(hook_kind("kind: Service\n"), (false, false));
    }
}
