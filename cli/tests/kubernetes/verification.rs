//! Stages verifying with AnalysisTemplates and ClusterAnalysisTemplates applied by `kubectl`.

use super::*;

/// A job metric that runs `sh -c script` (the verifier runs a job's command as a local
/// process outside a cluster).
fn job_template(kind: &str, name: &str, namespace: Option<&str>, script: &str) -> String {
    let namespace = namespace.map(|n| format!("  namespace: {n}\n")).unwrap_or_default();
    format!(
        "apiVersion: lading.dev/v1alpha1\nkind: {kind}\nmetadata:\n  name: {name}\n{namespace}spec:\n  metrics:\n  \
         - name: {name}\n    provider:\n      job:\n        spec:\n          template:\n            spec:\n              \
         containers:\n              - name: check\n                image: busybox\n                command: [sh, -c, {script:?}]\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage_verifying_with_analysis_templates_applied_by_kubectl_verifies() {
    let (kube, sandbox) = cluster_with_lading().await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    app.commit("app.txt", "v1", "first feature");

    // The templates first (a namespaced one needs the project's namespace), each Ready once
    // ingested into the spec store.
    apply_project(&kube).await;
    let cluster_template = job_template("ClusterAnalysisTemplate", "smoke", None, "echo smoke passed");
    let template = job_template("AnalysisTemplate", "health", Some("demo"), "echo healthy");
    let (ok, out, err) =
        kube.kubectl_with_input(&["apply", "-f", "-"], Some(&format!("{cluster_template}---\n{template}"))).await;
    assert!(ok, "kubectl apply: {out}{err}");
    for args in [["clusteranalysistemplate", "smoke", "", ""], ["analysistemplate", "health", "-n", "demo"]] {
        let args: Vec<&str> = args.into_iter().filter(|a| !a.is_empty()).collect();
        wait::until(&format!("{} {} to be Ready", args[0], args[1]), TIMEOUT, || async {
            let object = get_json(&kube, &args).await;
            let ready = conditions_of(&object, "Ready");
            if ready.len() == 1 && ready[0]["status"] == "True" { Ok(()) } else { Err(format!("{}", object["status"])) }
        })
        .await;
    }

    // `test` verifies with both; `uat` takes freight only once `test` verified it.
    let pipeline = with_verification(
        &quickstart(&app.url(), &gitops.url(), "1h"),
        "    analysisTemplates:\n    - name: health\n    - name: smoke\n      kind: ClusterAnalysisTemplate\n",
    );
    apply_until_ok(&kube, &pipeline).await;
    let stage = wait::until("test verified and the freight in uat", TIMEOUT, || async {
        let test = get_json(&kube, &["stage", "test", "-n", "demo"]).await;
        let uat = get_json(&kube, &["stage", "uat", "-n", "demo"]).await;
        let verified = conditions_of(&test, "Verified");
        let in_uat = uat["status"]["freightSummary"].as_str().is_some_and(|s| !s.is_empty());
        if verified.iter().any(|c| c["status"] == "True") && in_uat {
            Ok(test)
        } else {
            Err(format!("test: {}; uat: {}", test["status"], uat["status"]))
        }
    })
    .await;
    let verification = &stage["status"]["freightHistory"][0]["verificationHistory"][0];
    assert_eq!(verification["phase"], "Successful", "{verification}");
    let metrics: Vec<&str> =
        verification["metrics"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(metrics, ["health", "smoke"], "{verification}");
    let messages = verification["metrics"].to_string();
    assert!(messages.contains("healthy") && messages.contains("smoke passed"), "{messages}");
}
