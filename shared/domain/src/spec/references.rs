//! How a project's objects refer to each other: stages take freight from warehouses and
//! upstream stages and run promotion tasks. A cycle of stages can never receive freight;
//! a reference to an object that does not exist leaves a stage waiting. Both are found
//! here, from specs alone.

use std::collections::{BTreeMap, BTreeSet};

use super::StageSpec;

/// The upstream stages of a stage: every stage any of its requests takes freight from.
pub fn upstream_stages(spec: &StageSpec) -> BTreeSet<String> {
    spec.requested_freight.iter().flat_map(|r| r.sources.stages.iter().cloned()).collect()
}

/// A cycle among `stages` (name → upstream stage names), in the direction freight would
/// flow, starting and ending with the same stage (`[c1, c3, c2, c1]`: c3 takes freight
/// from c1, c2 from c3, c1 from c2); `None` when the stages form no cycle. The search
/// is deterministic: the cycle through the alphabetically first stage that has one.
pub fn find_cycle(stages: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        InProgress,
        Done,
    }
    let mut marks: BTreeMap<&str, Mark> = BTreeMap::new();
    for start in stages.keys() {
        if marks.contains_key(start.as_str()) {
            continue;
        }
        // Depth-first along "takes freight from" edges, with an explicit stack so a long
        // chain of stages cannot overflow the call stack.
        let mut path: Vec<&str> = vec![start];
        let mut pending: Vec<Vec<&str>> = vec![neighbours(stages, start)];
        marks.insert(start, Mark::InProgress);
        while let Some(next) = pending.last_mut() {
            match next.pop() {
                Some(upstream) => match marks.get(upstream) {
                    Some(Mark::Done) => {}
                    Some(Mark::InProgress) => {
                        let from = path.iter().position(|s| *s == upstream).unwrap_or(0);
                        let mut cycle: Vec<String> = path[from..].iter().map(|s| s.to_string()).collect();
                        cycle.push(upstream.to_owned());
                        cycle.reverse();
                        return Some(cycle);
                    }
                    None => {
                        marks.insert(upstream, Mark::InProgress);
                        path.push(upstream);
                        pending.push(neighbours(stages, upstream));
                    }
                },
                None => {
                    pending.pop();
                    if let Some(done) = path.pop() {
                        marks.insert(done, Mark::Done);
                    }
                }
            }
        }
    }
    None
}

fn neighbours<'a>(stages: &'a BTreeMap<String, BTreeSet<String>>, stage: &str) -> Vec<&'a str> {
    // Reversed so that popping visits upstream stages in alphabetical order.
    stages.get(stage).map(|up| up.iter().rev().map(String::as_str).collect()).unwrap_or_default()
}

/// Renders a cycle as `c1 → c3 → c2 → c1`.
pub fn describe_cycle(cycle: &[String]) -> String {
    cycle.join(" → ")
}

/// An object a stage refers to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reference {
    Warehouse(String),
    Stage(String),
    PromotionTask(String),
    ClusterPromotionTask(String),
    AnalysisTemplate(String),
    ClusterAnalysisTemplate(String),
}

/// A reference that does not resolve, with the field that holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnresolvedReference {
    pub field: String,
    pub reference: Reference,
}

impl UnresolvedReference {
    /// Kargo-style condition reason: `MissingWarehouse`, `MissingUpstreamStage`, …
    pub fn reason(&self) -> &'static str {
        match self.reference {
            Reference::Warehouse(_) => "MissingWarehouse",
            Reference::Stage(_) => "MissingUpstreamStage",
            Reference::PromotionTask(_) => "MissingPromotionTask",
            Reference::ClusterPromotionTask(_) => "MissingClusterPromotionTask",
            Reference::AnalysisTemplate(_) => "MissingAnalysisTemplate",
            Reference::ClusterAnalysisTemplate(_) => "MissingClusterAnalysisTemplate",
        }
    }

    /// What a person reads: `spec.requestedFreight[0].origin: warehouse "app" does not exist`.
    pub fn message(&self) -> String {
        let what = match &self.reference {
            Reference::Warehouse(name) => format!("warehouse {name:?}"),
            Reference::Stage(name) => format!("upstream stage {name:?}"),
            Reference::PromotionTask(name) => format!("PromotionTask {name:?}"),
            Reference::ClusterPromotionTask(name) => format!("ClusterPromotionTask {name:?}"),
            Reference::AnalysisTemplate(name) => format!("AnalysisTemplate {name:?}"),
            Reference::ClusterAnalysisTemplate(name) => format!("ClusterAnalysisTemplate {name:?}"),
        };
        format!("{}: {what} does not exist", self.field)
    }
}

/// The references of `spec` that `exists` does not know, in field order.
pub fn unresolved_references(spec: &StageSpec, exists: impl Fn(&Reference) -> bool) -> Vec<UnresolvedReference> {
    let mut missing = Vec::new();
    let mut check = |field: String, reference: Reference| {
        if !exists(&reference) {
            missing.push(UnresolvedReference { field, reference });
        }
    };
    for (i, request) in spec.requested_freight.iter().enumerate() {
        check(format!("spec.requestedFreight[{i}].origin"), Reference::Warehouse(request.origin.name.clone()));
        for (j, upstream) in request.sources.stages.iter().enumerate() {
            check(format!("spec.requestedFreight[{i}].sources.stages[{j}]"), Reference::Stage(upstream.clone()));
        }
    }
    for (i, step) in spec.steps().iter().enumerate() {
        if let Some(task) = &step.task {
            let reference = if task.is_cluster_scoped() {
                Reference::ClusterPromotionTask(task.name.clone())
            } else {
                Reference::PromotionTask(task.name.clone())
            };
            check(format!("spec.promotionTemplate.spec.steps[{i}].task"), reference);
        }
    }
    let templates = spec.verification.iter().flat_map(|v| v.analysis_templates.iter());
    for (i, template) in templates.enumerate() {
        let reference = if template.is_cluster_scoped() {
            Reference::ClusterAnalysisTemplate(template.name.clone())
        } else {
            Reference::AnalysisTemplate(template.name.clone())
        };
        check(format!("spec.verification.analysisTemplates[{i}]"), reference);
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{FreightOriginRef, FreightSources, PromotionStep, RequestedFreight, TaskRef};

    fn graph(edges: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
        edges.iter().map(|(s, up)| (s.to_string(), up.iter().map(|u| u.to_string()).collect())).collect()
    }

    #[test]
    fn a_pipeline_has_no_cycle() {
        let stages = graph(&[("test", &[]), ("uat", &["test"]), ("prod", &["uat", "test"])]);
        assert_eq!(find_cycle(&stages), None);
    }

    #[test]
    fn a_cycle_is_named_in_the_direction_freight_flows() {
        // Given c3 takes from c1, c2 from c3 and c1 from c2,
        let stages = graph(&[("c1", &["c2"]), ("c2", &["c3"]), ("c3", &["c1"]), ("ok", &[])]);
        // when a cycle is looked for, then it is found, starting and ending with one stage.
        let cycle = find_cycle(&stages).unwrap();
        assert_eq!(describe_cycle(&cycle), "c1 → c3 → c2 → c1");
    }

    #[test]
    fn a_stage_pair_taking_from_each_other_is_a_cycle() {
        let cycle = find_cycle(&graph(&[("a", &["b"]), ("b", &["a"])])).unwrap();
        assert_eq!(cycle.first(), cycle.last());
        assert_eq!(cycle.len(), 3);
    }

    #[test]
    fn a_long_chain_neither_overflows_nor_is_a_cycle() {
        let names: Vec<String> = (0..20_000).map(|i| format!("s{i}")).collect();
        let mut stages = BTreeMap::new();
        for (i, name) in names.iter().enumerate() {
            let up: BTreeSet<String> = if i == 0 { BTreeSet::new() } else { [names[i - 1].clone()].into() };
            stages.insert(name.clone(), up);
        }
        assert_eq!(find_cycle(&stages), None);
        stages.get_mut("s0").unwrap().insert("s19999".to_owned());
        assert_eq!(find_cycle(&stages).unwrap().len(), 20_001);
    }

    #[test]
    fn unknown_warehouses_stages_and_tasks_are_named_with_their_fields() {
        // Given a stage that takes from warehouse "app" and stage "test", and runs task "t",
        let spec = StageSpec {
            vars: vec![],
            requested_freight: vec![RequestedFreight {
                origin: FreightOriginRef { kind: "Warehouse".into(), name: "app".into() },
                sources: FreightSources { stages: vec!["test".into()], ..Default::default() },
            }],
            promotion_template: Some(crate::spec::PromotionTemplate {
                spec: crate::spec::PromotionTemplateSpec {
                    vars: vec![],
                    steps: vec![PromotionStep {
                        task: Some(TaskRef { name: "t".into(), kind: None }),
                        ..Default::default()
                    }],
                },
            }),
            verification: None,
        };
        // when only the warehouse exists,
        let missing = unresolved_references(&spec, |r| matches!(r, Reference::Warehouse(_)));
        // then the upstream stage and the task are reported.
        let messages: Vec<String> = missing.iter().map(UnresolvedReference::message).collect();
        assert_eq!(
            messages,
            [
                "spec.requestedFreight[0].sources.stages[0]: upstream stage \"test\" does not exist",
                "spec.promotionTemplate.spec.steps[0].task: PromotionTask \"t\" does not exist",
            ]
        );
        assert_eq!(missing[1].reason(), "MissingPromotionTask");
        assert!(unresolved_references(&spec, |_| true).is_empty());
    }
}
