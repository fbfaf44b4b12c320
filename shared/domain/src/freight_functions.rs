//! Kargo's freight functions for CEL expressions: `commitFrom(repoURL)`,
//! `imageFrom(repoURL)` and `chartFrom(repoURL[, name])`, returning objects with Kargo's
//! Go-style fields (`.ID`, `.Tag`, `.Digest`, `.Version`, …) and their lowercase names. Used by promotion steps
//! and by a warehouse's `freightCreationCriteria`.

use std::sync::Arc;

use cel::extractors::Arguments;
use cel::{Context, ExecutionError, Value as CelValue};
use serde_json::json;

use crate::Freight;
use crate::expression::{Budget, Evaluator, ExpressionLimits, Program, QuotedError};
use crate::url_normalize::{normalize_chart, normalize_git, normalize_image_repo};

/// The functions [`add`] adds.
pub const FUNCTIONS: [&str; 3] = ["commitFrom", "imageFrom", "chartFrom"];

pub(crate) fn same_git_repo(a: &str, b: &str) -> bool {
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
                "repoURL": commit.repo_url, "id": commit.id, "branch": commit.branch, "tag": commit.tag,
                "message": commit.message, "author": commit.author, "committer": commit.committer,
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
            // Kargo's Go-style fields, and the lowercase names its newer examples use.
            cel::to_value(json!({"RepoURL": image.repo_url, "Tag": image.tag, "Digest": image.digest,
                "repoURL": image.repo_url, "tag": image.tag, "digest": image.digest}))
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
            cel::to_value(json!({"RepoURL": chart.repo_url, "Name": chart.name, "Version": chart.version,
                "repoURL": chart.repo_url, "name": chart.name, "version": chart.version}))
            .map_err(|e| ExecutionError::function_error("chartFrom", e))
        })
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Evaluates `source` against `freight` within `limits`; it must yield a bool. Blocking
/// (it runs on an expression thread): call it from a blocking thread.
pub fn evaluate_bool(source: &str, freight: &Freight, limits: &ExpressionLimits) -> Result<bool, QuotedError> {
    let quoted = |error| QuotedError::bare(source, error);
    let program = Program::compile(source).map_err(quoted)?;
    let budget = Budget::new(limits);
    crate::expression::on_expression_stack(|| {
        let mut evaluator = Evaluator::new(&budget);
        add(evaluator.context_mut(), freight).map_err(crate::expression::ExpressionError::Internal)?;
        match evaluator.evaluate(&program)? {
            serde_json::Value::Bool(holds) => Ok(holds),
            other => Err(crate::expression::ExpressionError::WrongType {
                expected: "a bool",
                got: crate::expression::values::type_name(&other).to_owned(),
            }),
        }
    })
    .and_then(|result| result)
    .map_err(quoted)
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
        let limits = ExpressionLimits::default();
        let holds = |source: &str| evaluate_bool(source, &freight, &limits);
        assert!(
            holds("imageFrom('ghcr.io/org/app').Tag == chartFrom('oci://ghcr.io/org/charts/app').Version").unwrap()
        );
        assert!(!holds("commitFrom('https://github.com/org/app').ID == 'def'").unwrap());
        let missing = holds("imageFrom('nginx').Tag == ''").unwrap_err().to_string();
        assert!(missing.contains("no image from nginx"), "{missing}");
        assert_eq!(holds("'x'").unwrap_err().to_string(), "\"'x'\": must yield a bool, not a string");
    }

    #[test]
    fn criteria_that_run_away_fail_within_their_budget() {
        let freight = Freight::from_warehouse("app").with_commit("https://github.com/org/app.git", "abc");
        let r = format!("[{}]", (0..300).map(|i| i.to_string()).collect::<Vec<_>>().join(","));
        let source = format!("{r}.all(a, {r}.all(b, {r}.all(c, commitFrom('https://github.com/org/app').ID != '')))");
        let error = evaluate_bool(&source, &freight, &ExpressionLimits::default()).unwrap_err();
        assert!(error.to_string().contains("ran out of its time budget of 100ms"), "{error}");
    }
}
