//! Measurements are events: a verifier process killed between two measurements of a
//! `count: 3` metric is replaced by another replica that goes on from the recorded
//! measurements (the endpoint is called three times in all, the indices are 0, 1, 2
//! once each), and one verification gives exactly one verdict whatever the number of
//! replicas.

use std::process::{Child, Command, Stdio};

use lading_bus::nats_users::NatsUser;
use lading_events::Event;
use lading_tests::git::Repo;
use lading_tests::sandbox::{Sandbox, SandboxOptions};
use lading_tests::wait;
use lading_tests::web_answer::WebAnswer;

use super::{HEALTH, OK, TIMEOUT, events, measurements, pipeline, web_template};

/// A Lading service as its own process (`service-process <name>`), killed on drop.
pub struct ServiceProcess(Child);

impl ServiceProcess {
    /// A verifier replica named `replica` on the sandbox's NATS.
    pub fn verifier(sandbox: &Sandbox, replica: &str) -> ServiceProcess {
        let child = Command::new(env!("CARGO_BIN_EXE_service-process"))
            .arg("verifier")
            .env("LADING_NATS_URL", sandbox.nats.url_for(NatsUser::Verifier))
            .env("LADING_REPLICA", replica)
            .env_remove("LADING_HEALTH_ADDR")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("the verifier process starts");
        ServiceProcess(child)
    }

    /// Kills it at once (SIGKILL: no shutdown, no hand-over).
    pub fn kill(&mut self) {
        self.0.kill().expect("the process is killed");
        self.0.wait().expect("the process is reaped");
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Three measurements, 4 s apart: time enough to kill a process between two of them.
const THREE_MEASUREMENTS: &str = "    count: 3\n    interval: 4s\n";

/// Asserts the log holds one verification with measurements 0, 1, 2 of `health`, once
/// each, one `Successful` verdict and one `FreightVerified` in test.
async fn assert_one_verification_measured_three_times(sandbox: &Sandbox) {
    let events = events(sandbox).await;
    let mut indices: Vec<u32> = events
        .iter()
        .filter_map(|e| match e {
            Event::VerificationMeasured(m) => Some(m.index),
            _ => None,
        })
        .collect();
    indices.sort();
    assert_eq!(indices, [0, 1, 2], "each index measured once");
    let verdicts: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::VerificationFinished(f) => Some(f.phase),
            _ => None,
        })
        .collect();
    assert_eq!(verdicts, [lading_events::catalog::VerificationPhaseV1::Successful], "exactly one verdict");
    let verified = events.iter().filter(|e| matches!(e, Event::FreightVerified(v) if v.stage == "test")).count();
    assert_eq!(verified, 1, "the freight is marked verified in test once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_verifier_killed_between_measurements_is_replaced_and_the_count_goes_on() {
    let sandbox =
        Sandbox::start_with_options(SandboxOptions { with_verifier: false, ..SandboxOptions::default() }).await;
    let web = WebAnswer::start(OK).await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let first = app.commit("app.txt", "v1", "first");
    let manifests = pipeline(&app.url(), &gitops.url(), HEALTH, None);
    sandbox.apply(&format!("{manifests}\n{}", web_template(web.url(), THREE_MEASUREMENTS))).await;
    let mut doomed = ServiceProcess::verifier(&sandbox, "doomed");
    // Given the first measurement recorded,
    let recorded = wait::until("the first measurement", TIMEOUT, || async {
        let recorded = measurements(&sandbox).await;
        if recorded.is_empty() { Err("none".to_owned()) } else { Ok(recorded) }
    })
    .await;
    // when the verifier running it is killed before the second,
    doomed.kill();
    assert_eq!(
        (measurements(&sandbox).await.len(), web.calls()),
        (1, 1),
        "killed between the first and the second measurement"
    );
    // then another replica takes it over,
    let _rescuer = ServiceProcess::verifier(&sandbox, "rescuer");
    sandbox.wait_verified_in("demo", &first, "test", TIMEOUT).await;
    // goes on from the recorded measurement (the endpoint saw three calls, not four),
    assert_eq!(web.calls(), 3, "the count went on from the recorded measurement");
    let after = measurements(&sandbox).await;
    assert_eq!(after[0], recorded[0], "the first measurement stands as the killed replica recorded it");
    // and publishes exactly one verdict.
    assert_one_verification_measured_three_times(&sandbox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_verifier_replicas_measure_each_index_once_and_give_one_verdict() {
    let sandbox = Sandbox::start(2).await;
    let web = WebAnswer::start(OK).await;
    let app = Repo::create(sandbox.dir.path(), "app");
    let gitops = Repo::create(sandbox.dir.path(), "gitops");
    let first = app.commit("app.txt", "v1", "first");
    let manifests = pipeline(&app.url(), &gitops.url(), HEALTH, None);
    sandbox.apply(&format!("{manifests}\n{}", web_template(web.url(), "    count: 3\n    interval: 1s\n"))).await;
    sandbox.wait_verified_in("demo", &first, "test", TIMEOUT).await;
    assert_eq!(web.calls(), 3);
    assert_one_verification_measured_three_times(&sandbox).await;
}
