//! Read-model records as Kubernetes-style objects (`apiVersion`, `kind`, `metadata`, …)
//! with Kargo's field names, as `lading get -o json|yaml` prints them.

use chrono::SecondsFormat;
use lading_domain::alias::ALIAS_LABEL;
use lading_domain::spec::references::UnresolvedReference;
use lading_domain::spec::{API_VERSION, Manifest};
use lading_events::catalog::WarehouseArtifactsDiscoveredV1;
use lading_projection::model::{FreightRecord, ProjectModel, PromotionRecord};
use serde_json::{Value, json};

/// A kubectl-style list.
pub fn list(items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": "List", "items": items})
}

fn timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn freight_object(project: &str, record: &FreightRecord) -> Value {
    let freight = &record.freight;
    let mut object = json!({
        "apiVersion": API_VERSION,
        "kind": "Freight",
        "metadata": {
            "name": record.id.as_str(),
            "namespace": project,
            "labels": {ALIAS_LABEL: freight.alias},
            "creationTimestamp": timestamp(record.created_at),
        },
    });
    // alias, origin, commits, images, charts and status, with Kargo's names.
    if let (Value::Object(target), Ok(Value::Object(fields))) = (&mut object, serde_json::to_value(freight)) {
        target.extend(fields);
    }
    // What `set-metadata` steps set (Kargo's `status.metadata`).
    if !record.metadata.is_empty() && object["status"].is_object() {
        object["status"]["metadata"] = json!(record.metadata);
    }
    object
}

fn promotion_summary(project: Option<&ProjectModel>, p: &PromotionRecord) -> Value {
    let alias = project.and_then(|m| m.freight.get(&p.freight_id)).map(|f| f.freight.alias.clone()).unwrap_or_default();
    let mut status = json!({"phase": format!("{:?}", p.phase)});
    if !p.message.is_empty() {
        status["message"] = json!(p.message);
    }
    if !p.commit.is_empty() {
        status["commit"] = json!(p.commit);
    }
    if let Some(t) = p.started_at {
        status["startedAt"] = json!(timestamp(t));
    }
    if let Some(t) = p.finished_at {
        status["finishedAt"] = json!(timestamp(t));
    }
    // A promotion waiting on a step (a pull request) shows that step `Running` with what
    // it waits for, and the step it resumes at as Kargo's `currentStep`.
    let waiting = p.waiting.as_ref().filter(|_| !p.phase.is_terminal());
    if let Some(wait) = waiting {
        status["currentStep"] = json!(wait.index);
    }
    if !p.steps.is_empty() || waiting.is_some() {
        let mut steps: Vec<Value> = p
            .steps
            .iter()
            .filter(|step| waiting.is_none_or(|w| step.index < w.index))
            .map(|step| {
                let mut entry = json!({
                    "alias": step.alias,
                    "uses": step.uses,
                    "status": format!("{:?}", step.status),
                    "startedAt": timestamp(step.started_at),
                    "finishedAt": timestamp(step.finished_at),
                });
                if !step.message.is_empty() {
                    entry["message"] = json!(step.message);
                }
                entry
            })
            .collect();
        if let Some(wait) = waiting {
            steps.push(json!({
                "alias": wait.alias,
                "uses": wait.uses,
                "status": "Running",
                "startedAt": time_ms(wait.waiting_since_ms),
                "message": wait.message,
            }));
        }
        status["stepExecutionMetadata"] = json!(steps);
    }
    if !p.pushes.is_empty() {
        status["pushes"] = json!(p.pushes.iter().map(push_entry).collect::<Vec<_>>());
    }
    let mut summary = json!({
        "name": p.name,
        "freight": {"name": p.freight_id.as_str(), "alias": alias},
        "trigger": format!("{:?}", p.trigger),
        "createdAt": timestamp(p.created_at),
        "status": status,
    });
    if !p.created_by.is_empty() {
        summary["createdBy"] = json!(p.created_by);
    }
    if !p.aborted_by.is_empty() {
        summary["abortedBy"] = json!(p.aborted_by);
    }
    summary
}

/// What one `git-push` step pushed: the remote, branch and commit, the commit's web page
/// when the remote is an https Git host, and the files it changed.
fn push_entry(p: &lading_events::catalog::PromotionPushedV1) -> Value {
    let mut entry = json!({
        "repoURL": p.repo_url,
        "branch": p.branch,
        "commit": p.commit,
        "changedFiles": p.changed_files,
        "changes": p.changes.iter().map(|c| json!({"path": c.path, "added": c.added, "removed": c.removed})).collect::<Vec<_>>(),
        "pushedAt": time_ms(p.pushed_at_ms),
    });
    if let Some(page) = lading_domain::commit_url::commit_url(&p.repo_url, &p.commit) {
        entry["commitURL"] = json!(page);
    }
    entry
}

/// A promotion as a Kargo-style object: `metadata`, `spec{stage, freight}` and the
/// status of [`promotion_summary`], with who asked for it.
pub fn promotion_object(project: &str, stage: &str, model: &ProjectModel, p: &PromotionRecord) -> Value {
    let summary = promotion_summary(Some(model), p);
    let mut annotations = serde_json::Map::new();
    if !p.created_by.is_empty() {
        annotations.insert("lading.dev/created-by".to_owned(), json!(p.created_by));
    }
    if !p.aborted_by.is_empty() {
        annotations.insert("lading.dev/aborted-by".to_owned(), json!(p.aborted_by));
    }
    json!({
        "apiVersion": API_VERSION,
        "kind": "Promotion",
        "metadata": {
            "name": p.name,
            "namespace": project,
            "creationTimestamp": timestamp(p.created_at),
            "annotations": annotations,
        },
        "spec": {"stage": stage, "freight": p.freight_id.as_str()},
        "freight": summary["freight"],
        "trigger": summary["trigger"],
        "status": summary["status"],
    })
}

/// How many entries of a stage's freight history are shown.
const FREIGHT_HISTORY_LIMIT: usize = 10;

/// Kargo-style conditions: `Ready` is false, with the reason and every message, while a
/// reference of the stage (warehouse, upstream stage, promotion task) does not resolve.
fn stage_conditions(unresolved: &[UnresolvedReference]) -> Value {
    let ready = match unresolved.first() {
        None => json!({"type": "Ready", "status": "True", "reason": "ReferencesResolved",
            "message": "every warehouse, upstream stage and task it refers to exists"}),
        Some(first) => {
            let messages: Vec<String> = unresolved.iter().map(UnresolvedReference::message).collect();
            json!({"type": "Ready", "status": "False", "reason": first.reason(), "message": messages.join("; ")})
        }
    };
    json!([ready])
}

pub fn stage_object(manifest: &Manifest, project: Option<&ProjectModel>, unresolved: &[UnresolvedReference]) -> Value {
    let mut object = manifest.to_json();
    let stage = project.and_then(|p| p.stages.get(manifest.name()));
    let mut status = json!({"conditions": stage_conditions(unresolved)});
    if let Some(stage) = stage {
        // One entry per origin the stage holds freight from.
        let current: Vec<Value> = stage
            .current
            .iter()
            .map(|(origin, (id, since))| {
                let alias =
                    project.and_then(|p| p.freight.get(id)).map(|f| f.freight.alias.clone()).unwrap_or_default();
                json!({"name": id.as_str(), "alias": alias, "origin": origin, "since": timestamp(*since)})
            })
            .collect();
        if !current.is_empty() {
            status["currentFreight"] = json!(current);
        }
        // Freight the stage ran, newest first, one entry per successful promotion.
        let history: Vec<Value> = stage
            .promotions
            .iter()
            .rev()
            .filter(|p| p.phase == lading_projection::model::PromotionPhase::Succeeded)
            .take(FREIGHT_HISTORY_LIMIT)
            .map(|p| {
                let alias = project
                    .and_then(|m| m.freight.get(&p.freight_id))
                    .map(|f| f.freight.alias.clone())
                    .unwrap_or_default();
                let mut entry = json!({
                    "name": p.freight_id.as_str(),
                    "alias": alias,
                    "promotion": p.name,
                    "promotedAt": p.finished_at.map(timestamp),
                });
                let verifications: Vec<Value> = stage
                    .verifications
                    .iter()
                    .rev()
                    .filter(|v| v.promotion == p.name)
                    .take(VERIFICATION_HISTORY_LIMIT)
                    .map(verification_entry)
                    .collect();
                if !verifications.is_empty() {
                    entry["verificationHistory"] = json!(verifications);
                }
                entry
            })
            .collect();
        if !history.is_empty() {
            status["freightHistory"] = json!(history);
        }
        if let Some(last) = stage.last_promotion() {
            status["lastPromotion"] = promotion_summary(project, last);
        }
        if let Some(head) = stage.head_of_queue() {
            status["currentPromotion"] = promotion_summary(project, head);
        }
        status["promotions"] =
            json!(stage.promotions.iter().map(|p| promotion_summary(project, p)).collect::<Vec<_>>());
        // What `set-metadata` steps set (Kargo's `status.metadata`).
        if !stage.metadata.is_empty() {
            status["metadata"] = json!(stage.metadata);
        }
        // The refresh request last handled (Kargo's `status.lastHandledRefresh`).
        if let Some(request) = &stage.last_handled_refresh {
            status["lastHandledRefresh"] = json!(request);
        }
    }
    let health = stage.and_then(health_status);
    if let Some((health, _)) = &health {
        status["health"] = health.clone();
    }
    if let Some(conditions) = status["conditions"].as_array_mut() {
        conditions.push(verified_condition(stage, project, manifest_verifies(manifest), manifest.name()));
        if let Some(promoting) = stage.and_then(promoting_condition) {
            conditions.push(promoting);
        }
        if let Some((_, healthy)) = health {
            conditions.push(healthy);
        }
    }
    object["status"] = status;
    object
}

/// Kargo's `status.health` (`{status, issues, config, output}`) and `Healthy` condition,
/// for a stage whose last successful promotion left health checks (it updated Argo CD
/// Applications); a stage without health has neither.
fn health_status(stage: &lading_projection::model::StageRecord) -> Option<(Value, Value)> {
    use lading_domain::stage_health::healthy_condition;
    use lading_domain::stage_health::not_assessed_health;
    let record = stage.current_health()?;
    // While a promotion runs, or after one that failed, health is not assessed (Kargo).
    let (shown, condition, mut health) = match stage.health_not_assessed() {
        Some(why) => {
            let (shown, condition) = not_assessed_health(why);
            let health = json!({"status": shown.status.as_str()});
            (shown, condition, health)
        }
        None => {
            let condition = healthy_condition(Some(&record.health), record.checks.len());
            let health = json!({
                "status": record.health.status.as_str(),
                "config": record.checks,
                "output": record.health.output,
                "checkedAt": timestamp(record.checked_at),
            });
            (record.health.clone(), condition, health)
        }
    };
    if !shown.issues.is_empty() {
        health["issues"] = json!(shown.issues);
    }
    let mut healthy = json!({"type": "Healthy", "status": condition.status, "reason": condition.reason,
        "promotion": record.promotion, "lastTransitionTime": timestamp(record.checked_at)});
    if !condition.message.is_empty() {
        healthy["message"] = json!(condition.message);
    }
    Some((health, healthy))
}

/// Kargo's `Promoting` condition, present while a promotion of the stage is queued or
/// running (the head of its queue).
fn promoting_condition(stage: &lading_projection::model::StageRecord) -> Option<Value> {
    use lading_projection::model::PromotionPhase;
    let head = stage.head_of_queue()?;
    let (reason, doing) = match head.phase {
        PromotionPhase::Running => ("ActivePromotion", "is running"),
        _ => ("PromotionQueued", "is next to run"),
    };
    Some(json!({"type": "Promoting", "status": "True", "reason": reason,
        "message": format!("promotion {} of freight {} {doing}", head.name, head.freight_id.as_str()),
        "promotion": head.name}))
}

/// How many verifications each freight history entry shows (Kargo's limit).
const VERIFICATION_HISTORY_LIMIT: usize = 10;

fn manifest_verifies(manifest: &Manifest) -> bool {
    match &manifest.spec {
        lading_domain::spec::Spec::Stage(spec) => {
            spec.verification.as_ref().is_some_and(|v| !v.analysis_templates.is_empty())
        }
        _ => false,
    }
}

/// One `verificationHistory` entry: Kargo's fields, and each metric's measurements.
fn verification_entry(v: &lading_projection::model::VerificationRecord) -> Value {
    let mut metrics: Vec<Value> = Vec::new();
    let mut names: Vec<&str> = v.measurements.iter().map(|m| m.metric.as_str()).collect();
    names.dedup();
    let mut seen = std::collections::BTreeSet::new();
    for name in names {
        if !seen.insert(name) {
            continue;
        }
        let measurements: Vec<Value> = v
            .measurements
            .iter()
            .filter(|m| m.metric == name)
            .map(|m| {
                json!({"phase": m.phase.as_str(), "value": m.value, "message": m.message,
                    "startedAt": timestamp(m.started_at), "finishedAt": timestamp(m.finished_at)})
            })
            .collect();
        metrics.push(json!({"name": name, "measurements": measurements}));
    }
    json!({
        "id": v.id,
        "actor": v.actor,
        "analysisTemplates": v.templates,
        "startTime": timestamp(v.started_at),
        "finishTime": v.finished_at.map(timestamp),
        "phase": v.phase.as_str(),
        "message": v.message,
        "metrics": metrics,
    })
}

/// The `Verified` condition: whether the stage's current (newest) freight is verified in
/// it. A stage with verification says how its last verification of that freight went; one
/// without verifies freight as soon as it is promoted there.
fn verified_condition(
    stage: Option<&lading_projection::model::StageRecord>,
    project: Option<&ProjectModel>,
    verifies: bool,
    name: &str,
) -> Value {
    use lading_domain::verification::Phase;
    let current = stage.and_then(|s| s.current.values().max_by_key(|(_, since)| *since).map(|(id, _)| (s, id)));
    let Some((stage, freight)) = current else {
        return json!({"type": "Verified", "status": "Unknown", "reason": "NoFreight", "message": "the stage holds no freight"});
    };
    if !verifies {
        let verified = project
            .and_then(|p| p.freight.get(freight))
            .is_some_and(|f| f.freight.status.verified_in.contains_key(name));
        return if verified {
            json!({"type": "Verified", "status": "True", "reason": "Verified",
                "message": "no verification is configured: the freight is verified once promoted", "freight": freight.as_str()})
        } else {
            json!({"type": "Verified", "status": "Unknown", "reason": "Pending",
                "message": "the current freight is not verified yet", "freight": freight.as_str()})
        };
    }
    match stage.last_verification_of(freight) {
        None => json!({"type": "Verified", "status": "Unknown", "reason": "Pending",
            "message": "the current freight's verification has not started", "freight": freight.as_str()}),
        Some(v) => {
            let (status, reason) = match v.phase {
                Phase::Successful => ("True", "Verified"),
                Phase::Pending | Phase::Running => ("Unknown", "Verifying"),
                Phase::Failed => ("False", "VerificationFailed"),
                Phase::Error => ("False", "VerificationError"),
                Phase::Inconclusive => ("False", "VerificationInconclusive"),
                Phase::Aborted => ("False", "VerificationAborted"),
            };
            json!({"type": "Verified", "status": status, "reason": reason, "message": v.message,
                "phase": v.phase.as_str(), "freight": freight.as_str()})
        }
    }
}

pub fn warehouse_object(manifest: &Manifest, project: Option<&ProjectModel>) -> Value {
    let mut object = manifest.to_json();
    let record = project.and_then(|p| p.warehouses.get(manifest.name()));
    let mut status = json!({"conditions": [freight_created_condition(project, record)]});
    if let Some(record) = record {
        if let Some(id) = &record.last_freight {
            status["lastFreightID"] = json!(id.as_str());
        }
        if let Some((reason, at)) = &record.last_discovery_error {
            status["lastDiscoveryError"] = json!({"message": reason, "at": timestamp(*at)});
        }
        if let Some(found) = &record.discovered {
            let spec = match &manifest.spec {
                lading_domain::spec::Spec::Warehouse(spec) => Some(spec),
                _ => None,
            };
            status["discoveredArtifacts"] = discovered_artifacts(found, spec);
        }
        if let Some(request) = &record.last_handled_refresh {
            status["lastHandledRefresh"] = json!(request);
        }
    }
    object["status"] = status;
    object
}

/// The `FreightCreated` condition: the warehouse's newest freight, and when it was made.
fn freight_created_condition(
    project: Option<&ProjectModel>,
    record: Option<&lading_projection::model::WarehouseRecord>,
) -> Value {
    let last = record.and_then(|r| r.last_freight.as_ref());
    match last.and_then(|id| project?.freight.get(id)) {
        Some(freight) => json!({"type": "FreightCreated", "status": "True", "reason": "NewFreight",
            "message": format!("freight {} ({}) was created", freight.id.as_str(), freight.freight.alias),
            "lastTransitionTime": timestamp(freight.created_at)}),
        None => json!({"type": "FreightCreated", "status": "False", "reason": "NoFreight",
            "message": "no freight has been created from this warehouse yet"}),
    }
}

fn time_ms(ms: i64) -> String {
    timestamp(chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default())
}

/// Kargo's `status.discoveredArtifacts`; each result names its subscription
/// (`subscriptionName`) when `spec` gives it one.
fn discovered_artifacts(
    found: &WarehouseArtifactsDiscoveredV1,
    spec: Option<&lading_domain::spec::WarehouseSpec>,
) -> Value {
    use lading_domain::spec::ArtifactKind;
    let name_of = |kind: ArtifactKind, index: usize, url: &str, result: &mut Value| {
        let name = spec.map(|s| s.subscription_name(kind, index, url)).unwrap_or_default();
        if !name.is_empty() {
            result["subscriptionName"] = json!(name);
        }
    };
    let git: Vec<Value> = found
        .git
        .iter()
        .enumerate()
        .map(|(index, g)| {
            let commits: Vec<Value> = g
                .commits
                .iter()
                .map(|c| {
                    let mut commit = json!({
                        "id": c.id, "subject": c.subject, "author": c.author, "committer": c.committer,
                        "creatorDate": time_ms(c.creator_date_ms),
                    });
                    if !c.branch.is_empty() {
                        commit["branch"] = json!(c.branch);
                    }
                    if !c.tag.is_empty() {
                        commit["tag"] = json!(c.tag);
                    }
                    commit
                })
                .collect();
            let mut result = json!({"repoURL": g.repo_url, "commits": commits});
            name_of(ArtifactKind::Git, index, &g.repo_url, &mut result);
            result
        })
        .collect();
    let images: Vec<Value> = found
        .images
        .iter()
        .enumerate()
        .map(|(index, i)| {
            let references: Vec<Value> = i
                .references
                .iter()
                .map(|r| {
                    let mut reference = json!({"tag": r.tag, "digest": r.digest});
                    if r.created_at_ms != 0 {
                        reference["createdAt"] = json!(time_ms(r.created_at_ms));
                    }
                    reference
                })
                .collect();
            let mut image = json!({"repoURL": i.repo_url, "references": references});
            if !i.platform.is_empty() {
                image["platform"] = json!(i.platform);
            }
            name_of(ArtifactKind::Image, index, &i.repo_url, &mut image);
            image
        })
        .collect();
    let charts: Vec<Value> = found
        .charts
        .iter()
        .enumerate()
        .map(|(index, c)| {
            let mut chart = json!({"repoURL": c.repo_url, "versions": c.versions});
            if !c.name.is_empty() {
                chart["name"] = json!(c.name);
            }
            if !c.semver_constraint.is_empty() {
                chart["semverConstraint"] = json!(c.semver_constraint);
            }
            name_of(ArtifactKind::Chart, index, &c.repo_url, &mut chart);
            chart
        })
        .collect();
    json!({"discoveredAt": time_ms(found.discovered_at_ms), "git": git, "images": images, "charts": charts})
}
