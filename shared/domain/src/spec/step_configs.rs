//! The config schema of promotion steps, checked when a manifest is applied: an unknown
//! field, a missing required one, a wrong type or a value outside its list is refused,
//! named with its path (`spec.promotionTemplate.spec.steps[2].config.prNumber`).
//!
//! Any string holding `${{` may stand where another type is expected: its expression
//! is evaluated when the step runs, and the step checks the result then. Every step
//! Lading runs has a schema here but `compose-output`, whose config is any mapping.

use serde_json::Value;

use super::FieldError;

/// The type a config value must have.
#[derive(Debug)]
pub enum Shape {
    Str,
    Bool,
    /// An integer of at least this value.
    Int(i64),
    /// One of these strings.
    OneOf(&'static [&'static str]),
    /// Anything (checked by the step).
    Any,
    /// A mapping with any keys.
    Mapping,
    List(&'static Shape),
    Object(&'static [FieldShape]),
}

/// One field of an object.
#[derive(Debug)]
pub struct FieldShape {
    pub name: &'static str,
    pub shape: Shape,
    pub required: bool,
}

const fn req(name: &'static str, shape: Shape) -> FieldShape {
    FieldShape { name, shape, required: true }
}

const fn opt(name: &'static str, shape: Shape) -> FieldShape {
    FieldShape { name, shape, required: false }
}

/// The Git hosting providers the pull-request steps speak to.
pub const GIT_PROVIDERS: &[&str] = &["azure", "bitbucket", "gitea", "github", "gitlab"];

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
const ARGOCD_APP_UPDATE: Shape = Shape::Object(&[
    req("name", Shape::Str),
    opt("namespace", Shape::Str),
    opt("sources", Shape::List(&ARGOCD_SOURCE)),
]);
const ARGOCD_UPDATE: &[FieldShape] = &[req("apps", Shape::List(&ARGOCD_APP_UPDATE))];
const ARGOCD_WAIT_FOR: Shape = Shape::OneOf(&["health", "sync", "operation", "suspended", "degraded"]);
const ARGOCD_APP_WAIT: Shape = Shape::Object(&[
    req("name", Shape::Str),
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
];

const GIT_COMMIT: &[FieldShape] = &[
    req("path", Shape::Str),
    req("message", Shape::Str),
    opt("author", Shape::Object(&[opt("name", Shape::Str), opt("email", Shape::Str)])),
];

const GIT_PUSH: &[FieldShape] = &[
    req("path", Shape::Str),
    opt("targetBranch", Shape::Str),
    opt("generateTargetBranch", Shape::Bool),
    opt("maxAttempts", Shape::Int(1)),
    opt("tag", Shape::Str),
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

const CHART_UPDATE: Shape =
    Shape::Object(&[req("repository", Shape::Str), req("name", Shape::Str), opt("version", Shape::Str)]);

const HELM_UPDATE_CHART: &[FieldShape] = &[req("path", Shape::Str), req("charts", Shape::List(&CHART_UPDATE))];

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
fn one_of_required(uses: &str) -> &'static [&'static [&'static str]] {
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

fn is_expression(value: &Value) -> bool {
    value.as_str().is_some_and(|s| s.contains("${{"))
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn check(shape: &Shape, value: &Value, field: &str) -> Result<(), FieldError> {
    if is_expression(value) {
        return Ok(());
    }
    let wrong = |expected: &str| FieldError::new(field, format!("must be {expected}, got {}", type_name(value)));
    match shape {
        Shape::Any => Ok(()),
        Shape::Mapping if value.is_object() => Ok(()),
        Shape::Mapping => Err(wrong("a mapping")),
        Shape::Str if value.is_string() => Ok(()),
        Shape::Str => Err(wrong("a string")),
        Shape::Bool if value.is_boolean() => Ok(()),
        Shape::Bool => Err(wrong("a boolean")),
        Shape::Int(min) => match value.as_i64() {
            Some(n) if n >= *min => Ok(()),
            Some(n) => Err(FieldError::new(field, format!("must be at least {min}, got {n}"))),
            None => Err(wrong("an integer")),
        },
        Shape::OneOf(allowed) => match value.as_str() {
            Some(s) if allowed.contains(&s) => Ok(()),
            Some(s) => Err(FieldError::new(field, format!("{s:?} is not one of {}", allowed.join(", ")))),
            None => Err(wrong("a string")),
        },
        Shape::List(item) => {
            let items = value.as_array().ok_or_else(|| wrong("a list"))?;
            items.iter().enumerate().try_for_each(|(i, v)| check(item, v, &format!("{field}[{i}]")))
        }
        Shape::Object(fields) => {
            let map = value.as_object().ok_or_else(|| wrong("a mapping"))?;
            for key in map.keys() {
                if !fields.iter().any(|f| f.name == key) {
                    let known: Vec<&str> = fields.iter().map(|f| f.name).collect();
                    return Err(FieldError::new(
                        format!("{field}.{key}"),
                        format!("unknown field; known: {}", known.join(", ")),
                    ));
                }
            }
            for f in fields.iter() {
                match map.get(f.name) {
                    Some(v) => check(&f.shape, v, &format!("{field}.{}", f.name))?,
                    None if f.required => return Err(FieldError::new(format!("{field}.{}", f.name), "is required")),
                    None => {}
                }
            }
            Ok(())
        }
    }
}

/// Checks the config of step `uses` against its schema; `field` is the config's path.
/// Whatever the step, a literal `repoURL` must not carry credentials (a Stage's spec is
/// shown to everyone who may read it): they come from the credentials file, or from
/// `${{ secret(…) }}` at run time.
pub fn validate_config(uses: &str, config: Option<&Value>, field: &str) -> Result<(), FieldError> {
    if let Some(url) = config.and_then(|c| c.get("repoURL")).filter(|url| !is_expression(url))
        && let Some(url) = url.as_str()
    {
        super::warehouse::check_no_credentials(field, url)?;
    }
    let Some(fields) = schema(uses) else { return Ok(()) };
    let empty = Value::Object(serde_json::Map::new());
    let config = config.unwrap_or(&empty);
    check(&Shape::Object(fields), config, field)?;
    if is_expression(config) {
        return Ok(());
    }
    for names in one_of_required(uses) {
        let set: Vec<&str> = names.iter().copied().filter(|n| config.get(n).is_some()).collect();
        let required = uses != "set-freight-alias" || names[0] == "alias";
        match set.len() {
            0 if required => {
                return Err(FieldError::new(
                    format!("{field}.{}", names[0]),
                    format!("is required (or {})", names[1..].join(", ")),
                ));
            }
            0 | 1 => {}
            _ => {
                return Err(FieldError::new(
                    format!("{field}.{}", set[1]),
                    format!("set either {} or {}, not both", set[0], set[1]),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn error(uses: &str, config: Value) -> String {
        let error = validate_config(uses, Some(&config), "config").unwrap_err();
        format!("{}: {}", error.field, error.reason)
    }

    #[test]
    fn given_a_token_in_a_step_repo_url_when_checked_then_it_is_refused_without_showing_it() {
        for uses in ["git-clone", "git-open-pr", "some-unknown-step"] {
            let config = json!({"repoURL": "https://ghp_t0ken-s3cret@github.com/org/app.git", "sourceBranch": "b"});
            let error = validate_config(uses, Some(&config), "config").unwrap_err();
            assert_eq!(error.field, "config.repoURL", "{uses}");
            assert!(!error.reason.contains("t0ken-s3cret"), "{}", error.reason);
        }
        let from_a_secret = json!({"repoURL": "https://${{ secret('git').token }}@github.com/org/app.git"});
        validate_config("git-clone", Some(&from_a_secret), "config").unwrap();
        validate_config("git-clone", Some(&json!({"repoURL": "ssh://git@github.com/org/app.git"})), "config").unwrap();
    }

    #[test]
    fn given_kargo_examples_when_checked_then_they_pass() {
        let open = json!({"repoURL": "https://github.com/example/repo.git",
            "sourceBranch": "${{ outputs.push.branch }}", "targetBranch": "stage/${{ ctx.stage }}",
            "title": "Deploy", "labels": ["infra", "needs-review"]});
        validate_config("git-open-pr", Some(&open), "config").unwrap();
        let wait = json!({"repoURL": "r", "prNumber": "${{ outputs['open-pr'].pr.id }}"});
        validate_config("git-wait-for-pr", Some(&wait), "config").unwrap();
        let merge = json!({"repoURL": "r", "prNumber": 42, "wait": true, "mergeMethod": "squash"});
        validate_config("git-merge-pr", Some(&merge), "config").unwrap();
    }

    #[test]
    fn given_bad_fields_when_checked_then_the_error_names_the_path() {
        assert_eq!(
            error("git-merge-pr", json!({"repoURL": "r", "prNumber": "42"})),
            "config.prNumber: must be an integer, got a string"
        );
        assert_eq!(
            error("git-merge-pr", json!({"repoURL": "r", "prNumber": 0})),
            "config.prNumber: must be at least 1, got 0"
        );
        assert_eq!(error("git-wait-for-pr", json!({"repoURL": "r"})), "config.prNumber: is required");
        assert!(
            error("tar", json!({"inPath": "a", "outPath": "b", "zip": true})).starts_with("config.zip: unknown field")
        );
        assert_eq!(
            error("json-parse", json!({"path": "a", "outputs": [{"name": "x"}]})),
            "config.outputs[0].fromExpression: is required"
        );
        assert!(
            error("git-open-pr", json!({"repoURL": "r", "sourceBranch": "b", "provider": "svn"}))
                .starts_with("config.provider: \"svn\" is not one of")
        );
        assert_eq!(
            error("http-download", json!({"url": "u", "outPath": "o", "headers": [{"name": 1, "value": "v"}]})),
            "config.headers[0].name: must be a string, got a number"
        );
    }

    #[test]
    fn given_argo_cd_steps_when_checked_then_kargo_fields_pass_and_others_are_named() {
        let update = json!({"apps": [{"name": "kargo-demo-${{ ctx.stage }}", "sources": [{
            "repoURL": "${{ vars.gitopsRepo }}", "desiredRevision": "${{ task.outputs.commit.commit }}",
            "kustomize": {"images": [{"repoURL": "nginx", "tag": "1.29"}]}}]}]});
        validate_config("argocd-update", Some(&update), "config").unwrap();
        assert_eq!(
            error("argocd-update", json!({"apps": [{"namespace": "argocd"}]})),
            "config.apps[0].name: is required"
        );
        assert!(
            error("argocd-update", json!({"apps": [{"name": "a", "sources": [{"repoURL": "r", "revision": "x"}]}]}))
                .starts_with("config.apps[0].sources[0].revision: unknown field")
        );
        assert!(
            error("argocd-wait", json!({"apps": [{"name": "a", "waitFor": ["ready"]}]}))
                .starts_with("config.apps[0].waitFor[0]: \"ready\" is not one of")
        );
    }

    #[test]
    fn given_compose_output_when_checked_then_any_mapping_passes() {
        validate_config("compose-output", Some(&json!({"whatever": 1})), "config").unwrap();
    }

    #[test]
    fn given_every_older_step_when_its_config_is_bad_then_the_path_is_named() {
        // Given a bad config of each step that was checked only when it ran,
        // when checked at apply, then the error names the field and the reason.
        let cases = [
            ("git-clone", json!({"repoURL": "r", "blobby": true}), "config.blobby: unknown field"),
            (
                "git-clone",
                json!({"repoURL": "r", "checkout": [{"branch": "main"}]}),
                "config.checkout[0].path: is required",
            ),
            ("git-commit", json!({"path": "out"}), "config.message: is required"),
            ("git-push", json!({"path": "out", "maxAttempts": "3"}), "config.maxAttempts: must be an integer"),
            ("git-clear", json!({}), "config.path: is required"),
            ("copy", json!({"inPath": "a", "outPath": 1}), "config.outPath: must be a string"),
            ("delete", json!({"strict": true}), "config.path: is required (or paths)"),
            ("delete", json!({"paths": "a"}), "config.paths: must be a list"),
            (
                "file-write",
                json!({"path": "a", "contents": "x", "overwrite": "yes"}),
                "config.overwrite: must be a boolean",
            ),
            ("fail", json!({"reason": "x"}), "config.reason: unknown field"),
            ("yaml-update", json!({"path": "a", "updates": [{"key": "k"}]}), "config.updates[0].value: is required"),
            ("json-update", json!({"path": "a", "updates": {}}), "config.updates: must be a list"),
            ("toml-update", json!({"updates": []}), "config.path: is required"),
            (
                "kustomize-set-image",
                json!({"path": "a", "images": [{"tag": "v1"}]}),
                "config.images[0].image: is required",
            ),
            (
                "kustomize-build",
                json!({"path": "a", "outPath": "b", "outputFormat": "helm"}),
                "config.outputFormat: \"helm\" is not one of",
            ),
            (
                "helm-update-chart",
                json!({"path": "a", "charts": [{"name": "c"}]}),
                "config.charts[0].repository: is required",
            ),
            (
                "http",
                json!({"url": "u", "responseContentType": "text/html"}),
                "config.responseContentType: \"text/html\" is not one of",
            ),
            ("http", json!({"url": "u", "errorExpression": 1}), "config.errorExpression: must be a string"),
            ("set-freight-alias", json!({"name": "f"}), "config.alias: is required (or newAlias)"),
            (
                "set-metadata",
                json!({"updates": [{"kind": "Warehouse", "name": "w", "values": {"a": 1}}]}),
                "config.updates[0].kind: \"Warehouse\" is not one of Freight, Stage",
            ),
            (
                "set-metadata",
                json!({"updates": [{"kind": "Stage", "name": "s", "values": [1]}]}),
                "config.updates[0].values: must be a mapping, got a list",
            ),
            (
                "set-metadata",
                json!({"updates": [{"kind": "Stage", "values": {}}]}),
                "config.updates[0].name: is required",
            ),
            (
                "set-freight-alias",
                json!({"alias": "a", "newAlias": "b"}),
                "config.newAlias: set either alias or newAlias",
            ),
        ];
        for (uses, config, wanted) in cases {
            let got = error(uses, config);
            assert!(got.starts_with(wanted), "{uses}: {got:?} does not start with {wanted:?}");
        }
    }

    #[test]
    fn given_kargo_fields_of_older_steps_when_checked_then_they_pass() {
        let ok = [
            ("delete", json!({"paths": ["a/*.yaml", "b/**"], "pathsAreGlobs": true, "strict": true})),
            ("file-write", json!({"path": "a", "contents": "x", "overwrite": true})),
            ("kustomize-build", json!({"path": "a", "outPath": "b", "outputFormat": "kustomize"})),
            (
                "http",
                json!({"url": "u", "responseContentType": "application/yaml", "errorExpression": "response.body.msg"}),
            ),
            ("git-push", json!({"path": "out", "tag": "v1.0.0"})),
            ("set-freight-alias", json!({"name": "${{ ctx.targetFreight.name }}", "alias": "prod-ready"})),
            (
                "set-metadata",
                json!({"updates": [
                    {"kind": "Stage", "name": "production", "values": {"foo": "hello", "bar": 42}},
                    {"kind": "Freight", "name": "${{ ctx.targetFreight.name }}", "values": {"qux": ["a", "b"]}},
                ]}),
            ),
            ("yaml-update", json!({"path": "a", "updates": [{"key": "k", "value": 3}]})),
            ("git-clone", json!({"repoURL": "${{ vars.repo }}", "checkout": "${{ vars.checkouts }}"})),
        ];
        for (uses, config) in ok {
            validate_config(uses, Some(&config), "config")
                .unwrap_or_else(|e| panic!("{uses}: {}: {}", e.field, e.reason));
        }
    }
}
