//! The workspace against real directories: what it refuses, and that refusing reads and
//! writes nothing outside.

use std::os::unix::fs::symlink;
use std::path::Path;

use super::*;

struct Setup {
    workspace_dir: tempfile::TempDir,
    outside: tempfile::TempDir,
    workspace: Workspace,
}

const CANARY: &str = "canary-3f9a1c: outside the workspace\n";

fn setup() -> Setup {
    let workspace_dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("canary"), CANARY).unwrap();
    let workspace = Workspace::open(workspace_dir.path()).unwrap();
    Setup { workspace_dir, outside, workspace }
}

impl Setup {
    fn link(&self, name: &str, target: impl AsRef<Path>) {
        let link = self.workspace_dir.path().join(name);
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        symlink(target, link).unwrap();
    }

    fn outside_untouched(&self) {
        let names: Vec<_> = std::fs::read_dir(self.outside.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec!["canary"], "nothing new outside");
        assert_eq!(std::fs::read_to_string(self.outside.path().join("canary")).unwrap(), CANARY);
    }
}

fn at(path: &str) -> Field<'_> {
    Field::new("config.path", path)
}

fn outside_error(path: &str) -> WorkspaceError {
    WorkspaceError::Outside { field: "config.path".into(), path: path.into() }
}

#[test]
fn relative_paths_inside_are_read_and_written() {
    let s = setup();
    s.workspace.write(at("a/b/c.yaml"), Path::new("a/b/c.yaml"), "x: 1\n").unwrap();
    assert_eq!(s.workspace.read(at("a/./b/../b/c.yaml"), Path::new("a/./b/../b/c.yaml")).unwrap(), "x: 1\n");
    s.link("inside", "a/b");
    assert_eq!(s.workspace.read(at("inside/c.yaml"), Path::new("inside/c.yaml")).unwrap(), "x: 1\n");
    assert_eq!(s.workspace.canonical(at("inside"), Path::new("inside")).unwrap(), Path::new("a/b"));
}

#[test]
fn absolute_and_climbing_paths_are_refused() {
    let s = setup();
    let canary = s.outside.path().join("canary");
    let canary = canary.to_str().unwrap();
    assert_eq!(s.workspace.read(at(canary), Path::new(canary)).unwrap_err(), outside_error(canary));
    let climbing = format!("a/../../{}", s.outside.path().file_name().unwrap().to_str().unwrap());
    s.workspace.create_dir_all(at("a"), Path::new("a")).unwrap();
    assert_eq!(
        s.workspace.write(at(&climbing), &Path::new(&climbing).join("new"), "x").unwrap_err(),
        outside_error(&climbing)
    );
    s.outside_untouched();
}

#[test]
fn symlinks_out_are_refused_for_reads_writes_and_listings() {
    let s = setup();
    s.link("file-link", s.outside.path().join("canary"));
    s.link("dir-link", s.outside.path());
    s.link("dangling", s.outside.path().join("created-by-promotion"));
    s.link("relative-dangling", "../../../../../../../../tmp/created-by-promotion");
    let err = s.workspace.read(at("file-link"), Path::new("file-link")).unwrap_err();
    assert_eq!(err, outside_error("file-link"));
    assert!(!err.to_string().contains("canary"), "{err}");
    assert_eq!(
        s.workspace.read_if_exists(at("dangling"), Path::new("dangling")).unwrap_err(),
        outside_error("dangling")
    );
    for path in ["dangling", "relative-dangling", "dir-link/new", "file-link"] {
        assert_eq!(s.workspace.write(at(path), Path::new(path), "pwned").unwrap_err(), outside_error(path), "{path}");
    }
    assert_eq!(
        s.workspace.create_dir_all(at("dir-link/x"), Path::new("dir-link/x")).unwrap_err(),
        outside_error("dir-link/x")
    );
    assert_eq!(s.workspace.is_empty_dir(at("dir-link"), Path::new("dir-link")).unwrap_err(), outside_error("dir-link"));
    assert_eq!(s.workspace.host_path(at("dir-link"), Path::new("dir-link")).unwrap_err(), outside_error("dir-link"));
    assert!(!Path::new("/tmp/created-by-promotion").exists());
    s.outside_untouched();
}

#[test]
fn removing_a_symlink_removes_the_link_not_its_target() {
    let s = setup();
    s.link("dir-link", s.outside.path());
    assert!(s.workspace.remove(at("dir-link"), Path::new("dir-link")).unwrap());
    assert!(!s.workspace_dir.path().join("dir-link").exists());
    assert!(!s.workspace.remove(at("missing"), Path::new("missing")).unwrap());
    assert!(!s.workspace.remove(at("a/.."), Path::new("a/..")).unwrap(), "a does not exist");
    s.workspace.create_dir_all(at("a"), Path::new("a")).unwrap();
    for whole in [".", "a/..", "./a/../."] {
        let refused = s.workspace.remove(at(whole), Path::new(whole));
        assert!(matches!(refused, Err(WorkspaceError::WholeWorkspace { .. })), "{whole:?}: {refused:?}");
    }
    s.outside_untouched();
}

#[test]
fn clearing_a_directory_keeps_what_is_kept_and_never_follows_links() {
    let s = setup();
    s.workspace.write(at("out/.git/HEAD"), Path::new("out/.git/HEAD"), "ref").unwrap();
    s.workspace.write(at("out/sub/file"), Path::new("out/sub/file"), "x").unwrap();
    s.link("out/dir-link", s.outside.path());
    s.workspace.clear_dir(at("out"), Path::new("out"), &[".git"]).unwrap();
    let left: Vec<_> =
        std::fs::read_dir(s.workspace_dir.path().join("out")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, vec![".git"]);
    s.outside_untouched();
}

#[test]
fn copies_keep_inside_symlinks_and_refuse_outside_ones() {
    let s = setup();
    s.workspace.write(at("src/a.txt"), Path::new("src/a.txt"), "a").unwrap();
    s.link("src/to-a", "a.txt");
    s.workspace.copy(Field::new("config.inPath", "src"), Field::new("config.outPath", "out/copy")).unwrap();
    let copied = s.workspace_dir.path().join("out/copy");
    assert_eq!(std::fs::read_link(copied.join("to-a")).unwrap(), Path::new("a.txt"));
    assert_eq!(std::fs::read_to_string(copied.join("to-a")).unwrap(), "a");

    s.link("src/environ", "/proc/self/environ");
    let err = s.workspace.copy(Field::new("config.inPath", "src"), Field::new("config.outPath", "out2")).unwrap_err();
    assert_eq!(
        err,
        WorkspaceError::SymlinkOutside { field: "config.inPath".into(), path: "src".into(), link: "environ".into() }
    );
    assert!(!s.workspace_dir.path().join("out2").exists(), "nothing is copied when one link leads out");
    s.outside_untouched();
}

#[test]
fn a_link_that_stays_inside_where_it_is_may_lead_out_where_it_is_copied() {
    let s = setup();
    s.workspace.write(at("a/b/c/file"), Path::new("a/b/c/file"), "x").unwrap();
    s.link("a/b/c/up", "../../b");
    let err = s.workspace.copy(Field::new("config.inPath", "a/b/c"), Field::new("config.outPath", "x")).unwrap_err();
    assert!(matches!(err, WorkspaceError::SymlinkOutside { ref link, .. } if link == "up"), "{err}");
}

#[test]
fn copying_a_directory_into_itself_is_refused() {
    let s = setup();
    s.workspace.write(at("src/a"), Path::new("src/a"), "a").unwrap();
    let err =
        s.workspace.copy(Field::new("config.inPath", "src"), Field::new("config.outPath", "src/inner")).unwrap_err();
    assert!(matches!(err, WorkspaceError::CopyIntoItself { .. }), "{err}");
}

#[test]
fn links_lead_inside_when_their_existing_part_resolves_beneath_and_the_rest_descends() {
    let s = setup();
    s.workspace.create_dir_all(at("a/b"), Path::new("a/b")).unwrap();
    s.link("a/out", s.outside.path());
    let inside = |dir: &str, target: &str| s.workspace.link_leads_inside(Path::new(dir), Path::new(target));
    assert!(inside("a", "b"));
    assert!(inside("a", "../a/b/not-yet/deeper"));
    assert!(!inside("a", "/etc/passwd"));
    assert!(!inside("a", "../.."));
    assert!(!inside("a", "out/canary"));
    assert!(!inside("a", "not-yet/../../.."));
}

#[test]
fn messages_name_paths_relative_to_the_workspace() {
    let s = setup();
    let host = s.workspace.host_root().join("out");
    let message = format!("could not find repository at '{}'", host.display());
    assert_eq!(s.workspace.relativize(&message), "could not find repository at 'out'");
    let given = format!("'{}' is not empty", s.workspace_dir.path().display());
    assert_eq!(s.workspace.relativize(&given), "'.' is not empty");
}
