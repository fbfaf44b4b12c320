//! What a kustomization loads: every field of a `kustomization.yaml` that names a file
//! or a directory kustomize reads, so a step can check each one before kustomize runs.

use serde_json::Value;

/// What a reference may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceKind {
    /// A file kustomize reads (a patch, a CRD, a generator's source).
    File,
    /// A resource file, or a directory holding another kustomization (a base or a
    /// component), which kustomize loads in turn.
    FileOrKustomization,
    /// A directory (Helm's chart home).
    Directory,
}

/// One path a kustomization names, with the field that names it
/// (`resources[1]`, `patches[0].path`, `configMapGenerator[2].files[0]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub field: String,
    pub path: String,
    pub kind: ReferenceKind,
}

/// The names a kustomization file may have, in the order kustomize looks for them.
pub const KUSTOMIZATION_FILE_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Lists of paths: `resources: [a.yaml, ../base]`.
const PATH_LISTS: [(&str, ReferenceKind); 8] = [
    ("resources", ReferenceKind::FileOrKustomization),
    ("bases", ReferenceKind::FileOrKustomization),
    ("components", ReferenceKind::FileOrKustomization),
    ("generators", ReferenceKind::FileOrKustomization),
    ("transformers", ReferenceKind::FileOrKustomization),
    ("validators", ReferenceKind::FileOrKustomization),
    ("crds", ReferenceKind::File),
    ("configurations", ReferenceKind::File),
];

/// Lists of objects whose `path` names a file: `patches: [{path: p.yaml}]`.
const OBJECT_PATHS: [&str; 3] = ["patches", "patchesJson6902", "replacements"];

/// Whether a list entry is an inline document rather than a path (generators,
/// transformers and strategic merge patches may be written inline).
fn is_inline(entry: &str) -> bool {
    entry.contains('\n')
}

fn push(out: &mut Vec<Reference>, field: String, path: &str, kind: ReferenceKind) {
    if !is_inline(path) {
        out.push(Reference { field, path: path.to_owned(), kind });
    }
}

fn strings(value: &Value) -> impl Iterator<Item = (usize, &str)> {
    value.as_array().into_iter().flatten().enumerate().filter_map(|(i, v)| v.as_str().map(|s| (i, s)))
}

/// A generator's source files: `files` entries are `path` or `key=path`; `envs`
/// entries and `env` are paths.
fn generator_sources(out: &mut Vec<Reference>, list: &str, generators: &Value) {
    for (g, generator) in generators.as_array().into_iter().flatten().enumerate() {
        for (i, entry) in strings(&generator["files"]) {
            let path = entry.split_once('=').map_or(entry, |(_, path)| path);
            push(out, format!("{list}[{g}].files[{i}]"), path, ReferenceKind::File);
        }
        for (i, entry) in strings(&generator["envs"]) {
            push(out, format!("{list}[{g}].envs[{i}]"), entry, ReferenceKind::File);
        }
        if let Some(env) = generator["env"].as_str() {
            push(out, format!("{list}[{g}].env"), env, ReferenceKind::File);
        }
    }
}

/// Every path `kustomization` (a parsed `kustomization.yaml`) names, in field order.
pub fn references(kustomization: &Value) -> Vec<Reference> {
    let mut out = Vec::new();
    for (list, kind) in PATH_LISTS {
        for (i, entry) in strings(&kustomization[list]) {
            push(&mut out, format!("{list}[{i}]"), entry, kind);
        }
    }
    for (i, entry) in strings(&kustomization["patchesStrategicMerge"]) {
        push(&mut out, format!("patchesStrategicMerge[{i}]"), entry, ReferenceKind::File);
    }
    for list in OBJECT_PATHS {
        for (i, object) in kustomization[list].as_array().into_iter().flatten().enumerate() {
            if let Some(path) = object["path"].as_str() {
                push(&mut out, format!("{list}[{i}].path"), path, ReferenceKind::File);
            }
        }
    }
    generator_sources(&mut out, "configMapGenerator", &kustomization["configMapGenerator"]);
    generator_sources(&mut out, "secretGenerator", &kustomization["secretGenerator"]);
    for (i, chart) in kustomization["helmCharts"].as_array().into_iter().flatten().enumerate() {
        if let Some(values) = chart["valuesFile"].as_str() {
            push(&mut out, format!("helmCharts[{i}].valuesFile"), values, ReferenceKind::File);
        }
        for (j, values) in strings(&chart["additionalValuesFiles"]) {
            push(&mut out, format!("helmCharts[{i}].additionalValuesFiles[{j}]"), values, ReferenceKind::File);
        }
    }
    if let Some(home) = kustomization["helmGlobals"]["chartHome"].as_str() {
        push(&mut out, "helmGlobals.chartHome".to_owned(), home, ReferenceKind::Directory);
    }
    if let Some(path) = kustomization["openapi"]["path"].as_str() {
        push(&mut out, "openapi.path".to_owned(), path, ReferenceKind::File);
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields(kustomization: &Value) -> Vec<(String, String)> {
        references(kustomization).into_iter().map(|r| (r.field, r.path)).collect()
    }

    #[test]
    fn given_resources_bases_and_components_when_listed_then_each_may_be_a_kustomization() {
        let k = json!({"resources": ["deploy.yaml", "../base"], "bases": ["b"], "components": ["c"]});
        let refs = references(&k);
        assert_eq!(refs.len(), 4);
        assert!(refs.iter().all(|r| r.kind == ReferenceKind::FileOrKustomization));
        assert_eq!(
            refs[1],
            Reference {
                field: "resources[1]".into(),
                path: "../base".into(),
                kind: ReferenceKind::FileOrKustomization
            }
        );
    }

    #[test]
    fn given_patches_of_every_form_when_listed_then_their_files_are_named() {
        let k = json!({
            "patches": [{"path": "p.yaml"}, {"patch": "inline: true"}],
            "patchesJson6902": [{"path": "j.yaml", "target": {}}],
            "patchesStrategicMerge": ["s.yaml", "apiVersion: v1\nkind: ConfigMap\n"],
            "replacements": [{"path": "r.yaml"}],
        });
        assert_eq!(
            fields(&k),
            vec![
                ("patchesStrategicMerge[0]".into(), "s.yaml".into()),
                ("patches[0].path".into(), "p.yaml".into()),
                ("patchesJson6902[0].path".into(), "j.yaml".into()),
                ("replacements[0].path".into(), "r.yaml".into()),
            ]
        );
    }

    #[test]
    fn given_generators_when_listed_then_their_source_files_are_named_without_keys() {
        let k = json!({
            "configMapGenerator": [{"name": "a", "files": ["app.conf", "key=../secret.txt"], "envs": ["a.env"]}],
            "secretGenerator": [{"name": "b", "env": "b.env", "literals": ["x=y"]}],
        });
        assert_eq!(
            fields(&k),
            vec![
                ("configMapGenerator[0].files[0]".into(), "app.conf".into()),
                ("configMapGenerator[0].files[1]".into(), "../secret.txt".into()),
                ("configMapGenerator[0].envs[0]".into(), "a.env".into()),
                ("secretGenerator[0].env".into(), "b.env".into()),
            ]
        );
    }

    #[test]
    fn given_helm_openapi_and_configurations_when_listed_then_they_are_named() {
        let k = json!({
            "helmCharts": [{"name": "x", "valuesFile": "v.yaml", "additionalValuesFiles": ["w.yaml"]}],
            "helmGlobals": {"chartHome": "charts"},
            "openapi": {"path": "schema.json"},
            "crds": ["crd.yaml"],
            "configurations": ["conf.yaml"],
        });
        let refs = references(&k);
        assert_eq!(refs.len(), 6, "{refs:?}");
        assert!(refs.iter().any(|r| r.field == "helmGlobals.chartHome" && r.kind == ReferenceKind::Directory));
        assert!(refs.iter().any(|r| r.field == "openapi.path" && r.path == "schema.json"));
    }

    #[test]
    fn given_inline_generators_and_no_paths_when_listed_then_nothing_is_named() {
        let k = json!({"transformers": ["apiVersion: builtin\nkind: LabelTransformer\n"], "images": [{"name": "x"}]});
        assert!(references(&k).is_empty());
        assert!(references(&json!(null)).is_empty());
    }
}
