//! The fault-injection suite, quick seed: 8 freight through test → uat → prod on a
//! three-node NATS cluster, two replicas of each service as processes, while a seeded
//! schedule kills replicas with SIGKILL, freezes the promoter holding a stage's lease
//! past the lease's life, restarts NATS servers, stalls the Git remote and aborts
//! promotions. Every freight reaches what it should, each succeeded
//! promotion has exactly one commit on its branch and in queue order, no aborted one
//! has any, and nothing is left pending or dead-lettered.
//!
//! `LADING_FAULTS_SEED` replays a seed (the run prints the one it used);
//! `LADING_FAULTS_FREIGHT` and `LADING_FAULTS_REPLICAS` make it longer
//! (`cargo bench -p lading-tests --bench faults` runs 100 freight).

use lading_tests::faults::{self, FaultOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn freight_reaches_every_stage_once_in_order_under_kills_nats_restarts_git_stalls_and_aborts() {
    lading_runtime::telemetry::init(None);
    let options = FaultOptions::from_env(env!("CARGO_BIN_EXE_service-process"), 8, 2);
    let report = faults::run(options).await;
    println!("{report}");
    let violations = report.violations();
    assert!(violations.is_empty(), "{report}");
    assert_eq!(report.driven.len(), report.options.freight, "{report}");
    let faults = &report.faults;
    assert!(faults.replicas_killed > 0 && faults.nats_restarts > 0, "every kind of fault happened: {report}");
    assert!(faults.git_stalls > 0 && faults.promoters_frozen > 0, "every kind of fault happened: {report}");
    assert!(report.driven.iter().any(|d| d.abort.is_some()), "an abort was asked: {report}");
}
