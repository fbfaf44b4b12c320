//! The seeded fault schedule: which fault comes next and when, drawn from one seed so a
//! failing run can be replayed (`LADING_FAULTS_SEED`).

use std::time::Duration;

/// One fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// SIGKILL replica `replica` (an index into the deployment's replicas), start it
    /// again after `down`.
    KillReplica { replica: usize, down: Duration },
    /// Kill NATS server `server`, start it again after `down`.
    RestartNats { server: usize, down: Duration },
    /// Stall the Git remote for `stall`.
    PauseGit { stall: Duration },
    /// Freeze a promoter (SIGSTOP) for `frozen`, longer than a lease lasts, then let it
    /// go on (SIGCONT): the one holding a stage's lease when there is one, as a process
    /// paused mid-promotion while another replica takes its turn.
    FreezePromoter { frozen: Duration },
}

/// Draws faults from a seed, in rounds: each round restarts a NATS server once, stalls
/// the Git remote once, freezes a promoter once and kills four replicas, in an order the
/// seed shuffles, so even a short run meets every kind of fault.
pub struct Schedule {
    rng: fastrand::Rng,
    /// Replica indexes by service, to weigh services rather than replicas.
    replicas_by_service: Vec<(&'static str, Vec<usize>)>,
    nats_servers: usize,
    round: Vec<Kind>,
    rounds: usize,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Kill,
    Nats,
    Git,
    Freeze,
}

fn between(rng: &mut fastrand::Rng, low_ms: u64, high_ms: u64) -> Duration {
    Duration::from_millis(rng.u64(low_ms..=high_ms))
}

impl Schedule {
    pub fn new(seed: u64, services: &[&'static str], nats_servers: usize) -> Schedule {
        let mut replicas_by_service: Vec<(&'static str, Vec<usize>)> = Vec::new();
        for (index, service) in services.iter().enumerate() {
            match replicas_by_service.iter_mut().find(|(s, _)| s == service) {
                Some((_, indexes)) => indexes.push(index),
                None => replicas_by_service.push((service, vec![index])),
            }
        }
        Schedule {
            rng: fastrand::Rng::with_seed(seed),
            replicas_by_service,
            nats_servers,
            round: Vec::new(),
            rounds: 0,
        }
    }

    /// Whether every fault of the first round was drawn (every kind of fault once).
    pub fn first_round_drawn(&self) -> bool {
        self.rounds > 1 || (self.rounds == 1 && self.round.is_empty())
    }

    /// How long until the next fault.
    pub fn pause_before_next(&mut self) -> Duration {
        between(&mut self.rng, 500, 2_500)
    }

    /// The next fault. Promoters are killed most often (they hold leases and push).
    pub fn next_fault(&mut self) -> Fault {
        if self.round.is_empty() {
            self.round = vec![Kind::Nats, Kind::Git, Kind::Freeze, Kind::Kill, Kind::Kill, Kind::Kill, Kind::Kill];
            self.rng.shuffle(&mut self.round);
            if self.rounds == 0 {
                // The first round starts with a freeze, a NATS restart and a Git stall (popped
                // from the end), so a short run meets every kind of fault.
                self.round.retain(|kind| matches!(kind, Kind::Kill));
                self.round.extend([Kind::Git, Kind::Nats, Kind::Freeze]);
            }
            self.rounds += 1;
        }
        match self.round.pop().expect("a round is never empty") {
            Kind::Nats if self.nats_servers > 0 => Fault::RestartNats {
                server: self.rng.usize(0..self.nats_servers),
                down: between(&mut self.rng, 500, 3_000),
            },
            Kind::Git => Fault::PauseGit { stall: between(&mut self.rng, 1_000, 6_000) },
            // Past the lease's 15 s, so another replica takes the stage meanwhile.
            Kind::Freeze => Fault::FreezePromoter { frozen: between(&mut self.rng, 16_000, 19_000) },
            Kind::Nats | Kind::Kill => self.kill(),
        }
    }

    fn kill(&mut self) -> Fault {
        let weight = |service: &str| if service == "promoter" { 3 } else { 1 };
        let total: u32 = self.replicas_by_service.iter().map(|(s, _)| weight(s)).sum();
        let mut pick = self.rng.u32(0..total);
        let mut chosen = &self.replicas_by_service[0].1;
        for (service, indexes) in &self.replicas_by_service {
            if pick < weight(service) {
                chosen = indexes;
                break;
            }
            pick -= weight(service);
        }
        let replica = chosen[self.rng.usize(0..chosen.len())];
        Fault::KillReplica { replica, down: between(&mut self.rng, 200, 2_500) }
    }

    /// Whether to abort freight's promotion, into which stage of `stages`, and after
    /// how long a wait once the promotion is seen (none half the time, so aborts land
    /// while it is pending, running, or just finishing). About one freight in four is
    /// aborted somewhere; always when `surely` (so even a short run aborts).
    pub fn abort_for_freight(&mut self, stages: &[&'static str], surely: bool) -> Option<(&'static str, Duration)> {
        if self.rng.u32(0..4) != 0 && !surely {
            return None;
        }
        let stage = stages[self.rng.usize(0..stages.len())];
        let wait = if self.rng.bool() { Duration::ZERO } else { between(&mut self.rng, 0, 500) };
        Some((stage, wait))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_seed_gives_one_schedule() {
        let services = ["warehouse", "warehouse", "promoter", "promoter"];
        let draw = |seed| {
            let mut schedule = Schedule::new(seed, &services, 3);
            (0..50).map(|_| schedule.next_fault()).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        let faults = draw(7);
        // Every round of seven holds one NATS restart, one Git stall and one freeze.
        for round in faults.chunks(7).filter(|r| r.len() == 7) {
            assert_eq!(round.iter().filter(|f| matches!(f, Fault::RestartNats { .. })).count(), 1, "{round:?}");
            assert_eq!(round.iter().filter(|f| matches!(f, Fault::PauseGit { .. })).count(), 1, "{round:?}");
            assert_eq!(round.iter().filter(|f| matches!(f, Fault::FreezePromoter { .. })).count(), 1, "{round:?}");
        }
        assert!(faults.iter().all(|f| match f {
            Fault::KillReplica { replica, .. } => *replica < services.len(),
            Fault::RestartNats { server, .. } => *server < 3,
            Fault::PauseGit { .. } | Fault::FreezePromoter { .. } => true,
        }));
    }
}
