//! `git-push`: pushes the working tree's branch to `origin` (or to `targetBranch`).
//! Outputs: `branch`, `commit`.

use std::cell::RefCell;

use git2::{PushOptions, RemoteCallbacks, Repository};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{StepContext, git_error};
use crate::engine::workspace::resolve;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    path: String,
    #[serde(default)]
    target_branch: Option<String>,
}

pub fn run(ctx: &StepContext<'_>, config: Config) -> Result<Map<String, Value>, String> {
    let path = resolve(ctx.workspace, &config.path).map_err(|e| format!("config.path: {e}"))?;
    let repo = Repository::open(&path).map_err(|e| git_error("config.path: not a git working tree", e))?;
    let head = repo.head().map_err(|e| git_error("nothing to push", e))?;
    if !head.is_branch() {
        return Err("HEAD is detached; check out a branch to push".to_owned());
    }
    let branch = head.shorthand().map_err(|_| "the branch name is not UTF-8".to_owned())?.to_owned();
    let commit = head.peel_to_commit().map_err(|e| git_error("reading HEAD", e))?.id().to_string();
    let target = config.target_branch.filter(|t| !t.is_empty()).unwrap_or_else(|| branch.clone());
    let mut remote = repo.find_remote("origin").map_err(|e| git_error("finding origin", e))?;
    let rejection = RefCell::new(None);
    let mut callbacks = RemoteCallbacks::new();
    callbacks.push_update_reference(|reference, status| {
        if let Some(message) = status {
            *rejection.borrow_mut() = Some(format!("{reference}: {message}"));
        }
        Ok(())
    });
    let mut options = PushOptions::new();
    options.remote_callbacks(callbacks);
    remote
        .push(&[format!("refs/heads/{branch}:refs/heads/{target}")], Some(&mut options))
        .map_err(|e| git_error("pushing", e))?;
    drop(options);
    if let Some(reason) = rejection.into_inner() {
        return Err(format!("the remote rejected the push: {reason}"));
    }
    let _ = ctx;
    let mut out = Map::new();
    out.insert("branch".to_owned(), json!(target));
    out.insert("commit".to_owned(), json!(commit));
    Ok(out)
}
