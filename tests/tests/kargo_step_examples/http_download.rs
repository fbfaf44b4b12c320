//! Kargo's `http-download` examples against a real HTTP server, and its limits.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_download_examples_download_with_headers_query_and_overwrite_rules() {
    let (base, seen) = downloads::server().await;
    tokio::task::spawn_blocking(move || {
        let freight = Freight::from_warehouse("app").with_chart(&base, "my-helm-chart", "1.4.0");
        let access = || secret_access("artifacts", "token", "t0ken");
        let workspace = tempfile::tempdir().unwrap();
        let run = |template: &str| {
            run_with(EngineRun { secrets: Some(access()), ..EngineRun::new(&freight) }, workspace.path(), template)
        };
        // Basic usage.
        run(&format!("steps:\n- uses: http-download\n  as: fetch-config\n  config:\n    url: {base}/config/app.yaml\n    outPath: config/app.yaml\n")).unwrap();
        assert_eq!(std::fs::read_to_string(workspace.path().join("config/app.yaml")).unwrap(), "path=config/app.yaml query={}\n");
        // With authentication, overwriting.
        let auth = format!("steps:\n- uses: http-download\n  as: fetch-artifact\n  config:\n    url: {base}/releases/v1.2.3/app.tar.gz\n    outPath: artifacts/app.tar.gz\n    headers:\n    - name: Authorization\n      value: Bearer ${{{{ secret('artifacts').token }}}}\n    allowOverwrite: true\n    timeout: 10m\n");
        run(&auth).unwrap();
        run(&auth).unwrap();
        assert!(seen.lock().unwrap().last().unwrap().ends_with("Bearer t0ken"));
        // With query parameters, not overwriting: a second run fails.
        let query = format!("vars:\n- name: version\n  value: 1.2.3\nsteps:\n- uses: http-download\n  as: fetch-release\n  config:\n    url: {base}/releases/source.zip\n    outPath: releases/source.zip\n    queryParams:\n    - name: version\n      value: ${{{{ vars.version }}}}\n    headers:\n    - name: Authorization\n      value: token ${{{{ secret('artifacts').token }}}}\n    allowOverwrite: false\n    timeout: 5m\n");
        run(&query).unwrap();
        assert!(std::fs::read_to_string(workspace.path().join("releases/source.zip")).unwrap().contains("\"version\": \"1.2.3\""));
        let again = run(&query).unwrap_err().to_string();
        assert!(again.contains("config.outPath: \"releases/source.zip\" exists already"), "{again}");
        // Download and unpack a Helm chart (served as a tar made by the tar step).
        std::fs::create_dir_all(workspace.path().join("chart-src/my-helm-chart")).unwrap();
        std::fs::write(workspace.path().join("chart-src/my-helm-chart/Chart.yaml"), "name: my-helm-chart\n").unwrap();
        let chart = format!("vars:\n- name: chartRepo\n  value: {base}\n- name: chartName\n  value: my-helm-chart\nsteps:\n- uses: http-download\n  as: fetch-chart\n  config:\n    url: {base}/${{{{ vars.chartName }}}}-${{{{ chartFrom(vars.chartRepo, vars.chartName).Version }}}}.tgz\n    outPath: charts/${{{{ vars.chartName }}}}.tgz\n    headers:\n    - name: Accept\n      value: application/gzip\n    allowOverwrite: true\n");
        run(&chart).unwrap();
        assert_eq!(
            std::fs::read_to_string(workspace.path().join("charts/my-helm-chart.tgz")).unwrap(),
            "path=my-helm-chart-1.4.0.tgz query={}\n"
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_download_keeps_to_its_size_limit_and_checksum_and_leaves_nothing_behind() {
    let (base, _) = downloads::server().await;
    tokio::task::spawn_blocking(move || {
        let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
        let workspace = tempfile::tempdir().unwrap();
        let mut budgets = lading_promoter::steps::RemoteBudgets::default();
        budgets.http.max_download = lading_domain::limits::Limit::new(1 << 20, "LADING_HTTP_DOWNLOAD_MAX_BYTES");
        let big = format!("steps:\n- uses: http-download\n  config:\n    url: {base}/big\n    outPath: big.bin\n");
        let error = run_with(EngineRun { budgets, ..EngineRun::new(&freight) }, workspace.path(), &big)
            .unwrap_err()
            .to_string();
        assert!(error.contains("larger than 1048576 bytes (LADING_HTTP_DOWNLOAD_MAX_BYTES)"), "{error}");
        assert!(std::fs::read_dir(workspace.path()).unwrap().next().is_none(), "nothing is left behind");
        let wrong = format!(
            "steps:\n- uses: http-download\n  config:\n    url: {base}/a\n    outPath: a.txt\n    checksum: sha256:{}\n",
            "0".repeat(64)
        );
        let error = run_with(EngineRun::new(&freight), workspace.path(), &wrong).unwrap_err().to_string();
        assert!(error.contains("the file's checksum is sha256:"), "{error}");
        assert!(!workspace.path().join("a.txt").exists());
        use sha2::Digest as _;
        let digest: String = sha2::Sha256::digest(b"path=a query={}\n").iter().map(|b| format!("{b:02x}")).collect();
        let right = format!(
            "steps:\n- uses: http-download\n  config:\n    url: {base}/a\n    outPath: a.txt\n    checksum: sha256:{digest}\n"
        );
        run_with(EngineRun::new(&freight), workspace.path(), &right).unwrap();
        let outside = format!("steps:\n- uses: http-download\n  config:\n    url: {base}/a\n    outPath: ../a.txt\n");
        let error = run_with(EngineRun::new(&freight), workspace.path(), &outside).unwrap_err().to_string();
        assert!(error.contains("leads outside the promotion's workspace"), "{error}");
    })
    .await
    .unwrap();
}

mod downloads {
    use std::sync::{Arc, Mutex};

    use axum::extract::{Path as UrlPath, Query, State};
    use axum::http::HeaderMap;

    type Seen = Arc<Mutex<Vec<String>>>;

    /// Serves `/…` with the request's path, query and authorization echoed in the body,
    /// and `/big` as 2 MiB.
    pub async fn server() -> (String, Seen) {
        let seen: Seen = Default::default();
        let app = axum::Router::new()
            .route("/big", axum::routing::get(|| async { vec![b'x'; 2 << 20] }))
            .route(
                "/{*path}",
                axum::routing::get(
                    |State(seen): State<Seen>,
                     UrlPath(path): UrlPath<String>,
                     Query(query): Query<std::collections::BTreeMap<String, String>>,
                     headers: HeaderMap| async move {
                        let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                        seen.lock().unwrap().push(format!("{path} {query:?} {auth}"));
                        format!("path={path} query={query:?}\n")
                    },
                ),
            )
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, seen)
    }
}
