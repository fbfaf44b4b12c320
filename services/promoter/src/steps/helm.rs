//! `helm-update-chart`: sets the versions of a chart's dependencies in `Chart.yaml`,
//! changing only those lines. (Refreshing `Chart.lock` needs `helm dependency update`,
//! which this step does not run.)

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
    /// The version to set; the freight's version of this chart when absent.
    #[serde(default)]
    version: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    path: String,
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
    let mut summary = Vec::new();
    for (i, chart) in config.charts.iter().enumerate() {
        let field = format!("config.charts[{i}]");
        let index = dependencies
            .iter()
            .position(|d| {
                d.get("name") == Some(&json!(chart.name))
                    && d.get("repository").and_then(Value::as_str).map(normalize_chart)
                        == Some(normalize_chart(&chart.repository))
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
        summary.push(format!("{}:{version}", chart.name));
        updates.push((format!("dependencies.{index}.version"), json!(version)));
    }
    text = set_values(&text, &updates)?;
    ctx.workspace.write(at, &file, text)?;
    let mut outputs = Map::new();
    outputs.insert("commitMessage".into(), json!(format!("Updated chart dependencies: {}", summary.join(", "))));
    Ok(outputs)
}
