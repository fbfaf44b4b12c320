//! The promoter's work directory: promotion workspaces (`promotions/<promotion>`, and
//! `.tmp*` from earlier versions) and Git mirrors. A promoter that starts while no other
//! holds the directory removes the workspaces a killed predecessor left behind, except
//! those kept for a waiting promotion (marked with the wait they belong to); two
//! promoters sharing one directory leave each other's alone.
//!
//! A workspace kept for a waiting promotion goes once that promotion ended, on whichever
//! replica, or once its wait began more than twice `LADING_PULL_REQUEST_WAIT` ago
//! ([`lading_domain::promotion_wait::kept_workspace_stale`]): swept at start-up, once the
//! read model caught up with the log, and every `LADING_KEPT_WORKSPACE_SWEEP_INTERVAL`.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use lading_domain::promotion_wait::{KeptWorkspace, kept_workspace_stale};
use lading_runtime::Shutdown;

use crate::Context;

/// How long to wait for the read model to reach the log's end before a sweep.
const CATCH_UP: Duration = Duration::from_secs(10);

/// The lock file a running promoter holds in its work directory.
pub const LOCK_FILE: &str = ".lading-promoter.lock";
/// The prefix of promotion workspace directories.
pub const WORKSPACE_PREFIX: &str = ".tmp";

/// Takes the work directory for this process when no other promoter holds it, removing
/// leftover workspaces; returns the lock to keep while running (`None` when another
/// promoter holds the directory: nothing is removed then).
pub fn claim(work_dir: &Path) -> std::io::Result<Option<File>> {
    std::fs::create_dir_all(work_dir)?;
    let lock = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(work_dir.join(LOCK_FILE))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
        Err(std::fs::TryLockError::Error(e)) => return Err(e),
    }
    let mut removed = 0;
    for entry in std::fs::read_dir(work_dir)? {
        let entry = entry?;
        let leftover = entry.file_name().to_str().is_some_and(|n| n.starts_with(WORKSPACE_PREFIX));
        if leftover && entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(entry.path())?;
            removed += 1;
        }
    }
    let promotions = work_dir.join(crate::run_queue::PROMOTIONS_DIR);
    if let Ok(entries) = std::fs::read_dir(&promotions) {
        for entry in entries {
            let entry = entry?;
            if entry.file_type()?.is_dir() && !entry.path().join(crate::run_queue::MARKER_FILE).is_file() {
                std::fs::remove_dir_all(entry.path())?;
                removed += 1;
            }
        }
    }
    if removed > 0 {
        tracing::info!(removed, work_dir = %work_dir.display(), "removed workspaces left by a stopped promoter");
    }
    Ok(Some(lock))
}

/// Removes the workspaces kept in `work_dir` for waiting promotions that `ended` (by
/// name) or whose wait began more than `bound` before `now_ms`; returns how many went.
pub fn sweep_kept(work_dir: &Path, now_ms: i64, bound: Duration, ended: impl Fn(&str) -> bool) -> usize {
    let Ok(entries) = std::fs::read_dir(work_dir.join(crate::run_queue::PROMOTIONS_DIR)) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let Some(promotion) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let marker = std::fs::read_to_string(entry.path().join(crate::run_queue::MARKER_FILE));
        let kept = KeptWorkspace {
            waiting_since_ms: marker.ok().and_then(|text| text.trim().parse().ok()),
            promotion_ended: ended(&promotion),
        };
        if !kept_workspace_stale(kept, now_ms, bound) {
            continue;
        }
        match std::fs::remove_dir_all(entry.path()) {
            Ok(()) => removed += 1,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => tracing::warn!(%error, promotion, "cannot remove a kept workspace"),
        }
    }
    removed
}

/// Sweeps kept workspaces at start-up and then every `kept_workspace_sweep`, deciding
/// from a read model caught up with the log.
pub async fn run_sweeps(context: Arc<Context>, shutdown: Shutdown) -> Result<(), crate::Error> {
    let base = context.config.work_dir.clone().unwrap_or_else(std::env::temp_dir);
    let bound = context.config.remotes.budgets.pull_request_wait.value.saturating_mul(2);
    loop {
        let caught_up = match context.projection.latest_sequence().await {
            Ok(end) => context.projection.wait_for(end, CATCH_UP).await,
            Err(_) => false,
        };
        if caught_up {
            let ended = |promotion: &str| ended(&context, promotion);
            let removed = sweep_kept(&base, lading_events::now_ms(), bound, ended);
            if removed > 0 {
                tracing::info!(removed, work_dir = %base.display(), "removed workspaces kept for promotions that ended or waited too long");
            }
        } else {
            tracing::warn!("the read model is behind the log; kept workspaces are swept next time");
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(context.config.kept_workspace_sweep) => {}
        }
    }
}

/// Whether the read model holds `promotion` as ended (in any project and stage).
fn ended(context: &Context, promotion: &str) -> bool {
    context.projection.read(|model| {
        model
            .projects
            .values()
            .flat_map(|project| project.stages.values())
            .find_map(|stage| stage.promotion(promotion))
            .is_some_and(|found| found.phase.is_terminal())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftover_workspaces_are_removed_unless_another_promoter_holds_the_directory() {
        // Given a work directory with a workspace left behind and a mirror,
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".tmpAbC123/repo")).unwrap();
        std::fs::create_dir_all(dir.path().join("lading-git-mirrors/r1")).unwrap();
        std::fs::create_dir_all(dir.path().join("promotions/kept/workspace")).unwrap();
        std::fs::write(dir.path().join("promotions/kept/waiting-since"), "1").unwrap();
        std::fs::create_dir_all(dir.path().join("promotions/killed/workspace/repo")).unwrap();
        // when a promoter claims it, then the workspace goes and the mirror stays;
        let held = claim(dir.path()).unwrap();
        assert!(held.is_some());
        assert!(!dir.path().join(".tmpAbC123").exists());
        assert!(dir.path().join("lading-git-mirrors/r1").exists());
        // and a waiting promotion's kept workspace stays, while an unmarked one goes;
        assert!(dir.path().join("promotions/kept/waiting-since").exists());
        assert!(!dir.path().join("promotions/killed").exists());
        // and while it holds it, a second promoter removes nothing.
        std::fs::create_dir_all(dir.path().join(".tmpLive")).unwrap();
        assert!(claim(dir.path()).unwrap().is_none());
        assert!(dir.path().join(".tmpLive").exists());
        drop(held);
        assert!(claim(dir.path()).unwrap().is_some());
        assert!(!dir.path().join(".tmpLive").exists());
    }

    #[test]
    fn kept_workspaces_of_ended_or_long_waiting_promotions_are_swept_and_the_rest_stay() {
        // Given kept workspaces: one whose promotion ended, one whose wait began long
        // ago, one still waiting, and one a run is using (no marker),
        let dir = tempfile::tempdir().unwrap();
        for (name, marker) in [("ended", Some("900")), ("old", Some("1")), ("waiting", Some("900")), ("running", None)]
        {
            std::fs::create_dir_all(dir.path().join("promotions").join(name).join("workspace")).unwrap();
            if let Some(marker) = marker {
                std::fs::write(dir.path().join("promotions").join(name).join("waiting-since"), marker).unwrap();
            }
        }
        // when swept at 1000 with a bound of 500 ms,
        let removed = sweep_kept(dir.path(), 1_000, Duration::from_millis(500), |p| p == "ended" || p == "running");
        // then the ended one and the old one go, the others stay.
        assert_eq!(removed, 2);
        let left: std::collections::BTreeSet<_> = std::fs::read_dir(dir.path().join("promotions"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(left, ["running".to_owned(), "waiting".to_owned()].into());
    }
}
