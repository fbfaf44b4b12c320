//! A canary: a directory outside every workspace holding a file with a unique secret,
//! plus bait files a test plants there. A test asserts that no promotion wrote there
//! (no file changed, none appeared) and that the secret reached no repository, status,
//! error or log.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The canary directory; removed on drop. Its path is lowercase (kustomize-build tests
/// aim rendered file names at it, and those are lowercased).
pub struct Canary {
    dir: PathBuf,
    /// A string that appears in the canary files and nowhere else.
    pub secret: String,
    planted: BTreeMap<String, String>,
}

impl Canary {
    /// A new canary directory with `credentials` holding the secret.
    pub fn new() -> Canary {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let id = format!("{}-{n}-{nanos}", std::process::id());
        let dir = std::env::temp_dir().join(format!("lading-canary-{id}"));
        std::fs::create_dir_all(&dir).unwrap();
        let secret = format!("canary-secret-{id}");
        let mut canary = Canary { dir, secret: secret.clone(), planted: BTreeMap::new() };
        canary.plant("credentials", &format!("password: {secret}\n"));
        canary
    }

    /// Writes `contents` to `name` in the canary directory; it must stay as it is.
    pub fn plant(&mut self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        self.planted.insert(name.to_owned(), contents.to_owned());
        path
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file holding the secret.
    pub fn credentials(&self) -> PathBuf {
        self.dir.join("credentials")
    }

    /// A path in the canary directory that does not exist (and must not come to).
    pub fn missing(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Panics when a planted file changed or anything else appeared in the directory.
    pub fn assert_untouched(&self) {
        let mut found = BTreeMap::new();
        let mut pending = vec![self.dir.clone()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    let name = path.strip_prefix(&self.dir).unwrap().to_string_lossy().into_owned();
                    found.insert(name, std::fs::read_to_string(&path).unwrap_or_default());
                }
            }
        }
        assert_eq!(found, self.planted, "the canary directory changed");
    }

    /// Panics when `text` (named `what`) holds the secret.
    pub fn assert_not_in(&self, what: &str, text: &str) {
        assert!(!text.contains(&self.secret), "the canary's secret reached {what}: {text}");
    }
}

impl Default for Canary {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Canary {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `target` as a relative path from the directory `from` (both absolute): enough `..`
/// to reach `/`, then the target without its leading `/`.
pub fn climbing_path(from: &Path, target: &Path) -> String {
    let depth = from.components().count().saturating_sub(1);
    format!("{}{}", "../".repeat(depth + 2), target.strip_prefix("/").unwrap_or(target).display())
}
