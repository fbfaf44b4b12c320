//! Kargo's freight functions for CEL expressions: `commitFrom(repoURL)`,
//! `imageFrom(repoURL)` and `chartFrom(repoURL[, name])`, returning objects with Kargo's
//! Go-style fields (`.ID`, `.Tag`, `.Digest`, `.Version`, …). Used by promotion steps
//! and by a warehouse's `freightCreationCriteria`.

use std::sync::Arc;

use cel::extractors::Arguments;
use cel::{Context, ExecutionError, Value as CelValue};
use serde_json::json;

use crate::Freight;
use crate::url_normalize::{normalize_chart, normalize_git, normalize_image_repo};

fn same_git_repo(a: &str, b: &str) -> bool {
    match (normalize_git(a), normalize_git(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

fn same_image_repo(a: &str, b: &str) -> bool {
    normalize_image_repo(&a.to_lowercase()) == normalize_image_repo(&b.to_lowercase())
}

/// Adds the three functions, answering from `freight`, to `context`.
pub fn add(context: &mut Context<'_, '_>, freight: &Freight) -> Result<(), String> {
    let commits = Arc::new(freight.commits.clone());
    context
        .add_function("commitFrom", move |url: Arc<String>| -> Result<CelValue, ExecutionError> {
            let commit = commits.iter().find(|c| same_git_repo(&c.repo_url, &url)).ok_or_else(|| {
                ExecutionError::function_error("commitFrom", format!("no commit from {url} in the freight"))
            })?;
            cel::to_value(json!({
                "RepoURL": commit.repo_url, "ID": commit.id, "Branch": commit.branch, "Tag": commit.tag,
                "Message": commit.message, "Author": commit.author, "Committer": commit.committer,
            }))
            .map_err(|e| ExecutionError::function_error("commitFrom", e))
        })
        .map_err(|e| e.to_string())?;
    let images = Arc::new(freight.images.clone());
    context
        .add_function("imageFrom", move |url: Arc<String>| -> Result<CelValue, ExecutionError> {
            let image = images.iter().find(|i| same_image_repo(&i.repo_url, &url)).ok_or_else(|| {
                ExecutionError::function_error("imageFrom", format!("no image from {url} in the freight"))
            })?;
            cel::to_value(json!({"RepoURL": image.repo_url, "Tag": image.tag, "Digest": image.digest}))
                .map_err(|e| ExecutionError::function_error("imageFrom", e))
        })
        .map_err(|e| e.to_string())?;
    let charts = Arc::new(freight.charts.clone());
    context
        .add_function("chartFrom", move |Arguments(args): Arguments| -> Result<CelValue, ExecutionError> {
            let text = |i: usize| match args.get(i) {
                Some(CelValue::String(s)) => Some(s.to_string()),
                _ => None,
            };
            let url = text(0).ok_or_else(|| ExecutionError::function_error("chartFrom", "needs a repository URL"))?;
            let name = text(1);
            let chart = charts
                .iter()
                .find(|c| {
                    normalize_chart(&c.repo_url) == normalize_chart(&url) && name.as_ref().is_none_or(|n| *n == c.name)
                })
                .ok_or_else(|| {
                    ExecutionError::function_error("chartFrom", format!("no chart from {url} in the freight"))
                })?;
            cel::to_value(json!({"RepoURL": chart.repo_url, "Name": chart.name, "Version": chart.version}))
                .map_err(|e| ExecutionError::function_error("chartFrom", e))
        })
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Evaluates `source` against `freight`; it must yield a bool.
pub fn evaluate_bool(source: &str, freight: &Freight) -> Result<bool, String> {
    let program = cel::Program::compile(source).map_err(|e| format!("expression {source:?} does not parse: {e}"))?;
    let mut context = Context::default();
    add(&mut context, freight)?;
    match program.execute(&context) {
        Ok(CelValue::Bool(b)) => Ok(b),
        Ok(other) => Err(format!("expression {source:?} must yield a bool, not {other:?}")),
        Err(e) => Err(format!("expression {source:?} failed: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criteria_see_the_freight_through_kargos_functions() {
        let freight = Freight::from_warehouse("app")
            .with_commit("https://github.com/org/app.git", "abc")
            .with_image("ghcr.io/org/app", "1.2.0", "sha256:00")
            .with_chart("oci://ghcr.io/org/charts/app", "", "1.2.0");
        assert!(
            evaluate_bool(
                "imageFrom('ghcr.io/org/app').Tag == chartFrom('oci://ghcr.io/org/charts/app').Version",
                &freight
            )
            .unwrap()
        );
        assert!(!evaluate_bool("commitFrom('https://github.com/org/app').ID == 'def'", &freight).unwrap());
        assert!(evaluate_bool("imageFrom('nginx').Tag == ''", &freight).unwrap_err().contains("no image from nginx"));
        assert!(evaluate_bool("'x'", &freight).unwrap_err().contains("must yield a bool"));
    }
}
