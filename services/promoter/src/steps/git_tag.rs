//! `git-tag`: tags the working tree's `HEAD`, annotated with `message` (lightweight
//! without one); an existing tag is refused unless `force`, and a tag this promotion
//! already made on the same commit (a retry) is taken as done. Output: `commit`.
//!
//! An annotated tag is made by the repository's author and signed by its key (the
//! `git-clone`'s `author` when the clone set one, else the promoter-wide
//! `LADING_GIT_SIGNING_KEY_PATH`), as Kargo's `tag.gpgSign`; a lightweight tag is a bare
//! ref and has nothing to sign.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{StepContext, git_error};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    path: String,
    tag: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    force: bool,
}

pub fn run(ctx: &StepContext<'_>, config: Config) -> Result<Map<String, Value>, String> {
    let repo = super::working_tree::open(ctx, "config.path", &config.path)?;
    if !git2::Reference::is_valid_name(&format!("refs/tags/{}", config.tag)) {
        return Err(format!("config.tag: {:?} is not a valid tag name", config.tag));
    }
    let head = repo.head().and_then(|h| h.peel_to_commit()).map_err(|e| git_error("reading HEAD", e))?;
    let existing = repo.revparse_single(&format!("refs/tags/{}", config.tag)).ok();
    if let Some(existing) = existing {
        let tagged = existing.peel_to_commit().map_err(|e| git_error("reading the tag", e))?;
        if tagged.id() == head.id() {
            return Ok(outputs(&head.id().to_string()));
        }
        if !config.force {
            return Err(format!(
                "config.tag: {:?} already exists on another commit (set force to move it)",
                config.tag
            ));
        }
    }
    let object = head.as_object();
    match &config.message {
        Some(message) => {
            let author = super::commit_signing::repository_author(&repo, ctx.author)?;
            let signature =
                git2::Signature::now(&author.name, &author.email).map_err(|e| git_error("the tagger", e))?;
            match &author.signing_key {
                Some(key) => {
                    super::commit_signing::signed_tag(
                        &repo,
                        &config.tag,
                        &head,
                        &signature,
                        message,
                        config.force,
                        key,
                    )?;
                }
                None => {
                    repo.tag(&config.tag, object, &signature, message, config.force)
                        .map_err(|e| git_error("tagging", e))?;
                }
            }
        }
        None => {
            repo.tag_lightweight(&config.tag, object, config.force).map_err(|e| git_error("tagging", e))?;
        }
    }
    Ok(outputs(&head.id().to_string()))
}

fn outputs(commit: &str) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("commit".to_owned(), json!(commit));
    out
}
