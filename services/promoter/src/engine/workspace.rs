//! A promotion's workspace: a temporary directory every step path must stay inside.

use std::path::{Component, Path, PathBuf};

/// Resolves `relative` inside `workspace`, rejecting absolute paths, `..` escapes and
/// symlinks that lead outside.
pub fn resolve(workspace: &Path, relative: &str) -> Result<PathBuf, String> {
    let candidate = Path::new(relative);
    if candidate.is_absolute() {
        return Err(format!("path {relative:?} must be relative to the promotion's workspace"));
    }
    let mut resolved = workspace.to_path_buf();
    for component in candidate.components() {
        match component {
            Component::CurDir => {}
            Component::Normal(part) => resolved.push(part),
            Component::ParentDir => {
                if resolved == workspace || !resolved.pop() {
                    return Err(format!("path {relative:?} leaves the promotion's workspace"));
                }
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!("path {relative:?} must be relative to the promotion's workspace"));
            }
        }
    }
    // Follow symlinks in the part that exists: it must still be inside the workspace.
    let root = workspace.canonicalize().map_err(|e| format!("workspace unreadable: {e}"))?;
    let mut existing = resolved.as_path();
    while !existing.exists() {
        match existing.parent() {
            Some(parent) => existing = parent,
            None => break,
        }
    }
    if let Ok(real) = existing.canonicalize()
        && !real.starts_with(&root)
    {
        return Err(format!("path {relative:?} leads outside the promotion's workspace through a symlink"));
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_inside_the_workspace() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path();
        assert_eq!(resolve(ws, "./out/values.yaml").unwrap(), ws.join("out/values.yaml"));
        assert_eq!(resolve(ws, "a/../b").unwrap(), ws.join("b"));
        assert!(resolve(ws, "../etc/passwd").unwrap_err().contains("leaves"));
        assert!(resolve(ws, "a/../../x").is_err());
        assert!(resolve(ws, "/etc/passwd").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_out_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
        assert!(resolve(dir.path(), "link/file").unwrap_err().contains("symlink"));
    }
}
