//! The config schema of each promotion step Lading runs (Kargo's fields), as tables the
//! checker in [`super::step_configs`] walks.

use super::step_configs::{FieldShape, Shape, opt, req};

/// The Git hosting providers the pull-request steps speak to.
pub const GIT_PROVIDERS: &[&str] = &crate::git_provider::PROVIDERS;

const NAME_VALUE: Shape = Shape::Object(&[req("name", Shape::Str), req("value", Shape::Str)]);
const PARSE_OUTPUT: Shape = Shape::Object(&[req("name", Shape::Str), req("fromExpression", Shape::Str)]);

const PARSE: &[FieldShape] = &[req("path", Shape::Str), req("outputs", Shape::List(&PARSE_OUTPUT))];

const GIT_OPEN_PR: &[FieldShape] = &[
    req("repoURL", Shape::Str),
    opt("provider", Shape::OneOf(GIT_PROVIDERS)),
    opt("insecureSkipTLSVerify", Shape::Bool),
    req("sourceBranch", Shape::Str),
    // Kargo's schema requires it; its own examples leave it out (the default branch).
    opt("targetBranch", Shape::Str),
    opt("createTargetBranch", Shape::Bool),
    opt("title", Shape::Str),
    opt("description", Shape::Str),
    opt("labels", Shape::List(&Shape::Str)),
];

const GIT_WAIT_FOR_PR: &[FieldShape] = &[
    req("repoURL", Shape::Str),
    opt("provider", Shape::OneOf(GIT_PROVIDERS)),
    opt("insecureSkipTLSVerify", Shape::Bool),
    req("prNumber", Shape::Int(1)),
    opt("pollInterval", Shape::Str),
];

const GIT_MERGE_PR: &[FieldShape] = &[
    req("repoURL", Shape::Str),
    opt("provider", Shape::OneOf(GIT_PROVIDERS)),
    opt("insecureSkipTLSVerify", Shape::Bool),
    req("prNumber", Shape::Int(1)),
    opt("mergeMethod", Shape::Str),
    opt("wait", Shape::Bool),
    opt("pollInterval", Shape::Str),
];

const GIT_TAG: &[FieldShape] = &[
    req("path", Shape::Str),
    req("tag", Shape::Str),
    // Kargo's schema requires it; its own examples leave it out (a lightweight tag).
    opt("message", Shape::Str),
    opt("force", Shape::Bool),
];

const YAML_MERGE: &[FieldShape] =
    &[req("inFiles", Shape::List(&Shape::Str)), req("outFile", Shape::Str), opt("ignoreMissingFiles", Shape::Bool)];

const TAR: &[FieldShape] =
    &[req("inPath", Shape::Str), req("outPath", Shape::Str), opt("ignore", Shape::Str), opt("gzip", Shape::Bool)];

const UNTAR: &[FieldShape] = &[
    req("inPath", Shape::Str),
    req("outPath", Shape::Str),
    opt("stripComponents", Shape::Int(0)),
    opt("ignore", Shape::Str),
];

const HTTP_DOWNLOAD: &[FieldShape] = &[
    req("url", Shape::Str),
    req("outPath", Shape::Str),
    opt("allowOverwrite", Shape::Bool),
    opt("headers", Shape::List(&NAME_VALUE)),
    opt("queryParams", Shape::List(&NAME_VALUE)),
    opt("insecureSkipTLSVerify", Shape::Bool),
    opt("timeout", Shape::Str),
    // Lading's: `sha256:<hex>` the downloaded file must match.
    opt("checksum", Shape::Str),
];

const ARGOCD_HELM_IMAGE: Shape = Shape::Object(&[req("key", Shape::Str), req("value", Shape::Str)]);
const ARGOCD_KUSTOMIZE_IMAGE: Shape = Shape::Object(&[
    req("repoURL", Shape::Str),
    opt("tag", Shape::Str),
    opt("digest", Shape::Str),
    opt("newName", Shape::Str),
]);
const ARGOCD_SOURCE: Shape = Shape::Object(&[
    req("repoURL", Shape::Str),
    opt("chart", Shape::Str),
    opt("desiredRevision", Shape::Str),
    opt("updateTargetRevision", Shape::Bool),
    opt("helm", Shape::Object(&[req("images", Shape::List(&ARGOCD_HELM_IMAGE))])),
    opt("kustomize", Shape::Object(&[req("images", Shape::List(&ARGOCD_KUSTOMIZE_IMAGE))])),
]);
const ARGOCD_SELECTOR_REQUIREMENT: Shape = Shape::Object(&[
    req("key", Shape::Str),
    req("operator", Shape::OneOf(&["In", "NotIn", "Exists", "DoesNotExist"])),
    opt("values", Shape::List(&Shape::Str)),
]);
const ARGOCD_SELECTOR: Shape = Shape::Object(&[
    opt("matchLabels", Shape::Mapping),
    opt("matchExpressions", Shape::List(&ARGOCD_SELECTOR_REQUIREMENT)),
]);
const ARGOCD_APP_UPDATE: Shape = Shape::Object(&[
    opt("name", Shape::Str),
    opt("selector", ARGOCD_SELECTOR),
    opt("namespace", Shape::Str),
    opt("sources", Shape::List(&ARGOCD_SOURCE)),
]);
const ARGOCD_UPDATE: &[FieldShape] = &[req("apps", Shape::List(&ARGOCD_APP_UPDATE))];
const ARGOCD_WAIT_FOR: Shape = Shape::OneOf(&["health", "sync", "operation", "suspended", "degraded"]);
const ARGOCD_APP_WAIT: Shape = Shape::Object(&[
    opt("name", Shape::Str),
    opt("selector", ARGOCD_SELECTOR),
    opt("namespace", Shape::Str),
    opt("waitFor", Shape::List(&ARGOCD_WAIT_FOR)),
]);
const ARGOCD_WAIT: &[FieldShape] = &[req("apps", Shape::List(&ARGOCD_APP_WAIT))];

const SET_VALUE: Shape =
    Shape::Object(&[req("key", Shape::Str), opt("value", Shape::Any), opt("literal", Shape::Bool)]);

const HELM_TEMPLATE: &[FieldShape] = &[
    req("path", Shape::Str),
    req("outPath", Shape::Str),
    opt("outLayout", Shape::OneOf(&["helm", "flat"])),
    // Kargo's schema requires it; its own first example leaves it out (`release-name`).
    opt("releaseName", Shape::Str),
    opt("useReleaseName", Shape::Bool),
    opt("namespace", Shape::Str),
    opt("valuesFiles", Shape::List(&Shape::Str)),
    opt("ignoreMissingValueFiles", Shape::Bool),
    opt("buildDependencies", Shape::Bool),
    opt("includeCRDs", Shape::Bool),
    opt("disableHooks", Shape::Bool),
    opt("skipTests", Shape::Bool),
    opt("kubeVersion", Shape::Str),
    opt("apiVersions", Shape::List(&Shape::Str)),
    opt("setValues", Shape::List(&SET_VALUE)),
];

const CHECKOUT: Shape = Shape::Object(&[
    opt("branch", Shape::Str),
    opt("commit", Shape::Str),
    opt("tag", Shape::Str),
    opt("create", Shape::Bool),
    // Kargo v1.0–v1.1: the freight's commit from `repoURL`, of the origin named.
    opt("fromFreight", Shape::Bool),
    opt("fromOrigin", Shape::Object(&[req("kind", Shape::Str), req("name", Shape::Str)])),
    opt("sparse", Shape::List(&Shape::Str)),
    req("path", Shape::Str),
    opt("as", Shape::Str),
]);

const GIT_CLONE: &[FieldShape] = &[
    req("repoURL", Shape::Str),
    opt("checkout", Shape::List(&CHECKOUT)),
    opt("insecureSkipTLSVerify", Shape::Bool),
    opt("insecureSkipTlsVerify", Shape::Bool),
    opt("recurseSubmodules", Shape::Bool),
    opt("blobless", Shape::Bool),
    opt("author", Shape::Object(&[req("name", Shape::Str), req("email", Shape::Str), opt("signingKey", Shape::Str)])),
];

const GIT_COMMIT: &[FieldShape] = &[
    req("path", Shape::Str),
    req("message", Shape::Str),
    opt("author", Shape::Object(&[opt("name", Shape::Str), opt("email", Shape::Str), opt("signingKey", Shape::Str)])),
];

const GIT_PUSH: &[FieldShape] = &[
    req("path", Shape::Str),
    opt("targetBranch", Shape::Str),
    opt("generateTargetBranch", Shape::Bool),
    opt("maxAttempts", Shape::Int(1)),
    opt("tag", Shape::Str),
];

/// Most attempts a `github-push` may be configured with.
pub const MAX_ATTEMPTS_LIMIT: i64 = 100;

const GITHUB_PUSH: &[FieldShape] = &[
    req("path", Shape::Str),
    opt("targetBranch", Shape::Str),
    opt("generateTargetBranch", Shape::Bool),
    opt("force", Shape::Bool),
    opt("maxAttempts", Shape::IntIn(1, MAX_ATTEMPTS_LIMIT)),
    opt("insecureSkipTLSVerify", Shape::Bool),
];

const PATH_ONLY: &[FieldShape] = &[req("path", Shape::Str)];

const COPY: &[FieldShape] = &[req("inPath", Shape::Str), req("outPath", Shape::Str)];

const DELETE: &[FieldShape] = &[
    opt("path", Shape::Str),
    opt("paths", Shape::List(&Shape::Str)),
    opt("pathsAreGlobs", Shape::Bool),
    opt("strict", Shape::Bool),
];

const FILE_WRITE: &[FieldShape] =
    &[req("path", Shape::Str), req("contents", Shape::Str), opt("overwrite", Shape::Bool)];

const FAIL: &[FieldShape] = &[opt("message", Shape::Str)];

const UPDATE: Shape = Shape::Object(&[req("key", Shape::Str), req("value", Shape::Any)]);

/// `yaml-update`, `json-update`, `toml-update`.
const STRUCTURED_UPDATE: &[FieldShape] = &[req("path", Shape::Str), req("updates", Shape::List(&UPDATE))];

const IMAGE_UPDATE: Shape = Shape::Object(&[
    req("image", Shape::Str),
    opt("tag", Shape::Str),
    opt("digest", Shape::Str),
    opt("useDigest", Shape::Bool),
    opt("newName", Shape::Str),
]);

const KUSTOMIZE_SET_IMAGE: &[FieldShape] = &[req("path", Shape::Str), req("images", Shape::List(&IMAGE_UPDATE))];

const KUSTOMIZE_BUILD: &[FieldShape] =
    &[req("path", Shape::Str), req("outPath", Shape::Str), opt("outputFormat", Shape::OneOf(&["kargo", "kustomize"]))];

const CHART_UPDATE: Shape = Shape::Object(&[
    req("repository", Shape::Str),
    req("name", Shape::Str),
    opt("alias", Shape::Str),
    opt("version", Shape::Str),
]);

// Without `charts`, Helm resolves the SemVer ranges `Chart.yaml` declares.
const HELM_UPDATE_CHART: &[FieldShape] = &[req("path", Shape::Str), opt("charts", Shape::List(&CHART_UPDATE))];

const HTTP: &[FieldShape] = &[
    req("url", Shape::Str),
    opt("method", Shape::Str),
    opt("headers", Shape::List(&NAME_VALUE)),
    opt("queryParams", Shape::List(&NAME_VALUE)),
    opt("body", Shape::Str),
    opt("insecureSkipTLSVerify", Shape::Bool),
    opt("insecureSkipTlsVerify", Shape::Bool),
    opt("timeout", Shape::Str),
    opt("successExpression", Shape::Str),
    opt("failureExpression", Shape::Str),
    opt("errorExpression", Shape::Str),
    opt("responseContentType", Shape::OneOf(&["application/json", "application/yaml", "text/plain"])),
    opt("outputs", Shape::List(&PARSE_OUTPUT)),
];

/// Kargo's `{name, alias}`, and Lading's `{freightID, newAlias}` (one of each pair).
const SET_FREIGHT_ALIAS: &[FieldShape] =
    &[opt("name", Shape::Str), opt("freightID", Shape::Str), opt("alias", Shape::Str), opt("newAlias", Shape::Str)];

const METADATA_UPDATE: Shape = Shape::Object(&[
    req("kind", Shape::OneOf(&["Freight", "Stage"])),
    req("name", Shape::Str),
    req("values", Shape::Mapping),
]);

const OCI_DOWNLOAD: &[FieldShape] = &[
    req("imageRef", Shape::Str),
    req("outPath", Shape::Str),
    opt("allowOverwrite", Shape::Bool),
    opt("mediaType", Shape::Str),
    opt("insecureSkipTLSVerify", Shape::Bool),
];

const OCI_PUSH: &[FieldShape] = &[
    req("srcRef", Shape::Str),
    req("destRef", Shape::Str),
    opt("annotations", Shape::Mapping),
    opt("insecureSkipTLSVerify", Shape::Bool),
];

const SET_METADATA: &[FieldShape] = &[req("updates", Shape::List(&METADATA_UPDATE))];

/// Fields of which a step's config needs exactly one (a `oneOf` of Kargo's schemas).
pub(super) fn one_of_required(uses: &str) -> &'static [&'static [&'static str]] {
    match uses {
        "delete" => &[&["path", "paths"]],
        "set-freight-alias" => &[&["alias", "newAlias"], &["name", "freightID"]],
        _ => &[],
    }
}

/// The config schema of step `uses`, when it has one here.
pub fn schema(uses: &str) -> Option<&'static [FieldShape]> {
    Some(match uses {
        "git-open-pr" => GIT_OPEN_PR,
        "git-wait-for-pr" => GIT_WAIT_FOR_PR,
        "git-merge-pr" => GIT_MERGE_PR,
        "git-tag" => GIT_TAG,
        "json-parse" | "yaml-parse" | "toml-parse" => PARSE,
        "yaml-merge" => YAML_MERGE,
        "tar" => TAR,
        "untar" => UNTAR,
        "http-download" => HTTP_DOWNLOAD,
        "helm-template" => HELM_TEMPLATE,
        "argocd-update" => ARGOCD_UPDATE,
        "argocd-wait" => ARGOCD_WAIT,
        "git-clone" => GIT_CLONE,
        "git-commit" => GIT_COMMIT,
        "git-push" => GIT_PUSH,
        "github-push" => GITHUB_PUSH,
        "git-clear" => PATH_ONLY,
        "copy" => COPY,
        "delete" => DELETE,
        "file-write" => FILE_WRITE,
        "fail" => FAIL,
        "yaml-update" | "json-update" | "toml-update" => STRUCTURED_UPDATE,
        "kustomize-set-image" => KUSTOMIZE_SET_IMAGE,
        "kustomize-build" => KUSTOMIZE_BUILD,
        "helm-update-chart" => HELM_UPDATE_CHART,
        "http" => HTTP,
        "set-freight-alias" => SET_FREIGHT_ALIAS,
        "set-metadata" => SET_METADATA,
        "oci-download" => OCI_DOWNLOAD,
        "oci-push" => OCI_PUSH,
        // `compose-output` takes any mapping: its fields are its outputs.
        _ => return None,
    })
}

/// One config field of a step as people read it: its path (`checkout[].branch`), its
/// type, and whether it is required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDescription {
    pub path: String,
    pub kind: String,
    pub required: bool,
}

/// The fields of step `uses`, nested ones by their paths, in schema order; `None` for a
/// step whose config is free (`compose-output`: any mapping, its fields its outputs).
pub fn describe(uses: &str) -> Option<Vec<FieldDescription>> {
    fn kind(shape: &Shape) -> String {
        match shape {
            Shape::Str => "string".to_owned(),
            Shape::Bool => "boolean".to_owned(),
            Shape::Int(min) => format!("integer ≥ {min}"),
            Shape::IntIn(min, max) => format!("integer {min}..{max}"),
            Shape::OneOf(names) => format!("one of {}", names.join(", ")),
            Shape::Any => "any".to_owned(),
            Shape::Mapping => "mapping".to_owned(),
            Shape::List(item) => format!("list of {}", kind(item)),
            Shape::Object(_) => "object".to_owned(),
        }
    }
    fn walk(prefix: &str, fields: &[FieldShape], out: &mut Vec<FieldDescription>) {
        for field in fields {
            let path = format!("{prefix}{}", field.name);
            out.push(FieldDescription { path: path.clone(), kind: kind(&field.shape), required: field.required });
            match &field.shape {
                Shape::Object(inner) => walk(&format!("{path}."), inner, out),
                Shape::List(Shape::Object(inner)) => walk(&format!("{path}[]."), inner, out),
                _ => {}
            }
        }
    }
    let fields = schema(uses)?;
    let mut out = Vec::new();
    walk("", fields, &mut out);
    Some(out)
}

#[cfg(test)]
mod describe_tests {
    use super::*;

    #[test]
    fn given_a_step_when_described_then_nested_fields_are_named_by_their_paths() {
        let fields = describe("git-open-pr").unwrap();
        assert_eq!(fields[0], FieldDescription { path: "repoURL".into(), kind: "string".into(), required: true });
        let provider = fields.iter().find(|f| f.path == "provider").unwrap();
        assert_eq!(provider.kind, "one of azure, bitbucket, gitea, github, gitlab");
        let parse = describe("yaml-parse").unwrap();
        let paths: Vec<&str> = parse.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["path", "outputs", "outputs[].name", "outputs[].fromExpression"]);
        assert_eq!(parse[1].kind, "list of object");
        assert_eq!(describe("compose-output"), None);
        // Every step Lading runs is described, but compose-output, whose fields are free.
        for uses in crate::spec::SUPPORTED_STEPS {
            assert_eq!(describe(uses).is_some(), uses != "compose-output", "{uses}");
        }
    }
}
