//! The replica's mirror per repository, fetched before each clone (one fetch at a time,
//! clones side by side), and clones made locally from it.

use super::*;

/// A mirror's lock (a fetch is exclusive, clones share it) and when its last fetch began.
#[derive(Default)]
struct Mirror {
    lock: RwLock<Option<Instant>>,
}

/// The state of the mirror in `dir`, shared by the promotions of this process.
fn mirror_lock(dir: &Path) -> Arc<Mirror> {
    static LOCKS: OnceLock<Mutex<HashMap<PathBuf, Arc<Mirror>>>> = OnceLock::new();
    let mut locks = LOCKS.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    locks.entry(dir.to_path_buf()).or_default().clone()
}

/// Brings the mirror of `url` up to date (one incremental fetch of every branch and tag,
/// alone, within the Git budget: connect and idle timeouts, one total deadline and size
/// budget),
/// then clones it locally (hardlinked objects, side by side with other clones) and points
/// `origin` back at `url`, so
/// pushes go to the real remote. A first clone costs what a plain clone does; later
/// ones only fetch what is new.
pub(super) fn clone_via_mirror(
    mirrors: &Path,
    url: &str,
    dest: &Path,
    remotes: &Remotes,
) -> Result<Repository, String> {
    let digest = Sha1::digest(url.as_bytes());
    let dir = mirrors.join(digest.iter().take(10).map(|b| format!("{b:02x}")).collect::<String>());
    let state = mirror_lock(&dir);
    let asked = Instant::now();
    let mut fetching = state.lock.write().unwrap_or_else(|p| p.into_inner());
    // A fetch that began after this promotion asked leaves the mirror fresh enough.
    if fetching.is_some_and(|started| started > asked) {
        drop(fetching);
        return clone_from_mirror(&state, &dir, url, dest);
    }
    *fetching = Some(Instant::now());
    let (mirror, created) = match Repository::open_bare(&dir) {
        Ok(mirror) => (mirror, false),
        Err(_) => {
            fs::create_dir_all(&dir).map_err(|e| format!("creating a mirror: {e}"))?;
            (
                Repository::init_opts(&dir, &without_templates(true)).map_err(|e| git_error("creating a mirror", e))?,
                true,
            )
        }
    };
    let watch = remotes.watch("fetching", url);
    let failed = |e: git2::Error| watch.explain(&e).to_string();
    let mut remote = mirror.remote_anonymous(url).map_err(failed)?;
    // A new mirror's HEAD follows the remote's default branch, so clones check it out.
    let mut default_branch = None;
    if created {
        remote.connect_auth(git2::Direction::Fetch, Some(remotes.callbacks(url, &watch)), None).map_err(failed)?;
        default_branch = remote.default_branch().ok().and_then(|b| b.as_str().ok().map(str::to_owned));
        remote.disconnect().map_err(failed)?;
        watch.check().map_err(|e| e.to_string())?;
    }
    let mut fetch = git2::FetchOptions::new();
    fetch.remote_callbacks(remotes.callbacks(url, &watch));
    fetch.prune(git2::FetchPrune::On);
    fetch.download_tags(git2::AutotagOption::All);
    remote
        .fetch(&["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"], Some(&mut fetch), None)
        .map_err(failed)?;
    lading_remote::packs::housekeep(&mirror, "a promoter's mirror");
    if let Some(branch) = default_branch {
        mirror.set_head(&branch).map_err(|e| git_error("setting the mirror's HEAD", e))?;
    }
    drop(fetching);
    clone_from_mirror(&state, &dir, url, dest)
}

/// Clones the mirror in `dir` locally, side by side with other clones.
fn clone_from_mirror(state: &Mirror, dir: &Path, url: &str, dest: &Path) -> Result<Repository, String> {
    let _cloning = state.lock.read().unwrap_or_else(|p| p.into_inner());
    let source = dir.to_str().ok_or("the mirror path is not UTF-8")?;
    let repo = RepoBuilder::new()
        .clone_local(git2::build::CloneLocal::Local)
        .with_checkout(no_files())
        .clone(source, dest)
        .map_err(|e| git_error(&format!("cloning {} from its mirror", redact_url(url)), e))?;
    repo.remote_set_url("origin", url).map_err(|e| git_error("pointing origin at the remote", e))?;
    Ok(repo)
}
