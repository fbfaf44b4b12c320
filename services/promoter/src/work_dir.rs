//! The promoter's work directory: promotion workspaces (`promotions/<promotion>`, and
//! `.tmp*` from earlier versions) and Git mirrors. A promoter that starts while no other
//! holds the directory removes the workspaces a killed predecessor left behind, except
//! those kept for a waiting promotion (marked with the wait they belong to); two
//! promoters sharing one directory leave each other's alone.

use std::fs::File;
use std::path::Path;

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
}
