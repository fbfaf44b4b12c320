//! OpenPGP signing of promotion commits and annotated tags, as Kargo signs them with
//! GnuPG, done in process (rPGP): a `gpgsig` header on commits, a signature after the
//! message of tags, both checked by `git verify-commit` / `git verify-tag`.
//!
//! A key is an ASCII-armored OpenPGP private key without a passphrase (Kargo's
//! `signingKey`), at most [`MAX_SIGNING_KEY_BYTES`]. Its newest signing-capable subkey
//! signs, else its primary key, as GnuPG picks. Nothing here quotes the key: errors say
//! what is wrong with it, and `Debug` shows its fingerprint alone.

use std::fmt;

use git2::{Commit, Oid, Repository, Signature, Tree};
use lading_domain::commit_signing::{Person, RepositoryKey, repository_key, repository_person};
use pgp::composed::{ArmorOptions, Deserializable, DetachedSignature, SignedSecretKey};
use pgp::crypto::hash::HashAlgorithm;
use pgp::types::{KeyDetails, Password};

use super::git_error;

/// The largest signing key read (an armored RSA-4096 key with its subkeys is ~10 KiB).
pub const MAX_SIGNING_KEY_BYTES: usize = 64 * 1024;

/// What is wrong with a signing key; never quotes it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningKeyError {
    #[error("the key is {size} bytes, more than the {limit} bytes a signing key may be")]
    TooLarge { size: usize, limit: usize },
    #[error("empty: no key was given")]
    Empty,
    #[error("a public key, not a private one: export it with `gpg --armor --export-secret-keys`")]
    PublicKey,
    #[error("not an ASCII-armored OpenPGP private key (one that starts with `-----BEGIN PGP PRIVATE KEY BLOCK-----`)")]
    NotArmored,
    #[error("the armored OpenPGP private key could not be read (damaged or truncated)")]
    Unreadable,
    #[error("the key's self-signatures (of its user IDs and subkeys) do not verify")]
    BadSelfSignatures,
    #[error("the key is protected by a passphrase, which Lading cannot enter: export it without one")]
    PassphraseProtected,
    #[error("the key has no key that may sign (no primary key or subkey with the sign capability)")]
    CannotSign,
    #[error("the key expired on {0}: extend it (`gpg --quick-set-expire`) or use another")]
    Expired(String),
    #[error("the key was revoked")]
    Revoked,
}

/// Which of the key's keys signs.
#[derive(Clone, Copy)]
enum Signer {
    Primary,
    Subkey(usize),
}

/// A parsed OpenPGP private key that signs commits and tags.
#[derive(Clone)]
pub struct SigningKey {
    key: SignedSecretKey,
    signer: Signer,
    /// When the key that signs stops being valid (Unix seconds), by its own and its
    /// primary key's self-signatures.
    expires_at: Option<u64>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({})", self.fingerprint())
    }
}

impl SigningKey {
    /// Parses an ASCII-armored private key (Kargo's `signingKey`).
    pub fn parse(armored: &str) -> Result<Self, SigningKeyError> {
        if armored.len() > MAX_SIGNING_KEY_BYTES {
            return Err(SigningKeyError::TooLarge { size: armored.len(), limit: MAX_SIGNING_KEY_BYTES });
        }
        let text = armored.trim();
        if text.is_empty() {
            return Err(SigningKeyError::Empty);
        }
        if text.contains("-----BEGIN PGP PUBLIC KEY BLOCK-----") {
            return Err(SigningKeyError::PublicKey);
        }
        if !text.contains("-----BEGIN PGP PRIVATE KEY BLOCK-----") {
            return Err(SigningKeyError::NotArmored);
        }
        // rPGP's errors may describe the bytes they stopped at: none is passed on.
        let (key, _headers) = SignedSecretKey::from_string(text).map_err(|_| SigningKeyError::Unreadable)?;
        key.verify_bindings().map_err(|_| SigningKeyError::BadSelfSignatures)?;
        let (signer, expires_at) = choose_signer(&key, now_secs())?;
        let encrypted = match signer {
            Signer::Primary => key.primary_key.secret_params().is_encrypted(),
            Signer::Subkey(index) => key.secret_subkeys[index].key.secret_params().is_encrypted(),
        };
        if encrypted {
            return Err(SigningKeyError::PassphraseProtected);
        }
        Ok(SigningKey { key, signer, expires_at })
    }

    /// The primary key's fingerprint, in upper-case hex as GnuPG shows it.
    pub fn fingerprint(&self) -> String {
        format!("{:X}", self.key.primary_key.fingerprint())
    }

    /// The person of the key's primary user ID (else its first), as git names a signer.
    pub fn identity(&self) -> Option<Person> {
        let users = &self.key.details.users;
        let user = users.iter().find(|u| u.is_primary()).or_else(|| users.first())?;
        Some(Person::from_user_id(&String::from_utf8_lossy(user.id.id())))
    }

    /// An ASCII-armored detached signature over `data`.
    pub fn sign(&self, data: &[u8]) -> Result<String, String> {
        // A key read before it expired (the promoter's, at start) stops signing then.
        if let Some(at) = self.expires_at.filter(|at| *at <= now_secs()) {
            return Err(format!("signing with key {}: {}", self.fingerprint(), SigningKeyError::Expired(day(at))));
        }
        let rng = rand::thread_rng();
        let password = Password::empty();
        let signature = match self.signer {
            Signer::Primary => {
                let key = &self.key.primary_key;
                DetachedSignature::sign_binary_data(rng, key, &password, hash_for(key), data)
            }
            Signer::Subkey(index) => {
                let key = &self.key.secret_subkeys[index].key;
                DetachedSignature::sign_binary_data(rng, key, &password, hash_for(key), data)
            }
        }
        .map_err(|e| format!("signing with key {}: {e}", self.fingerprint()))?;
        signature
            .to_armored_string(ArmorOptions::default())
            .map_err(|e| format!("writing the signature of key {}: {e}", self.fingerprint()))
    }

    /// Whether `armored` is a signature over `data` by this key (its primary key or any
    /// of its subkeys).
    pub fn verifies(&self, armored: &str, data: &[u8]) -> bool {
        let Ok((signature, _)) = DetachedSignature::from_string(armored) else {
            return false;
        };
        signature.verify(self.key.primary_key.public_key(), data).is_ok()
            || self.key.secret_subkeys.iter().any(|sub| signature.verify(sub.key.public_key(), data).is_ok())
            || self.key.public_subkeys.iter().any(|sub| signature.verify(&sub.key, data).is_ok())
    }
}

/// At least SHA-256, whatever the key's algorithm would take.
fn hash_for(key: &impl pgp::types::SigningKey) -> HashAlgorithm {
    match key.hash_alg() {
        HashAlgorithm::Sha384 | HashAlgorithm::Sha512 => key.hash_alg(),
        _ => HashAlgorithm::Sha256,
    }
}

/// GnuPG's choice: the newest subkey whose binding allows signing and that is neither
/// expired nor revoked at `now`, else the primary key when a self-signature allows it
/// (or, as in old keys, none states capabilities); with when the chosen key expires. A
/// revoked or expired primary key makes the whole key unusable, as in GnuPG.
fn choose_signer(key: &SignedSecretKey, now: u64) -> Result<(Signer, Option<u64>), SigningKeyError> {
    if !key.details.revocation_signatures.is_empty() {
        return Err(SigningKeyError::Revoked);
    }
    let self_signatures: Vec<&pgp::packet::Signature> =
        key.details.users.iter().flat_map(|u| &u.signatures).chain(&key.details.direct_signatures).collect();
    let primary_expires = expiry(key.primary_key.created_at(), &self_signatures);
    if let Some(at) = primary_expires.filter(|at| *at <= now) {
        return Err(SigningKeyError::Expired(day(at)));
    }
    let signing_subkeys: Vec<(usize, &pgp::composed::SignedSecretSubKey)> = key
        .secret_subkeys
        .iter()
        .enumerate()
        .filter(|(_, sub)| sub.signatures.iter().any(|s| s.key_flags().sign()))
        .collect();
    let subkey_state = |sub: &pgp::composed::SignedSecretSubKey| {
        let revoked = sub.signatures.iter().any(|s| s.typ() == Some(pgp::packet::SignatureType::SubkeyRevocation));
        let bindings: Vec<&pgp::packet::Signature> =
            sub.signatures.iter().filter(|s| s.typ() == Some(pgp::packet::SignatureType::SubkeyBinding)).collect();
        (revoked, expiry(sub.key.created_at(), &bindings))
    };
    let usable = signing_subkeys
        .iter()
        .filter(|(_, sub)| {
            let (revoked, expires) = subkey_state(sub);
            !revoked && expires.is_none_or(|at| at > now)
        })
        .max_by_key(|(_, sub)| sub.key.created_at());
    let earliest = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if let Some((index, sub)) = usable {
        return Ok((Signer::Subkey(*index), earliest(primary_expires, subkey_state(sub).1)));
    }
    let states_flags = self_signatures.iter().any(|s| s.key_flags() != Default::default());
    let primary_signs = self_signatures.iter().any(|s| s.key_flags().sign());
    if primary_signs || !states_flags {
        return Ok((Signer::Primary, primary_expires));
    }
    // Only subkeys could sign, and none may now: say why.
    let states: Vec<(bool, Option<u64>)> = signing_subkeys.iter().map(|(_, sub)| subkey_state(sub)).collect();
    match states.iter().filter(|(revoked, _)| !revoked).filter_map(|(_, at)| *at).max() {
        Some(at) => Err(SigningKeyError::Expired(day(at))),
        None if !states.is_empty() => Err(SigningKeyError::Revoked),
        None => Err(SigningKeyError::CannotSign),
    }
}

/// When a key made at `created` expires by the newest of its self-signatures
/// `signatures` (Unix seconds; `None`: never).
fn expiry(created: pgp::types::Timestamp, signatures: &[&pgp::packet::Signature]) -> Option<u64> {
    let newest = signatures.iter().max_by_key(|s| s.created().map(|t| t.as_secs()))?;
    let lasts = newest.key_expiration_time()?;
    let lasts = u64::from(lasts.as_secs());
    (lasts > 0).then(|| u64::from(created.as_secs()).saturating_add(lasts))
}

fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A day, as `2026-12-31` (UTC).
fn day(unix_secs: u64) -> String {
    chrono::DateTime::from_timestamp(i64::try_from(unix_secs).unwrap_or(i64::MAX), 0)
        .map_or_else(|| unix_secs.to_string(), |at| at.format("%Y-%m-%d").to_string())
}

/// What a new commit is made of.
pub struct NewCommit<'a> {
    pub author: &'a Signature<'a>,
    pub committer: &'a Signature<'a>,
    pub message: &'a str,
    pub tree: &'a Tree<'a>,
    pub parents: &'a [&'a Commit<'a>],
}

/// Makes `new` and moves `update_ref` (`HEAD` or a branch) to it, signed by `key` when
/// there is one (a `gpgsig` header, as `git commit -S` writes).
pub fn commit(
    repo: &Repository,
    update_ref: Option<&str>,
    new: &NewCommit<'_>,
    key: Option<&SigningKey>,
) -> Result<Oid, String> {
    let NewCommit { author, committer, message, tree, parents } = *new;
    let Some(key) = key else {
        return repo
            .commit(update_ref, author, committer, message, tree, parents)
            .map_err(|e| git_error("committing", e));
    };
    let buffer =
        repo.commit_create_buffer(author, committer, message, tree, parents).map_err(|e| git_error("committing", e))?;
    let content = std::str::from_utf8(&buffer).map_err(|_| "committing: the commit is not UTF-8".to_owned())?;
    let signature = key.sign(content.as_bytes())?;
    let oid = repo.commit_signed(content, &signature, None).map_err(|e| git_error("committing a signed commit", e))?;
    if let Some(name) = update_ref {
        move_ref(repo, name, oid, message)?;
    }
    Ok(oid)
}

/// Points `name` at `oid`: `HEAD` moves the branch it names (made when unborn), or
/// itself when detached.
fn move_ref(repo: &Repository, name: &str, oid: Oid, message: &str) -> Result<(), String> {
    let log = format!("commit: {}", message.lines().next().unwrap_or_default());
    let target = if name == "HEAD" {
        let head = repo.find_reference("HEAD").map_err(|e| git_error("reading HEAD", e))?;
        match head.symbolic_target().map_err(|e| git_error("reading HEAD", e))? {
            Some(branch) => branch.to_owned(),
            None => return repo.set_head_detached(oid).map_err(|e| git_error("moving HEAD", e)),
        }
    } else {
        name.to_owned()
    };
    repo.reference(&target, oid, true, &log).map(|_| ()).map_err(|e| git_error("moving the branch", e))
}

/// Whether `key` verifies the `gpgsig` of commit `id` (`false` for an unsigned commit).
pub fn signed_by(repo: &Repository, id: Oid, key: &SigningKey) -> bool {
    match repo.extract_signature(&id, None) {
        Ok((signature, content)) => match signature.as_str() {
            Ok(signature) => key.verifies(signature, &content),
            Err(_) => false,
        },
        Err(_) => false,
    }
}

/// Makes the commits of `branch` after `base` again, each signed by `key`, with the
/// same trees, messages, authors and committers (a rebase drops signatures; Kargo's
/// rebase signs what it replays with the repository's key). Moves `branch` to the last.
///
/// Each is made from its raw object, its parents mapped to the ones made again and any
/// signature it had left out: every other header (`encoding` among them) and the message
/// keep their bytes, whatever their encoding.
pub fn sign_commits_since(repo: &Repository, branch: &str, base: Oid, key: &SigningKey) -> Result<(), String> {
    let walking = |e| git_error("signing the rebased commits", e);
    let reference = format!("refs/heads/{branch}");
    let tip = repo.refname_to_id(&reference).map_err(walking)?;
    let mut walk = repo.revwalk().map_err(walking)?;
    walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE).map_err(walking)?;
    walk.push(tip).map_err(walking)?;
    walk.hide(base).map_err(walking)?;
    let odb = repo.odb().map_err(walking)?;
    let mut made: std::collections::HashMap<Oid, Oid> = std::collections::HashMap::new();
    let mut last = None;
    for id in walk {
        let id = id.map_err(walking)?;
        let original = odb.read(id).map_err(walking)?;
        let unsigned = unsigned_with_parents(original.data(), &made)
            .ok_or_else(|| format!("signing the rebased commits: commit {id} has no message separator"))?;
        let signature = key.sign(&unsigned)?;
        let signed = odb.write(git2::ObjectType::Commit, &with_signature(&unsigned, &signature)).map_err(walking)?;
        made.insert(id, signed);
        last = Some(signed);
    }
    match last {
        Some(last) => repo
            .reference(&reference, last, true, "rebase: signed")
            .map(|_| ())
            .map_err(|e| git_error("moving the branch", e)),
        None => Ok(()),
    }
}

/// A raw commit object without its signature headers (`gpgsig`, `gpgsig-sha256` and
/// their continuation lines), each `parent` line naming the commit `made` again for it
/// when there is one; `None` when the object has no blank line ending its headers.
fn unsigned_with_parents(raw: &[u8], made: &std::collections::HashMap<Oid, Oid>) -> Option<Vec<u8>> {
    let end = raw.windows(2).position(|w| w == b"\n\n")? + 1;
    let (headers, message) = raw.split_at(end);
    let mut out = Vec::with_capacity(raw.len());
    let mut in_signature = false;
    for line in headers.split_inclusive(|b| *b == b'\n') {
        if in_signature && line.starts_with(b" ") {
            continue;
        }
        in_signature = line.starts_with(b"gpgsig ") || line.starts_with(b"gpgsig-sha256 ");
        if in_signature {
            continue;
        }
        let parent = line
            .strip_prefix(b"parent ")
            .and_then(|rest| std::str::from_utf8(rest).ok())
            .and_then(|hex| Oid::from_str(hex.trim_end()).ok());
        match parent.and_then(|p| made.get(&p)) {
            Some(new) => out.extend_from_slice(format!("parent {new}\n").as_bytes()),
            None => out.extend_from_slice(line),
        }
    }
    out.extend_from_slice(message);
    Some(out)
}

/// `unsigned` (a raw commit object) with `signature` as its `gpgsig` header, after its
/// other headers, each line after the first indented by a space, as `git commit -S`
/// writes it.
fn with_signature(unsigned: &[u8], signature: &str) -> Vec<u8> {
    let end = unsigned.windows(2).position(|w| w == b"\n\n").map_or(unsigned.len(), |at| at + 1);
    let header = format!("gpgsig {}\n", signature.trim_end_matches('\n').replace('\n', "\n "));
    [&unsigned[..end], header.as_bytes(), &unsigned[end..]].concat()
}

/// Makes the annotated tag `name` of `target`, signed by `key` (the signature after the
/// message, as `git tag -s` writes it), and points `refs/tags/<name>` at it.
pub fn signed_tag(
    repo: &Repository,
    name: &str,
    target: &Commit<'_>,
    tagger: &Signature<'_>,
    message: &str,
    force: bool,
    key: &SigningKey,
) -> Result<Oid, String> {
    let mut content =
        format!("object {}\ntype commit\ntag {name}\ntagger {}\n\n{message}", target.id(), signature_line(tagger)?,);
    if !content.ends_with('\n') {
        content.push('\n');
    }
    let signature = key.sign(content.as_bytes())?;
    content.push_str(&signature);
    let odb = repo.odb().map_err(|e| git_error("tagging", e))?;
    let oid = odb.write(git2::ObjectType::Tag, content.as_bytes()).map_err(|e| git_error("tagging", e))?;
    repo.reference(&format!("refs/tags/{name}"), oid, force, "tag: signed").map_err(|e| git_error("tagging", e))?;
    Ok(oid)
}

/// `Name <email> <seconds> <±hhmm>`, as a commit or tag header names a person.
fn signature_line(signature: &Signature<'_>) -> Result<String, String> {
    let name = signature.name().map_err(|_| "the tagger's name is not UTF-8")?;
    let email = signature.email().map_err(|_| "the tagger's email is not UTF-8")?;
    let when = signature.when();
    let offset = when.offset_minutes();
    let sign = if offset < 0 { '-' } else { '+' };
    let offset = offset.unsigned_abs();
    Ok(format!("{name} <{email}> {} {sign}{:02}{:02}", when.seconds(), offset / 60, offset % 60))
}

/// The file in a clone's git directory that holds the armored key of the author its
/// `git-clone` set: inside `.git`, never in the working tree, readable by its owner only.
const CLONE_KEY_FILE: &str = "lading-signing-key";

/// The author a `git-clone` sets: a name, an email and an armored key, already parsed.
pub struct CloneAuthor<'a> {
    pub person: &'a Person,
    pub key: Option<&'a str>,
}

/// Records in `repo` the author its `git-clone` set (`user.name` and `user.email` in its
/// `.git/config`, the key in [`CLONE_KEY_FILE`]), or clears what an earlier promotion
/// recorded in a kept tree: every clone carries its own author or none.
pub fn record_clone_author(repo: &Repository, author: Option<&CloneAuthor<'_>>) -> Result<(), String> {
    let failed = |e| git_error("recording the clone's author", e);
    let mut config = repo.config().and_then(|c| c.open_level(git2::ConfigLevel::Local)).map_err(failed)?;
    let key_file = repo.path().join(CLONE_KEY_FILE);
    match author {
        Some(CloneAuthor { person, key }) => {
            config.set_str("user.name", &person.name).map_err(failed)?;
            config.set_str("user.email", &person.email).map_err(failed)?;
            match key {
                Some(key) => write_private(&key_file, key)?,
                None => remove_if_present(&key_file)?,
            }
        }
        None => {
            for name in ["user.name", "user.email"] {
                let present = match config.get_string(name) {
                    Ok(_) => true,
                    Err(e) if e.code() == git2::ErrorCode::NotFound => false,
                    Err(e) => return Err(failed(e)),
                };
                if present {
                    config.remove(name).map_err(failed)?;
                }
            }
            remove_if_present(&key_file)?;
        }
    }
    Ok(())
}

/// Who commits, signs and tags in `repo`: the author its `git-clone` recorded (with that
/// author's key or none), else the promoter's (see
/// [`lading_domain::commit_signing::repository_key`]).
pub fn repository_author(repo: &Repository, promoter: &super::CommitAuthor) -> Result<super::CommitAuthor, String> {
    let failed = |e| git_error("reading the clone's author", e);
    let config = repo.config().and_then(|c| c.open_level(git2::ConfigLevel::Local)).map_err(failed)?;
    let recorded = match (config.get_string("user.name"), config.get_string("user.email")) {
        (Ok(name), Ok(email)) => Some(Person { name, email }),
        _ => None,
    };
    let key_file = repo.path().join(CLONE_KEY_FILE);
    let clone_key = match &recorded {
        Some(_) => read_key(&key_file)?,
        None => None,
    };
    let promoter_person = Person { name: promoter.name.clone(), email: promoter.email.clone() };
    let person = repository_person(recorded.as_ref(), &promoter_person);
    let signing_key = match repository_key(recorded.is_some(), clone_key.is_some(), promoter.signing_key.is_some()) {
        RepositoryKey::CloneAuthor => clone_key.map(std::sync::Arc::new),
        RepositoryKey::Promoter => promoter.signing_key.clone(),
        RepositoryKey::Unsigned => None,
    };
    Ok(super::CommitAuthor { name: person.name, email: person.email, signing_key })
}

/// The key in `path`, if there is one; at most [`MAX_SIGNING_KEY_BYTES`] are read.
fn read_key(path: &std::path::Path) -> Result<Option<SigningKey>, String> {
    use std::io::Read;
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("reading the clone's signing key: {e}")),
    };
    let mut text = String::new();
    file.take(MAX_SIGNING_KEY_BYTES as u64 + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("reading the clone's signing key: {e}"))?;
    SigningKey::parse(&text).map(Some).map_err(|e| format!("the clone's signing key: {e}"))
}

fn write_private(path: &std::path::Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let failed = |e: std::io::Error| format!("recording the clone's signing key: {e}");
    remove_if_present(path)?;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(failed)?;
    file.write_all(text.as_bytes()).map_err(failed)
}

fn remove_if_present(path: &std::path::Path) -> Result<(), String> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(format!("clearing the clone's signing key: {e}")),
        _ => Ok(()),
    }
}
