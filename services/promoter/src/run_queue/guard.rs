//! What watches a promotion while it runs on a blocking thread: the guard steps ask
//! before each effect (the fence; then the abort claim, which the first push turns into
//! `committed`), and the observer that stops it between steps once its turn is lost and
//! forwards each step's report. An abort takes effect at the run's next effect, or when
//! it records its outcome.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use lading_bus::Bus;
use lading_bus::claims::Claim;
use lading_bus::lease::Fence;
use lading_domain::FreightId;
use lading_domain::metadata::{MetadataKind, ProjectMetadata};
use lading_events::catalog::{FreightAliasChangedV2, FreightMetadataSetV1, PromotionCreatedV2, StageMetadataSetV1};
use lading_events::{Event, TraceContext, now_ms};
use lading_projection::Projection;
use lading_remote::Cancellation;
use tokio::runtime::Handle;

use crate::engine::{Effect, EffectGuard, StepObserver, StepReport, Stop};

/// The guard of one run: effects pass only while the turn is held and the promotion
/// was not aborted.
pub struct TurnGuard {
    pub fence: Fence,
    pub bus: Bus,
    pub runtime: Handle,
    pub project: String,
    pub promotion: String,
    /// Whether this run claimed its point of no return.
    committed: AtomicBool,
    refused: Mutex<Option<Stop>>,
    /// Set once the run must stop: work in flight watches it.
    cancel: Cancellation,
}

impl TurnGuard {
    pub fn new(fence: Fence, bus: Bus, runtime: Handle, created: &PromotionCreatedV2) -> Self {
        Self {
            fence,
            bus,
            runtime,
            project: created.project.clone(),
            promotion: created.promotion.clone(),
            committed: AtomicBool::new(false),
            refused: Mutex::new(None),
            cancel: Cancellation::new(),
        }
    }

    /// The flag work in flight watches.
    pub fn cancellation(&self) -> Cancellation {
        self.cancel.clone()
    }

    /// Stops the run: effects are refused from now on and work in flight is cancelled.
    fn refuse(&self, stop: Stop) -> String {
        let message = stop.to_string();
        self.refused.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(stop);
        self.cancel.cancel();
        message
    }

    /// Whether this run claimed its point of no return (`committed`).
    pub fn committed(&self) -> bool {
        self.committed.load(Ordering::SeqCst)
    }

    /// Stops the run between steps once the turn was lost.
    pub fn still_mine(&self) -> Result<(), Stop> {
        self.fence.check().map_err(|lost| Stop::LostTurn(lost.to_string()))
    }
}

impl EffectGuard for TurnGuard {
    fn before_effect(&self, effect: Effect) -> Result<(), String> {
        if let Err(lost) = self.fence.check() {
            return Err(self.refuse(Stop::LostTurn(lost.to_string())));
        }
        if effect != Effect::Push || self.committed.load(Ordering::SeqCst) {
            return Ok(());
        }
        let claimed =
            self.runtime.block_on(self.bus.claim_promotion(&self.project, &self.promotion, &Claim::Committed));
        match claimed {
            Ok(Claim::Committed) => {
                self.committed.store(true, Ordering::SeqCst);
                Ok(())
            }
            Ok(Claim::Aborted { reason, .. }) => Err(self.refuse(Stop::Aborted(reason))),
            // Only a run that waits parks the claim, and one that resumes takes it back
            // before its first step: another run is at work.
            Ok(Claim::Parked) => {
                Err(self.refuse(Stop::LostTurn("the promotion's claim is parked by another run".to_owned())))
            }
            Err(error) => {
                Err(self.refuse(Stop::LostTurn(format!("cannot record the promotion's point of no return: {error}"))))
            }
        }
    }

    fn refused(&self) -> Option<Stop> {
        self.refused.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Watches the run's abort claim and its fence while it runs, and stops it as soon as it
/// was aborted (before its point of no return) or its turn was lost.
pub async fn stop_when_aborted_or_lost(guard: Arc<TurnGuard>) {
    let mut claims = match guard.bus.watch_claim(&guard.project, &guard.promotion).await {
        Ok(claims) => Some(claims),
        Err(error) => {
            tracing::warn!(%error, "cannot watch the promotion's claim; an abort takes effect at its next effect");
            None
        }
    };
    loop {
        let next_claim = async {
            match claims.as_mut() {
                Some(claims) => futures::StreamExt::next(claims).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            claim = next_claim => match claim {
                Some(Claim::Aborted { reason, .. }) if !guard.committed.load(Ordering::SeqCst) => {
                    guard.refuse(Stop::Aborted(reason));
                    return;
                }
                Some(_) => {}
                None => claims = None,
            },
            () = tokio::time::sleep(lading_bus::lease::RENEWAL_INTERVAL / 5) => {
                if let Err(lost) = guard.fence.check() {
                    guard.refuse(Stop::LostTurn(lost.to_string()));
                    return;
                }
            }
        }
    }
}

/// Stops a promotion between steps once it was aborted or its turn lost, forwards step
/// reports to be published, changes aliases for `set-freight-alias` and metadata for
/// `set-metadata`.
pub struct RunObserver<'a> {
    pub guard: &'a TurnGuard,
    pub projection: Projection,
    /// The specs, to know the project's stages.
    pub specs: lading_bus::SpecStore,
    pub created: PromotionCreatedV2,
    pub reports: tokio::sync::mpsc::UnboundedSender<StepReport>,
    pub failpoint: Option<String>,
    pub trace: TraceContext,
}

impl StepObserver for RunObserver<'_> {
    fn set_freight_alias(&mut self, freight: &FreightId, alias: &str) -> Result<(), String> {
        self.guard.before_effect(Effect::Call)?;
        let project = self.created.project.clone();
        let previous = self
            .projection
            .read(|m| m.project(&project)?.freight.get(freight).map(|f| f.freight.alias.clone()))
            .ok_or_else(|| format!("freight {freight} is unknown in project {project:?}"))?;
        if previous == alias {
            return Ok(());
        }
        let (bus, trace, freight) = (self.guard.bus.clone(), self.trace, freight.clone());
        let actor = format!("promotion/{}", self.created.promotion);
        // Steps run on a blocking thread: wait here for NATS.
        self.guard.runtime.block_on(async move {
            match bus.change_alias(&project, &freight, alias, &previous).await.map_err(|e| e.to_string())? {
                lading_bus::aliases::AliasChange::TakenBy(other) => {
                    Err(format!("alias {alias:?} belongs to freight {}", other.get(..7).unwrap_or(&other)))
                }
                lading_bus::aliases::AliasChange::Claimed => {
                    let event = Event::FreightAliasChangedV2(FreightAliasChangedV2 {
                        project,
                        freight_id: freight.to_string(),
                        alias: alias.to_owned(),
                        previous_alias: previous,
                        actor,
                        changed_at_ms: now_ms(),
                    });
                    bus.publish(&event, &trace).await.map(|_| ()).map_err(|e| e.to_string())
                }
            }
        })
    }

    fn project_metadata(&self) -> ProjectMetadata {
        let project = &self.created.project;
        self.projection
            .read(|m| {
                let model = m.project(project)?;
                Some(ProjectMetadata {
                    freight: model
                        .freight
                        .iter()
                        .filter(|(_, f)| !f.metadata.is_empty())
                        .map(|(id, f)| (id.to_string(), f.metadata.clone()))
                        .collect(),
                    stages: model
                        .stages
                        .iter()
                        .filter(|(_, s)| !s.metadata.is_empty())
                        .map(|(name, s)| (name.clone(), s.metadata.clone()))
                        .collect(),
                })
            })
            .unwrap_or_default()
    }

    fn set_metadata(&mut self, kind: MetadataKind, name: &str, values: &str) -> Result<String, String> {
        let project = self.created.project.clone();
        let known = match kind {
            MetadataKind::Freight => {
                self.projection.read(|m| m.project(&project)?.find_freight(name).map(|f| f.id.to_string()))
            }
            MetadataKind::Stage => self.specs.read(|s| s.stage(&project, name).is_some()).then(|| name.to_owned()),
        };
        let Some(name) = known else {
            let kind = match kind {
                MetadataKind::Freight => "freight",
                MetadataKind::Stage => "stage",
            };
            return Err(format!("{kind} {name:?} is unknown in project {project:?}"));
        };
        self.guard.before_effect(Effect::Call)?;
        let actor = format!("promotion/{}", self.created.promotion);
        let (values, set_at_ms) = (values.to_owned(), now_ms());
        let event = match kind {
            MetadataKind::Freight => Event::FreightMetadataSet(FreightMetadataSetV1 {
                project,
                freight_id: name.clone(),
                values,
                actor,
                set_at_ms,
            }),
            MetadataKind::Stage => {
                Event::StageMetadataSet(StageMetadataSetV1 { project, stage: name.clone(), values, actor, set_at_ms })
            }
        };
        let (bus, trace) = (self.guard.bus.clone(), self.trace);
        // Steps run on a blocking thread: wait here for NATS.
        self.guard
            .runtime
            .block_on(async move { bus.publish(&event, &trace).await.map(|_| ()).map_err(|e| e.to_string()) })?;
        Ok(name)
    }

    fn before_step(&mut self, _index: usize) -> Result<(), Stop> {
        self.guard.still_mine()
    }

    fn step_finished(&mut self, report: StepReport) {
        // A run that lost its turn records nothing more.
        if self.guard.fence.check().is_err() {
            return;
        }
        let crash = self.failpoint.as_deref() == Some(&format!("after-step:{}", report.uses));
        let _ = self.reports.send(report);
        if crash {
            tracing::error!(failpoint = self.failpoint, "failpoint reached: aborting the process");
            std::process::abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use lading_events::catalog::PromotionTrigger;

    use super::*;

    /// A guard over a run whose turn was already lost. Its bus reaches no server: a run
    /// that lost its turn must be refused before it asks NATS anything.
    async fn guard_after_a_lost_turn() -> TurnGuard {
        let fence = Fence::unbounded();
        fence.close();
        let bus = Bus::connect("nats://127.0.0.1:1", "test").await.expect("connecting lazily");
        let created = PromotionCreatedV2 {
            project: "demo".into(),
            stage: "test".into(),
            promotion: "test.01.aaaaaaa".into(),
            freight_id: "f".repeat(40),
            trigger: PromotionTrigger::Auto,
            actor: "test".into(),
            created_at_ms: 1,
        };
        TurnGuard::new(fence, bus, Handle::current(), &created)
    }

    #[tokio::test]
    async fn a_run_that_lost_its_turn_is_refused_right_before_a_push_or_a_call_and_stops() {
        for effect in [Effect::Call, Effect::Push] {
            // Given a run whose stage lease was lost (its fence closed), which nothing
            // else has stopped yet,
            let guard = guard_after_a_lost_turn().await;
            // when a step asks before its effect,
            let refused = guard.before_effect(effect);
            // then the effect is refused, and the run stops with its turn lost.
            assert!(refused.unwrap_err().contains("lost its turn"), "{effect:?}");
            assert!(matches!(guard.refused(), Some(Stop::LostTurn(_))), "{effect:?}");
            assert!(guard.cancellation().is_cancelled(), "{effect:?}");
        }
    }
}
