//! `set-metadata` through the services: what a promotion into `test` sets on its freight
//! and stage is recorded in the log, shown in their status, and read by the promotion
//! into `uat` with `freightMetadata()` and `stageMetadata()`.

use std::time::Duration;

use lading_tests::git::Repo;
use lading_tests::sandbox::{Sandbox, quickstart};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(60);

const PUSH: &str = "      - uses: git-push\n        config:\n          path: ./out\n";
const MESSAGE: &str = "          - key: app.message\n            value: ${{ commitFrom(vars.appRepo).Message }}\n";

/// The quickstart: `test` sets metadata after its push (and tries an unknown stage,
/// which errors without failing the promotion); `uat` writes what it reads into values.yaml.
fn manifests(app: &str, gitops: &str) -> String {
    let set = "      - uses: set-metadata\n        config:\n          updates:\n          - kind: Freight\n            name: ${{ ctx.targetFreight.name }}\n            values:\n              testedIn: ${{ ctx.stage }}\n              build: {number: 7, tags: [a, b]}\n          - kind: Stage\n            name: ${{ ctx.stage }}\n            values:\n              region: eu-west-1\n      - uses: set-metadata\n        continueOnError: true\n        config:\n          updates:\n          - kind: Stage\n            name: nowhere\n            values: {a: 1}\n";
    let read = "          - key: app.testedIn\n            value: ${{ freightMetadata(ctx.targetFreight.name).testedIn }}\n          - key: app.build\n            value: ${{ freightMetadata(ctx.targetFreight.name).build.number }}\n          - key: app.region\n            value: ${{ stageMetadata('test', 'region') }}\n";
    let base = quickstart(app, gitops, "1h").replacen(PUSH, &format!("{PUSH}{set}"), 1);
    // The second `app.message` update is uat's.
    let at = base.rfind(MESSAGE).unwrap() + MESSAGE.len();
    format!("{}{read}{}", &base[..at], &base[at..])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn set_metadata_is_recorded_shown_and_read_by_a_later_promotion() {
    let sandbox = Sandbox::start(1).await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let commit = app.commit("app.txt", "v1", "first");
    sandbox.apply(&manifests(&app.url(), &gitops.url())).await;
    sandbox.wait_current_in("demo", &commit, "uat", TIMEOUT).await;

    let values = gitops.show("stage/uat", "values.yaml");
    assert!(values.contains("testedIn: test"), "{values}");
    assert!(values.contains("build: 7"), "{values}");
    assert!(values.contains("region: eu-west-1"), "{values}");

    let freight = sandbox.freight("demo").await;
    assert_eq!(
        freight[0]["status"]["metadata"],
        json!({"testedIn": "test", "build": {"number": 7, "tags": ["a", "b"]}})
    );
    let (_, stages) = sandbox.get("/api/v1/projects/demo/stages").await;
    let test = stages["items"].as_array().unwrap().iter().find(|s| s["metadata"]["name"] == "test").unwrap().clone();
    assert_eq!(test["status"]["metadata"], json!({"region": "eu-west-1"}));
    // The update naming a stage that does not exist errored, and said why.
    let steps = test["status"]["lastPromotion"]["status"]["stepExecutionMetadata"].as_array().unwrap().clone();
    let errored = steps.iter().find(|s| s["status"] == "Errored").expect("the unknown stage's step errored");
    let message = errored["message"].as_str().unwrap_or_default();
    assert!(message.contains("config.updates[0]: stage \"nowhere\" is unknown in project \"demo\""), "{message}");
}
