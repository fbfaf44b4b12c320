//! The fault-injection suite: Lading deployed on a three-node NATS cluster with several
//! replicas of every service as processes, freight driven through three stages while a
//! seeded schedule kills replicas (SIGKILL), restarts NATS servers, stalls the Git
//! remote and aborts promotions; then every invariant checked against the log and Git.
//!
//! # Layout
//!
//! - [`deployment`]: the cluster, the replica processes, the Git server behind its
//!   stalling proxy, and an api client that goes round the api replicas.
//! - [`schedule`]: the seeded schedule of faults and aborts.
//! - [`drive`]: freight committed, discovered and followed through the stages.
//! - [`check`]: the invariants, read from the event log, the branches and the consumers.

pub mod check;
pub mod deployment;
pub mod drive;
pub mod schedule;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use check::Verdict;
use deployment::{Deployment, Targets};
use drive::{AbortOutcome, Driven, STAGES};
use schedule::{Fault, Schedule};

/// What to run.
#[derive(Debug, Clone)]
pub struct FaultOptions {
    /// How many freight to drive through the stages.
    pub freight: usize,
    /// Replicas of each service.
    pub replicas: usize,
    pub seed: u64,
    /// The `service-process` binary.
    pub binary: PathBuf,
}

impl FaultOptions {
    /// `freight` and `replicas` unless `LADING_FAULTS_FREIGHT`, `LADING_FAULTS_REPLICAS`
    /// or `LADING_FAULTS_SEED` say otherwise (the seed defaults to the time).
    pub fn from_env(binary: &str, freight: usize, replicas: usize) -> FaultOptions {
        let number = |name: &str| std::env::var(name).ok().and_then(|v| v.trim().parse::<u64>().ok());
        let seed = number("LADING_FAULTS_SEED").unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(1)
        });
        FaultOptions {
            freight: number("LADING_FAULTS_FREIGHT").map_or(freight, |n| n as usize),
            replicas: number("LADING_FAULTS_REPLICAS").map_or(replicas, |n| n as usize),
            seed,
            binary: PathBuf::from(binary),
        }
    }
}

/// What the faults did.
#[derive(Debug, Default, Clone)]
pub struct FaultCounts {
    pub replicas_killed: usize,
    pub kills_by_service: BTreeMap<&'static str, usize>,
    pub nats_restarts: usize,
    pub git_stalls: usize,
    pub git_stalled_for: Duration,
    /// Promoters frozen past a lease's life, and how many of them held a stage's lease.
    pub promoters_frozen: usize,
    pub frozen_holding_a_lease: usize,
    /// Replicas that exited without being killed (a crash).
    pub crashed: Vec<String>,
}

/// The figures of a run and what broke.
pub struct Report {
    pub options: FaultOptions,
    pub faults: FaultCounts,
    pub driven: Vec<Driven>,
    /// Driving stopped: which freight and why.
    pub stuck: Option<drive::Stuck>,
    pub verdict: Verdict,
    pub stuck_consumers: Vec<String>,
    pub dead_letter_reasons: Vec<String>,
    pub took: Duration,
    pub logs: PathBuf,
}

impl Report {
    /// Every violation: the checker's, a freight that never finished, stuck consumers,
    /// dead letters and crashed replicas.
    pub fn violations(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(stuck) = &self.stuck {
            out.push(format!("driving stopped at freight #{}: {}", stuck.index, stuck.what));
        }
        out.extend(self.verdict.violations.iter().cloned());
        out.extend(self.stuck_consumers.iter().map(|c| format!("consumer stuck: {c}")));
        if self.verdict.dead_letters > 0 {
            out.push(format!("{} dead letters: {:?}", self.verdict.dead_letters, self.dead_letter_reasons));
        }
        out.extend(self.faults.crashed.iter().map(|r| format!("replica crashed by itself: {r}")));
        out
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.options;
        let c = &self.faults;
        let v = &self.verdict;
        let aborts = self.driven.iter().filter(|d| d.abort.is_some()).count();
        let aborted = self.driven.iter().filter(|d| matches!(d.abort, Some((_, _, AbortOutcome::Aborted)))).count();
        let slowest = self.driven.iter().map(|d| d.took).max().unwrap_or_default();
        let completed = self.driven.len();
        writeln!(
            f,
            "fault-injection run: seed {}, {} freight, {} replicas of each service, 3 NATS servers",
            o.seed, o.freight, o.replicas
        )?;
        writeln!(f, "  took                     {:.1?} (slowest freight {:.1?})", self.took, slowest)?;
        writeln!(f, "  replicas killed (SIGKILL) {} {:?}", c.replicas_killed, c.kills_by_service)?;
        writeln!(f, "  NATS servers restarted   {}", c.nats_restarts)?;
        writeln!(f, "  Git remote stalls        {} ({:.1?} in all)", c.git_stalls, c.git_stalled_for)?;
        writeln!(
            f,
            "  promoters frozen         {} ({} holding a stage's lease)",
            c.promoters_frozen, c.frozen_holding_a_lease
        )?;
        writeln!(f, "  aborts asked / accepted  {aborts} / {aborted}")?;
        writeln!(f, "  freight completed        {completed} of {}", o.freight)?;
        writeln!(
            f,
            "  freight×stage reached    {} of {} expected",
            v.freight_stages_reached, v.freight_stages_expected
        )?;
        writeln!(f, "  promotions succeeded     {} (aborted {})", v.promotions_succeeded, v.promotions_aborted)?;
        writeln!(f, "  events in the log        {}", v.events)?;
        writeln!(f, "  lost                     {}", v.lost)?;
        writeln!(f, "  duplicated               {}", v.duplicated)?;
        writeln!(f, "  dead letters             {}", v.dead_letters)?;
        writeln!(f, "  consumers stuck          {}", self.stuck_consumers.len())?;
        let violations = self.violations();
        if violations.is_empty() {
            writeln!(f, "  every invariant held")?;
        } else {
            writeln!(f, "  VIOLATIONS ({}), service logs in {}:", violations.len(), self.logs.display())?;
            for violation in violations {
                writeln!(f, "    - {violation}")?;
            }
        }
        Ok(())
    }
}

/// Applies faults from `schedule` until `stop`, then brings everything back up.
async fn inflict(
    mut targets: Targets,
    mut schedule: Schedule,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> (Targets, FaultCounts) {
    let mut counts = FaultCounts::default();
    let client = targets.cluster.client().await;
    // A NATS server restarted has time to catch up before the next one goes down.
    let mut nats_quiet_until = tokio::time::Instant::now();
    loop {
        // Even a short run goes through the first round: every kind of fault once.
        let pause = schedule.pause_before_next();
        if schedule.first_round_drawn() {
            tokio::select! {
                _ = stop.wait_for(|stop| *stop) => break,
                () = tokio::time::sleep(pause) => {}
            }
        } else {
            tokio::time::sleep(pause).await;
        }
        for replica in &mut targets.replicas {
            if let Some(status) = replica.exited() {
                counts.crashed.push(format!("{} ({status})", replica.name));
                replica.restart();
            }
        }
        match schedule.next_fault() {
            Fault::KillReplica { replica, down } => {
                let replica = &mut targets.replicas[replica];
                tracing::info!(replica = replica.name, ?down, "fault: SIGKILL");
                replica.kill();
                counts.replicas_killed += 1;
                *counts.kills_by_service.entry(replica.service).or_default() += 1;
                tokio::time::sleep(down).await;
                replica.restart();
            }
            Fault::RestartNats { server, down } => {
                // One server down at a time, with time to catch up in between.
                tokio::time::sleep_until(nats_quiet_until).await;
                tracing::info!(server, ?down, "fault: NATS server killed");
                targets.cluster.kill(server).await;
                tokio::time::sleep(down).await;
                targets.cluster.resume(server).await;
                counts.nats_restarts += 1;
                nats_quiet_until = tokio::time::Instant::now() + Duration::from_secs(10);
            }
            Fault::FreezePromoter { frozen } => {
                let (replica, held) = promoter_to_freeze(&targets, &client).await;
                let replica = &targets.replicas[replica];
                tracing::info!(replica = replica.name, ?frozen, held = ?held, "fault: SIGSTOP");
                replica.freeze();
                tokio::time::sleep(frozen).await;
                replica.thaw();
                counts.promoters_frozen += 1;
                counts.frozen_holding_a_lease += usize::from(held.is_some());
            }
            Fault::PauseGit { stall } => {
                tracing::info!(?stall, "fault: Git remote stalls");
                targets.git_proxy.pause();
                tokio::time::sleep(stall).await;
                targets.git_proxy.resume();
                counts.git_stalls += 1;
                counts.git_stalled_for += stall;
            }
        }
    }
    targets.git_proxy.resume();
    for replica in &mut targets.replicas {
        if let Some(status) = replica.exited() {
            counts.crashed.push(format!("{} ({status})", replica.name));
            replica.restart();
        }
    }
    (targets, counts)
}

/// The promoter to freeze: the holder of a stage's lease, waiting up to 3 s for a
/// promotion to take one, else any promoter. Its index, and the lease it held.
async fn promoter_to_freeze(targets: &Targets, client: &async_nats::Client) -> (usize, Option<String>) {
    let promoters: Vec<usize> =
        targets.replicas.iter().enumerate().filter(|(_, r)| r.service == "promoter").map(|(i, _)| i).collect();
    let js = async_nats::jetstream::new(client.clone());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while tokio::time::Instant::now() < deadline {
        if let Some(found) = lease_holder(&js, targets, &promoters).await {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (promoters[fastrand::usize(0..promoters.len())], None)
}

/// A promoter that holds a stage's lease now (the lease's value is `<replica>/<promotion>`).
async fn lease_holder(
    js: &async_nats::jetstream::Context,
    targets: &Targets,
    promoters: &[usize],
) -> Option<(usize, Option<String>)> {
    use futures::StreamExt as _;
    let store = js.get_key_value(lading_bus::names::LEASES_BUCKET).await.ok()?;
    let mut keys = store.keys().await.ok()?;
    while let Some(Ok(key)) = keys.next().await {
        let Ok(Some(value)) = store.get(&key).await else { continue };
        let value = String::from_utf8_lossy(&value).into_owned();
        let replica = value.split('/').next().unwrap_or_default();
        if let Some(index) = promoters.iter().copied().find(|i| targets.replicas[*i].name == replica) {
            return Some((index, Some(format!("{key} ({value})"))));
        }
    }
    None
}

/// Runs the suite: deploys, drives `options.freight` freight under faults, checks.
pub async fn run(options: FaultOptions) -> Report {
    let started = tokio::time::Instant::now();
    let deployment = Deployment::start(&options.binary, options.replicas).await;
    let Deployment { targets, app, gitops, api, logs, dir } = deployment;
    let services: Vec<&'static str> = targets.replicas.iter().map(|r| r.service).collect();
    let faults = Schedule::new(options.seed, &services, targets.cluster.size());
    let mut aborts = Schedule::new(options.seed.rotate_left(17) ^ 0xA807, &services, 0);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let chaos = tokio::spawn(inflict(targets, faults, stopped));

    let mut driven = Vec::new();
    let mut stuck = None;
    for index in 1..=options.freight {
        match drive::drive_one(&api, &app, index, &mut aborts).await {
            Ok(done) => {
                tracing::info!(index, took = ?done.took, abort = ?done.abort, "freight done");
                driven.push(done);
            }
            Err(error) => {
                stuck = Some(error);
                break;
            }
        }
    }
    stop.send_replace(true);
    let (targets, faults) = chaos.await.expect("the fault schedule ran");

    // Quiet: every replica and server up; let what is in flight settle, then check.
    let client = targets.cluster.client().await;
    let stuck_consumers = check::stuck_consumers(&client, Duration::from_secs(90)).await;
    let log = check::read_log(&client).await;
    let branches: check::Branches<'_> =
        STAGES.iter().map(|stage| (*stage, check::branch_commits(&gitops, stage))).collect();
    let mut verdict = check::check(&driven, &log, &branches);
    let (dead_letters, dead_letter_reasons) = check::dead_letters(&client).await;
    verdict.dead_letters = dead_letters;
    let report = Report {
        options,
        faults,
        driven,
        stuck,
        verdict,
        stuck_consumers,
        dead_letter_reasons,
        took: started.elapsed(),
        logs: logs.clone(),
    };
    if !report.violations().is_empty() && std::env::var_os("LADING_FAULTS_LOGS").is_none() {
        // Keep the logs of a failed run.
        let kept = dir.keep();
        tracing::warn!(dir = %kept.display(), "kept the failed run's directory");
    }
    drop(targets);
    report
}
