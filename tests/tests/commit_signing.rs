//! Commit signing as Kargo does it, checked by GnuPG and git: the promoter-wide key signs
//! `git-commit`'s commits (a signing subkey when the key has one) and annotated tags, a
//! step's `author.signingKey` signs its own commit, a step that names an author without
//! a key commits unsigned, a rebase signs what it replays, and bad keys fail the step
//! naming the field and never quoting the key. A `git-clone` that sets `author` gives
//! its clone that identity and key (or none) instead of the promoter's, and a kept tree
//! taken again carries no earlier promotion's author.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use lading_domain::Freight;
use lading_domain::spec::{PromotionStep, validate_manifest};
use lading_promoter::engine::PromotionOutcome;
use lading_promoter::steps::CommitAuthor;
use lading_promoter::steps::commit_signing::{MAX_SIGNING_KEY_BYTES, SigningKey};
use lading_tests::engine_run::EngineRun;
use lading_tests::git::{Repo, git_bytes};
use lading_tests::gpg::Gpg;
use serde_json::{Value, json};

const LADING: &str = "Lading <lading@localhost>";

fn step(uses: &str, config: Value) -> PromotionStep {
    PromotionStep { uses: uses.into(), config: Some(config), ..Default::default() }
}

/// A remote with `app.yaml` on `main`; its bare repository's path.
fn remote(root: &Path) -> (Repo, PathBuf) {
    let repo = Repo::create(root, "gitops");
    repo.commit("app.yaml", "image: nginx:1.0\n", "initial");
    let bare = PathBuf::from(repo.url().trim_start_matches("file://"));
    (repo, bare)
}

/// Clone `main`, change `app.yaml`, commit with `commit` as the step's config (`path`
/// and `message` added), push.
fn promotion(url: &str, commit: Value) -> Vec<PromotionStep> {
    let mut commit = commit;
    commit["path"] = json!("./out");
    commit["message"] = json!("update the image");
    vec![
        step("git-clone", json!({"repoURL": url, "checkout": [{"branch": "main", "path": "./out"}]})),
        step("file-write", json!({"path": "./out/app.yaml", "contents": "image: nginx:2.0\n", "overwrite": true})),
        step("git-commit", commit),
        step("git-push", json!({"path": "./out"})),
    ]
}

fn author_with(key: Option<&str>) -> CommitAuthor {
    CommitAuthor {
        signing_key: key.map(|k| Arc::new(SigningKey::parse(k).expect("the key parses"))),
        ..CommitAuthor::default()
    }
}

fn run(author: CommitAuthor, steps: &[PromotionStep]) -> Result<PromotionOutcome, String> {
    let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
    let workspace = tempfile::tempdir().unwrap();
    EngineRun { author, ..EngineRun::new(&freight) }.run(workspace.path(), steps).map_err(|e| e.to_string())
}

/// A keyring that trusts the public keys of `fingerprints` in `keys` (ultimately, as
/// Kargo trusts its own key).
fn verifier(keys: &Gpg, fingerprints: &[&str]) -> Gpg {
    let verifier = Gpg::new();
    for fingerprint in fingerprints {
        verifier.import(&keys.export_public(fingerprint));
        verifier.trust(fingerprint);
    }
    verifier
}

#[test]
fn the_promoter_key_signs_the_commit_and_git_verifies_it() {
    let keys = Gpg::new();
    let fingerprint = keys.generate(LADING, None);
    let root = tempfile::tempdir().unwrap();
    let (repo, bare) = remote(root.path());
    let outcome =
        run(author_with(Some(&keys.export_secret(&fingerprint))), &promotion(&repo.url(), json!({}))).unwrap();
    let verifier = verifier(&keys, &[&fingerprint]);
    let check = verifier.git(&bare, &["verify-commit", "--raw", &outcome.commit]);
    let said = String::from_utf8_lossy(&check.stderr);
    assert!(check.status.success(), "git verify-commit: {said}");
    assert!(said.contains(&format!("VALIDSIG {fingerprint}")), "{said}");
    assert_eq!(verifier.verdict(&bare, "main"), format!("G:{fingerprint}"));
    // A keyring without the key cannot check it: the commit is signed, not by a key it knows.
    assert_eq!(Gpg::new().verdict(&bare, "main").split(':').next(), Some("E"));
}

#[test]
fn a_key_with_a_signing_subkey_signs_with_the_subkey() {
    let keys = Gpg::new();
    let primary = keys.generate_with_signing_subkey(LADING);
    let root = tempfile::tempdir().unwrap();
    let (repo, bare) = remote(root.path());
    let outcome = run(author_with(Some(&keys.export_secret(&primary))), &promotion(&repo.url(), json!({}))).unwrap();
    let verifier = verifier(&keys, &[&primary]);
    let check = verifier.git(&bare, &["verify-commit", "--raw", &outcome.commit]);
    let said = String::from_utf8_lossy(&check.stderr);
    assert!(check.status.success(), "git verify-commit: {said}");
    // VALIDSIG <signing key> … <primary key>: the subkey signed, on behalf of the primary.
    let validsig = said.lines().find(|l| l.contains("VALIDSIG")).unwrap();
    assert!(validsig.ends_with(&primary) && !validsig.contains(&format!("VALIDSIG {primary}")), "{validsig}");
}

#[test]
fn without_a_key_the_commit_is_unsigned() {
    let root = tempfile::tempdir().unwrap();
    let (repo, bare) = remote(root.path());
    run(CommitAuthor::default(), &promotion(&repo.url(), json!({}))).unwrap();
    assert_eq!(Gpg::new().verdict(&bare, "main"), "N:");
}

#[test]
fn a_steps_signing_key_signs_its_commit_instead_of_the_promoters() {
    let keys = Gpg::new();
    let promoter = keys.generate(LADING, None);
    let own = keys.generate("Release Bot <release@example.com>", None);
    let root = tempfile::tempdir().unwrap();
    let (repo, bare) = remote(root.path());
    let author = json!({"name": "Release Bot", "email": "release@example.com", "signingKey": keys.export_secret(&own)});
    let outcome =
        run(author_with(Some(&keys.export_secret(&promoter))), &promotion(&repo.url(), json!({"author": author})))
            .unwrap();
    let verifier = verifier(&keys, &[&promoter, &own]);
    assert_eq!(verifier.verdict(&bare, &outcome.commit), format!("G:{own}"));
    let logged = verifier.git(&bare, &["log", "-1", "--format=%an <%ae>", "main"]);
    assert_eq!(String::from_utf8_lossy(&logged.stdout).trim(), "Release Bot <release@example.com>");
}

#[test]
fn a_step_that_names_its_author_without_a_key_commits_unsigned_as_kargo_does() {
    let keys = Gpg::new();
    let promoter = keys.generate(LADING, None);
    let root = tempfile::tempdir().unwrap();
    let (repo, bare) = remote(root.path());
    let author = json!({"name": "Someone", "email": "someone@example.com"});
    run(author_with(Some(&keys.export_secret(&promoter))), &promotion(&repo.url(), json!({"author": author}))).unwrap();
    assert_eq!(verifier(&keys, &[&promoter]).verdict(&bare, "main"), "N:");
}

#[test]
fn a_bad_signing_key_fails_the_step_naming_the_field_and_the_reason() {
    let keys = Gpg::new();
    let locked = keys.generate("Locked <locked@example.com>", Some("open sesame"));
    let usable = keys.generate(LADING, None);
    let locked_key = keys.run(&["--passphrase", "open sesame", "--armor", "--export-secret-keys", &locked]);
    let public_key = keys.export_public(&usable);
    let secret = keys.export_secret(&usable);
    let truncated = format!("{}\n-----END PGP PRIVATE KEY BLOCK-----\n", &secret[..secret.len() / 2]);
    let oversized = format!("{secret}{}", " ".repeat(MAX_SIGNING_KEY_BYTES));
    // Keys GnuPG would no longer sign with: one that expired, one that was revoked.
    let expired = keys.export_secret(&keys.generate_expired("Old <old@example.com>"));
    let revoked_fingerprint = keys.generate("Gone <gone@example.com>", None);
    keys.revoke(&revoked_fingerprint);
    let revoked = keys.export_secret(&revoked_fingerprint);
    let cases: [(&str, &str); 7] = [
        (&expired, "the key expired on 2020-12-31"),
        (&revoked, "the key was revoked"),
        (&locked_key, "protected by a passphrase"),
        (&public_key, "a public key, not a private one"),
        ("not a key at all", "not an ASCII-armored OpenPGP private key"),
        (&truncated, "could not be read"),
        (&oversized, "more than the 65536 bytes"),
    ];
    let root = tempfile::tempdir().unwrap();
    let (repo, bare) = remote(root.path());
    for (key, reason) in cases {
        let author = json!({"name": "Lading", "email": "lading@localhost", "signingKey": key});
        let error = run(CommitAuthor::default(), &promotion(&repo.url(), json!({"author": author}))).unwrap_err();
        assert!(error.contains("config.author.signingKey: ") && error.contains(reason), "{reason}: {error}");
        // Nothing of the key is quoted.
        let body_line = key.lines().nth(3).unwrap_or(key);
        assert!(!error.contains(body_line), "the error quotes the key: {error}");
        assert!(error.len() < 400, "{error}");
    }
    // Nothing was committed or pushed.
    assert_eq!(repo.log("main").len(), 1);
    assert_eq!(Gpg::new().verdict(&bare, "main"), "N:");
}

#[test]
fn a_key_whose_only_signing_subkey_expired_is_refused_and_one_that_expires_stops_signing() {
    let keys = Gpg::new();
    // Only its expired subkey could sign: refused, with the day it expired.
    let stale = keys.export_secret(&keys.generate_with_expired_signing_subkey("Stale <stale@example.com>"));
    let refused = SigningKey::parse(&stale).unwrap_err().to_string();
    assert!(refused.contains("the key expired on 2020-12-31"), "{refused}");
    // A key read while valid (the promoter's, read at start) signs until it expires, then
    // refuses to.
    let soon = SigningKey::parse(&keys.export_secret(&keys.generate_expiring("Soon <soon@example.com>", 5)))
        .expect("valid for a few more seconds");
    soon.sign(b"data").expect("signs while valid");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let refused = loop {
        match soon.sign(b"data") {
            Err(error) => break error,
            Ok(_) => assert!(std::time::Instant::now() < deadline, "still signing after its expiry"),
        }
        // Asked again shortly: the expiry is a moment on the clock, not an event.
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(refused.contains("the key expired on"), "{refused}");
}

#[test]
fn the_promoter_key_signs_annotated_tags_and_git_verifies_them() {
    let keys = Gpg::new();
    let fingerprint = keys.generate(LADING, None);
    let root = tempfile::tempdir().unwrap();
    let (repo, bare) = remote(root.path());
    let mut steps = promotion(&repo.url(), json!({}));
    steps.pop();
    steps.push(step("git-tag", json!({"path": "./out", "tag": "v1.0.0", "message": "release v1.0.0"})));
    steps.push(step("git-push", json!({"path": "./out", "tag": "v1.0.0"})));
    run(author_with(Some(&keys.export_secret(&fingerprint))), &steps).unwrap();
    let verifier = verifier(&keys, &[&fingerprint]);
    let check = verifier.git(&bare, &["verify-tag", "--raw", "v1.0.0"]);
    let said = String::from_utf8_lossy(&check.stderr);
    assert!(check.status.success(), "git verify-tag: {said}");
    assert!(said.contains(&format!("VALIDSIG {fingerprint}")), "{said}");
    let message = verifier.git(&bare, &["tag", "-l", "--format=%(contents:subject)|%(taggername)", "v1.0.0"]);
    assert_eq!(String::from_utf8_lossy(&message.stdout).trim(), "release v1.0.0|Lading");
}

/// Runs `steps` with the promoter's `author`, someone else pushing to `repo`'s `main`
/// between the last step (a push, which then rebases) and the ones before it.
fn run_while_the_branch_moves(author: CommitAuthor, repo: &Repo, steps: Vec<PromotionStep>) -> PromotionOutcome {
    run_while_moving(author, Default::default(), repo, steps, ("other.yaml", "x: 1\n")).unwrap()
}

/// [`run_while_the_branch_moves`] under the push integration `policy`, someone else's
/// commit writing `content` to `file`; the push's error, if it fails.
fn run_while_moving(
    author: CommitAuthor,
    policy: lading_domain::push_integration::PushIntegrationPolicy,
    repo: &Repo,
    mut steps: Vec<PromotionStep>,
    (file, content): (&str, &str),
) -> Result<PromotionOutcome, String> {
    let push = steps.pop().unwrap();
    let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
    let workspace = tempfile::tempdir().unwrap();
    let engine = EngineRun { author, push_integration_policy: policy, ..EngineRun::new(&freight) };
    engine.run(workspace.path(), &steps).unwrap();
    repo.commit(file, content, "someone else's change");
    engine.run(workspace.path(), &[push]).map_err(|e| e.to_string())
}

#[test]
fn a_rebase_onto_a_moved_branch_signs_the_commits_it_replays() {
    let keys = Gpg::new();
    let fingerprint = keys.generate(LADING, None);
    let root = tempfile::tempdir().unwrap();
    let (repo, bare) = remote(root.path());
    let author = author_with(Some(&keys.export_secret(&fingerprint)));
    let outcome = run_while_the_branch_moves(author, &repo, promotion(&repo.url(), json!({})));
    let verifier = verifier(&keys, &[&fingerprint]);
    let log = repo.log("main");
    assert_eq!(log.len(), 3, "{log:?}");
    assert!(log[0].message.starts_with("update the image"), "{log:?}");
    assert_eq!(verifier.verdict(&bare, "main"), format!("G:{fingerprint}"));
    assert_eq!(outcome.commit, log[0].id);
    // The commit under it is someone else's, left as it was.
    assert_eq!(verifier.verdict(&bare, "main~1"), "N:");
}

#[test]
fn a_rebase_signs_a_commit_in_another_encoding_keeping_its_encoding_and_message_bytes() {
    let keys = Gpg::new();
    let fingerprint = keys.generate(LADING, None);
    let root = tempfile::tempdir().unwrap();
    let (repo, bare) = remote(root.path());
    // Given a branch whose commit someone made in ISO-8859-1 ("café" as one byte 0xE9),
    let work = root.path().join("dev");
    git_bytes(root.path(), &["clone", "--quiet", bare.to_str().unwrap(), work.to_str().unwrap()]);
    git_bytes(&work, &["checkout", "--quiet", "-b", "feature"]);
    std::fs::write(work.join("menu.txt"), "coffee\n").unwrap();
    std::fs::write(root.path().join("message"), b"caf\xe9 au lait\n").unwrap();
    git_bytes(&work, &["add", "menu.txt"]);
    let message = root.path().join("message");
    git_bytes(&work, &["-c", "i18n.commitEncoding=ISO-8859-1", "commit", "--quiet", "-F", message.to_str().unwrap()]);
    git_bytes(&work, &["push", "--quiet", "origin", "feature"]);
    // when a promotion of it pushes to main, which moved meanwhile,
    let mut steps = promotion(&repo.url(), json!({}));
    steps[0] = step("git-clone", json!({"repoURL": repo.url(), "checkout": [{"branch": "feature", "path": "./out"}]}));
    steps[3] = step("git-push", json!({"path": "./out", "targetBranch": "main"}));
    let author = author_with(Some(&keys.export_secret(&fingerprint)));
    run_while_the_branch_moves(author, &repo, steps);
    // then the replayed commit is signed by the key and keeps its encoding and its bytes.
    let verifier = verifier(&keys, &[&fingerprint]);
    assert_eq!(verifier.verdict(&bare, "main"), format!("G:{fingerprint}"));
    assert_eq!(verifier.verdict(&bare, "main~1"), format!("G:{fingerprint}"));
    let raw = git_bytes(&bare, &["cat-file", "commit", "main~1"]);
    let text = String::from_utf8_lossy(&raw);
    assert!(text.contains("\nencoding ISO-8859-1\n"), "{text}");
    let latin1: &[u8] = b"\n\ncaf\xe9 au lait\n";
    assert!(raw.ends_with(latin1), "{text}");
    let subject = git_bytes(&bare, &["log", "-1", "--format=%s", "main~1"]);
    assert_eq!(String::from_utf8(subject).unwrap().trim(), "café au lait");
    assert_eq!(repo.show("main", "menu.txt"), "coffee");
}

#[test]
fn a_signing_key_field_is_checked_at_apply() {
    let manifest = |signing_key: &str| {
        let text = format!(
            "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata:\n  name: test\n  namespace: demo\nspec:\n  requestedFreight:\n  - origin: {{kind: Warehouse, name: app}}\n    sources: {{direct: true}}\n  promotionTemplate:\n    spec:\n      steps:\n      - uses: git-commit\n        config:\n          path: ./out\n          message: m\n          author:\n            name: A\n            email: a@b.c\n            signingKey: {signing_key}\n"
        );
        validate_manifest(1, serde_saphyr::from_str::<Value>(&text).unwrap()).map(|_| ()).map_err(|e| e.to_string())
    };
    manifest("\"${{ secret('gpg').signingKey }}\"").unwrap();
    let error = manifest("42").unwrap_err();
    assert!(error.contains("author.signingKey"), "{error}");
}

#[test]
fn the_promoter_key_is_read_from_its_file_and_a_bad_one_stops_the_promoter_naming_the_setting() {
    use std::collections::HashMap;

    use lading_promoter::config::{Config, GIT_SIGNING_KEY_PATH_ENV, GIT_SIGNING_KEY_TYPE_ENV};

    let keys = Gpg::new();
    let fingerprint = keys.generate(LADING, None);
    let secret = keys.export_secret(&fingerprint);
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    };
    let env = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    };
    // Given the key's file, the promoter signs with it, and shows only its fingerprint.
    let good = file("key.asc", &secret);
    let config =
        Config::from_env(&env(&[(GIT_SIGNING_KEY_PATH_ENV, &good), (GIT_SIGNING_KEY_TYPE_ENV, "gpg")])).unwrap();
    let key = config.author.signing_key.as_ref().expect("a key");
    assert_eq!(key.fingerprint(), fingerprint);
    let shown = format!("{:?}", config.author);
    assert!(shown.contains(&fingerprint), "{shown}");
    let body_line = secret.lines().nth(3).unwrap();
    assert!(!shown.contains(body_line), "Debug shows the key: {shown}");
    // Without the setting, nothing signs.
    assert!(Config::from_env(&HashMap::new()).unwrap().author.signing_key.is_none());
    // Given a file that is not a usable key, the error names the setting, the file and why.
    let public = file("public.asc", &keys.export_public(&fingerprint));
    let large = file("large.asc", &"x".repeat(MAX_SIGNING_KEY_BYTES * 4));
    let missing = dir.path().join("missing.asc").to_string_lossy().into_owned();
    for (path, reason) in [
        (&public, "a public key, not a private one"),
        (&large, "more than the 65536 bytes"),
        (&missing, "No such file"),
    ] {
        let error = Config::from_env(&env(&[(GIT_SIGNING_KEY_PATH_ENV, path)])).unwrap_err();
        assert!(error.starts_with(&format!("{GIT_SIGNING_KEY_PATH_ENV}={path:?}: ")), "{error}");
        assert!(error.contains(reason), "{reason}: {error}");
    }
    let error =
        Config::from_env(&env(&[(GIT_SIGNING_KEY_PATH_ENV, &good), (GIT_SIGNING_KEY_TYPE_ENV, "ssh")])).unwrap_err();
    assert_eq!(error, format!("{GIT_SIGNING_KEY_TYPE_ENV}=\"ssh\": the only signing key type is gpg"));
}

/// [`promotion`] whose `git-clone` sets `author` to `clone_author`.
fn promotion_with_clone_author(url: &str, clone_author: Value, commit: Value) -> Vec<PromotionStep> {
    let mut steps = promotion(url, commit);
    steps[0] = step(
        "git-clone",
        json!({"repoURL": url, "checkout": [{"branch": "main", "path": "./out"}], "author": clone_author}),
    );
    steps
}

fn head_author(bare: &Path, revision: &str) -> String {
    let logged = Gpg::new().git(bare, &["log", "-1", "--format=%an <%ae>|%cn <%ce>", revision]);
    String::from_utf8_lossy(&logged.stdout).trim().to_owned()
}

#[test]
fn a_clones_author_without_a_key_commits_unsigned_even_with_a_promoter_key() {
    let keys = Gpg::new();
    let promoter = keys.generate(LADING, None);
    let root = tempfile::tempdir().unwrap();
    let (repo, bare) = remote(root.path());
    let clone_author = json!({"name": "Ada", "email": "ada@example.com"});
    run(
        author_with(Some(&keys.export_secret(&promoter))),
        &promotion_with_clone_author(&repo.url(), clone_author, json!({})),
    )
    .unwrap();
    assert_eq!(head_author(&bare, "main"), "Ada <ada@example.com>|Ada <ada@example.com>");
    assert_eq!(verifier(&keys, &[&promoter]).verdict(&bare, "main"), "N:");
}

#[test]
fn a_clones_author_key_signs_its_commits_and_annotated_tags_instead_of_the_promoters() {
    let keys = Gpg::new();
    let promoter = keys.generate(LADING, None);
    let own = keys.generate("Ada <ada@example.com>", None);
    let root = tempfile::tempdir().unwrap();
    let (repo, bare) = remote(root.path());
    let clone_author = json!({"name": "Ada", "email": "ada@example.com", "signingKey": keys.export_secret(&own)});
    let mut steps = promotion_with_clone_author(&repo.url(), clone_author, json!({}));
    steps.pop();
    steps.push(step("git-tag", json!({"path": "./out", "tag": "v1.0.0", "message": "release v1.0.0"})));
    steps.push(step("git-push", json!({"path": "./out"})));
    steps.push(step("git-push", json!({"path": "./out", "tag": "v1.0.0"})));
    let outcome = run(author_with(Some(&keys.export_secret(&promoter))), &steps).unwrap();
    let verifier = verifier(&keys, &[&promoter, &own]);
    let check = verifier.git(&bare, &["verify-commit", "--raw", &outcome.commit]);
    let said = String::from_utf8_lossy(&check.stderr);
    assert!(check.status.success(), "git verify-commit: {said}");
    assert!(said.contains(&format!("VALIDSIG {own}")), "{said}");
    assert_eq!(verifier.verdict(&bare, "main"), format!("G:{own}"));
    assert_eq!(head_author(&bare, "main"), "Ada <ada@example.com>|Ada <ada@example.com>");
    let check = verifier.git(&bare, &["verify-tag", "--raw", "v1.0.0"]);
    let said = String::from_utf8_lossy(&check.stderr);
    assert!(check.status.success() && said.contains(&format!("VALIDSIG {own}")), "git verify-tag: {said}");
    let tagger = verifier.git(&bare, &["tag", "-l", "--format=%(taggername) %(taggeremail)", "v1.0.0"]);
    assert_eq!(String::from_utf8_lossy(&tagger.stdout).trim(), "Ada <ada@example.com>");
}

#[test]
fn a_rebase_in_a_clone_with_its_own_author_signs_with_the_clones_key_not_the_promoters() {
    let keys = Gpg::new();
    let promoter = keys.generate(LADING, None);
    let own = keys.generate("Ada <ada@example.com>", None);
    // A full clone, then a blobless one (its objects fetched by the git command).
    for blobless in [false, true] {
        let root = tempfile::tempdir().unwrap();
        let (repo, bare) = remote(root.path());
        repo.allow_partial_clones();
        let clone_author = json!({"name": "Ada", "email": "ada@example.com", "signingKey": keys.export_secret(&own)});
        let mut steps = promotion_with_clone_author(&repo.url(), clone_author, json!({}));
        steps[0].config.as_mut().unwrap()["blobless"] = json!(blobless);
        let outcome = run_while_the_branch_moves(author_with(Some(&keys.export_secret(&promoter))), &repo, steps);
        let log = repo.log("main");
        assert_eq!(log.len(), 3, "blobless {blobless}: {log:?}");
        assert_eq!(outcome.commit, log[0].id, "the replayed commit was pushed");
        let verifier = verifier(&keys, &[&promoter, &own]);
        assert_eq!(verifier.verdict(&bare, "main"), format!("G:{own}"), "blobless {blobless}");
        assert_eq!(head_author(&bare, "main"), "Ada <ada@example.com>|Ada <ada@example.com>");
        assert_eq!(repo.show("main", "other.yaml"), "x: 1", "blobless {blobless}");
    }
}

#[test]
fn a_commits_own_author_overrides_the_clones() {
    let keys = Gpg::new();
    let own = keys.generate("Ada <ada@example.com>", None);
    let bot = keys.generate("Release Bot <release@example.com>", None);
    let root = tempfile::tempdir().unwrap();
    let (repo, bare) = remote(root.path());
    let clone_author = json!({"name": "Ada", "email": "ada@example.com", "signingKey": keys.export_secret(&own)});
    let commit_author =
        json!({"name": "Release Bot", "email": "release@example.com", "signingKey": keys.export_secret(&bot)});
    run(
        CommitAuthor::default(),
        &promotion_with_clone_author(&repo.url(), clone_author.clone(), json!({"author": commit_author})),
    )
    .unwrap();
    assert_eq!(head_author(&bare, "main"), "Release Bot <release@example.com>|Release Bot <release@example.com>");
    assert_eq!(verifier(&keys, &[&own, &bot]).verdict(&bare, "main"), format!("G:{bot}"));
    // A commit author without a key of its own commits unsigned, not by the clone's key.
    let root = tempfile::tempdir().unwrap();
    let (repo, bare) = remote(root.path());
    let commit_author = json!({"name": "Release Bot", "email": "release@example.com"});
    run(
        CommitAuthor::default(),
        &promotion_with_clone_author(&repo.url(), clone_author, json!({"author": commit_author})),
    )
    .unwrap();
    assert_eq!(verifier(&keys, &[&own]).verdict(&bare, "main"), "N:");
}

#[test]
fn a_kept_tree_taken_by_a_promotion_without_author_commits_as_the_promoter_again() {
    let keys = Gpg::new();
    let promoter = keys.generate(LADING, None);
    let own = keys.generate("Ada <ada@example.com>", None);
    let root = tempfile::tempdir().unwrap();
    let (repo, bare) = remote(root.path());
    let mirrors = tempfile::tempdir().unwrap();
    let freight = Freight::from_warehouse("app").with_commit("https://example.com/app.git", "abc123");
    let engine = |promotion: &'static str| EngineRun {
        promotion,
        mirrors: Some(mirrors.path()),
        author: author_with(Some(&keys.export_secret(&promoter))),
        ..EngineRun::new(&freight)
    };
    let pooled_key_files = || -> usize {
        let trees = mirrors.path().join("trees");
        std::fs::read_dir(trees)
            .into_iter()
            .flatten()
            .flatten()
            .flat_map(|pool| std::fs::read_dir(pool.path()).unwrap().flatten())
            .filter(|tree| tree.path().join(".git/lading-signing-key").exists())
            .count()
    };
    // Round 1: the clone's author signs, and its tree is kept with its author.
    let clone_author = json!({"name": "Ada", "email": "ada@example.com", "signingKey": keys.export_secret(&own)});
    let first = tempfile::tempdir().unwrap();
    engine("test.01").run(first.path(), &promotion_with_clone_author(&repo.url(), clone_author, json!({}))).unwrap();
    lading_promoter::steps::keep_working_trees(first.path(), mirrors.path());
    assert_eq!(pooled_key_files(), 1, "the kept tree holds its author's key in its .git");
    let verifier = verifier(&keys, &[&promoter, &own]);
    assert_eq!(verifier.verdict(&bare, "main"), format!("G:{own}"));
    // Round 2 takes the kept tree without an author: the promoter commits and signs again.
    let second = tempfile::tempdir().unwrap();
    let mut steps = promotion(&repo.url(), json!({}));
    steps[1] =
        step("file-write", json!({"path": "./out/app.yaml", "contents": "image: nginx:3.0\n", "overwrite": true}));
    engine("test.02").run(second.path(), &steps).unwrap();
    assert_eq!(pooled_key_files(), 0, "the kept tree was taken");
    assert!(!second.path().join("out/.git/lading-signing-key").exists(), "the earlier author's key is gone");
    assert_eq!(head_author(&bare, "main"), "Lading <lading@localhost>|Lading <lading@localhost>");
    assert_eq!(verifier.verdict(&bare, "main"), format!("G:{promoter}"));
    assert_eq!(repo.log("main").len(), 3);
}

#[test]
fn a_bad_clone_author_fails_the_step_naming_the_field() {
    let keys = Gpg::new();
    let usable = keys.generate(LADING, None);
    let public_key = keys.export_public(&usable);
    let root = tempfile::tempdir().unwrap();
    let (repo, _bare) = remote(root.path());
    let cases = [
        (
            json!({"name": "Ada", "email": "ada@example.com", "signingKey": public_key}),
            "config.author.signingKey: a public key",
        ),
        (
            json!({"name": "Ada", "email": "ada@example.com", "signingKey": "nope"}),
            "config.author.signingKey: not an ASCII-armored",
        ),
        (json!({"email": "ada@example.com"}), "config.author.name: required"),
        (json!({"name": "Ada"}), "config.author.email: required"),
    ];
    for (clone_author, expected) in cases {
        let error = run(CommitAuthor::default(), &promotion_with_clone_author(&repo.url(), clone_author, json!({})))
            .unwrap_err();
        assert!(error.contains(expected), "{expected}: {error}");
        assert!(!error.contains("BEGIN PGP PUBLIC"), "the error quotes the key: {error}");
    }
    assert_eq!(repo.log("main").len(), 1, "nothing was pushed");
}

#[test]
fn a_clones_author_is_checked_at_apply() {
    let manifest = |author: &str| {
        let text = format!(
            "apiVersion: kargo.akuity.io/v1alpha1\nkind: Stage\nmetadata:\n  name: test\n  namespace: demo\nspec:\n  requestedFreight:\n  - origin: {{kind: Warehouse, name: app}}\n    sources: {{direct: true}}\n  promotionTemplate:\n    spec:\n      steps:\n      - uses: git-clone\n        config:\n          repoURL: https://example.com/r.git\n          checkout:\n          - branch: main\n            path: ./out\n          author: {author}\n"
        );
        validate_manifest(1, serde_saphyr::from_str::<Value>(&text).unwrap()).map(|_| ()).map_err(|e| e.to_string())
    };
    manifest("{name: A, email: a@b.c, signingKey: \"${{ secret('gpg').signingKey }}\"}").unwrap();
    manifest("{name: A, email: a@b.c}").unwrap();
    let error = manifest("{name: A, email: a@b.c, signingKey: 42}").unwrap_err();
    assert!(error.contains("author.signingKey"), "{error}");
    let error = manifest("{name: A}").unwrap_err();
    assert!(error.contains("author.email"), "{error}");
    let error = manifest("{name: A, email: a@b.c, key: x}").unwrap_err();
    assert!(error.contains("author.key"), "{error}");
}

#[path = "commit_signing/push_integration.rs"]
mod push_integration;
