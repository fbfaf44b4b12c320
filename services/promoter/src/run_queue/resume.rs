//! Where a promotion's run begins, and the workspace it runs in.
//!
//! A run that stops at a waiting step (a pull request still open) records
//! `PromotionWaiting` with its step and state, and leaves its workspace on this replica
//! (`<work dir>/promotions/<promotion>/workspace`, beside a marker naming the wait it
//! belongs to). The run that looks again resumes at that step with that state
//! ([`lading_domain::promotion_wait::resume_at`]): in the kept workspace when this
//! replica holds it, in an empty one when no step still to run reads a workspace, and
//! otherwise from the first step in a fresh one, as Kargo does when its work directory
//! is gone (the steps with effects recognise their own earlier work: the promotion's
//! commit by its trailer, its open pull request by its branches).

use std::path::{Path, PathBuf};

use lading_domain::promotion_wait::{Resume, resume_at};
use lading_domain::spec::PromotionStep;
use lading_events::catalog::{PromotionCreatedV2, PromotionWaitingV1};

use crate::Context;
use crate::engine::ResumeFrom;

/// The wait the read model holds for `created`, if its run stopped at one.
pub fn recorded(context: &Context, created: &PromotionCreatedV2) -> Option<PromotionWaitingV1> {
    context.projection.read(|model| {
        let stage = model.project(&created.project)?.stages.get(&created.stage)?;
        stage.promotions.iter().find(|p| p.name == created.promotion)?.waiting.clone()
    })
}

/// Where promotions' workspaces are, in the work directory.
pub const PROMOTIONS_DIR: &str = "promotions";
/// The file naming the wait a kept workspace belongs to.
pub const MARKER_FILE: &str = "waiting-since";

/// The directory a promotion runs in, kept while it waits.
pub struct PromotionDir {
    root: PathBuf,
}

impl PromotionDir {
    /// `None` for a promotion name that is not a plain path component.
    pub fn new(base: &Path, promotion: &str) -> Option<Self> {
        let plain = !promotion.is_empty()
            && !promotion.starts_with('.')
            && promotion.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        plain.then(|| Self { root: base.join(PROMOTIONS_DIR).join(promotion) })
    }

    pub fn workspace(&self) -> PathBuf {
        self.root.join("workspace")
    }

    fn marker(&self) -> PathBuf {
        self.root.join(MARKER_FILE)
    }

    /// Whether this directory holds the workspace of the wait that began at `since_ms`.
    fn kept_for(&self, since_ms: i64) -> bool {
        std::fs::read_to_string(self.marker()).is_ok_and(|text| text.trim() == since_ms.to_string())
            && self.workspace().is_dir()
    }

    /// An empty workspace, in place of whatever was there.
    fn fresh(&self) -> std::io::Result<()> {
        self.remove();
        std::fs::create_dir_all(self.workspace())
    }

    /// Keeps the workspace for the wait that began at `since_ms`.
    pub fn keep_for(&self, since_ms: i64) {
        if let Err(error) = std::fs::write(self.marker(), since_ms.to_string()) {
            tracing::warn!(%error, "cannot mark the waiting promotion's workspace; a resumed run will not use it");
        }
    }

    pub fn remove(&self) {
        match std::fs::remove_dir_all(&self.root) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => tracing::warn!(%error, "cannot remove a promotion's workspace"),
        }
    }
}

/// Where the run begins, its workspace ready (kept or fresh).
pub fn plan(
    dir: &PromotionDir,
    recorded: Option<&PromotionWaitingV1>,
    steps: &[PromotionStep],
) -> std::io::Result<Option<ResumeFrom>> {
    let uses: Vec<&str> = steps.iter().map(|s| s.uses.as_str()).collect();
    let kept = recorded.is_some_and(|w| dir.kept_for(w.waiting_since_ms));
    let at = resume_at(recorded.map(|w| (w.index as usize, w.uses.as_str())), &uses, kept);
    match at {
        // A run that dies from here leaves a workspace its later steps changed: it is not
        // resumed in again.
        Resume::InKeptWorkspace(_) => std::fs::remove_file(dir.marker())?,
        Resume::InEmptyWorkspace(_) | Resume::FromStart => dir.fresh()?,
    }
    Ok(recorded.filter(|_| at != Resume::FromStart).map(|wait| ResumeFrom {
        index: at.index(),
        state: wait.state.clone(),
        since_ms: wait.waiting_since_ms,
    }))
}
