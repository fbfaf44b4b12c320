//! Git subscriptions: commits on a branch or tags, selected by Kargo's strategies and
//! filters, read from one local bare mirror per repository URL.
//!
//! Every warehouse watching a repository shares its mirror. A discovery first lists the
//! remote's refs (`ls-remote`); when they equal the mirror's, nothing is fetched, and a
//! mirror already brought up to date since the discovery was asked for is used as it is.
//! A repository on this machine (a `file://` URL or a path) is read directly: its
//! references, and the objects the mirror lacks, copied ([`lading_remote::local`]).
//! A sync keeps to the Git budget: libgit2's connect and idle timeouts, and one total
//! deadline and size budget over listing refs and fetching.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use chrono::{DateTime, Utc};
use git2::{Direction, FetchOptions, Oid, Repository};
use lading_domain::GitCommit;
use lading_domain::redact::redact_url;
use lading_domain::selection::{PathFilter, SemverConstraint, TagFilter, newest_lexical, newest_semver};
use lading_domain::spec::{CommitSelectionStrategy, GitSubscription, discovery_limit, within_since};
use lading_events::catalog::{DiscoveredCommitV1, GitDiscoveryResultV1};
use lading_remote::{GitBudget, TransferWatch};
use sha1::{Digest, Sha1};

use crate::expression_filter::ExpressionFilter;
use lading_domain::expression::ExpressionLimits;

/// How many commits of a branch are looked at, at most, to find `discoveryLimit` that
/// pass the filters.
const MAX_COMMITS_SCANNED: usize = 10_000;

/// The mirror directory for a repository URL.
pub fn mirror_dir(cache_dir: &Path, repo_url: &str) -> PathBuf {
    let digest = Sha1::digest(repo_url.as_bytes());
    let name: String = digest.iter().take(10).map(|b| format!("{b:02x}")).collect();
    cache_dir.join("git").join(name)
}

fn describe(error: &git2::Error) -> String {
    error.message().to_owned()
}

/// When each mirror last began a sync, per process.
fn last_sync(dir: &Path) -> Option<Instant> {
    syncs().lock().unwrap_or_else(|p| p.into_inner()).get(dir).copied()
}

fn syncs() -> &'static Mutex<HashMap<PathBuf, Instant>> {
    static SYNCS: OnceLock<Mutex<HashMap<PathBuf, Instant>>> = OnceLock::new();
    SYNCS.get_or_init(Default::default)
}

/// What syncing a mirror did, for metrics and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sync {
    /// Another discovery synced it after this one was asked for.
    Shared,
    /// `ls-remote` matched the mirror: nothing fetched.
    Unchanged,
    Fetched,
}

impl Sync {
    /// Its metric label.
    pub fn label(self) -> &'static str {
        match self {
            Sync::Shared => "shared",
            Sync::Unchanged => "unchanged",
            Sync::Fetched => "fetched",
        }
    }
}

/// Brings the mirror of `url` up to date with the remote's branches and tags within
/// `budget` (listing refs and fetching count against one total deadline and one size
/// budget). `asked` is when the discovery was asked for. Blocking; callers serialize
/// syncs of one mirror.
pub fn sync_mirror(
    cache_dir: &Path,
    url: &str,
    asked: Instant,
    callbacks: impl Fn() -> git2::RemoteCallbacks<'static>,
    budget: &GitBudget,
) -> Result<(Repository, Sync), String> {
    let dir = mirror_dir(cache_dir, url);
    let repo = match Repository::open_bare(&dir) {
        Ok(repo) => repo,
        Err(_) => {
            std::fs::create_dir_all(&dir).map_err(|e| format!("creating the mirror: {e}"))?;
            Repository::init_bare(&dir).map_err(|e| format!("creating the mirror: {}", describe(&e)))?
        }
    };
    if last_sync(&dir).is_some_and(|started| started >= asked) {
        return Ok((repo, Sync::Shared));
    }
    let started = Instant::now();
    if let Some(source) = lading_remote::local::Source::open(url)
        && let Some(sync) = sync_from_local(&repo, &source, budget.max_transfer.value)?
    {
        syncs().lock().unwrap_or_else(|p| p.into_inner()).insert(dir.clone(), started);
        return Ok((repo, sync));
    }
    let watch = TransferWatch::start(format!("fetching {}", redact_url(url)), *budget);
    let failed = |e: git2::Error| watch.explain(&e).to_string();
    let mut remote = repo.remote_anonymous(url).map_err(|e| format!("invalid repository URL: {}", describe(&e)))?;
    remote.connect_auth(Direction::Fetch, Some(watch.watching(callbacks())), None).map_err(failed)?;
    let advertised: Vec<(String, Oid)> = remote
        .list()
        .map_err(failed)?
        .iter()
        .filter(|head| head.name().starts_with("refs/heads/") || head.name().starts_with("refs/tags/"))
        .filter(|head| !head.name().ends_with("^{}"))
        .map(|head| (head.name().to_owned(), head.oid()))
        .collect();
    let default_branch = remote.default_branch().ok().and_then(|b| b.as_str().ok().map(str::to_owned));
    follow_default_branch(&repo, default_branch.as_deref())?;
    let local = mirrored(&repo)?;
    let unchanged =
        local.len() == advertised.len() && advertised.iter().all(|(name, oid)| local.get(name) == Some(oid));
    syncs().lock().unwrap_or_else(|p| p.into_inner()).insert(dir.clone(), started);
    if unchanged {
        remote.disconnect().map_err(failed)?;
        drop(remote);
        return Ok((repo, Sync::Unchanged));
    }
    watch.check().map_err(|e| e.to_string())?;
    // Downloaded over the connection that listed the references (a fetch would connect
    // again: one more round of the server's reference advertisement), then the
    // references are moved and those the remote no longer has removed, as a fetch does.
    let mut options = FetchOptions::new();
    options.remote_callbacks(watch.watching(callbacks()));
    options.download_tags(git2::AutotagOption::All);
    remote.download(&["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"], Some(&mut options)).map_err(failed)?;
    drop(options);
    remote.disconnect().map_err(failed)?;
    remote
        .update_tips(None, git2::RemoteUpdateFlags::empty(), git2::AutotagOption::All, Some("lading: discovery"))
        .map_err(failed)?;
    remote.prune(None).map_err(failed)?;
    drop(remote);
    lading_remote::packs::housekeep(&repo, "a warehouse's mirror");
    Ok((repo, Sync::Fetched))
}

/// Points the mirror's HEAD at the remote's default branch, unless it names it already.
fn follow_default_branch(repo: &Repository, branch: Option<&str>) -> Result<(), String> {
    if let Some(branch) = branch
        && repo.head().ok().and_then(|h| h.name().ok().map(str::to_owned)).as_deref() != Some(branch)
    {
        repo.set_head(branch).map_err(|e| format!("recording the default branch: {}", describe(&e)))?;
    }
    Ok(())
}

/// The mirror's branches and tags, with what they name.
fn mirrored(repo: &Repository) -> Result<HashMap<String, Oid>, String> {
    Ok(repo
        .references()
        .map_err(|e| describe(&e))?
        .filter_map(Result::ok)
        .filter_map(|r| Some((r.name().ok()?.to_owned(), r.target()?)))
        .filter(|(name, _)| name.starts_with("refs/heads/") || name.starts_with("refs/tags/"))
        .collect())
}

/// Brings the mirror up to date with a repository on this machine by reading its
/// references and copying the objects the mirror lacks ([`lading_remote::local`]):
/// branches and tags moved, added and removed as a pruning fetch does. `None` when the
/// copy is past a direct fetch's limits or `max_bytes` (a first sync of a long history):
/// the transport fetches it then, within its budget.
fn sync_from_local(
    repo: &Repository,
    source: &lading_remote::local::Source,
    max_bytes: u64,
) -> Result<Option<Sync>, String> {
    let advertised = source.branches_and_tags().map_err(|e| describe(&e))?;
    follow_default_branch(repo, source.default_branch().as_deref())?;
    let local = mirrored(repo)?;
    let changed: Vec<&(String, Oid)> = advertised.iter().filter(|(name, oid)| local.get(name) != Some(oid)).collect();
    let gone: Vec<&String> = local.keys().filter(|name| !advertised.iter().any(|(n, _)| n == *name)).collect();
    if changed.is_empty() && gone.is_empty() {
        return Ok(Some(Sync::Unchanged));
    }
    let tips: Vec<Oid> = changed.iter().map(|(_, oid)| *oid).collect();
    if !source.copy_into(repo, &tips, max_bytes).map_err(|e| describe(&e))? {
        return Ok(None);
    }
    // Removed first: a branch renamed into a directory of its old name (`release` to
    // `release/1.0`) needs the old one gone. A reference that cannot be written leaves
    // the rest to the fetch.
    for name in gone {
        if let Ok(mut reference) = repo.find_reference(name)
            && reference.delete().is_err()
        {
            return Ok(None);
        }
    }
    for (name, oid) in changed {
        if repo.reference(name, *oid, true, "lading: discovery").is_err() {
            return Ok(None);
        }
    }
    Ok(Some(Sync::Fetched))
}

fn person(s: &git2::Signature<'_>) -> String {
    format!("{} <{}>", s.name().unwrap_or_default(), s.email().unwrap_or_default())
}

fn time(t: git2::Time) -> DateTime<Utc> {
    DateTime::from_timestamp(t.seconds(), 0).unwrap_or_default()
}

/// Changed paths per commit, shared by every warehouse (a commit's paths never change).
fn path_cache() -> &'static Mutex<HashMap<Oid, Arc<Vec<String>>>> {
    static PATHS: OnceLock<Mutex<HashMap<Oid, Arc<Vec<String>>>>> = OnceLock::new();
    PATHS.get_or_init(Default::default)
}

/// Most commits whose paths are kept.
const PATH_CACHE_LIMIT: usize = 200_000;

/// Paths a commit changed against its first parent, computed once per process.
fn changed_paths(repo: &Repository, commit: &git2::Commit<'_>) -> Result<Arc<Vec<String>>, String> {
    if let Some(paths) = path_cache().lock().unwrap_or_else(|p| p.into_inner()).get(&commit.id()) {
        return Ok(paths.clone());
    }
    let paths = Arc::new(diff_paths(repo, commit)?);
    let mut cache = path_cache().lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= PATH_CACHE_LIMIT {
        cache.clear();
    }
    cache.insert(commit.id(), paths.clone());
    Ok(paths)
}

/// Paths a commit changed against its first parent (every path, for a root commit).
fn diff_paths(repo: &Repository, commit: &git2::Commit<'_>) -> Result<Vec<String>, String> {
    let tree = commit.tree().map_err(|e| describe(&e))?;
    let parent_tree = match commit.parent(0) {
        Ok(parent) => Some(parent.tree().map_err(|e| describe(&e))?),
        Err(_) => None,
    };
    let diff = repo.diff_tree_to_tree(parent_tree.as_ref(), Some(&tree), None).map_err(|e| describe(&e))?;
    let mut paths = Vec::new();
    for delta in diff.deltas() {
        for file in [delta.old_file(), delta.new_file()] {
            if let Some(path) = file.path().and_then(Path::to_str)
                && !paths.iter().any(|p| p == path)
            {
                paths.push(path.to_owned());
            }
        }
    }
    Ok(paths)
}

/// A candidate: a commit, and the tag naming it (for tag strategies).
struct Candidate {
    commit: DiscoveredCommitV1,
    tagger: String,
    annotation: String,
}

/// The subscription's filters, compiled once per discovery.
struct Filters {
    paths: PathFilter,
    expression: Option<ExpressionFilter>,
}

impl Filters {
    fn new(subscription: &GitSubscription, limits: &ExpressionLimits) -> Result<Self, String> {
        let paths = PathFilter::new(&subscription.include_paths, &subscription.exclude_paths)
            .map_err(|(_, i, e)| format!("path filter {i}: {e}"))?;
        let expression = match subscription.expression_filter.trim() {
            "" => None,
            source => Some(ExpressionFilter::compile(source, limits)?),
        };
        Ok(Self { paths, expression })
    }

    fn keeps(&self, repo: &Repository, commit: &git2::Commit<'_>, candidate: &Candidate) -> Result<bool, String> {
        if !self.paths.is_empty() && !self.paths.matches(changed_paths(repo, commit)?.iter().map(String::as_str)) {
            return Ok(false);
        }
        match &self.expression {
            None => Ok(true),
            Some(filter) => filter.keeps(&candidate.commit, &candidate.tagger, &candidate.annotation),
        }
    }
}

/// Discovers a subscription's commits, newest first, from an up-to-date mirror;
/// `limits` bound each evaluation of its `expressionFilter`.
pub fn discover(
    repo: &Repository,
    subscription: &GitSubscription,
    limits: &ExpressionLimits,
) -> Result<GitDiscoveryResultV1, String> {
    let filters = Filters::new(subscription, limits)?;
    let limit = discovery_limit(subscription.discovery_limit);
    let commits = match subscription.commit_selection_strategy {
        CommitSelectionStrategy::NewestFromBranch => from_branch(repo, subscription, &filters, limit)?,
        _ => from_tags(repo, subscription, &filters, limit)?,
    };
    Ok(GitDiscoveryResultV1 { repo_url: subscription.repo_url.clone(), commits })
}

fn from_branch(
    repo: &Repository,
    subscription: &GitSubscription,
    filters: &Filters,
    limit: usize,
) -> Result<Vec<DiscoveredCommitV1>, String> {
    let branch = if subscription.branch.is_empty() {
        let head = repo
            .find_reference("HEAD")
            .map_err(|e| format!("the repository has no default branch: {}", describe(&e)))?;
        head.symbolic_target().ok().flatten().unwrap_or_default().trim_start_matches("refs/heads/").to_owned()
    } else {
        subscription.branch.clone()
    };
    let tip =
        repo.refname_to_id(&format!("refs/heads/{branch}")).map_err(|_| format!("branch {branch:?} not found"))?;
    let mut walk = repo.revwalk().map_err(|e| describe(&e))?;
    // Newest first, as `git log` lists them by default; lazy, unlike the topological
    // and time sorts, which walk the whole history before yielding the first commit.
    walk.set_sorting(git2::Sort::NONE).map_err(|e| describe(&e))?;
    walk.push(tip).map_err(|e| describe(&e))?;
    let mut found = Vec::new();
    for oid in walk.take(MAX_COMMITS_SCANNED) {
        let oid = oid.map_err(|e| describe(&e))?;
        let commit = repo.find_commit(oid).map_err(|e| describe(&e))?;
        let committed_ms = time(commit.committer().when()).timestamp_millis();
        // As `git log --since`: the walk stops at the first commit older than `since`.
        if !within_since(subscription.since.as_ref(), committed_ms) {
            break;
        }
        let candidate = Candidate {
            commit: DiscoveredCommitV1 {
                id: oid.to_string(),
                branch: branch.clone(),
                tag: String::new(),
                subject: commit.summary().ok().flatten().unwrap_or_default().to_owned(),
                author: person(&commit.author()),
                committer: person(&commit.committer()),
                creator_date_ms: committed_ms,
            },
            tagger: String::new(),
            annotation: String::new(),
        };
        if filters.keeps(repo, &commit, &candidate)? {
            found.push(candidate.commit);
            if found.len() == limit {
                break;
            }
        }
    }
    Ok(found)
}

fn from_tags(
    repo: &Repository,
    subscription: &GitSubscription,
    filters: &Filters,
    limit: usize,
) -> Result<Vec<DiscoveredCommitV1>, String> {
    let tag_filter = TagFilter::new(&subscription.allow_tags_regexes, &subscription.ignore_tags_regexes)
        .map_err(|(_, i, e)| format!("tag regex {i}: {e}"))?;
    let names = repo.tag_names(None).map_err(|e| describe(&e))?;
    let names: Vec<&str> = names.iter().flatten().flatten().filter(|t| tag_filter.allows(t)).collect();
    // Order every candidate tag by the strategy, then keep the first `limit` that pass
    // the filters.
    let ordered: Vec<String> = match subscription.commit_selection_strategy {
        CommitSelectionStrategy::SemVer => {
            let constraint = match subscription.semver_constraint.as_str() {
                "" => None,
                c => Some(SemverConstraint::parse(c)?),
            };
            newest_semver(names.iter().copied(), constraint.as_ref(), subscription.strict_semvers, usize::MAX)
                .into_iter()
                .map(|(t, _)| t.to_owned())
                .collect()
        }
        CommitSelectionStrategy::Lexical => {
            newest_lexical(names.iter().copied(), usize::MAX).into_iter().map(str::to_owned).collect()
        }
        _ => {
            let mut dated = Vec::new();
            for name in &names {
                dated.push((read_tag(repo, name)?.commit.creator_date_ms, name.to_string()));
            }
            dated.sort_by(|a, b| b.cmp(a));
            dated.into_iter().map(|(_, name)| name).collect()
        }
    };
    let mut found = Vec::new();
    for name in ordered {
        let candidate = read_tag(repo, &name)?;
        let oid = Oid::from_str(&candidate.commit.id).map_err(|e| describe(&e))?;
        let commit = repo.find_commit(oid).map_err(|e| describe(&e))?;
        if filters.keeps(repo, &commit, &candidate)? {
            found.push(candidate.commit);
            if found.len() == limit {
                break;
            }
        }
    }
    Ok(found)
}

/// A tag's commit and metadata; its creation date is the tagger's (annotated) or the
/// commit's (lightweight).
fn read_tag(repo: &Repository, name: &str) -> Result<Candidate, String> {
    let reference = repo.find_reference(&format!("refs/tags/{name}")).map_err(|e| describe(&e))?;
    let object = reference.peel(git2::ObjectType::Any).map_err(|e| describe(&e))?;
    let annotated = repo.find_tag(reference.target().unwrap_or(Oid::ZERO_SHA1)).ok();
    let commit =
        object.peel_to_commit().map_err(|e| format!("tag {name:?} does not name a commit: {}", describe(&e)))?;
    let (tagger, annotation, date) = match &annotated {
        Some(tag) => (
            tag.tagger().map(|t| person(&t)).unwrap_or_default(),
            tag.message().ok().flatten().unwrap_or_default().trim_end().to_owned(),
            tag.tagger().map(|t| time(t.when())).unwrap_or_else(|| time(commit.committer().when())),
        ),
        None => (String::new(), String::new(), time(commit.committer().when())),
    };
    Ok(Candidate {
        commit: DiscoveredCommitV1 {
            id: commit.id().to_string(),
            branch: String::new(),
            tag: name.to_owned(),
            subject: commit.summary().ok().flatten().unwrap_or_default().to_owned(),
            author: person(&commit.author()),
            committer: person(&commit.committer()),
            creator_date_ms: date.timestamp_millis(),
        },
        tagger,
        annotation,
    })
}

/// The freight commit for a discovered one.
pub fn freight_commit(repo_url: &str, discovered: &DiscoveredCommitV1) -> GitCommit {
    GitCommit {
        repo_url: repo_url.to_owned(),
        id: discovered.id.clone(),
        branch: discovered.branch.clone(),
        tag: discovered.tag.clone(),
        message: discovered.subject.clone(),
        author: discovered.author.clone(),
        committer: discovered.committer.clone(),
        subscription_name: String::new(),
    }
}
