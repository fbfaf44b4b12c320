//! `oci-download` and `oci-push`: the examples of Kargo's reference pages, with
//! `registry.example.com` (and the other hosts) replaced by a real registry on loopback,
//! and the credentials and size limits they keep to.

use lading_promoter::steps::{GitCredentials, RemoteBudgets};
use lading_tests::registry::{RegistryGateway, TestRegistry};
use sha2::{Digest, Sha256};

use super::*;

const HELM_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";
const HELM_CHART: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// Pushes an artifact with `layers` (media type, bytes) as `repo:tag`; returns its digest.
fn push_artifact(registry: &TestRegistry, repo: &str, tag: &str, layers: &[(&str, &[u8])]) -> String {
    let config = br#"{"name":"my-app","version":"1.0.0","apiVersion":"v2"}"#;
    let config_digest = registry.blob(repo, config);
    let layers: Vec<Value> = layers
        .iter()
        .map(|(media_type, bytes)| {
            json!({"mediaType": media_type, "digest": registry.blob(repo, bytes), "size": bytes.len()})
        })
        .collect();
    let manifest = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": HELM_CONFIG, "digest": config_digest, "size": config.len()}, "layers": layers});
    registry.manifest(repo, tag, OCI_MANIFEST, &manifest)
}

/// The manifest `repo:reference` as the registry serves it.
fn fetch_manifest(registry: &TestRegistry, repo: &str, reference: &str) -> (u16, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let accept = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";
    let mut response = agent
        .get(&format!("http://{}/v2/{repo}/manifests/{reference}", registry.addr))
        .header("Accept", accept)
        .call()
        .unwrap();
    let status = response.status().as_u16();
    (status, response.body_mut().read_to_vec().unwrap_or_default())
}

fn chart_bytes() -> Vec<u8> {
    (0..50_000u32).flat_map(|i| i.to_le_bytes()).collect()
}

fn example(template: &str, registry: &str) -> String {
    template
        .replace("registry.example.com", registry)
        .replace("ghcr.io/example", &format!("{registry}/example"))
        .replace("internal-registry.local", registry)
}

#[test]
fn oci_download_examples_write_the_chosen_layer() {
    let registry = TestRegistry::start();
    let chart = chart_bytes();
    let config_file = b"key: value\n";
    let digest = push_artifact(&registry, "charts/my-app", "1.0.0", &[(HELM_CHART, &chart)]);
    push_artifact(
        &registry,
        "artifacts/my-app",
        "v1.2.3",
        &[("application/vnd.example.data", b"other"), ("application/vnd.example.config.v1+json", config_file)],
    );
    push_artifact(&registry, "configs/app-config", "v1", &[("text/yaml", config_file)]);
    let config_digest = sha256(&fetch_manifest(&registry, "configs/app-config", "v1").1);
    let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
    let workspace = tempfile::tempdir().unwrap();
    let addr = registry.addr.as_str();
    let templates = [
        "steps:\n- uses: oci-download\n  config:\n    imageRef: registry.example.com/charts/my-app:1.0.0\n    outPath: ./charts/my-app-1.0.0.tgz\n".to_owned(),
        "steps:\n- uses: oci-download\n  config:\n    imageRef: oci://registry.example.com/charts/my-app:1.0.0\n    outPath: ./charts/my-app-oci.tgz\n".to_owned(),
        format!("steps:\n- uses: oci-download\n  config:\n    imageRef: registry.example.com/configs/app-config@{config_digest}\n    outPath: ./config/app-config.yaml\n"),
        format!("steps:\n- uses: oci-download\n  config:\n    imageRef: registry.example.com/charts/my-app@{digest}\n    outPath: ./artifacts/data.tar.gz\n"),
        "steps:\n- uses: oci-download\n  config:\n    imageRef: registry.example.com/artifacts/my-app:v1.2.3\n    outPath: ./artifacts/config.json\n    mediaType: application/vnd.example.config.v1+json\n".to_owned(),
        "steps:\n- uses: oci-download\n  config:\n    imageRef: internal-registry.local/charts/my-app:1.0.0\n    outPath: ./data/artifact.tar.gz\n    insecureSkipTLSVerify: true\n".to_owned(),
    ];
    for template in &templates {
        run_with(EngineRun::new(&freight), workspace.path(), &example(template, addr))
            .unwrap_or_else(|e| panic!("{template}: {e}"));
    }
    let read = |path: &str| std::fs::read(workspace.path().join(path)).unwrap();
    assert_eq!(read("charts/my-app-1.0.0.tgz"), chart);
    assert_eq!(read("charts/my-app-oci.tgz"), chart);
    assert_eq!(read("config/app-config.yaml"), config_file);
    assert_eq!(read("artifacts/data.tar.gz"), chart);
    assert_eq!(read("artifacts/config.json"), config_file, "the layer of the media type asked for");
    assert_eq!(read("data/artifact.tar.gz"), chart);

    // An existing file stays unless allowOverwrite.
    let again = example(&templates[0], addr);
    let error = run_with(EngineRun::new(&freight), workspace.path(), &again).unwrap_err().to_string();
    assert!(error.contains("config.outPath: \"./charts/my-app-1.0.0.tgz\" exists already"), "{error}");
    let overwrite = again.replace("outPath:", "allowOverwrite: true\n    outPath:");
    run_with(EngineRun::new(&freight), workspace.path(), &overwrite).unwrap();
    let missing = example(&templates[4], addr).replace("config.v1+json", "nothing").replace("config.json", "none.json");
    let error = run_with(EngineRun::new(&freight), workspace.path(), &missing).unwrap_err().to_string();
    assert!(error.contains("no layer of media type \"application/vnd.example.nothing\""), "{error}");
}

#[test]
fn oci_download_refuses_a_layer_over_the_limit_and_leaves_nothing() {
    let registry = TestRegistry::start();
    let chart = chart_bytes();
    push_artifact(&registry, "charts/my-app", "1.0.0", &[(HELM_CHART, &chart)]);
    let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
    let workspace = tempfile::tempdir().unwrap();
    let mut budgets = RemoteBudgets::default();
    budgets.oci.max_download.value = chart.len() as u64 - 1;
    let template = format!(
        "steps:\n- uses: oci-download\n  config:\n    imageRef: {}/charts/my-app:1.0.0\n    outPath: ./chart.tgz\n",
        registry.addr
    );
    let error = run_with(EngineRun { budgets, ..EngineRun::new(&freight) }, workspace.path(), &template)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(&format!("the layer is larger than {} bytes (LADING_OCI_DOWNLOAD_MAX_BYTES)", chart.len() - 1)),
        "{error}"
    );
    assert!(std::fs::read_dir(workspace.path()).unwrap().next().is_none(), "nothing is left in the workspace");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_download_answers_a_registry_token_challenge_with_the_helm_credential() {
    // The gateway's HTTP client uses the process's TLS provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let registry = TestRegistry::start();
    let chart = chart_bytes();
    push_artifact(&registry, "charts/my-app", "1.0.0", &[(HELM_CHART, &chart)]);
    let gateway = RegistryGateway::start(&registry, "robot", "s3cret-pass").await;
    let addr = gateway.addr.clone();
    tokio::task::spawn_blocking(move || {
        let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
        let workspace = tempfile::tempdir().unwrap();
        let template = format!(
            "steps:\n- uses: oci-download\n  config:\n    imageRef: oci://{addr}/charts/my-app:1.0.0\n    outPath: ./chart.tgz\n"
        );
        // Without a credential the registry refuses.
        let error = run_with(EngineRun::new(&freight), workspace.path(), &template).unwrap_err().to_string();
        assert!(!error.contains("s3cret"), "{error}");
        // An `image` credential is not a `helm` one: `oci://` asks for Helm's.
        let wrong_kind = GitCredentials::parse(&format!(
            "- type: image\n  repoURL: {addr}/charts\n  username: robot\n  password: s3cret-pass\n"
        ))
        .unwrap();
        assert!(run_with(EngineRun { credentials: wrong_kind, ..EngineRun::new(&freight) }, workspace.path(), &template).is_err());
        let helm = GitCredentials::parse(&format!(
            "- type: helm\n  repoURL: oci://{addr}/charts\n  username: robot\n  password: s3cret-pass\n"
        ))
        .unwrap();
        run_with(EngineRun { credentials: helm, ..EngineRun::new(&freight) }, workspace.path(), &template).unwrap();
        assert_eq!(std::fs::read(workspace.path().join("chart.tgz")).unwrap(), chart);
    })
    .await
    .unwrap();
    assert!(gateway.stats.tokens_issued.load(std::sync::atomic::Ordering::SeqCst) >= 1);
}

#[test]
fn oci_push_examples_retag_copy_and_annotate() {
    let registry = TestRegistry::start();
    let addr = registry.addr.clone();
    let source = registry.push("myapp", "1.0.0", "linux/amd64", "2026-01-01T00:00:00Z");
    let widget = registry.push("widget-service", "2.0.0", "linux/amd64", "2026-01-02T00:00:00Z");
    let chart = push_artifact(&registry, "charts/my-app", "1.0.0", &[(HELM_CHART, &chart_bytes())]);
    let freight = Freight::from_warehouse("app")
        .with_image(&format!("{addr}/myapp"), "1.0.0", &source)
        .with_image(&format!("{addr}/widget-service"), "2.0.0", &widget)
        .with_chart(&format!("oci://{addr}/charts/my-app"), "my-app", "1.0.0");
    let workspace = tempfile::tempdir().unwrap();
    let run = |template: &str| {
        let template = template.replace("prod-registry.example.com", &addr).replace("prod.example.com", &addr);
        run_with(EngineRun::new(&freight), workspace.path(), &example(&template, &addr))
            .unwrap_or_else(|e| panic!("{template}: {e}"))
    };

    // Retagging in place: the same manifest under a new tag.
    let outcome = run(r#"steps:
- uses: oci-push
  as: push
  config:
    srcRef: registry.example.com/myapp@${{ imageFrom("registry.example.com/myapp").digest }}
    destRef: registry.example.com/myapp:v1.2.3
"#);
    assert_eq!(
        outcome.outputs["push"],
        json!({"image": format!("{addr}/myapp:v1.2.3"), "digest": source, "tag": "v1.2.3"})
    );
    assert_eq!(sha256(&fetch_manifest(&registry, "myapp", "v1.2.3").1), source);

    // Copying to another repository (a "production registry") and a per-stage one, then
    // kustomize-set-image takes the pushed digest.
    run(r#"steps:
- uses: oci-push
  config:
    srcRef: sandbox.example.com/myapp@${{ imageFrom("sandbox.example.com/myapp").digest }}
    destRef: prod.example.com/prod/myapp:${{ imageFrom("sandbox.example.com/myapp").tag }}
"#
    .replace("sandbox.example.com", &addr)
    .as_str());
    assert_eq!(sha256(&fetch_manifest(&registry, "prod/myapp", "1.0.0").1), source);
    std::fs::create_dir_all(workspace.path().join("out")).unwrap();
    std::fs::write(workspace.path().join("out/kustomization.yaml"), "resources: []\n").unwrap();
    let outcome = run(r#"steps:
- uses: oci-push
  as: push-to-stage
  config:
    srcRef: registry.example.com/widget-service@${{ imageFrom("registry.example.com/widget-service").digest }}
    destRef: registry.example.com/widget-service/${{ ctx.stage }}:${{ imageFrom("registry.example.com/widget-service").tag }}
- uses: kustomize-set-image
  config:
    path: ./out
    images:
    - image: registry.example.com/widget-service
      newName: registry.example.com/widget-service/${{ ctx.stage }}
      digest: ${{ outputs["push-to-stage"].digest }} # Or task.outputs in a (Cluster)PromotionTask
"#);
    assert_eq!(outcome.outputs["push-to-stage"]["digest"], json!(widget));
    let kustomization = std::fs::read_to_string(workspace.path().join("out/kustomization.yaml")).unwrap();
    assert!(kustomization.contains(&format!("newName: {addr}/widget-service/test")), "{kustomization}");
    assert!(kustomization.contains(&widget), "{kustomization}");
    let (status, _) = fetch_manifest(&registry, "widget-service/test", "2.0.0");
    assert_eq!(status, 200);

    // A Helm chart, `oci://` on both sides.
    run(r#"steps:
- uses: oci-push
  config:
    srcRef: oci://registry.example.com/charts/my-app:${{ chartFrom("oci://registry.example.com/charts/my-app").version }}
    destRef: oci://prod-registry.example.com/prod-charts/my-app:${{ chartFrom("oci://registry.example.com/charts/my-app").version }}
"#);
    assert_eq!(sha256(&fetch_manifest(&registry, "prod-charts/my-app", "1.0.0").1), chart);

    // Annotations: added to the destination's manifest, the source's kept.
    let outcome = run(r#"steps:
- uses: oci-push
  as: push
  config:
    srcRef: registry.example.com/myapp@${{ imageFrom("registry.example.com/myapp").digest }}
    destRef: registry.example.com/myapp:v1.2.3
    annotations:
      org.opencontainers.image.source: "https://github.com/example/myapp"
      io.kargo.promotion: ${{ ctx.promotion }}
"#);
    let (_, bytes) = fetch_manifest(&registry, "myapp", "v1.2.3");
    let manifest: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        manifest["annotations"],
        json!({"org.opencontainers.image.source": "https://github.com/example/myapp", "io.kargo.promotion": "p"})
    );
    assert_eq!(outcome.outputs["push"]["digest"], json!(sha256(&bytes)));
    assert_ne!(outcome.outputs["push"]["digest"], json!(source));

    // TLS verification off changes nothing over plain HTTP on loopback.
    run("steps:\n- uses: oci-push\n  config:\n    srcRef: internal-registry.local/myapp:1.0.0\n    destRef: staging-registry.local/staging/myapp:latest\n    insecureSkipTLSVerify: true\n"
        .replace("staging-registry.local", &addr)
        .as_str());
    assert_eq!(sha256(&fetch_manifest(&registry, "staging/myapp", "latest").1), source);
}

#[test]
fn oci_push_copies_a_whole_index_with_scoped_annotations() {
    let registry = TestRegistry::start();
    let addr = registry.addr.clone();
    let (index, children) =
        registry.push_index("myapp", "1.0.0", &["linux/amd64", "linux/arm64"], "2026-01-01T00:00:00Z");
    let freight = Freight::from_warehouse("app").with_image(&format!("{addr}/myapp"), "1.0.0", &index);
    let workspace = tempfile::tempdir().unwrap();
    let template = r#"steps:
- uses: oci-push
  as: push
  config:
    srcRef: registry.example.com/myapp@${{ imageFrom("registry.example.com/myapp").digest }}
    destRef: registry.example.com/mirror/myapp:v1.2.3
    annotations:
      org.opencontainers.image.source: "https://github.com/example/myapp"
      index:org.opencontainers.image.revision: ${{ commitFrom("https://github.com/example/myapp").id }}
      manifest:org.opencontainers.image.description: "my app image"
"#;
    let freight = freight.with_commit("https://github.com/example/myapp", "abc123");
    let outcome = run_with(EngineRun::new(&freight), workspace.path(), &example(template, &addr)).unwrap();
    let (_, bytes) = fetch_manifest(&registry, "mirror/myapp", "v1.2.3");
    let pushed: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(outcome.outputs["push"]["digest"], json!(sha256(&bytes)));
    assert_eq!(pushed["annotations"], json!({"org.opencontainers.image.revision": "abc123"}));
    let entries = pushed["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    for (entry, original) in entries.iter().zip(&children) {
        let digest = entry["digest"].as_str().unwrap();
        assert_ne!(digest, original, "an annotated child has a new digest");
        let (status, child) = fetch_manifest(&registry, "mirror/myapp", digest);
        assert_eq!(status, 200);
        let child: Value = serde_json::from_slice(&child).unwrap();
        assert_eq!(
            child["annotations"],
            json!({"org.opencontainers.image.source": "https://github.com/example/myapp",
                "org.opencontainers.image.description": "my app image"})
        );
        // Its blobs were copied to the new repository.
        let layer = child["layers"][0]["digest"].as_str().unwrap();
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let head = agent.head(&format!("http://{addr}/v2/mirror/myapp/blobs/{layer}")).call().unwrap();
        assert_eq!(head.status(), 200);
    }
    // Without annotations an index keeps its digest.
    let plain = "steps:\n- uses: oci-push\n  as: push\n  config:\n    srcRef: registry.example.com/myapp:1.0.0\n    destRef: registry.example.com/copy/myapp:1.0.0\n";
    let outcome = run_with(EngineRun::new(&freight), workspace.path(), &example(plain, &addr)).unwrap();
    assert_eq!(outcome.outputs["push"]["digest"], json!(index));
}

#[test]
fn oci_push_refuses_an_artifact_over_the_limit_between_repositories_but_retags_it() {
    let registry = TestRegistry::start();
    let addr = registry.addr.clone();
    push_artifact(&registry, "charts/my-app", "1.0.0", &[(HELM_CHART, &chart_bytes())]);
    let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
    let workspace = tempfile::tempdir().unwrap();
    let mut budgets = RemoteBudgets::default();
    budgets.oci.max_push.value = 1000;
    let copy = format!(
        "steps:\n- uses: oci-push\n  config:\n    srcRef: {addr}/charts/my-app:1.0.0\n    destRef: {addr}/other/my-app:1.0.0\n"
    );
    let error =
        run_with(EngineRun { budgets, ..EngineRun::new(&freight) }, workspace.path(), &copy).unwrap_err().to_string();
    assert!(error.contains("more than 1000 (LADING_OCI_PUSH_MAX_BYTES)"), "{error}");
    assert_eq!(fetch_manifest(&registry, "other/my-app", "1.0.0").0, 404, "nothing was pushed");
    let retag = format!(
        "steps:\n- uses: oci-push\n  config:\n    srcRef: {addr}/charts/my-app:1.0.0\n    destRef: {addr}/charts/my-app:stable\n"
    );
    run_with(EngineRun { budgets, ..EngineRun::new(&freight) }, workspace.path(), &retag).unwrap();
    assert_eq!(fetch_manifest(&registry, "charts/my-app", "stable").0, 200);
}

#[test]
fn oci_steps_refuse_bad_configs_at_apply() {
    let error = refused("steps:\n- uses: oci-download\n  config:\n    imageRef: r/a:1\n");
    assert!(error.contains("steps[0].config.outPath: is required"), "{error}");
    let error = refused("steps:\n- uses: oci-push\n  config:\n    srcRef: a\n    destRef: b\n    annotations: [x]\n");
    assert!(error.contains("steps[0].config.annotations: must be a mapping, got a list"), "{error}");
    let error = refused("steps:\n- uses: oci-push\n  config:\n    srcRef: a\n    dest: b\n");
    assert!(error.contains("steps[0].config.dest: unknown field"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oci_push_answers_a_token_challenge_with_the_image_credential_for_pulls_and_pushes() {
    // The gateway's HTTP client uses the process's TLS provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let registry = TestRegistry::start();
    let source = registry.push("myapp", "1.0.0", "linux/amd64", "2026-01-01T00:00:00Z");
    let gateway = RegistryGateway::start(&registry, "robot", "s3cret-pass").await;
    let addr = gateway.addr.clone();
    let pushed = tokio::task::spawn_blocking(move || {
        let freight = Freight::from_warehouse("app").with_image(&format!("{addr}/myapp"), "1.0.0", &source);
        let workspace = tempfile::tempdir().unwrap();
        let template = format!(
            "steps:\n- uses: oci-push\n  as: push\n  config:\n    srcRef: {addr}/myapp:1.0.0\n    destRef: {addr}/prod/myapp:v1.0.0\n"
        );
        // Without a credential the registry refuses, and nothing in the error shows one.
        let error = run_with(EngineRun::new(&freight), workspace.path(), &template).unwrap_err().to_string();
        assert!(!error.contains("s3cret"), "{error}");
        // With the registry's image credential: pulled and pushed through its tokens.
        let image = GitCredentials::parse(&format!(
            "- type: image\n  repoURL: {addr}\n  username: robot\n  password: s3cret-pass\n"
        ))
        .unwrap();
        let outcome =
            run_with(EngineRun { credentials: image, ..EngineRun::new(&freight) }, workspace.path(), &template).unwrap();
        assert_eq!(outcome.outputs["push"]["digest"], json!(source));
        source
    })
    .await
    .unwrap();
    // The copy is in the registry behind the gateway.
    assert_eq!(sha256(&fetch_manifest(&registry, "prod/myapp", "v1.0.0").1), pushed);
    assert!(gateway.stats.tokens_issued.load(std::sync::atomic::Ordering::SeqCst) >= 2);
}
