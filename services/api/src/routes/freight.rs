//! `GET /api/v1/projects/{project}/freight`: the project's freight, newest first;
//! `POST` the same path: freight assembled by hand from a warehouse's discoveries.

use axum::Json;
use axum::extract::{Path, State as AxumState};
use axum::http::StatusCode;
use lading_domain::{Chart, Freight, FreightOrigin, GitCommit, Image, freight_id};
use lading_events::catalog::WarehouseArtifactsDiscoveredV1;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{State, context, lookup};
use crate::error::ApiError;
use crate::objects::{freight_object, list as list_of};

pub async fn list(AxumState(state): AxumState<State>, Path(project): Path<String>) -> Result<Json<Value>, ApiError> {
    let context = context(&state)?;
    lookup::project(&context, &project)?;
    let items = context.projection.read(|model| {
        let mut records: Vec<_> = model.project(&project).map(|p| p.freight.values().collect()).unwrap_or_default();
        records.sort_by_key(|r| std::cmp::Reverse(r.discovered_seq));
        records.into_iter().map(|r| freight_object(&project, r)).collect::<Vec<_>>()
    });
    Ok(Json(list_of(items)))
}

/// A commit picked for manual freight: its ID (or a prefix of 7+ characters) or tag.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CommitPick {
    #[serde(default, rename = "repoURL")]
    pub repo_url: String,
    pub id: String,
}

/// An image picked for manual freight: its tag.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImagePick {
    #[serde(default, rename = "repoURL")]
    pub repo_url: String,
    pub tag: String,
}

/// A chart version picked for manual freight.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChartPick {
    #[serde(default, rename = "repoURL")]
    pub repo_url: String,
    pub version: String,
}

/// `POST /api/v1/projects/{project}/freight`: freight assembled by hand from what a
/// warehouse discovered — one pick per subscription; `repoURL` may be left out when the
/// warehouse has one subscription of that kind.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateFreight {
    pub warehouse: String,
    #[serde(default)]
    pub commits: Vec<CommitPick>,
    #[serde(default)]
    pub images: Vec<ImagePick>,
    #[serde(default)]
    pub charts: Vec<ChartPick>,
}

/// Which picks are for the subscription at `repo_url`; every pick must be used once.
fn picks_for<'a, T>(
    field: &str,
    picks: &'a [T],
    url: impl Fn(&T) -> &str,
    repo_url: &str,
    subscriptions: usize,
    used: &mut [bool],
) -> Result<&'a T, String> {
    let mut found = None;
    for (i, pick) in picks.iter().enumerate() {
        let matches = if url(pick).is_empty() { subscriptions == 1 } else { url(pick) == repo_url };
        if matches {
            if found.is_some() {
                return Err(format!("{field}[{i}]: a second pick for {repo_url}"));
            }
            used[i] = true;
            found = Some(pick);
        }
    }
    found.ok_or_else(|| format!("{field}: pick one for {repo_url}"))
}

fn unused(field: &str, used: &[bool]) -> Result<(), String> {
    match used.iter().position(|u| !u) {
        Some(i) => Err(format!("{field}[{i}]: the warehouse has no subscription for it (give repoURL)")),
        None => Ok(()),
    }
}

/// The freight `request` describes, taken from what was `discovered`.
pub fn assemble(request: &CreateFreight, discovered: &WarehouseArtifactsDiscoveredV1) -> Result<Freight, String> {
    let mut freight = Freight { origin: FreightOrigin::warehouse(&request.warehouse), ..Freight::default() };
    let mut used = vec![false; request.commits.len()];
    for git in &discovered.git {
        let pick =
            picks_for("commits", &request.commits, |p| &p.repo_url, &git.repo_url, discovered.git.len(), &mut used)?;
        let commit = git
            .commits
            .iter()
            .find(|c| (pick.id.len() >= 7 && c.id.starts_with(&pick.id)) || (!c.tag.is_empty() && c.tag == pick.id))
            .ok_or_else(|| format!("commits: {:?} was not discovered in {}", pick.id, git.repo_url))?;
        freight.commits.push(GitCommit {
            repo_url: git.repo_url.clone(),
            id: commit.id.clone(),
            branch: commit.branch.clone(),
            tag: commit.tag.clone(),
            message: commit.subject.clone(),
            author: commit.author.clone(),
            committer: commit.committer.clone(),
            subscription_name: String::new(),
        });
    }
    unused("commits", &used)?;
    let mut used = vec![false; request.images.len()];
    for image in &discovered.images {
        let pick =
            picks_for("images", &request.images, |p| &p.repo_url, &image.repo_url, discovered.images.len(), &mut used)?;
        let reference = image
            .references
            .iter()
            .find(|r| r.tag == pick.tag)
            .ok_or_else(|| format!("images: tag {:?} was not discovered in {}", pick.tag, image.repo_url))?;
        freight.images.push(Image {
            repo_url: image.repo_url.clone(),
            tag: reference.tag.clone(),
            digest: reference.digest.clone(),
            subscription_name: String::new(),
        });
    }
    unused("images", &used)?;
    let mut used = vec![false; request.charts.len()];
    for chart in &discovered.charts {
        let pick =
            picks_for("charts", &request.charts, |p| &p.repo_url, &chart.repo_url, discovered.charts.len(), &mut used)?;
        let version =
            chart.versions.iter().find(|v| **v == pick.version).ok_or_else(|| {
                format!("charts: version {:?} was not discovered in {}", pick.version, chart.repo_url)
            })?;
        freight.charts.push(Chart {
            repo_url: chart.repo_url.clone(),
            name: chart.name.clone(),
            version: version.clone(),
            subscription_name: String::new(),
        });
    }
    unused("charts", &used)?;
    Ok(freight)
}

pub async fn create(
    AxumState(state): AxumState<State>,
    Path(project): Path<String>,
    body: String,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let context = context(&state)?;
    lookup::project(&context, &project)?;
    let request: CreateFreight =
        serde_json::from_str(&body).map_err(|e| ApiError::BadRequest(format!("request body: {e}")))?;
    let Some(warehouse) = context.specs.read(|s| s.warehouse(&project, &request.warehouse).cloned()) else {
        return Err(ApiError::NotFound(format!("warehouse {:?} not found in project {project:?}", request.warehouse)));
    };
    let discovered = context
        .projection
        .read(|m| m.project(&project)?.warehouses.get(&request.warehouse)?.discovered.clone())
        .ok_or_else(|| {
            ApiError::Conflict(format!(
                "warehouse {:?} has discovered nothing yet; try `lading refresh warehouse {}`",
                request.warehouse, request.warehouse
            ))
        })?;
    let mut freight = assemble(&request, &discovered).map_err(ApiError::BadRequest)?;
    // Each artifact names the subscription that discovered it, as the warehouse's own do.
    warehouse.name_artifacts(&mut freight);
    let id = freight_id::compute(&freight).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let trace = lading_bus::tracing_context::new_root();
    let announced = context
        .bus
        .announce_freight(&project, &id, &mut freight, &trace)
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let status = if announced.created { StatusCode::CREATED } else { StatusCode::OK };
    tracing::info!(project, freight = %id, alias = announced.alias, created = announced.created, "manual freight");
    Ok((status, Json(json!({"name": id.as_str(), "alias": announced.alias, "created": announced.created}))))
}

#[cfg(test)]
mod tests {
    use lading_events::catalog::{DiscoveredImageV1, GitDiscoveryResultV1, ImageDiscoveryResultV1};

    use super::*;

    fn discovered() -> WarehouseArtifactsDiscoveredV1 {
        WarehouseArtifactsDiscoveredV1 {
            git: vec![GitDiscoveryResultV1 {
                repo_url: "https://h/app.git".into(),
                commits: vec![lading_events::catalog::DiscoveredCommitV1 {
                    id: "1234567890abcdef1234567890abcdef12345678".into(),
                    tag: "v1.0.0".into(),
                    ..Default::default()
                }],
            }],
            images: vec![
                ImageDiscoveryResultV1 {
                    repo_url: "ghcr.io/a".into(),
                    platform: String::new(),
                    references: vec![DiscoveredImageV1 {
                        tag: "1.0.0".into(),
                        digest: "sha256:aa".into(),
                        created_at_ms: 0,
                    }],
                },
                ImageDiscoveryResultV1 {
                    repo_url: "ghcr.io/b".into(),
                    platform: String::new(),
                    references: vec![DiscoveredImageV1 {
                        tag: "2.0.0".into(),
                        digest: "sha256:bb".into(),
                        created_at_ms: 0,
                    }],
                },
            ],
            ..Default::default()
        }
    }

    fn request(body: Value) -> CreateFreight {
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn manual_freight_takes_discovered_artifacts_only() {
        let ok = request(json!({
            "warehouse": "app",
            "commits": [{"id": "v1.0.0"}],
            "images": [{"repoURL": "ghcr.io/b", "tag": "2.0.0"}, {"repoURL": "ghcr.io/a", "tag": "1.0.0"}],
        }));
        let freight = assemble(&ok, &discovered()).unwrap();
        assert_eq!(freight.commits[0].id, "1234567890abcdef1234567890abcdef12345678");
        assert_eq!(freight.images[1].digest, "sha256:bb", "the discovered digest");
        let by_prefix = request(
            json!({"warehouse": "app", "commits": [{"id": "1234567"}], "images": [{"repoURL": "ghcr.io/a", "tag": "1.0.0"}, {"repoURL": "ghcr.io/b", "tag": "2.0.0"}]}),
        );
        assert!(assemble(&by_prefix, &discovered()).is_ok());
        let errors = [
            (
                json!({"warehouse": "app", "commits": [{"id": "v9"}], "images": []}),
                "commits: \"v9\" was not discovered in https://h/app.git",
            ),
            (
                json!({"warehouse": "app", "commits": [{"id": "v1.0.0"}], "images": [{"tag": "1.0.0"}]}),
                "images: pick one for ghcr.io/a",
            ),
            (
                json!({"warehouse": "app", "commits": [{"id": "v1.0.0"}], "images": [{"repoURL": "ghcr.io/a", "tag": "1.0.0"}, {"repoURL": "ghcr.io/b", "tag": "9"}]}),
                "images: tag \"9\" was not discovered in ghcr.io/b",
            ),
            (
                json!({"warehouse": "app", "commits": [{"id": "v1.0.0"}], "images": [{"repoURL": "ghcr.io/a", "tag": "1.0.0"}, {"repoURL": "ghcr.io/b", "tag": "2.0.0"}], "charts": [{"version": "1"}]}),
                "charts[0]: the warehouse has no subscription for it (give repoURL)",
            ),
        ];
        for (body, message) in errors {
            assert_eq!(assemble(&request(body), &discovered()).unwrap_err(), message);
        }
    }
}
