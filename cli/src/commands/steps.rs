//! `lading steps`: the promotion steps Lading runs, and each one's config fields.

use anyhow::bail;
use lading_domain::spec::SUPPORTED_STEPS;
use lading_domain::spec::step_schemas::{FieldDescription, describe};
use serde_json::{Value, json};

use crate::output::yaml;

/// List the promotion steps Lading runs (Kargo's names and fields), or one step's
/// config fields with their types; `*` marks a required field. Each step's config is
/// checked against these fields when a manifest is applied.
///
///   lading steps
///   lading steps git-clone
///   lading steps git-open-pr -o yaml
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct StepsArgs {
    /// A step to show the fields of (all steps when left out).
    pub step: Option<String>,
    /// Print as json or yaml.
    #[arg(short, long, value_parser = ["json", "yaml"])]
    pub output: Option<String>,
}

fn field_json(field: &FieldDescription) -> Value {
    json!({"field": field.path, "type": field.kind, "required": field.required})
}

/// A step's top-level fields, required ones marked `*`.
fn summary(uses: &str) -> String {
    match describe(uses) {
        Some(fields) => fields
            .iter()
            .filter(|f| !f.path.contains('.'))
            .map(|f| if f.required { format!("{}*", f.path) } else { f.path.clone() })
            .collect::<Vec<_>>()
            .join(", "),
        None => "(any fields: each one is an output)".to_owned(),
    }
}

/// The one-line list `lading up` prints when it is ready.
pub fn announcement() -> String {
    format!(
        "Promotion steps ({}): {}; `lading steps NAME` shows a step's fields.",
        SUPPORTED_STEPS.len(),
        SUPPORTED_STEPS.join(", ")
    )
}

pub fn run(args: StepsArgs) -> anyhow::Result<()> {
    let print = |value: &Value, format: &str| -> anyhow::Result<()> {
        if format == "json" {
            println!("{}", serde_json::to_string_pretty(value)?);
        } else {
            print!("{}", yaml(value));
        }
        Ok(())
    };
    let Some(step) = args.step else {
        if let Some(format) = args.output.as_deref() {
            let steps: Vec<Value> = SUPPORTED_STEPS
                .iter()
                .map(|uses| {
                    let fields = describe(uses).map(|fields| fields.iter().map(field_json).collect::<Vec<_>>());
                    json!({"step": uses, "fields": fields})
                })
                .collect();
            return print(&Value::Array(steps), format);
        }
        let width = SUPPORTED_STEPS.iter().map(|s| s.len()).max().unwrap_or(0);
        println!("{:width$}  FIELDS (* required)", "STEP");
        for uses in SUPPORTED_STEPS {
            println!("{uses:width$}  {}", summary(uses));
        }
        return Ok(());
    };
    if !SUPPORTED_STEPS.contains(&step.as_str()) {
        bail!("unknown step {step:?}; the steps are: {}", SUPPORTED_STEPS.join(", "));
    }
    let fields = describe(&step);
    if let Some(format) = args.output.as_deref() {
        let fields = fields.map(|fields| fields.iter().map(field_json).collect::<Vec<_>>());
        return print(&json!({"step": step, "fields": fields}), format);
    }
    let Some(fields) = fields else {
        println!("{step} takes any fields: each one becomes an output of the same name.");
        return Ok(());
    };
    let width = fields.iter().map(|f| f.path.len()).max().unwrap_or(0).max(5);
    println!("{:width$}  {:8}  TYPE", "FIELD", "REQUIRED");
    for field in &fields {
        println!("{:width$}  {:8}  {}", field.path, if field.required { "yes" } else { "" }, field.kind);
    }
    Ok(())
}
