//! What `lading get` shows of each kind in a table: its columns, and the ones only
//! `-o wide` adds.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::output::{Column, Resource, age, text};

pub const FREIGHT: Resource = Resource {
    kind: "freight",
    plural: "freight",
    columns: &[
        Column::new("NAME", |f, _| name(f)),
        Column::new("ALIAS", |f, _| text(f, "/alias").to_owned()),
        Column::new("ORIGIN", |f, _| text(f, "/origin/name").to_owned()),
        Column::new("AGE", created),
        Column::wide("CURRENTLY IN", |f, _| keys(&f["status"]["currentlyIn"])),
        Column::wide("VERIFIED IN", |f, _| keys(&f["status"]["verifiedIn"])),
        Column::wide("APPROVED FOR", |f, _| keys(&f["status"]["approvedFor"])),
        Column::wide("ARTIFACTS", |f, _| artifacts(f)),
    ],
};

pub const STAGES: Resource = Resource {
    kind: "stage",
    plural: "stages",
    columns: &[
        Column::new("NAME", |s, _| name(s)),
        Column::new("CURRENT FREIGHT", |s, _| {
            list(&s["status"]["currentFreight"]).iter().map(|f| text(f, "/alias")).collect::<Vec<_>>().join(",")
        }),
        Column::new("HEALTH", |s, _| text(s, "/status/health/status").to_owned()),
        Column::new("READY", |s, _| ready(s, "status").to_owned()),
        Column::new("LAST PROMOTION", |s, _| text(s, "/status/lastPromotion/name").to_owned()),
        Column::new("PHASE", |s, _| text(s, "/status/lastPromotion/status/phase").to_owned()),
        Column::new("VERIFICATION", |s, _| text(s, "/status/freightHistory/0/verificationHistory/0/phase").to_owned()),
        Column::new("MESSAGE", |s, _| {
            if ready(s, "status") == "False" { ready(s, "message").to_owned() } else { String::new() }
        }),
        Column::wide("SOURCES", |s, _| sources(s)),
        Column::wide("CURRENT PROMOTION", |s, _| text(s, "/status/currentPromotion/name").to_owned()),
        Column::wide("LAST HANDLED REFRESH", |s, _| text(s, "/status/lastHandledRefresh").to_owned()),
    ],
};

pub const WAREHOUSES: Resource = Resource {
    kind: "warehouse",
    plural: "warehouses",
    columns: &[
        Column::new("NAME", |w, _| name(w)),
        Column::new("NEWEST DISCOVERED", |w, _| newest_discovered(w)),
        Column::new("LAST FREIGHT", |w, _| text(w, "/status/lastFreightID").to_owned()),
        Column::new("LAST ERROR", |w, _| text(w, "/status/lastDiscoveryError/message").to_owned()),
        Column::wide("INTERVAL", |w, _| text(w, "/spec/interval").to_owned()),
        Column::wide("SUBSCRIPTIONS", |w, _| subscriptions(w)),
        Column::wide("LAST HANDLED REFRESH", |w, _| text(w, "/status/lastHandledRefresh").to_owned()),
    ],
};

pub const PROMOTIONS: Resource = Resource {
    kind: "promotion",
    plural: "promotions",
    columns: &[
        Column::new("NAME", |p, _| name(p)),
        Column::new("STAGE", |p, _| text(p, "/spec/stage").to_owned()),
        Column::new("FREIGHT", |p, _| text(p, "/freight/alias").to_owned()),
        Column::new("PHASE", |p, _| text(p, "/status/phase").to_owned()),
        Column::new("AGE", created),
        Column::wide("TRIGGER", |p, _| text(p, "/trigger").to_owned()),
        Column::wide("CREATED BY", |p, _| text(p, "/metadata/annotations/lading.dev~1created-by").to_owned()),
        Column::wide("MESSAGE", |p, _| text(p, "/status/message").to_owned()),
    ],
};

pub const PROJECTS: Resource = Resource {
    kind: "project",
    plural: "projects",
    columns: &[
        Column::new("NAME", |p, _| name(p)),
        Column::new("STAGES", |p, _| p["status"]["stages"].to_string()),
        Column::new("WAREHOUSES", |p, _| p["status"]["warehouses"].to_string()),
        Column::wide("AUTO-PROMOTED STAGES", |p, _| auto_promoted(p)),
    ],
};

pub const PROJECT_CONFIG: Resource = Resource {
    kind: "projectconfig",
    plural: "project configs",
    columns: &[
        Column::new("NAME", |c, _| name(c)),
        Column::new("AUTO-PROMOTED STAGES", |c, _| auto_promoted(c)),
        Column::wide("POLICIES", |c, _| list(&c["spec"]["promotionPolicies"]).len().to_string()),
    ],
};

fn name(object: &Value) -> String {
    crate::output::object_name(object).to_owned()
}

fn created(object: &Value, now: DateTime<Utc>) -> String {
    age(object.pointer("/metadata/creationTimestamp").and_then(Value::as_str), now)
}

fn list(value: &Value) -> &[Value] {
    value.as_array().map(Vec::as_slice).unwrap_or_default()
}

/// A map's keys, joined by commas: the stages of `currentlyIn`, `verifiedIn` …
fn keys(value: &Value) -> String {
    value.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>().join(",")).unwrap_or_default()
}

/// A freight's artifacts, short: a commit's tag or 7 characters of its ID, image tags,
/// chart versions.
fn artifacts(freight: &Value) -> String {
    let mut parts = Vec::new();
    for commit in list(&freight["commits"]) {
        match commit["tag"].as_str().filter(|t| !t.is_empty()) {
            Some(tag) => parts.push(tag.to_owned()),
            None => parts.push(text(commit, "/id").chars().take(7).collect()),
        }
    }
    for image in list(&freight["images"]) {
        parts.push(text(image, "/tag").to_owned());
    }
    for chart in list(&freight["charts"]) {
        parts.push(text(chart, "/version").to_owned());
    }
    parts.join(",")
}

/// A field of a stage's `Ready` condition.
fn ready<'a>(stage: &'a Value, field: &str) -> &'a str {
    list(&stage["status"]["conditions"])
        .iter()
        .find(|c| c["type"] == "Ready")
        .and_then(|c| c[field].as_str())
        .unwrap_or_default()
}

/// Where a stage takes freight from: `warehouse/NAME` when direct, upstream stages
/// otherwise.
fn sources(stage: &Value) -> String {
    let mut parts = Vec::new();
    for request in list(&stage["spec"]["requestedFreight"]) {
        if request["sources"]["direct"] == true {
            parts.push(format!("warehouse/{}", text(request, "/origin/name")));
        }
        parts.extend(list(&request["sources"]["stages"]).iter().filter_map(Value::as_str).map(str::to_owned));
    }
    parts.join(",")
}

/// The newest discovered revision of each subscription: `tag` or a short commit ID,
/// image tags, chart versions, joined by commas.
pub fn newest_discovered(warehouse: &Value) -> String {
    let found = &warehouse["status"]["discoveredArtifacts"];
    let mut newest = Vec::new();
    for git in list(&found["git"]) {
        let first = &git["commits"][0];
        match first["tag"].as_str() {
            Some(tag) => newest.push(tag.to_owned()),
            None => newest.push(first["id"].as_str().unwrap_or("-").chars().take(7).collect()),
        }
    }
    for image in list(&found["images"]) {
        newest.push(image["references"][0]["tag"].as_str().unwrap_or("-").to_owned());
    }
    for chart in list(&found["charts"]) {
        newest.push(chart["versions"][0].as_str().unwrap_or("-").to_owned());
    }
    newest.join(",")
}

/// Every subscription's repository.
fn subscriptions(warehouse: &Value) -> String {
    list(&warehouse["spec"]["subscriptions"])
        .iter()
        .filter_map(|s| s.as_object()?.values().find_map(|v| v["repoURL"].as_str()))
        .collect::<Vec<_>>()
        .join(",")
}

/// The stages a project's (or project config's) policies auto-promote.
fn auto_promoted(object: &Value) -> String {
    list(&object["spec"]["promotionPolicies"])
        .iter()
        .filter(|p| p["autoPromotionEnabled"] == true)
        .filter_map(|p| p["stageSelector"]["name"].as_str().or(p["stage"].as_str()))
        .collect::<Vec<_>>()
        .join(",")
}
