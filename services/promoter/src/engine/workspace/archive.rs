//! Tar archives inside a workspace (`tar`, `untar`), confined like every other access.
//!
//! Packing walks the tree as `copy` does: a symlink is stored as a symlink only when it
//! leads inside the workspace, and any other symlink or special file refuses the archive.
//! Unpacking writes every entry beneath the target directory through the workspace: an
//! absolute name or a `..` component, a hard link, a device, or a symlink that would lead
//! outside refuses the archive, and so does an archive that unpacks to more than its
//! budget of bytes or entries (a tar bomb).

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use super::tree_copy::{Entry, walk};
use super::{EntryKind, Field, Workspace, WorkspaceError};

/// What unpacking one archive may cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnpackBudget {
    pub max_bytes: u64,
    pub max_entries: u64,
}

impl Default for UnpackBudget {
    fn default() -> Self {
        Self { max_bytes: 512 << 20, max_entries: 100_000 }
    }
}

/// `.gitignore`-style patterns, one a line.
pub fn ignore_patterns(field: &str, text: Option<&str>) -> Result<Gitignore, String> {
    let mut builder = GitignoreBuilder::new("");
    for line in text.unwrap_or_default().lines() {
        builder.add_line(None, line).map_err(|e| format!("{field}: {e}"))?;
    }
    builder.build().map_err(|e| format!("{field}: {e}"))
}

fn ignored(patterns: &Gitignore, path: &Path, is_dir: bool) -> bool {
    !path.as_os_str().is_empty() && patterns.matched_path_or_any_parents(path, is_dir).is_ignore()
}

fn invalid(at: Field<'_>, reason: impl std::fmt::Display) -> WorkspaceError {
    WorkspaceError::Io {
        field: at.field.to_owned(),
        path: at.path.to_owned(),
        action: "archiving",
        reason: reason.to_string(),
    }
}

impl Workspace {
    /// Packs the file or directory `from` into a tar file at `to` (gzipped with `gzip`),
    /// leaving out what `ignore` matches.
    pub fn tar(&self, from: Field<'_>, to: Field<'_>, gzip: bool, ignore: &Gitignore) -> Result<(), WorkspaceError> {
        self.prepare(Path::new(from.path), super::Scope::Tree)?;
        self.prepare(Path::new(to.path), super::Scope::Entry)?;
        let source = self.canonical(from, Path::new(from.path))?;
        let base: PathBuf = source.file_name().map(PathBuf::from).unwrap_or_default();
        let entries = match self.kind(from, &source)? {
            Some(EntryKind::Directory) => walk(self, from, &source)?,
            Some(EntryKind::File) => vec![Entry::File(source.clone())],
            _ => {
                return Err(WorkspaceError::SpecialFile {
                    field: from.field.to_owned(),
                    path: from.path.to_owned(),
                    entry: ".".to_owned(),
                });
            }
        };
        let out = Path::new(to.path);
        if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
            self.create_dir_all(to, parent)?;
        }
        let file = self.dir().create(out).map_err(|e| to.error("writing", e))?;
        let out_canonical = self.canonical(to, out)?;
        let writer: Box<dyn Write> = if gzip {
            Box::new(flate2::write::GzEncoder::new(file, flate2::Compression::default()))
        } else {
            Box::new(file)
        };
        let mut builder = tar::Builder::new(writer);
        builder.follow_symlinks(false);
        for entry in &entries {
            let (path, is_dir) = match entry {
                Entry::Directory(p) => (p, true),
                Entry::File(p) | Entry::Symlink { path: p, .. } => (p, false),
            };
            if path == &out_canonical {
                continue;
            }
            let relative = path.strip_prefix(&source).unwrap_or(Path::new(""));
            if ignored(ignore, relative, is_dir) {
                continue;
            }
            let name = if relative.as_os_str().is_empty() { base.clone() } else { relative.to_path_buf() };
            let mut header = tar::Header::new_gnu();
            match entry {
                Entry::Directory(_) => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_mode(0o755);
                    header.set_size(0);
                    builder.append_data(&mut header, &name, std::io::empty()).map_err(|e| to.error("writing", e))?;
                }
                Entry::File(p) => {
                    let file = self.dir().open(p).map_err(|e| from.error("reading", e))?;
                    let meta = file.metadata().map_err(|e| from.error("reading", e))?;
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_size(meta.len());
                    header.set_mode(if cap_std::fs::PermissionsExt::mode(&meta.permissions()) & 0o111 != 0 {
                        0o755
                    } else {
                        0o644
                    });
                    builder
                        .append_data(&mut header, &name, file.take(meta.len()))
                        .map_err(|e| to.error("writing", e))?;
                }
                Entry::Symlink { target, .. } => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_mode(0o777);
                    header.set_size(0);
                    builder.append_link(&mut header, &name, target).map_err(|e| to.error("writing", e))?;
                }
            }
        }
        let mut writer = builder.into_inner().map_err(|e| to.error("writing", e))?;
        writer.flush().map_err(|e| to.error("writing", e))?;
        drop(writer);
        Ok(())
    }

    /// Unpacks the tar file (gzipped or not) at `from` into the directory `to`, dropping
    /// `strip` leading components of each name and what `ignore` matches.
    pub fn untar(
        &self,
        from: Field<'_>,
        to: Field<'_>,
        strip: usize,
        ignore: &Gitignore,
        budget: UnpackBudget,
    ) -> Result<(), WorkspaceError> {
        self.prepare(Path::new(from.path), super::Scope::Entry)?;
        self.prepare(Path::new(to.path), super::Scope::Tree)?;
        let mut file = self.dir().open(Path::new(from.path)).map_err(|e| from.error("reading", e))?;
        let mut magic = [0u8; 2];
        let gzipped = file.read_exact(&mut magic).is_ok() && magic == [0x1f, 0x8b];
        let file = self.dir().open(Path::new(from.path)).map_err(|e| from.error("reading", e))?;
        let reader: Box<dyn Read> = if gzipped { Box::new(flate2::read::GzDecoder::new(file)) } else { Box::new(file) };
        let mut archive = tar::Archive::new(reader);
        self.create_dir_all(to, Path::new(to.path))?;
        let target = self.canonical(to, Path::new(to.path))?;
        let (mut bytes, mut count) = (0u64, 0u64);
        for entry in archive.entries().map_err(|e| invalid(from, e))? {
            let mut entry = entry.map_err(|e| invalid(from, e))?;
            count += 1;
            if count > budget.max_entries {
                return Err(invalid(from, format!("holds more than {} entries", budget.max_entries)));
            }
            let name = entry.path().map_err(|e| invalid(from, e))?.into_owned();
            let shown = name.display().to_string();
            let mut relative = PathBuf::new();
            for component in name.components() {
                match component {
                    Component::Normal(part) => relative.push(part),
                    Component::CurDir => {}
                    _ => return Err(invalid(from, format!("entry {shown:?} leads outside the archive's directory"))),
                }
            }
            let relative: PathBuf = relative.components().skip(strip).collect();
            let kind = entry.header().entry_type();
            if relative.as_os_str().is_empty() || ignored(ignore, &relative, kind.is_dir()) {
                continue;
            }
            let place = target.join(&relative);
            let parent = place.parent().unwrap_or(Path::new("."));
            match kind {
                tar::EntryType::Directory => self.create_dir_all(to, &place)?,
                tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                    self.create_dir_all(to, parent)?;
                    self.replace_non_directory(to, &place)?;
                    let mut out = self.dir().create(&place).map_err(|e| to.error("writing", e))?;
                    let room = budget.max_bytes - bytes;
                    let written = std::io::copy(&mut (&mut entry).take(room + 1), &mut out)
                        .map_err(|e| to.error("writing", e))?;
                    bytes += written;
                    if bytes > budget.max_bytes {
                        return Err(invalid(from, format!("unpacks to more than {} bytes", budget.max_bytes)));
                    }
                    if entry.header().mode().is_ok_and(|m| m & 0o111 != 0) {
                        let permissions = cap_std::fs::Permissions::from_std(
                            <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755),
                        );
                        out.set_permissions(permissions).map_err(|e| to.error("writing", e))?;
                    }
                }
                tar::EntryType::Symlink => {
                    let link = entry.link_name().map_err(|e| invalid(from, e))?.unwrap_or_default().into_owned();
                    self.create_dir_all(to, parent)?;
                    let parent = self.canonical(to, parent)?;
                    if !self.link_leads_inside(&parent, &link) {
                        return Err(WorkspaceError::SymlinkOutside {
                            field: from.field.to_owned(),
                            path: from.path.to_owned(),
                            link: shown,
                        });
                    }
                    self.replace_non_directory(to, &place)?;
                    self.dir().symlink(&link, &place).map_err(|e| to.error("writing", e))?;
                }
                tar::EntryType::XGlobalHeader | tar::EntryType::XHeader => {}
                other => {
                    return Err(invalid(from, format!("entry {shown:?} is a {other:?}, which is not unpacked")));
                }
            }
        }
        Ok(())
    }

    /// Removes a file or symlink at `path` (not a directory), so it can be written anew.
    fn replace_non_directory(&self, at: Field<'_>, path: &Path) -> Result<(), WorkspaceError> {
        if let Ok(meta) = self.dir().symlink_metadata(path)
            && !meta.is_dir()
        {
            self.dir().remove_file(path).map_err(|e| at.error("replacing", e))?;
        }
        Ok(())
    }
}
