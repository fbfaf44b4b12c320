//! The fault-injection suite's long mode: 100 freight through test → uat → prod on a
//! three-node NATS cluster with three replicas of each service as processes, under a
//! seeded schedule of SIGKILLs, NATS restarts, Git stalls and aborts. Prints the kills
//! and restarts survived, the freight and promotions completed, and what was lost or
//! duplicated (the reference: 0 and 0).
//!
//! `LADING_FAULTS_SEED`, `LADING_FAULTS_FREIGHT`, `LADING_FAULTS_REPLICAS` override.

use lading_tests::faults::{self, FaultOptions};

fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("faults: bench");
        return;
    }
    lading_runtime::telemetry::init(None);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap();
    let options = FaultOptions::from_env(env!("CARGO_BIN_EXE_service-process"), 100, 3);
    let report = runtime.block_on(faults::run(options));
    println!("{report}");
    println!("reference: lost 0, duplicated 0, every invariant held");
    if !report.violations().is_empty() {
        std::process::exit(1);
    }
}
