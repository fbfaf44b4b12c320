//! `lading get KIND [NAME]`: freight, stages, warehouses, promotions, projects or a
//! project's config, in any of kubectl's output formats.
//!
//! - [`columns`]: what each kind's table shows.

mod columns;

use anyhow::bail;
use clap::ValueEnum;
use lading_domain::suggest::did_you_mean;
use serde_json::{Value, json};

use super::{Context, segment};
use crate::cli::OutputArgs;
use crate::output::{self, OutputFormat, Resource};

/// List or show freight, stages, warehouses, promotions, projects or a project config.
///
/// With NAME, shows that one object (freight by name or alias). Tables show the usual
/// columns; -o wide adds more; -o json and -o yaml print the api's objects (a
/// kubectl-style List, or the one object); -o name prints KIND/NAME; -o jsonpath=…
/// takes kubectl's templates. Needs the viewer role.
///
///   lading get freight -p demo
///   lading get freight brave-otter -o yaml
///   lading get freight --warehouse app -o wide
///   lading get stages -o jsonpath='{range .items[*]}{.metadata.name}{"\t"}{.status.currentFreight[0].alias}{"\n"}{end}'
///   lading get promotions --stage prod --no-headers
///   lading get projects -o name
///   lading get projectconfig -o yaml
#[derive(Debug, clap::Args)]
#[command(verbatim_doc_comment)]
pub struct GetArgs {
    /// What to show.
    pub kind: Kind,
    /// One object by name (freight: by name or alias).
    pub name: Option<String>,
    /// Freight: only what this warehouse produced.
    #[arg(long)]
    pub warehouse: Option<String>,
    /// Promotions: only this stage's.
    #[arg(long)]
    pub stage: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    Freight,
    #[value(alias = "stage")]
    Stages,
    #[value(alias = "warehouse")]
    Warehouses,
    #[value(alias = "promotion")]
    Promotions,
    #[value(alias = "project")]
    Projects,
    #[value(alias = "projectconfigs")]
    Projectconfig,
}

impl Kind {
    fn resource(self) -> &'static Resource {
        match self {
            Kind::Freight => &columns::FREIGHT,
            Kind::Stages => &columns::STAGES,
            Kind::Warehouses => &columns::WAREHOUSES,
            Kind::Promotions => &columns::PROMOTIONS,
            Kind::Projects => &columns::PROJECTS,
            Kind::Projectconfig => &columns::PROJECT_CONFIG,
        }
    }
}

pub async fn run(context: &Context, args: GetArgs) -> anyhow::Result<()> {
    if args.warehouse.is_some() && args.kind != Kind::Freight {
        bail!("--warehouse filters freight only");
    }
    if args.stage.is_some() && args.kind != Kind::Promotions {
        bail!("--stage filters promotions only");
    }
    let answer = fetch(context, &args).await?;
    let resource = args.kind.resource();
    let format = &args.output.output;
    if matches!(format, OutputFormat::Table | OutputFormat::Wide) && output::items(&answer).is_empty() {
        let place = match args.kind {
            Kind::Projects => String::new(),
            _ => format!(" in project {}", context.project()?),
        };
        eprintln!("No {} found{place}.", resource.plural);
        return Ok(());
    }
    print!("{}", output::render(format, resource, &answer, args.output.no_headers, chrono::Utc::now())?);
    Ok(())
}

/// The api's answer: a List, or the one object NAME names.
async fn fetch(context: &Context, args: &GetArgs) -> anyhow::Result<Value> {
    let client = &context.client;
    let answer = match args.kind {
        Kind::Projects => {
            let list = client.get("/api/v1/projects").await?;
            return one_of(list, args.name.as_deref(), "project", "");
        }
        Kind::Projectconfig => {
            let project = context.project()?;
            if let Some(name) = args.name.as_deref().filter(|n| *n != project) {
                bail!("a project config is named after its project: `lading get projectconfig -p {name}`");
            }
            return Ok(client.get(&format!("{}/projectconfig", context.project_path()?)).await?);
        }
        Kind::Freight => match &args.name {
            Some(name) => {
                return Ok(client.get(&format!("{}/freight/{}", context.project_path()?, segment(name))).await?);
            }
            None => {
                let mut list = client.get(&format!("{}/freight", context.project_path()?)).await?;
                if let Some(warehouse) = &args.warehouse {
                    retain(&mut list, |f| f["origin"]["name"] == warehouse.as_str());
                }
                list
            }
        },
        Kind::Stages => client.get(&format!("{}/stages", context.project_path()?)).await?,
        Kind::Warehouses => client.get(&format!("{}/warehouses", context.project_path()?)).await?,
        Kind::Promotions => {
            let query = args.stage.as_deref().map(|s| format!("?stage={}", segment(s))).unwrap_or_default();
            client.get(&format!("{}/promotions{query}", context.project_path()?)).await?
        }
    };
    let place = format!(" in project {:?}", context.project()?);
    one_of(answer, args.name.as_deref(), args.kind.resource().kind, &place)
}

/// The list, or its item named `name` (an error naming it, and a close name, when there
/// is none).
fn one_of(list: Value, name: Option<&str>, kind: &str, place: &str) -> anyhow::Result<Value> {
    let Some(name) = name else { return Ok(list) };
    let items = list["items"].as_array().cloned().unwrap_or_default();
    if let Some(found) = items.iter().find(|item| output::object_name(item) == name) {
        return Ok(found.clone());
    }
    let hint = did_you_mean(name, items.iter().map(output::object_name));
    bail!("{kind} {name:?} not found{place}{hint}")
}

fn retain(list: &mut Value, keep: impl Fn(&Value) -> bool) {
    if let Some(items) = list.get_mut("items").and_then(Value::as_array_mut) {
        items.retain(keep);
    } else {
        *list = json!({"apiVersion": "v1", "kind": "List", "items": []});
    }
}

#[cfg(test)]
mod tests;
