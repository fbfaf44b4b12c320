//! Lading's kinds as CustomResourceDefinitions (`apiextensions.k8s.io/v1`, group
//! `lading.dev`, version `v1alpha1`), as `lading crds` prints them and `k8s/crds/` holds.
//!
//! Specs keep Kargo's field names and are validated by Lading itself (the same
//! validation `lading apply` runs), so the schema keeps the spec open and an invalid
//! object is reported on its `Ready` condition, naming the field.

use serde_json::{Value, json};

/// The API group of every Lading resource.
pub const GROUP: &str = "lading.dev";
/// The version of every Lading resource.
pub const VERSION: &str = "v1alpha1";

/// Namespaced (in a project's namespace) or cluster-scoped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Namespaced,
    Cluster,
}

/// One resource kind.
#[derive(Debug, Clone, Copy)]
pub struct Resource {
    pub kind: &'static str,
    pub plural: &'static str,
    pub scope: Scope,
    pub short_names: &'static [&'static str],
    pub description: &'static str,
}

impl Resource {
    pub fn singular(&self) -> String {
        self.kind.to_ascii_lowercase()
    }

    /// The kube-rs description of this resource, for dynamic clients.
    pub fn api_resource(&self) -> kube::discovery::ApiResource {
        kube::discovery::ApiResource::from_gvk_with_plural(
            &kube::api::GroupVersionKind::gvk(GROUP, VERSION, self.kind),
            self.plural,
        )
    }
}

pub const PROJECT: Resource = Resource {
    kind: "Project",
    plural: "projects",
    scope: Scope::Cluster,
    short_names: &[],
    description: "A unit of tenancy: its namespace holds its warehouses, stages and freight.",
};
pub const PROJECT_CONFIG: Resource = Resource {
    kind: "ProjectConfig",
    plural: "projectconfigs",
    scope: Scope::Namespaced,
    short_names: &[],
    description: "A project's settings (promotion policies); named after its project.",
};
pub const WAREHOUSE: Resource = Resource {
    kind: "Warehouse",
    plural: "warehouses",
    scope: Scope::Namespaced,
    short_names: &[],
    description: "Watches subscriptions (Git, images, Helm charts) and produces freight from the newest revisions.",
};
pub const STAGE: Resource = Resource {
    kind: "Stage",
    plural: "stages",
    scope: Scope::Namespaced,
    short_names: &[],
    description: "A promotion target: requests freight from warehouses or upstream stages and runs promotion steps.",
};
pub const FREIGHT: Resource = Resource {
    kind: "Freight",
    plural: "freights",
    scope: Scope::Namespaced,
    short_names: &[],
    description: "An immutable set of artifact revisions that travel together; named by the SHA-1 of its contents. Made by Lading from the event log.",
};
pub const PROMOTION: Resource = Resource {
    kind: "Promotion",
    plural: "promotions",
    scope: Scope::Namespaced,
    short_names: &[],
    description: "One run of a stage's promotion steps for one freight.",
};
pub const PROMOTION_TASK: Resource = Resource {
    kind: "PromotionTask",
    plural: "promotiontasks",
    scope: Scope::Namespaced,
    short_names: &[],
    description: "Reusable promotion steps a stage refers to, in the project.",
};
pub const CLUSTER_PROMOTION_TASK: Resource = Resource {
    kind: "ClusterPromotionTask",
    plural: "clusterpromotiontasks",
    scope: Scope::Cluster,
    short_names: &[],
    description: "Reusable promotion steps every project may refer to.",
};
pub const ANALYSIS_TEMPLATE: Resource = Resource {
    kind: "AnalysisTemplate",
    plural: "analysistemplates",
    scope: Scope::Namespaced,
    short_names: &[],
    description: "Checks a stage's verification runs, in the project.",
};
pub const CLUSTER_ANALYSIS_TEMPLATE: Resource = Resource {
    kind: "ClusterAnalysisTemplate",
    plural: "clusteranalysistemplates",
    scope: Scope::Cluster,
    short_names: &[],
    description: "Checks a stage's verification runs, for every project.",
};

/// Every kind, in the order `lading crds` prints them.
pub const ALL: [Resource; 10] = [
    PROJECT,
    PROJECT_CONFIG,
    WAREHOUSE,
    STAGE,
    FREIGHT,
    PROMOTION,
    PROMOTION_TASK,
    CLUSTER_PROMOTION_TASK,
    ANALYSIS_TEMPLATE,
    CLUSTER_ANALYSIS_TEMPLATE,
];

fn open_object(description: &str) -> Value {
    json!({"type": "object", "description": description, "x-kubernetes-preserve-unknown-fields": true})
}

fn condition_column(name: &str, condition: &str) -> Value {
    json!({"name": name, "type": "string", "jsonPath": format!(".status.conditions[?(@.type==\"{condition}\")].status")})
}

fn age_column() -> Value {
    json!({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"})
}

/// The refresh an object last handled, shown by `kubectl get -o wide` (priority 1).
fn last_handled_refresh_column() -> Value {
    json!({"name": "Last Handled Refresh", "type": "string", "jsonPath": ".status.lastHandledRefresh", "priority": 1})
}

fn printer_columns(resource: &Resource) -> Vec<Value> {
    match resource.kind {
        "Freight" => vec![
            json!({"name": "Alias", "type": "string", "jsonPath": ".metadata.labels.lading\\.dev/alias"}),
            json!({"name": "Origin", "type": "string", "jsonPath": ".origin.name"}),
            age_column(),
        ],
        "Stage" => vec![
            json!({"name": "Current Freight", "type": "string", "jsonPath": ".status.freightSummary"}),
            json!({"name": "Health", "type": "string", "jsonPath": ".status.health.status"}),
            condition_column("Ready", "Ready"),
            condition_column("Verified", "Verified"),
            age_column(),
            last_handled_refresh_column(),
        ],
        "Warehouse" => vec![
            json!({"name": "Last Freight", "type": "string", "jsonPath": ".status.lastFreightID"}),
            condition_column("Ready", "Ready"),
            age_column(),
            last_handled_refresh_column(),
        ],
        "Promotion" => vec![
            json!({"name": "Stage", "type": "string", "jsonPath": ".spec.stage"}),
            json!({"name": "Freight", "type": "string", "jsonPath": ".spec.freight"}),
            json!({"name": "Phase", "type": "string", "jsonPath": ".status.phase"}),
            age_column(),
        ],
        _ => vec![condition_column("Ready", "Ready"), age_column()],
    }
}

fn schema(resource: &Resource) -> Value {
    let mut status = open_object("What Lading knows of the object from its event log (read-only; written by Lading).");
    if matches!(resource.kind, "Warehouse" | "Stage") {
        // Named, so `kubectl explain` shows it and clients can wait on it.
        status["properties"] = json!({"lastHandledRefresh": {"type": "string", "description":
            "The value of the last refresh annotation (lading.dev/refresh or kargo.akuity.io/refresh) that was handled: wait for it to equal the value set."}});
    }
    let mut properties = json!({
        "apiVersion": {"type": "string", "description": "lading.dev/v1alpha1"},
        "kind": {"type": "string", "description": resource.kind},
        "metadata": {"type": "object"},
        "status": status,
    });
    if resource.kind == "Freight" {
        // Kargo's Freight keeps its contents at the root, not under `spec`.
        let artifacts = |what: &str| {
            json!({"type": "array", "description": what,
                "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}})
        };
        properties["alias"] = json!({"type": "string",
            "description": "The freight's human name, unique in its project; kept equal to the label lading.dev/alias."});
        properties["origin"] = json!({"type": "object", "description": "The warehouse the freight comes from.",
            "properties": {"kind": {"type": "string"}, "name": {"type": "string"}}});
        properties["commits"] = artifacts("Git commits (repoURL, id, branch, tag, message).");
        properties["images"] = artifacts("Container images (repoURL, tag, digest).");
        properties["charts"] = artifacts("Helm charts (repoURL, name, version).");
    } else {
        properties["spec"] = open_object(&format!(
            "The {} spec, with Kargo's field names; validated by Lading (errors name the field in the Ready condition).",
            resource.kind
        ));
    }
    json!({"openAPIV3Schema": {"type": "object", "description": resource.description, "properties": properties}})
}

/// The CustomResourceDefinition of `resource`.
pub fn crd(resource: &Resource) -> Value {
    let mut names = json!({
        "kind": resource.kind,
        "listKind": format!("{}List", resource.kind),
        "plural": resource.plural,
        "singular": resource.singular(),
        "categories": ["lading"],
    });
    if !resource.short_names.is_empty() {
        names["shortNames"] = json!(resource.short_names);
    }
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{}.{GROUP}", resource.plural)},
        "spec": {
            "group": GROUP,
            "names": names,
            "scope": match resource.scope { Scope::Namespaced => "Namespaced", Scope::Cluster => "Cluster" },
            "versions": [{
                "name": VERSION,
                "served": true,
                "storage": true,
                "subresources": {"status": {}},
                "additionalPrinterColumns": printer_columns(resource),
                "schema": schema(resource),
            }],
        },
    })
}

/// Every CRD as one YAML stream, as checked in under `k8s/crds/`.
pub fn crds_yaml() -> String {
    let mut out = String::from("# Lading's CustomResourceDefinitions. Generated by `lading crds`; do not edit.\n");
    for resource in ALL {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(&crd(&resource)).expect("a CRD serializes"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checked_in_crds_are_the_ones_the_types_make() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../k8s/crds/lading.dev.yaml");
        let checked_in = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            checked_in == crds_yaml(),
            "k8s/crds/lading.dev.yaml differs from what the types make: run `lading crds > k8s/crds/lading.dev.yaml`"
        );
    }

    #[test]
    fn every_crd_has_the_status_subresource_and_freight_prints_alias_and_origin() {
        for resource in ALL {
            let crd = crd(&resource);
            assert_eq!(crd["spec"]["versions"][0]["subresources"]["status"], json!({}), "{}", resource.kind);
        }
        let columns: Vec<Value> = printer_columns(&FREIGHT).iter().map(|c| c["name"].clone()).collect();
        assert_eq!(columns, vec![json!("Alias"), json!("Origin"), json!("Age")]);
    }

    #[test]
    fn warehouses_and_stages_show_the_refresh_they_last_handled_only_in_wide_output() {
        for resource in [WAREHOUSE, STAGE] {
            let columns = printer_columns(&resource);
            let wide: Vec<&Value> = columns.iter().filter(|c| c.get("priority").is_some()).collect();
            assert_eq!(
                wide,
                [
                    &json!({"name": "Last Handled Refresh", "type": "string", "jsonPath": ".status.lastHandledRefresh", "priority": 1})
                ],
                "{}",
                resource.kind
            );
        }
    }

    #[test]
    fn warehouses_and_stages_declare_the_refresh_they_last_handled_and_keep_other_status() {
        for resource in [WAREHOUSE, STAGE] {
            let status = &crd(&resource)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"];
            assert_eq!(status["properties"]["lastHandledRefresh"]["type"], "string", "{}", resource.kind);
            assert_eq!(status["x-kubernetes-preserve-unknown-fields"], true, "{}", resource.kind);
        }
    }
}
