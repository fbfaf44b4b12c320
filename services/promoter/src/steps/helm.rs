//! `helm-update-chart`: sets the versions of a chart's dependencies in `Chart.yaml`,
//! changing only those lines, then runs Helm's own dependency update (Helm's library,
//! see [`super::helm_library`]) as `helm dependency update` does: `Chart.lock` is written
//! anew (versions, digest, generated) and `charts/` holds exactly the archives of the
//! locked versions, archives of replaced versions removed. The changes, read from the
//! old and new `Chart.lock`, are the `commitMessage` output, as in Kargo; a lock whose
//! versions did not change is kept as it was (only its `generated` time would).

use std::collections::BTreeMap;
use std::path::Path;

use lading_domain::url_normalize::normalize_chart;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::StepContext;
use super::parse_errors;
use super::yaml_edit::set_values;
use crate::engine::workspace::Field;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChartUpdate {
    repository: String,
    name: String,
    /// Matches only the dependency with this `alias` (one chart listed twice).
    #[serde(default)]
    alias: Option<String>,
    /// The version to set; the freight's version of this chart when absent.
    #[serde(default)]
    version: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    path: String,
    /// None: Helm resolves the SemVer ranges `Chart.yaml` declares.
    #[serde(default)]
    charts: Vec<ChartUpdate>,
}

pub fn run(ctx: &StepContext<'_>, config: Config) -> Result<Map<String, Value>, String> {
    let file = Path::new(&config.path).join("Chart.yaml");
    let file_name = file.display().to_string();
    let at = Field::new("config.path", &file_name);
    let mut text = ctx.workspace.read(at, &file)?;
    let document: Value = serde_saphyr::from_str(&text).map_err(|e| parse_errors::yaml(&file_name, &e))?;
    let dependencies = document.get("dependencies").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut updates = Vec::new();
    for (i, chart) in config.charts.iter().enumerate() {
        let field = format!("config.charts[{i}]");
        let index = dependencies
            .iter()
            .position(|d| {
                d.get("name") == Some(&json!(chart.name))
                    && d.get("repository").and_then(Value::as_str).map(normalize_chart)
                        == Some(normalize_chart(&chart.repository))
                    && chart.alias.as_ref().is_none_or(|alias| d.get("alias") == Some(&json!(alias)))
            })
            .ok_or_else(|| format!("{field}: Chart.yaml has no dependency {} from {}", chart.name, chart.repository))?;
        let version = match &chart.version {
            Some(v) => v.clone(),
            None => ctx
                .freight
                .charts
                .iter()
                .find(|c| c.name == chart.name && normalize_chart(&c.repo_url) == normalize_chart(&chart.repository))
                .map(|c| c.version.clone())
                .ok_or_else(|| format!("{field}: no version given and the freight has no chart {}", chart.name))?,
        };
        updates.push((format!("dependencies.{index}.version"), json!(version)));
    }
    if !updates.is_empty() {
        text = set_values(&text, &updates)?;
        ctx.workspace.write(at, &file, text)?;
    }
    let mirror =
        super::helm_library::Mirror::new(ctx, Field::new("config.path", &config.path), Path::new(&config.path), true)?;
    let lock_path = mirror.chart.join("Chart.lock");
    // What changed is told against the old lock, as Kargo does.
    let old_lock = ctx.workspace.read_if_exists(at, &lock_path)?;
    let old_versions = old_lock.as_deref().map(versions).unwrap_or_default();
    mirror.run(ctx, "config.path", Some("update"), None)?;
    let new_lock = std::fs::read_to_string(mirror.host_chart.join("Chart.lock"))
        .map_err(|e| format!("config.path: Helm wrote no Chart.lock: {e}"))?;
    sync_archives(ctx, &config.path, &mirror)?;
    let changes = lock_changes(&old_versions, &versions(&new_lock));
    // A lock that locks the same versions is kept as it was: only its time would change.
    if old_lock.is_none() || !changes.is_empty() {
        ctx.workspace.write(at, &lock_path, &new_lock)?;
    }
    let mut outputs = Map::new();
    if !changes.is_empty() {
        let lines: String = changes.iter().map(|(name, change)| format!("\n- {name}: {change}")).collect();
        outputs
            .insert("commitMessage".into(), json!(format!("Updated chart dependencies for {}\n{lines}", config.path)));
    }
    Ok(outputs)
}

/// `charts/` in the workspace made as Helm left it in the mirror: files Helm removed are
/// removed, files it wrote are written; directories (unpacked subcharts) stay.
fn sync_archives(ctx: &StepContext<'_>, path: &str, mirror: &super::helm_library::Mirror) -> Result<(), String> {
    let charts = mirror.chart.join("charts");
    let at = Field::new("config.path", path);
    let files = |dir: &Path| -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
        let mut names: Vec<String> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        names
    };
    let after = files(&mirror.host_chart.join("charts"));
    if ctx.workspace.kind(at, &charts)? == Some(crate::engine::workspace::EntryKind::Directory) {
        for name in files(&ctx.workspace.host_path(at, &charts)?) {
            if !after.contains(&name) {
                ctx.workspace.remove(at, &charts.join(&name))?;
            }
        }
    }
    for name in &after {
        let bytes = std::fs::read(mirror.host_chart.join("charts").join(name))
            .map_err(|e| format!("config.path: reading Helm's charts/{name}: {e}"))?;
        ctx.workspace.write(at, &charts.join(name), bytes)?;
    }
    Ok(())
}

/// Each dependency's version in `dependencies` (of a `Chart.yaml` or a `Chart.lock`).
fn versions_of(dependencies: &[Value]) -> BTreeMap<String, String> {
    dependencies
        .iter()
        .filter_map(|d| Some((d.get("name")?.as_str()?.to_owned(), d.get("version")?.as_str()?.to_owned())))
        .collect()
}

/// Each dependency's version in the lock `text`.
fn versions(text: &str) -> BTreeMap<String, String> {
    let document: Value = serde_saphyr::from_str(text).unwrap_or(Value::Null);
    versions_of(document.get("dependencies").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default())
}

/// Each dependency whose version changed: `old -> new`, the new version when it is new,
/// `removed` when it is gone.
fn lock_changes(old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut changes = BTreeMap::new();
    for (name, version) in new {
        match old.get(name) {
            Some(before) if before == version => {}
            Some(before) => drop(changes.insert(name.clone(), format!("{before} -> {version}"))),
            None => drop(changes.insert(name.clone(), version.clone())),
        }
    }
    for name in old.keys().filter(|n| !new.contains_key(*n)) {
        changes.insert(name.clone(), "removed".to_owned());
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_two_locks_when_compared_then_changed_new_and_removed_dependencies_are_named() {
        let old =
            "dependencies:\n- name: a\n  version: 1.0.0\n- name: b\n  version: 2.0.0\n- name: gone\n  version: 1.0.0\n";
        let new =
            "dependencies:\n- name: a\n  version: 1.0.0\n- name: b\n  version: 2.1.0\n- name: c\n  version: 0.1.0\n";
        let changes = lock_changes(&versions(old), &versions(new));
        assert_eq!(
            changes.into_iter().collect::<Vec<_>>(),
            [("b".into(), "2.0.0 -> 2.1.0".into()), ("c".into(), "0.1.0".into()), ("gone".into(), "removed".into())]
        );
        assert!(lock_changes(&versions(new), &versions(new)).is_empty());
    }
}
