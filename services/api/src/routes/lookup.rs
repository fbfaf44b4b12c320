//! Finding what a request names, with errors a person can act on: a missing project or
//! stage says so and suggests the close name when there is one.

use lading_domain::FreightId;
use lading_domain::spec::{Kind, StageSpec};
use lading_domain::suggest::did_you_mean;
use lading_projection::model::FreightRecord;

use crate::SharedContext;
use crate::error::ApiError;

/// Ok when `project` exists; a 404 naming it (and a close one) otherwise.
pub fn project(context: &SharedContext, project: &str) -> Result<(), ApiError> {
    context.specs.read(|s| {
        if s.project_exists(project) {
            return Ok(());
        }
        let projects = s.projects();
        let hint = did_you_mean(project, projects.iter().map(String::as_str));
        Err(ApiError::NotFound(format!("project {project:?} not found{hint}")))
    })
}

/// The spec of stage `stage` of `project`; a 404 naming it (and a close one) otherwise.
pub fn stage(context: &SharedContext, project: &str, stage: &str) -> Result<StageSpec, ApiError> {
    context.specs.read(|s| {
        if let Some(spec) = s.stage(project, stage) {
            return Ok(spec.clone());
        }
        let names: Vec<String> = s.in_project(project, Kind::Stage).map(|m| m.name().to_owned()).collect();
        let hint = did_you_mean(stage, names.iter().map(String::as_str));
        Err(ApiError::NotFound(format!("stage {stage:?} not found in project {project:?}{hint}")))
    })
}

/// The freight `name_or_alias` of `project`; a 404 naming it (and a close alias) otherwise.
pub fn freight(context: &SharedContext, project: &str, name_or_alias: &str) -> Result<FreightRecord, ApiError> {
    context.projection.read(|model| {
        let project_model = model.project(project);
        if let Some(record) = project_model.and_then(|p| p.find_freight(name_or_alias)) {
            return Ok(record.clone());
        }
        let aliases: Vec<String> =
            project_model.map(|p| p.freight.values().map(|f| f.freight.alias.clone()).collect()).unwrap_or_default();
        let hint = if FreightId::parse(name_or_alias).is_ok() {
            String::new()
        } else {
            did_you_mean(name_or_alias, aliases.iter().map(String::as_str))
        };
        Err(ApiError::NotFound(format!("freight {name_or_alias:?} not found in project {project:?}{hint}")))
    })
}

/// Waits until the read model applied what was just published at `published`, so the
/// next request sees it (read-your-writes).
pub async fn applied(context: &SharedContext, published: lading_bus::Published) {
    if let lading_bus::Published::Stored(seq) = published {
        context.projection.wait_for(seq, std::time::Duration::from_secs(5)).await;
    }
}
