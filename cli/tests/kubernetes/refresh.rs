//! Refresh annotations (`lading.dev/refresh`, Kargo's `kargo.akuity.io/refresh`) on
//! Stages and Warehouses: each token is requested and handled once, comes back as
//! `status.lastHandledRefresh`, and is not requested again when the object changes
//! otherwise or another api takes over; a token used again after another is a new
//! request.

use std::sync::{Arc, Mutex};

use futures::StreamExt;

use super::replicas::{KubeQuickstart, kube_quickstart, start_kube_api};
use super::*;

/// The identities (`Nats-Msg-Id`) of every message published on `subject`, as they are
/// published: a request made again is seen here even when the log stores it once.
struct Published(Arc<Mutex<Vec<String>>>);

impl Published {
    async fn on(sandbox: &Sandbox, subject: &str) -> Published {
        let client = sandbox.nats.client().await;
        let mut subscription = client.subscribe(subject.to_owned()).await.expect("subscribes");
        client.flush().await.expect("flushes");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let out = seen.clone();
        tokio::spawn(async move {
            let _client = client;
            while let Some(message) = subscription.next().await {
                let id = message.headers.as_ref().and_then(|h| h.get(lading_events::headers::NATS_MSG_ID));
                out.lock().unwrap().push(id.map(|v| v.as_str().to_owned()).unwrap_or_default());
            }
        });
        Published(seen)
    }

    fn ids(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// What each identity published so far asks for, without the log position of the
    /// last handled refresh it names (`stage-refresh:demo:test:one:42` →
    /// `stage-refresh:demo:test:one`), and those positions.
    fn requests(&self) -> (Vec<String>, Vec<u64>) {
        self.ids()
            .iter()
            .map(|id| {
                let (request, after) = id.rsplit_once(':').expect("an identity ends with a log position");
                (request.to_owned(), after.parse::<u64>().expect("a log position"))
            })
            .unzip()
    }

    /// Waits until `request` (an identity without its log position) was published `times`
    /// times; every request published so far.
    async fn wait_for(&self, request: &str, times: usize) -> Vec<String> {
        wait::until(&format!("{request} to be published {times} times"), TIMEOUT, || async {
            let (requests, _) = self.requests();
            if requests.iter().filter(|r| *r == request).count() >= times {
                Ok(requests)
            } else {
                Err(format!("{requests:?}"))
            }
        })
        .await
    }
}

async fn annotate(kube: &TestKube, kind: &str, name: &str, annotation: &str) {
    kube.kubectl_ok(&["annotate", kind, name, "-n", "demo", annotation, "--overwrite"]).await;
}

/// Waits until the object's `status.lastHandledRefresh` is `token`.
async fn wait_handled(kube: &TestKube, kind: &str, name: &str, token: &str) {
    wait::until(&format!("{kind} {name} to have handled {token}"), TIMEOUT, || async {
        let object = get_json(kube, &[kind, name, "-n", "demo"]).await;
        let handled = &object["status"]["lastHandledRefresh"];
        if handled == token { Ok(()) } else { Err(format!("{handled}")) }
    })
    .await;
}

/// Waits until the running spec of stage `test` carries annotation `note` = `value`:
/// proof that the api acting now has read the Stage object since.
async fn wait_stage_note(sandbox: &Sandbox, value: &str) {
    wait::until(&format!("stage test's spec to carry note={value}"), TIMEOUT, || async {
        let stage = stage_in_api(sandbox, "test").await.unwrap_or_default();
        let note = &stage["metadata"]["annotations"]["note"];
        if note == value { Ok(()) } else { Err(format!("{}", stage["metadata"])) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_is_handled_once_shows_as_last_handled_and_survives_a_takeover() {
    // The sandbox's api keeps specs itself; the ones in Kubernetes mode run beside it.
    let KubeQuickstart { kube, sandbox, first, app: _app, gitops: _gitops } = kube_quickstart().await;
    wait::until("stage test in the spec store", TIMEOUT, || async {
        stage_in_api(&sandbox, "test").await.map(|_| ()).ok_or_else(|| "not yet".to_owned())
    })
    .await;
    let stage_requests = Published::on(&sandbox, "lading.evt.demo.stage.test.refresh-requested").await;
    let stage_handled = Published::on(&sandbox, "lading.evt.demo.stage.test.refresh-handled").await;
    let warehouse_requests = Published::on(&sandbox, "lading.evt.demo.warehouse.app.refresh-requested").await;
    let warehouse_handled = Published::on(&sandbox, "lading.evt.demo.warehouse.app.refresh-handled").await;

    // Kargo's annotation on the Stage (as `kargo refresh stage` sets it), Lading's on the
    // Warehouse: each is handled, and shows as status.lastHandledRefresh.
    annotate(&kube, "stage", "test", "kargo.akuity.io/refresh=one").await;
    annotate(&kube, "warehouse", "app", "lading.dev/refresh=w-one").await;
    wait_handled(&kube, "stage", "test", "one").await;
    wait_handled(&kube, "warehouse", "app", "w-one").await;
    // `kubectl wait`, as the README shows it, returns at once.
    kube.kubectl_ok(&[
        "wait",
        "stage/test",
        "-n",
        "demo",
        "--for=jsonpath={.status.lastHandledRefresh}=one",
        "--timeout=30s",
    ])
    .await;
    // `kubectl get -o wide` shows the token handled last (a printer column of priority
    // 1); the default table does not.
    for (kind, name, token) in [("stage", "test", "one"), ("warehouse", "app", "w-one")] {
        let wide = kube.kubectl_ok(&["get", kind, name, "-n", "demo", "-o", "wide"]).await;
        assert!(wide.lines().next().is_some_and(|h| h.ends_with("LAST HANDLED REFRESH")), "{wide}");
        assert!(wide.lines().nth(1).is_some_and(|row| row.ends_with(&format!(" {token}"))), "{wide}");
        let narrow = kube.kubectl_ok(&["get", kind, name, "-n", "demo"]).await;
        assert!(!narrow.contains("LAST HANDLED REFRESH"), "{narrow}");
    }

    // The objects change otherwise, keeping their tokens: nothing is requested.
    annotate(&kube, "stage", "test", "note=same-token").await;
    annotate(&kube, "warehouse", "app", "note=same-token").await;
    wait_stage_note(&sandbox, "same-token").await;

    // Another api takes over: it reads both objects with their handled tokens, and
    // requests nothing.
    first.shutdown.cancel();
    first.task.await.unwrap();
    let second = start_kube_api(&sandbox, &kube).await;
    annotate(&kube, "stage", "test", "note=taken-over").await;
    wait_stage_note(&sandbox, "taken-over").await;

    // New tokens are handled; what was published before them is each first token once.
    annotate(&kube, "stage", "test", "kargo.akuity.io/refresh=two").await;
    annotate(&kube, "warehouse", "app", "lading.dev/refresh=w-two").await;
    wait_handled(&kube, "stage", "test", "two").await;
    wait_handled(&kube, "warehouse", "app", "w-two").await;

    // A token used before, after another one was handled (within NATS's two-minute
    // duplicate window), is a new request: it is handled again.
    annotate(&kube, "stage", "test", "kargo.akuity.io/refresh=one").await;
    annotate(&kube, "warehouse", "app", "lading.dev/refresh=w-one").await;
    wait_handled(&kube, "stage", "test", "one").await;
    wait_handled(&kube, "warehouse", "app", "w-one").await;

    // What was published: each token once per time it was set.
    let expect = |prefix: &str, tokens: [&str; 3]| -> Vec<String> {
        tokens.iter().map(|t| format!("{prefix}:demo:{t}")).collect()
    };
    for (published, prefix, tokens) in [
        (&stage_requests, "stage-refresh", ["test:one", "test:two", "test:one"]),
        (&stage_handled, "stage-refresh-handled", ["test:one", "test:two", "test:one"]),
        (&warehouse_requests, "warehouse-refresh", ["app:w-one", "app:w-two", "app:w-one"]),
        (&warehouse_handled, "warehouse-refresh-handled", ["app:w-one", "app:w-two", "app:w-one"]),
    ] {
        let expected = expect(prefix, tokens);
        assert_eq!(published.wait_for(&expected[2], 2).await, expected, "one {prefix} per token set");
        // Each request names the last handled one, later ones later in the log.
        let (_, after) = published.requests();
        assert!(after.windows(2).all(|w| w[0] < w[1]), "{prefix}: {after:?}");
    }
    second.shutdown.cancel();
    second.task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_on_its_way_is_not_requested_again_and_a_stage_with_both_annotations_asks_for_ladings() {
    let kube = TestKube::start().await;
    kube.install_crds().await;
    // No promoter: a stage's requests stay on their way.
    let sandbox =
        Sandbox::start_with_options(SandboxOptions { with_promoter: false, ..SandboxOptions::default() }).await;
    let api = start_kube_api(&sandbox, &kube).await;
    apply_until_ok(&kube, &quickstart("file:///nonexistent/app.git", "file:///nonexistent/gitops.git", "1h")).await;
    wait::until("stage test in the spec store", TIMEOUT, || async {
        stage_in_api(&sandbox, "test").await.map(|_| ()).ok_or_else(|| "not yet".to_owned())
    })
    .await;
    let requests = Published::on(&sandbox, "lading.evt.demo.stage.test.refresh-requested").await;

    annotate(&kube, "stage", "test", "lading.dev/refresh=one").await;
    requests.wait_for("stage-refresh:demo:test:one", 1).await;
    // While it is not handled, the Stage changes otherwise, and Kargo's annotation is
    // added with another token: Lading's annotation is the one asked for.
    annotate(&kube, "stage", "test", "note=while-on-its-way").await;
    annotate(&kube, "stage", "test", "kargo.akuity.io/refresh=kargo").await;
    wait_stage_note(&sandbox, "while-on-its-way").await;
    annotate(&kube, "stage", "test", "lading.dev/refresh=two").await;
    let published = requests.wait_for("stage-refresh:demo:test:two", 1).await;
    assert_eq!(published, ["stage-refresh:demo:test:one", "stage-refresh:demo:test:two"]);
    assert_eq!(requests.requests().1, [0, 0], "nothing handled yet");
    let stage = get_json(&kube, &["stage", "test", "-n", "demo"]).await;
    assert!(stage["status"]["lastHandledRefresh"].is_null(), "nothing handled without a promoter: {}", stage["status"]);
    api.shutdown.cancel();
    api.task.await.unwrap();
}
