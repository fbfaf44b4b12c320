//! Kargo's freight functions for CEL expressions: `commitFrom(repoURL[, origin])`,
//! `imageFrom(repoURL[, origin])` and `chartFrom(repoURL[, name][, origin])`, returning
//! objects with Kargo's Go-style fields (`.ID`, `.Tag`, `.Digest`, `.Version`, …) and
//! their lowercase names, and `warehouse(name)`, the origin that narrows them to the
//! freight of one warehouse. Used by promotion steps and by a warehouse's
//! `freightCreationCriteria`.

use std::sync::Arc;

use cel::extractors::Arguments;
use cel::{Context, ExecutionError, Value as CelValue};
use serde_json::json;

use crate::Freight;
use crate::expression::{Budget, Evaluator, ExpressionLimits, Program, QuotedError};
use crate::url_normalize::{normalize_chart, normalize_git, normalize_image_repo};

/// The functions [`add`] adds.
pub const FUNCTIONS: [&str; 3] = ["commitFrom", "imageFrom", "chartFrom"];
/// `warehouse(name)`, which [`add`] adds too: promotion steps call it, a warehouse's
/// criteria do not (as in Kargo).
pub const ORIGIN_FUNCTIONS: [&str; 1] = ["warehouse"];

pub(crate) fn same_git_repo(a: &str, b: &str) -> bool {
    match (normalize_git(a), normalize_git(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

fn same_image_repo(a: &str, b: &str) -> bool {
    normalize_image_repo(&a.to_lowercase()) == normalize_image_repo(&b.to_lowercase())
}

/// The arguments of a freight function: the repository URL, a string after it (a chart's
/// name), and an origin (`warehouse(name)`), in that order.
struct Call {
    url: String,
    name: Option<String>,
    origin: Option<String>,
}

fn call_of(function: &str, args: &[CelValue]) -> Result<Call, ExecutionError> {
    let mut call = Call { url: String::new(), name: None, origin: None };
    for (i, arg) in args.iter().enumerate() {
        match arg {
            CelValue::String(s) if i == 0 => call.url = s.to_string(),
            CelValue::String(s) if i == 1 && function == "chartFrom" => call.name = Some(s.to_string()),
            CelValue::Map(map) if i > 0 => {
                let field = |names: [&str; 2]| {
                    names.iter().find_map(|n| match map.get(&cel::objects::Key::String(Arc::new((*n).to_owned()))) {
                        Some(CelValue::String(s)) => Some(s.to_string()),
                        _ => None,
                    })
                };
                let kind = field(["Kind", "kind"]).unwrap_or_default();
                let name = field(["Name", "name"]).unwrap_or_default();
                if kind != crate::freight::FreightOrigin::WAREHOUSE || name.is_empty() {
                    return Err(ExecutionError::function_error(function, "the origin must be warehouse(name)"));
                }
                call.origin = Some(name.to_owned());
            }
            _ if i == 0 => return Err(ExecutionError::function_error(function, "needs a repository URL")),
            _ => {
                return Err(ExecutionError::function_error(
                    function,
                    format!("argument {} is not expected here", i + 1),
                ));
            }
        }
    }
    if call.url.is_empty() {
        return Err(ExecutionError::function_error(function, "needs a repository URL"));
    }
    Ok(call)
}

/// The freight of `collection` a call may take from, in order: that of the warehouse it
/// names, or every one.
fn candidates<'f>(collection: &'f [Freight], call: &Call) -> impl Iterator<Item = &'f Freight> {
    let origin = call.origin.clone();
    collection.iter().filter(move |f| origin.as_deref().is_none_or(|name| name == f.origin.name))
}

/// What a call found nothing for says: the repository, and the origin when one was named.
fn not_found(function: &str, what: &str, call: &Call) -> ExecutionError {
    let origin = call.origin.as_ref().map(|o| format!(" from warehouse {o}")).unwrap_or_default();
    ExecutionError::function_error(function, format!("no {what} from {} in the freight{origin}", call.url))
}

/// Adds the functions, answering from `collection` (the promoted freight first, then the
/// stage's freight from its other origins), to `context`.
pub fn add(context: &mut Context<'_, '_>, collection: &[Freight]) -> Result<(), String> {
    context
        .add_function("warehouse", |name: Arc<String>| -> Result<CelValue, ExecutionError> {
            cel::to_value(
                json!({"Kind": "Warehouse", "Name": name.as_str(), "kind": "Warehouse", "name": name.as_str()}),
            )
            .map_err(|e| ExecutionError::function_error("warehouse", e))
        })
        .map_err(|e| e.to_string())?;
    let collection: Arc<Vec<Freight>> = Arc::new(collection.to_vec());
    let freight = collection.clone();
    context
        .add_function("commitFrom", move |Arguments(args): Arguments| -> Result<CelValue, ExecutionError> {
            let call = call_of("commitFrom", &args)?;
            let commit = candidates(&freight, &call)
                .flat_map(|f| f.commits.iter())
                .find(|c| same_git_repo(&c.repo_url, &call.url))
                .ok_or_else(|| not_found("commitFrom", "commit", &call))?;
            cel::to_value(json!({
                "RepoURL": commit.repo_url, "ID": commit.id, "Branch": commit.branch, "Tag": commit.tag,
                "Message": commit.message, "Author": commit.author, "Committer": commit.committer,
                "repoURL": commit.repo_url, "id": commit.id, "branch": commit.branch, "tag": commit.tag,
                "message": commit.message, "author": commit.author, "committer": commit.committer,
            }))
            .map_err(|e| ExecutionError::function_error("commitFrom", e))
        })
        .map_err(|e| e.to_string())?;
    let freight = collection.clone();
    context
        .add_function("imageFrom", move |Arguments(args): Arguments| -> Result<CelValue, ExecutionError> {
            let call = call_of("imageFrom", &args)?;
            let image = candidates(&freight, &call)
                .flat_map(|f| f.images.iter())
                .find(|i| same_image_repo(&i.repo_url, &call.url))
                .ok_or_else(|| not_found("imageFrom", "image", &call))?;
            // Kargo's Go-style fields, and the lowercase names its newer examples use.
            cel::to_value(json!({"RepoURL": image.repo_url, "Tag": image.tag, "Digest": image.digest,
                "repoURL": image.repo_url, "tag": image.tag, "digest": image.digest}))
            .map_err(|e| ExecutionError::function_error("imageFrom", e))
        })
        .map_err(|e| e.to_string())?;
    context
        .add_function("chartFrom", move |Arguments(args): Arguments| -> Result<CelValue, ExecutionError> {
            let call = call_of("chartFrom", &args)?;
            let chart = candidates(&collection, &call)
                .flat_map(|f| f.charts.iter())
                .find(|c| {
                    normalize_chart(&c.repo_url) == normalize_chart(&call.url)
                        && call.name.as_ref().is_none_or(|n| *n == c.name)
                })
                .ok_or_else(|| not_found("chartFrom", "chart", &call))?;
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
        add(evaluator.context_mut(), std::slice::from_ref(freight))
            .map_err(crate::expression::ExpressionError::Internal)?;
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
        // Narrowed to the freight of a warehouse: this one's, or none from another.
        assert!(holds("commitFrom('https://github.com/org/app.git', warehouse('app')).ID == 'abc'").unwrap());
        assert!(holds("chartFrom('oci://ghcr.io/org/charts/app', warehouse('app')).Version == '1.2.0'").unwrap());
        assert!(holds("warehouse('base').Kind == 'Warehouse' && warehouse('base').Name == 'base'").unwrap());
        let other = holds("imageFrom('ghcr.io/org/app', warehouse('base')).Tag == ''").unwrap_err().to_string();
        assert!(other.contains("no image from ghcr.io/org/app in the freight from warehouse base"), "{other}");
        let bad = holds("commitFrom('https://github.com/org/app.git', {'Kind': 'Stage', 'Name': 'x'}).ID == ''");
        assert!(bad.unwrap_err().to_string().contains("the origin must be warehouse(name)"));
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
