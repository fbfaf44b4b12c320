//! `copy` inside a workspace: a file, or a directory tree, where files are copied by
//! content, directories are walked, and symlinks are copied as symlinks only when they
//! lead inside the workspace both where they are and where they are copied to. Any
//! other symlink, and any device, FIFO or socket, refuses the whole copy before anything
//! is written, so nothing outside is ever read or reached through the copy.

use std::path::{Path, PathBuf};

use super::{EntryKind, Field, Workspace, WorkspaceError};

/// One entry of the source tree, as found by the walk.
pub(super) enum Entry {
    Directory(PathBuf),
    File(PathBuf),
    Symlink { path: PathBuf, target: PathBuf },
}

/// Copies `from` to `to`. A file is copied to `to`; a directory's entries go into `to`.
pub(super) fn copy(workspace: &Workspace, from: Field<'_>, to: Field<'_>) -> Result<(), WorkspaceError> {
    let source = workspace.canonical(from, Path::new(from.path))?;
    match workspace.kind(from, &source)? {
        Some(EntryKind::File) => copy_file(workspace, from, &source, to, Path::new(to.path)),
        Some(EntryKind::Directory) => {
            let entries = walk(workspace, from, &source)?;
            workspace.create_dir_all(to, Path::new(to.path))?;
            let destination = workspace.canonical(to, Path::new(to.path))?;
            if destination.starts_with(&source) || source == Path::new(".") {
                return Err(WorkspaceError::CopyIntoItself {
                    field: to.field.to_owned(),
                    path: to.path.to_owned(),
                    source_field: from.field.to_owned(),
                    source_path: from.path.to_owned(),
                });
            }
            for entry in &entries {
                copy_entry(workspace, from, &source, entry, to, &destination)?;
            }
            Ok(())
        }
        Some(EntryKind::Other) => Err(WorkspaceError::SpecialFile {
            field: from.field.to_owned(),
            path: from.path.to_owned(),
            entry: ".".to_owned(),
        }),
        None => Err(WorkspaceError::NotFound { field: from.field.to_owned(), path: from.path.to_owned() }),
    }
}

/// Every entry under the directory `root` (workspace-relative, resolved), parents before
/// children, checked: a symlink that leads outside from where it is refuses the copy.
pub(super) fn walk(workspace: &Workspace, from: Field<'_>, root: &Path) -> Result<Vec<Entry>, WorkspaceError> {
    let mut entries = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let listing = workspace.dir().read_dir(&dir).map_err(|e| from.error("listing", e))?;
        for item in listing {
            let item = item.map_err(|e| from.error("listing", e))?;
            let path = dir.join(item.file_name());
            let file_type = item.file_type().map_err(|e| from.error("reading", e))?;
            let relative = || path.strip_prefix(root).unwrap_or(&path).display().to_string();
            if file_type.is_dir() {
                pending.push(path.clone());
                entries.push(Entry::Directory(path));
            } else if file_type.is_file() {
                entries.push(Entry::File(path));
            } else if file_type.is_symlink() {
                let target = workspace.dir().read_link_contents(&path).map_err(|e| from.error("reading", e))?;
                if !workspace.link_leads_inside(&dir, &target) {
                    return Err(WorkspaceError::SymlinkOutside {
                        field: from.field.to_owned(),
                        path: from.path.to_owned(),
                        link: relative(),
                    });
                }
                entries.push(Entry::Symlink { path, target });
            } else {
                return Err(WorkspaceError::SpecialFile {
                    field: from.field.to_owned(),
                    path: from.path.to_owned(),
                    entry: relative(),
                });
            }
        }
    }
    Ok(entries)
}

fn copy_entry(
    workspace: &Workspace,
    from: Field<'_>,
    source: &Path,
    entry: &Entry,
    to: Field<'_>,
    destination: &Path,
) -> Result<(), WorkspaceError> {
    let place = |path: &Path| destination.join(path.strip_prefix(source).unwrap_or(path));
    match entry {
        Entry::Directory(path) => workspace.create_dir_all(to, &place(path)),
        Entry::File(path) => copy_file(workspace, from, path, to, &place(path)),
        Entry::Symlink { path, target } => {
            let link = place(path);
            let link_dir = link.parent().unwrap_or(Path::new("."));
            let link_dir = workspace.canonical(to, link_dir)?;
            if !workspace.link_leads_inside(&link_dir, target) {
                return Err(WorkspaceError::SymlinkOutside {
                    field: from.field.to_owned(),
                    path: from.path.to_owned(),
                    link: path.strip_prefix(source).unwrap_or(path).display().to_string(),
                });
            }
            // A file or symlink already there is replaced; a directory is not.
            if let Ok(meta) = workspace.dir().symlink_metadata(&link)
                && !meta.is_dir()
            {
                workspace.dir().remove_file(&link).map_err(|e| to.error("replacing", e))?;
            }
            workspace.dir().symlink(target, &link).map_err(|e| to.error("writing", e))
        }
    }
}

fn copy_file(
    workspace: &Workspace,
    from: Field<'_>,
    source: &Path,
    to: Field<'_>,
    destination: &Path,
) -> Result<(), WorkspaceError> {
    if let Some(parent) = destination.parent().filter(|p| !p.as_os_str().is_empty()) {
        workspace.create_dir_all(to, parent)?;
    }
    // Opening the source is confined as well: a file swapped for a symlink after the
    // walk still cannot be read from outside.
    let dir = workspace.dir();
    let mut reader = dir.open(source).map_err(|e| from.error("reading", e))?;
    let permissions = reader.metadata().map_err(|e| from.error("reading", e))?.permissions();
    let mut writer = dir.create(destination).map_err(|e| to.error("writing", e))?;
    std::io::copy(&mut reader, &mut writer).map_err(|e| to.error("writing", e))?;
    writer.set_permissions(permissions).map_err(|e| to.error("writing", e))
}
