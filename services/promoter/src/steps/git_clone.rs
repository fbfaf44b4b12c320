//! `git-clone`: clones a repository into the workspace, one working tree per `checkout`
//! entry (a branch, optionally created as an empty orphan branch, a tag or a commit),
//! optionally sparse: only the listed directories and the files at the root are written
//! (git's cone mode), and `git-commit` stages nothing outside them. With
//! `recurseSubmodules`, each working tree's submodules are cloned and checked out at the
//! commits it records, recursively (`git submodule update --init --recursive`), with the
//! credentials of `repoURL`, as Kargo does. `fromFreight: true` checks out the commit
//! from `repoURL` in the promotion's freight, of the warehouse `fromOrigin` names when
//! the stage takes freight from several (Kargo v1.0–v1.1's fields, since replaced by
//! `commit: ${{ commitFrom(…).ID }}`). With `blobless`, a partial clone (as `git clone
//! --filter=blob:none`, see [`super::partial_clone`]): commits and trees, and only the
//! blobs the checkout (or its cone) writes. With `author` (`name`, `email`, optional
//! `signingKey`), the clone has an identity of its own, recorded in its `.git` (see
//! [`super::commit_signing::record_clone_author`]): `git-commit`, `git-push`,
//! `github-push` and `git-tag` in it use that author and key (none: unsigned) instead
//! of the promoter's; every clone, a kept tree too, carries its own author or none.
//! Outputs `commits`: each checkout's HEAD commit, by its `as` or its `path`.

#[path = "git_clone/kept.rs"]
mod kept;
#[path = "git_clone/mirrors.rs"]
mod mirrors;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Instant;

use git2::build::{CheckoutBuilder, RepoBuilder};
use git2::{BranchType, Oid, Repository};
use serde::Deserialize;
use serde_json::{Map, Value};

use sha1::{Digest, Sha1};

use lading_domain::commit_signing::Person;
use lading_domain::freight::FreightOrigin;
use lading_domain::redact::redact_url;

use super::commit_signing::{CloneAuthor, SigningKey, record_clone_author};
use super::kept_trees::{self, Key, Taken};
use super::{Remotes, StepContext, git_error, partial_clone};
use crate::engine::workspace::{Field, plain_files, plain_files_of};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Checkout {
    #[serde(default)]
    branch: Option<String>,
    #[serde(default)]
    commit: Option<String>,
    #[serde(default)]
    tag: Option<String>,
    #[serde(default)]
    create: bool,
    /// Check out the freight's commit from `repoURL` (Kargo's older field).
    #[serde(default)]
    from_freight: bool,
    /// The origin whose freight `fromFreight` takes the commit from.
    #[serde(default)]
    from_origin: Option<Origin>,
    /// Directories to check out (cone mode); every other path stays unwritten.
    #[serde(default)]
    sparse: Vec<String>,
    path: String,
    /// Its key in the `commits` output (default: `path`).
    #[serde(default, rename = "as")]
    alias: Option<String>,
}

/// A freight origin as Kargo's step configs write it: `{kind: Warehouse, name}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Origin {
    kind: String,
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    #[serde(rename = "repoURL")]
    repo_url: String,
    #[serde(default)]
    checkout: Vec<Checkout>,
    /// Kargo's spelling (`insecureSkipTlsVerify` is read too).
    #[serde(default, rename = "insecureSkipTLSVerify", alias = "insecureSkipTlsVerify")]
    insecure_skip_tls_verify: bool,
    #[serde(default)]
    recurse_submodules: bool,
    /// A partial clone: no blobs but those the checkout writes (the `git` CLI fetches).
    #[serde(default)]
    blobless: bool,
    /// The clone's own author: its commits, rebases and tags are made by that name and
    /// email and signed by `signingKey` (or not at all) instead of the promoter's.
    #[serde(default)]
    author: Option<Author>,
}

/// `author` of a `git-clone`: Kargo's `{name, email, signingKey}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Author {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    /// An ASCII-armored OpenPGP private key, without a passphrase.
    #[serde(default)]
    signing_key: Option<super::git_commit::KeyText>,
}

/// The clone's author, checked: name and email present, the key one that signs.
fn clone_author(author: &Author) -> Result<(Person, Option<&str>), String> {
    let name = author.name.as_deref().filter(|n| !n.trim().is_empty()).ok_or("config.author.name: required")?;
    let email = author.email.as_deref().filter(|e| !e.trim().is_empty()).ok_or("config.author.email: required")?;
    git2::Signature::now(name, email).map_err(|e| git_error("config.author", e))?;
    let key = author.signing_key.as_ref().map(|k| k.as_str()).filter(|k| !k.trim().is_empty());
    if let Some(key) = key {
        SigningKey::parse(key).map_err(|e| format!("config.author.signingKey: {e}"))?;
    }
    Ok((Person { name: name.to_owned(), email: email.to_owned() }, key))
}

/// Records the clone's author in the repository at `dest`, or clears an earlier one, and
/// whether its transfers skip certificate checks (`insecure`), so a kept tree taken
/// again carries neither from an earlier promotion.
fn record_author(dest: &Path, author: Option<&(Person, Option<&str>)>, insecure: bool) -> Result<(), String> {
    let repo = Repository::open(dest).map_err(|e| git_error("opening the clone", e))?;
    let author = author.map(|(person, key)| CloneAuthor { person, key: *key });
    record_clone_author(&repo, author.as_ref())?;
    super::remotes::record_insecure(&repo, insecure)
}

/// The commit from `repo_url` in the promotion's freight (of `origin`'s when given), for
/// checkout `i`.
fn commit_from_freight(
    ctx: &StepContext<'_>,
    repo_url: &str,
    origin: Option<&Origin>,
    i: usize,
) -> Result<String, String> {
    let origin = match origin {
        Some(Origin { kind, name }) if kind == FreightOrigin::WAREHOUSE => Some(FreightOrigin::warehouse(name)),
        Some(Origin { kind, .. }) => {
            return Err(format!("config.checkout[{i}].fromOrigin.kind: {kind:?} is not an origin kind (Warehouse)"));
        }
        None => None,
    };
    lading_domain::freight_collection::commit_from(ctx.origins, repo_url, origin.as_ref())
        .map(|c| c.id.clone())
        .map_err(|e| format!("config.checkout[{i}].fromFreight: {e}"))
}

/// How deep submodules of submodules are followed.
const MAX_SUBMODULE_DEPTH: usize = 8;

pub fn run(ctx: &StepContext<'_>, config: Config) -> Result<Map<String, Value>, String> {
    // Without certificate checks, every transfer of this step: mirror, clone, submodules.
    let insecure;
    let ctx = if config.insecure_skip_tls_verify {
        insecure = Remotes { insecure_skip_tls_verify: true, ..ctx.remotes.clone() };
        &StepContext { remotes: &insecure, ..*ctx }
    } else {
        ctx
    };
    if config.checkout.is_empty() {
        return Err("config.checkout: list at least one checkout".to_owned());
    }
    if config.blobless {
        partial_clone::check_git_available()?;
    }
    let author = config.author.as_ref().map(clone_author).transpose()?;
    let mut commits = Map::new();
    for (i, checkout) in config.checkout.iter().enumerate() {
        let set = [checkout.branch.is_some(), checkout.commit.is_some(), checkout.tag.is_some(), checkout.from_freight];
        if set.iter().filter(|s| **s).count() > 1 {
            return Err(format!("config.checkout[{i}]: set only one of branch, commit, tag or fromFreight"));
        }
        let from_freight = if checkout.from_freight {
            Some(commit_from_freight(ctx, &config.repo_url, checkout.from_origin.as_ref(), i)?)
        } else if checkout.from_origin.is_some() {
            return Err(format!("config.checkout[{i}].fromOrigin: only with fromFreight: true"));
        } else {
            None
        };
        let commit = checkout.commit.as_ref().or(from_freight.as_ref());
        let field = format!("config.checkout[{i}].path");
        let at = Field::new(&field, &checkout.path);
        let relative = Path::new(&checkout.path);
        ctx.workspace.create_dir_all(at, relative)?;
        if !ctx.workspace.is_empty_dir(at, relative)? {
            return Err(format!("{field}: {:?} is not empty", checkout.path));
        }
        // libgit2 takes a host path: the directory just made, symlinks resolved beneath
        // the workspace.
        let dest = ctx.workspace.host_path_as_is(at, relative)?;
        let sparse = sparse_dirs(&checkout.sparse).map_err(|e| format!("config.checkout[{i}].sparse: {e}"))?;
        // A branch checked out through the mirrors is kept after the promotion, and the
        // next checkout of it moves that tree rather than cloning again. A blobless clone
        // goes by neither: a mirror holds every blob.
        let kept = match (ctx.mirrors, &checkout.branch, &sparse) {
            (Some(mirrors), Some(branch), None) if !config.blobless => {
                Some((mirrors, Key { project: ctx.project, url: &config.repo_url, branch }))
            }
            _ => None,
        };
        if let Some((mirrors, key)) = &kept {
            if let Some(taken) = kept_trees::take(mirrors, key, &dest) {
                // A kept tree carries no earlier promotion's author into this one.
                record_author(&dest, author.as_ref(), config.insecure_skip_tls_verify)?;
                kept::check_out_kept(ctx, at, relative, &dest, taken, key, checkout.create)?;
                continue;
            }
            // A branch to create that the remote lacks needs nothing from it.
            if checkout.create && !remote_has_branch(&config.repo_url, key.branch, ctx.remotes)? {
                let repo = Repository::init_opts(&dest, &without_templates(false))
                    .map_err(|e| git_error("creating the working tree", e))?;
                repo.remote("origin", &config.repo_url).map_err(|e| git_error("pointing origin at the remote", e))?;
                repo.set_head(&format!("refs/heads/{}", key.branch))
                    .map_err(|e| git_error("creating the branch", e))?;
                key.mark(&repo)?;
                record_author(&dest, author.as_ref(), config.insecure_skip_tls_verify)?;
                continue;
            }
        }
        let repo = match ctx.mirrors {
            _ if config.blobless => {
                let default_branch = checkout.branch.is_none() && commit.is_none() && checkout.tag.is_none();
                clone_blobless(&config.repo_url, &dest, ctx.remotes, default_branch)?
            }
            Some(mirrors) => mirrors::clone_via_mirror(mirrors, &config.repo_url, &dest, ctx.remotes)?,
            None => {
                let watch = ctx.remotes.watch("cloning", &config.repo_url);
                let mut fetch = git2::FetchOptions::new();
                fetch.remote_callbacks(ctx.remotes.callbacks(&config.repo_url, &watch));
                RepoBuilder::new()
                    .fetch_options(fetch)
                    .with_checkout(no_files())
                    .clone(&config.repo_url, &dest)
                    .map_err(|e| watch.explain(&e).to_string())?
            }
        };
        record_author(&dest, author.as_ref(), config.insecure_skip_tls_verify)?;
        if let Some(branch) = &checkout.branch {
            point_head_at_branch(&repo, branch, checkout.create)?;
        } else if let Some(commit) = commit {
            let oid = Oid::from_str(commit).map_err(|e| git_error("config.checkout.commit", e))?;
            repo.set_head_detached(oid).map_err(|e| git_error("checking out", e))?;
        } else if let Some(tag) = &checkout.tag {
            let oid = repo
                .revparse_single(&format!("refs/tags/{tag}"))
                .and_then(|o| o.peel_to_commit())
                .map_err(|e| git_error(&format!("finding tag {tag}"), e))?
                .id();
            repo.set_head_detached(oid).map_err(|e| git_error("checking out", e))?;
        }
        // One checkout, into the still empty directory: libgit2 writes through a
        // symlinked directory already in the working tree when a checkout puts files
        // beneath that path, so files are never checked out over other files.
        if let Some((_, key)) = &kept {
            key.mark(&repo)?;
        }
        if config.blobless {
            fetch_blobs_of_head(&repo, &config.repo_url, sparse.as_deref(), ctx.remotes)?;
        }
        match &sparse {
            Some(dirs) => sparse_checkout(&repo, dirs)?,
            None => check_out_lazily(ctx, at, relative, repo)?,
        }
        // A tree holding submodules is never lazy (see `plain_files`): it is written in
        // full above, and its submodules go beside its files.
        let repo = Repository::open(&dest).map_err(|e| git_error("opening the clone", e))?;
        if config.recurse_submodules {
            update_submodules(&repo, &config.repo_url, ctx.remotes, sparse.as_deref(), 0)
                .map_err(|e| format!("config.checkout[{i}]: {e}"))?;
        }
        let head = repo.head().ok().and_then(|h| h.peel_to_commit().ok()).map(|c| c.id().to_string());
        let key = checkout.alias.clone().unwrap_or_else(|| checkout.path.clone());
        commits.insert(key, Value::String(head.unwrap_or_default()));
    }
    let mut outputs = Map::new();
    outputs.insert("commits".to_owned(), Value::Object(commits));
    Ok(outputs)
}

/// `git submodule update --init --recursive` in `repo` (only submodules inside the
/// cone of a sparse checkout), answering challenges with the credential of `repo_url`.
fn update_submodules(
    repo: &Repository,
    repo_url: &str,
    remotes: &Remotes,
    cone: Option<&[String]>,
    depth: usize,
) -> Result<(), String> {
    if depth >= MAX_SUBMODULE_DEPTH {
        return Err(format!("submodules nest deeper than {MAX_SUBMODULE_DEPTH} levels"));
    }
    for mut submodule in repo.submodules().map_err(|e| git_error("listing submodules", e))? {
        let path = submodule.path().to_string_lossy().into_owned();
        if cone.is_some_and(|dirs| !in_cone(dirs, &path)) {
            continue;
        }
        let watch = remotes.watch(&format!("fetching submodule {path} of"), repo_url);
        let mut fetch = git2::FetchOptions::new();
        fetch.remote_callbacks(remotes.callbacks(repo_url, &watch));
        let mut options = git2::SubmoduleUpdateOptions::new();
        options.fetch(fetch);
        submodule.update(true, Some(&mut options)).map_err(|e| format!("submodule {path}: {}", watch.explain(&e)))?;
        let nested = submodule.open().map_err(|e| git_error(&format!("opening submodule {path}"), e))?;
        update_submodules(&nested, repo_url, remotes, None, depth + 1)?;
    }
    Ok(())
}

/// A blobless clone of `url` into the empty directory `dest`: the commits and trees of
/// every branch and tag, no blobs, no files; HEAD on the remote's default branch when
/// `default_branch` (the checkout names no branch, commit or tag).
fn clone_blobless(url: &str, dest: &Path, remotes: &Remotes, default_branch: bool) -> Result<Repository, String> {
    let repo =
        Repository::init_opts(dest, &without_templates(false)).map_err(|e| git_error("creating the clone", e))?;
    repo.remote("origin", url).map_err(|e| git_error("pointing origin at the remote", e))?;
    partial_clone::fetch_without_blobs(
        &repo,
        url,
        &["+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*"],
        remotes,
    )?;
    if default_branch {
        let watch = remotes.watch("listing", url);
        let failed = |e: git2::Error| watch.explain(&e).to_string();
        let mut remote = git2::Remote::create_detached(url).map_err(failed)?;
        remote.connect_auth(git2::Direction::Fetch, Some(remotes.callbacks(url, &watch)), None).map_err(failed)?;
        let head = remote.default_branch().ok().and_then(|b| b.as_str().ok().map(str::to_owned));
        remote.disconnect().map_err(failed)?;
        watch.check().map_err(|e| e.to_string())?;
        if let Some(branch) = head.as_deref().and_then(|h| h.strip_prefix("refs/heads/")) {
            point_head_at_branch(&repo, branch, false)?;
        }
    }
    Ok(repo)
}

/// Fetches, in one batch, the blobs of HEAD's tree that a blobless clone lacks (those in
/// the cone of a sparse checkout only).
fn fetch_blobs_of_head(repo: &Repository, url: &str, cone: Option<&[String]>, remotes: &Remotes) -> Result<(), String> {
    let tree = match repo.head() {
        Ok(head) => head.peel_to_tree().map_err(|e| git_error("reading HEAD", e))?,
        Err(e) if e.code() == git2::ErrorCode::UnbornBranch => return Ok(()),
        Err(e) => return Err(git_error("reading HEAD", e)),
    };
    let blobs = partial_clone::blobs_of_tree(&tree, cone)?;
    let fetched = partial_clone::fetch_missing(repo, url, blobs, remotes)?;
    tracing::debug!(fetched, "a blobless clone fetched the blobs of its checkout");
    Ok(())
}

/// Checks `sparse` entries: relative directories inside the repository. `None` when the
/// checkout is not sparse.
fn sparse_dirs(entries: &[String]) -> Result<Option<Vec<String>>, String> {
    if entries.is_empty() {
        return Ok(None);
    }
    let mut dirs = Vec::new();
    for entry in entries {
        let dir = entry.trim_matches('/');
        if dir.is_empty() || dir.split('/').any(|part| part.is_empty() || part == "." || part == "..") {
            return Err(format!("{entry:?} is not a directory inside the repository"));
        }
        dirs.push(dir.to_owned());
    }
    Ok(Some(dirs))
}

/// Creates a repository with libgit2's few built-in files only: git's template directory
/// (sample hooks, a description) would be copied file by file into every new one.
fn without_templates(bare: bool) -> git2::RepositoryInitOptions {
    let mut options = git2::RepositoryInitOptions::new();
    options.bare(bare).external_template(false);
    options
}

/// A clone writes no files: the chosen branch, commit or tag is checked out afterwards,
/// once, into the empty directory.
fn no_files() -> CheckoutBuilder<'static> {
    let mut checkout = CheckoutBuilder::new();
    checkout.dry_run();
    checkout
}

/// Writes HEAD's files at the root and under `dirs`, and nothing else, with a full index
/// (so unchanged paths outside stay committed as they are); records the cone in
/// `.git/info/sparse-checkout` and `core.sparseCheckout`, as `git sparse-checkout set
/// --cone` would, for `git-commit` and for people inspecting the working tree.
fn sparse_checkout(repo: &Repository, dirs: &[String]) -> Result<(), String> {
    let tree = match repo.head() {
        Ok(head) => head.peel_to_tree().map_err(|e| git_error("reading HEAD", e))?,
        Err(e) if e.code() == git2::ErrorCode::UnbornBranch => return write_cone(repo, dirs),
        Err(e) => return Err(git_error("reading HEAD", e)),
    };
    let mut index = repo.index().map_err(|e| git_error("opening the index", e))?;
    index.read_tree(&tree).map_err(|e| git_error("reading HEAD into the index", e))?;
    index.write().map_err(|e| git_error("writing the index", e))?;
    let mut paths = Vec::new();
    tree.walk(git2::TreeWalkMode::PreOrder, |root, entry| {
        let path = format!("{root}{}", entry.name().unwrap_or_default());
        if entry.kind() != Some(git2::ObjectType::Tree) && in_cone(dirs, &path) {
            paths.push(path);
        }
        git2::TreeWalkResult::Ok
    })
    .map_err(|e| git_error("listing HEAD", e))?;
    let mut checkout = CheckoutBuilder::new();
    checkout.force().disable_pathspec_match(true);
    for path in &paths {
        checkout.path(path);
    }
    if !paths.is_empty() {
        repo.checkout_index(Some(&mut index), Some(&mut checkout)).map_err(|e| git_error("checking out", e))?;
    }
    write_cone(repo, dirs)
}

fn write_cone(repo: &Repository, dirs: &[String]) -> Result<(), String> {
    let info = repo.path().join("info");
    fs::create_dir_all(&info).map_err(|e| format!("writing the sparse-checkout file: {e}"))?;
    let mut cone = String::from("/*\n!/*/\n");
    for dir in dirs {
        cone.push_str(&format!("/{dir}/\n"));
    }
    fs::write(info.join("sparse-checkout"), cone).map_err(|e| format!("writing the sparse-checkout file: {e}"))?;
    let mut config = repo.config().map_err(|e| git_error("opening the repository's config", e))?;
    config.set_bool("core.sparseCheckout", true).map_err(|e| git_error("setting core.sparseCheckout", e))?;
    config.set_bool("core.sparseCheckoutCone", true).map_err(|e| git_error("setting core.sparseCheckoutCone", e))
}

/// Whether `path` is in a sparse checkout of `dirs`: at the root, or under one of them.
pub(super) fn in_cone(dirs: &[String], path: &str) -> bool {
    !path.contains('/')
        || dirs.iter().any(|dir| path.strip_prefix(dir.as_str()).is_some_and(|rest| rest.starts_with('/')))
}

/// The directories of a sparse checkout in `repo`, as `sparse_checkout` recorded them;
/// `None` when it is not sparse.
pub(super) fn cone_of(repo: &Repository) -> Option<Vec<String>> {
    let sparse = repo.config().ok()?.get_bool("core.sparseCheckout").unwrap_or(false);
    if !sparse {
        return None;
    }
    let file = fs::read_to_string(repo.path().join("info").join("sparse-checkout")).ok()?;
    Some(
        file.lines()
            .filter(|line| !matches!(*line, "/*" | "!/*/" | ""))
            .map(|line| line.trim_matches('/').to_owned())
            .collect(),
    )
}

/// Writes HEAD's index and, for a plain tree, no files: they appear when a step opens
/// them (see [`crate::engine::workspace`]'s lazy working trees). Other trees are checked
/// out in full.
fn check_out_lazily(ctx: &StepContext<'_>, at: Field<'_>, relative: &Path, repo: Repository) -> Result<(), String> {
    let tree = match repo.head() {
        Ok(head) => head.peel_to_tree().map_err(|e| git_error("reading HEAD", e))?,
        Err(e) if e.code() == git2::ErrorCode::UnbornBranch => return Ok(()),
        Err(e) => return Err(git_error("reading HEAD", e)),
    };
    let mut index = repo.index().map_err(|e| git_error("opening the index", e))?;
    index.read_tree(&tree).map_err(|e| git_error("reading HEAD into the index", e))?;
    let Some(files) = plain_files(&repo, tree.id(), &index) else {
        drop(index);
        return check_out_head(&repo);
    };
    index.write().map_err(|e| git_error("writing the index", e))?;
    let tree_id = tree.id();
    drop((index, tree));
    Ok(ctx.workspace.add_lazy_tree(at, relative, repo, tree_id, files, Vec::new())?)
}

/// Writes HEAD's files, when HEAD has a commit (a new orphan branch has none).
fn check_out_head(repo: &Repository) -> Result<(), String> {
    match repo.head() {
        Err(e) if e.code() == git2::ErrorCode::UnbornBranch => Ok(()),
        _ => repo.checkout_head(Some(CheckoutBuilder::new().force())).map_err(|e| git_error("checking out", e)),
    }
}

/// Points HEAD at `branch` (created as an empty orphan branch when missing and `create`),
/// writing no files.
fn point_head_at_branch(repo: &Repository, branch: &str, create: bool) -> Result<(), String> {
    let local_ref = format!("refs/heads/{branch}");
    // The clone's HEAD is already the remote's default branch.
    if repo.head().ok().and_then(|h| h.name().ok().map(str::to_owned)).as_deref() == Some(local_ref.as_str()) {
        return Ok(());
    }
    match repo.find_branch(&format!("origin/{branch}"), BranchType::Remote) {
        Ok(remote) => {
            let commit = remote.get().peel_to_commit().map_err(|e| git_error("reading the branch", e))?;
            let mut local = repo.branch(branch, &commit, true).map_err(|e| git_error("creating the branch", e))?;
            local.set_upstream(Some(&format!("origin/{branch}"))).map_err(|e| git_error("tracking the branch", e))?;
            repo.set_head(&local_ref).map_err(|e| git_error("checking out", e))
        }
        Err(_) if create => {
            // An empty orphan branch: no parent, no files.
            repo.set_head(&local_ref).map_err(|e| git_error("creating the branch", e))?;
            let mut index = repo.index().map_err(|e| git_error("opening the index", e))?;
            index.clear().map_err(|e| git_error("clearing the index", e))?;
            index.write().map_err(|e| git_error("writing the index", e))
        }
        Err(_) => Err(format!("branch {branch:?} does not exist; set create: true to create it")),
    }
}

/// Whether the remote at `url` has the branch `branch` (one look at its references).
fn remote_has_branch(url: &str, branch: &str, remotes: &Remotes) -> Result<bool, String> {
    let watch = remotes.watch("listing", url);
    let failed = |e: git2::Error| watch.explain(&e).to_string();
    let mut remote = git2::Remote::create_detached(url).map_err(failed)?;
    remote.connect_auth(git2::Direction::Fetch, Some(remotes.callbacks(url, &watch)), None).map_err(failed)?;
    let wanted = format!("refs/heads/{branch}");
    let found = remote.list().map_err(failed)?.iter().any(|head| head.name() == wanted);
    remote.disconnect().map_err(failed)?;
    watch.check().map_err(|e| e.to_string())?;
    Ok(found)
}
