//! Kargo's fields on the steps Lading has had, and a Stage's `spec.vars`: each written
//! as a Kargo user would, applied inside a Stage manifest (its configs checked against
//! their schemas then), and run by the step engine against real files, `kubectl
//! kustomize` and an HTTP server.

use std::path::Path;

use lading_domain::Freight;
use lading_domain::freight_id::FreightId;
use lading_domain::spec::{PromotionStep, PromotionVariable, Spec, validate_manifest};
use lading_promoter::engine::{PromotionError, PromotionOutcome, StepObserver};
use lading_tests::engine_run::EngineRun;
use serde_json::{Value, json};

/// A Kargo Stage with `spec` (YAML at the level of `spec`, indented by two, without
/// `requestedFreight`), applied: every variable its steps see, and its steps.
fn apply(spec: &str) -> Result<(Vec<PromotionVariable>, Vec<PromotionStep>), String> {
    let manifest = format!(
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata:\n  name: test\n  namespace: demo\nspec:\n  requestedFreight:\n  - origin: {{kind: Warehouse, name: app}}\n    sources: {{direct: true}}\n{spec}"
    );
    let value: Value = serde_saphyr::from_str(&manifest).expect("the manifest is YAML");
    let manifest = validate_manifest(1, value).map_err(|e| e.to_string())?;
    match manifest.spec {
        Spec::Stage(spec) => Ok((spec.vars(), spec.steps().to_vec())),
        _ => unreachable!(),
    }
}

/// `steps` (YAML list items at the level of `steps:`, indented by six) as a template.
fn template(steps: &str) -> String {
    format!("  promotionTemplate:\n    spec:\n      steps:\n{steps}")
}

/// Freight of one commit of a repository the steps never reach.
fn freight() -> Freight {
    Freight::from_warehouse("app")
        .with_commit("https://example.com/app.git", "4f0e1c2d3b4a59687766554433221100ffeeddcc")
}

fn run(workspace: &Path, spec: &str) -> Result<PromotionOutcome, PromotionError> {
    let (vars, steps) = apply(spec).unwrap_or_else(|e| panic!("the stage applies: {e}"));
    let freight = freight();
    EngineRun { vars: &vars, ..EngineRun::new(&freight) }.run(workspace, &steps)
}

fn read(workspace: &Path, path: &str) -> String {
    std::fs::read_to_string(workspace.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn stage_vars_reach_every_step_and_the_template_and_step_vars_override_them() {
    let workspace = tempfile::tempdir().unwrap();
    let spec = "  vars:\n  - name: env\n    value: prod\n  - name: who\n    value: the stage\n  - name: greeting\n    value: hello from ${{ vars.env }}\n  promotionTemplate:\n    spec:\n      vars:\n      - name: who\n        value: the template\n      steps:\n      - uses: file-write\n        config:\n          path: first.txt\n          contents: ${{ vars.greeting }}, ${{ vars.who }}\n      - uses: file-write\n        vars:\n        - name: who\n          value: step two\n        config:\n          path: second.txt\n          contents: ${{ vars.env }}/${{ vars.who }}\n";
    run(workspace.path(), spec).unwrap();
    assert_eq!(read(workspace.path(), "first.txt"), "hello from prod, the template");
    assert_eq!(read(workspace.path(), "second.txt"), "prod/step two");
    // A stage var that names an unknown one is refused at apply, naming spec.vars.
    let error = apply("  vars:\n  - name: a\n    value: ${{ vars.b }}\n").unwrap_err();
    assert!(error.contains("spec.vars[0].value"), "{error}");
}

#[test]
fn file_write_refuses_an_existing_file_unless_overwrite() {
    let workspace = tempfile::tempdir().unwrap();
    std::fs::write(workspace.path().join("values.yaml"), "tag: v1\n").unwrap();
    let write = |overwrite: &str| {
        template(&format!(
            "      - uses: file-write\n        config:\n          path: ./values.yaml\n          contents: \"tag: v2\\n\"\n{overwrite}"
        ))
    };
    let error = run(workspace.path(), &write("")).unwrap_err().to_string();
    assert!(error.contains("config.path: \"./values.yaml\" exists already; set overwrite to true"), "{error}");
    assert_eq!(read(workspace.path(), "values.yaml"), "tag: v1\n", "nothing was written");
    run(workspace.path(), &write("          overwrite: true\n")).unwrap();
    assert_eq!(read(workspace.path(), "values.yaml"), "tag: v2\n");
    // A new file needs no overwrite.
    run(
        workspace.path(),
        &template("      - uses: file-write\n        config:\n          path: new/file.txt\n          contents: x\n"),
    )
    .unwrap();
    assert_eq!(read(workspace.path(), "new/file.txt"), "x");
}

fn tree(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path.clone());
            }
            found.push(path.strip_prefix(root).unwrap().display().to_string());
        }
    }
    found.sort();
    found
}

#[test]
fn delete_takes_paths_and_globs() {
    let workspace = tempfile::tempdir().unwrap();
    let w = workspace.path();
    for file in ["out/a.yaml", "out/b.yaml", "out/keep.txt", "out/deep/c.yaml", "tmp/x", "tmp/y", "notes.md"] {
        std::fs::create_dir_all(w.join(file).parent().unwrap()).unwrap();
        std::fs::write(w.join(file), file).unwrap();
    }
    // Literal paths: `path`, or `paths` (one of them, as Kargo's schema says).
    run(w, &template("      - uses: delete\n        config:\n          path: ./notes.md\n")).unwrap();
    run(w, &template("      - uses: delete\n        config:\n          paths: [tmp/x, tmp/y]\n")).unwrap();
    let error = apply(&template("      - uses: delete\n        config:\n          path: a\n          paths: [b]\n"))
        .unwrap_err();
    assert!(error.contains("config.paths: set either path or paths, not both"), "{error}");
    assert_eq!(tree(w), ["out", "out/a.yaml", "out/b.yaml", "out/deep", "out/deep/c.yaml", "out/keep.txt", "tmp"]);
    // Globs: `*` stays in one directory, `**` crosses them.
    run(
        w,
        &template(
            "      - uses: delete\n        config:\n          paths: [\"out/*.yaml\"]\n          pathsAreGlobs: true\n",
        ),
    )
    .unwrap();
    assert_eq!(tree(w), ["out", "out/deep", "out/deep/c.yaml", "out/keep.txt", "tmp"]);
    run(w, &template("      - uses: delete\n        config:\n          paths: [\"./**/*.yaml\", tmp]\n          pathsAreGlobs: true\n"))
        .unwrap();
    assert_eq!(tree(w), ["out", "out/deep", "out/keep.txt"]);
    // strict: a glob that matches nothing fails, naming it.
    let strict = "      - uses: delete\n        config:\n          paths: [\"out/*.txt\", \"*.json\"]\n          pathsAreGlobs: true\n          strict: true\n";
    let error = run(w, &template(strict)).unwrap_err().to_string();
    assert!(error.contains("config.paths[1]: no path matches \"*.json\""), "{error}");
    // Without strict a literal path that is not there is fine; with it, it fails.
    run(w, &template("      - uses: delete\n        config:\n          paths: [gone]\n")).unwrap();
    let error =
        run(w, &template("      - uses: delete\n        config:\n          paths: [gone]\n          strict: true\n"))
            .unwrap_err()
            .to_string();
    assert!(error.contains("config.paths[0]: \"gone\" does not exist"), "{error}");
    // Neither path nor paths: refused at apply.
    let error = apply(&template("      - uses: delete\n        config:\n          strict: true\n")).unwrap_err();
    assert!(error.contains("config.path: is required (or paths)"), "{error}");
}

const NAMESPACED: &str = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [deploy.yaml, config.yaml, ns.yaml]\n";
const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: prod\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: web, image: nginx}]\n";
const CONFIG: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: staging\ndata: {a: b}\n";
const NAMESPACE: &str = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n";

#[test]
fn kustomize_build_names_files_in_kargo_or_kustomize_format() {
    let workspace = tempfile::tempdir().unwrap();
    let w = workspace.path();
    std::fs::create_dir_all(w.join("base")).unwrap();
    for (file, text) in
        [("kustomization.yaml", NAMESPACED), ("deploy.yaml", DEPLOY), ("config.yaml", CONFIG), ("ns.yaml", NAMESPACE)]
    {
        std::fs::write(w.join("base").join(file), text).unwrap();
    }
    let build = |out: &str, format: &str| {
        template(&format!(
            "      - uses: kustomize-build\n        config:\n          path: ./base\n          outPath: ./{out}\n{format}"
        ))
    };
    run(w, &build("default", "")).unwrap();
    run(w, &build("kargo", "          outputFormat: kargo\n")).unwrap();
    run(w, &build("kustomize", "          outputFormat: kustomize\n")).unwrap();
    let kargo = ["namespace-prod.yaml", "prod-deployment-web.yaml", "staging-configmap-settings.yaml"];
    assert_eq!(tree(&w.join("default")), kargo, "kargo is the default");
    assert_eq!(tree(&w.join("kargo")), kargo);
    assert_eq!(
        tree(&w.join("kustomize")),
        ["prod_apps_v1_deployment_web.yaml", "staging_v1_configmap_settings.yaml", "v1_namespace_prod.yaml"]
    );
    assert!(read(w, "kustomize/prod_apps_v1_deployment_web.yaml").contains("image: nginx"));
    let error = apply(&build("x", "          outputFormat: helm\n")).unwrap_err();
    assert!(error.contains("config.outputFormat: \"helm\" is not one of kargo, kustomize"), "{error}");
}

/// An HTTP server on a free loopback port answering every request with `status`,
/// `content_type` and `body`; it serves until the test ends.
fn answering(status: u16, content_type: &'static str, body: &'static str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            use std::io::{BufRead, Write};
            let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                line.clear();
            }
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[test]
fn http_reads_the_body_as_its_content_type_and_errors_carry_the_error_expression() {
    let workspace = tempfile::tempdir().unwrap();
    let w = workspace.path();
    let step = |url: &str, extra: &str| {
        template(&format!(
            "      - uses: http\n        as: call\n        config:\n          url: {url}\n{extra}          outputs:\n          - name: version\n            fromExpression: response.body.app.version\n"
        ))
    };
    // YAML, by the response's Content-Type.
    let yaml = answering(200, "application/yaml; charset=utf-8", "app:\n  version: 1.2.3\n");
    let outcome = run(w, &step(&yaml, "")).unwrap();
    assert_eq!(outcome.outputs["call"]["version"], json!("1.2.3"));
    // YAML served as text/plain: responseContentType says how to read it.
    let mislabelled = answering(200, "text/plain", "app:\n  version: 4.5.6\n");
    let outcome = run(w, &step(&mislabelled, "          responseContentType: application/yaml\n")).unwrap();
    assert_eq!(outcome.outputs["call"]["version"], json!("4.5.6"));
    // ...and text/plain keeps it a string.
    let text = template(&format!(
        "      - uses: http\n        as: call\n        config:\n          url: {mislabelled}\n          responseContentType: text/plain\n          outputs:\n          - name: body\n            fromExpression: response.body\n"
    ));
    assert_eq!(run(w, &text).unwrap().outputs["call"]["body"], json!("app:\n  version: 4.5.6\n"));
    // Declared JSON that is not: the error names the field.
    let error =
        run(w, &step(&mislabelled, "          responseContentType: application/json\n")).unwrap_err().to_string();
    assert!(error.contains("config.responseContentType: the response body is not JSON"), "{error}");

    // A matched failure carries the message errorExpression draws from the response.
    let failing = answering(409, "application/json", "{\"error\": {\"message\": \"deployment frozen\"}}");
    let failure = |extra: &str| {
        template(&format!(
            "      - uses: http\n        config:\n          url: {failing}\n          failureExpression: response.status == 409\n{extra}"
        ))
    };
    let error = run(w, &failure("          errorExpression: response.body.error.message\n")).unwrap_err().to_string();
    assert!(error.contains("matched (status 409): deployment frozen"), "{error}");
    // One that cannot be evaluated adds nothing, as in Kargo.
    let error = run(w, &failure("          errorExpression: response.body.nope.message\n")).unwrap_err().to_string();
    assert!(error.ends_with("matched (status 409)"), "{error}");
}

/// Records the aliases the `set-freight-alias` step sets (the promoter service's part).
#[derive(Default)]
struct Aliases(Vec<(String, String)>);

impl StepObserver for Aliases {
    fn set_freight_alias(&mut self, freight: &FreightId, alias: &str) -> Result<(), String> {
        self.0.push((freight.as_str().to_owned(), alias.to_owned()));
        Ok(())
    }
}

#[test]
fn set_freight_alias_takes_kargos_name_and_alias() {
    let workspace = tempfile::tempdir().unwrap();
    let freight = freight();
    let id = lading_domain::freight_id::compute(&freight).unwrap();
    let other = "0123456789abcdef0123456789abcdef01234567";
    let spec = template(&format!(
        "      - uses: set-freight-alias\n        config:\n          name: ${{{{ ctx.targetFreight.name }}}}\n          alias: kargo-style\n      - uses: set-freight-alias\n        config:\n          name: {other}\n          alias: another\n      - uses: set-freight-alias\n        config:\n          newAlias: lading-style\n"
    ));
    let (vars, steps) = apply(&spec).unwrap();
    let mut aliases = Aliases::default();
    EngineRun { vars: &vars, ..EngineRun::new(&freight) }.run_observed(workspace.path(), &steps, &mut aliases).unwrap();
    assert_eq!(
        aliases.0,
        [
            (id.as_str().to_owned(), "kargo-style".to_owned()),
            (other.to_owned(), "another".to_owned()),
            (id.as_str().to_owned(), "lading-style".to_owned())
        ]
    );
    let error = apply(&template("      - uses: set-freight-alias\n        config:\n          name: x\n")).unwrap_err();
    assert!(error.contains("config.alias: is required (or newAlias)"), "{error}");
}

#[test]
fn every_older_steps_config_is_checked_at_apply_naming_its_path() {
    let cases = [
        (
            "git-clone",
            "repoURL: r\n          blobless: 1",
            "spec.promotionTemplate.spec.steps[0].config.blobless: must be a boolean",
        ),
        ("git-commit", "path: ./out", "steps[0].config.message: is required"),
        (
            "kustomize-set-image",
            "path: .\n          images: [{image: x, tag: [1]}]",
            "steps[0].config.images[0].tag: must be a string",
        ),
        ("http", "url: u\n          outputs: [{name: x}]", "steps[0].config.outputs[0].fromExpression: is required"),
        (
            "yaml-update",
            "path: v.yaml\n          updates: [{key: a, valu: 1}]",
            "steps[0].config.updates[0].valu: unknown field",
        ),
    ];
    for (uses, config, wanted) in cases {
        let error =
            apply(&template(&format!("      - uses: {uses}\n        config:\n          {config}\n"))).unwrap_err();
        assert!(error.contains(wanted), "{uses}: {error}");
    }
}
