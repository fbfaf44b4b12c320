//! Commit signing as Kargo does it: which key signs a promotion's commit, and how
//! `github-push` attributes a commit it replays through GitHub's API.
//!
//! Kargo signs with GnuPG under a per-repository home: the system-wide key (its
//! controller's `GITCLIENT_SIGNING_KEY_PATH`) is imported there with ultimate trust and
//! signs every commit and annotated tag; a `git-commit` step that sets `author` commits
//! under a home of its own, signed by that author's `signingKey` or not at all. A commit
//! is *trusted* when the system-wide key verifies its signature; `github-push` leaves
//! the author and committer out of a trusted commit's replay, so GitHub makes it as the
//! authenticated App or user and signs it itself.
//!
//! A `git-clone` that sets `author` gives its clone an identity of its own: that name and
//! email instead of the promoter's, and that author's `signingKey` (or none) instead of
//! the promoter's key, both for every step working in that clone (see
//! [`repository_key`]); a `git-commit`'s own `author` still overrides it.

/// The key of a cloned repository: it signs the commits `git-commit` makes there without
/// an `author` of its own, the commits `git-push` rebases and the annotated tags
/// `git-tag` makes, and it is the key whose commits `github-push` trusts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepositoryKey {
    /// The `signingKey` of the `git-clone`'s `author`.
    CloneAuthor,
    /// The promoter-wide key.
    Promoter,
    /// None: the repository's commits and tags are unsigned, and none is trusted.
    Unsigned,
}

/// The key of a repository cloned with `author` (`clone_sets_author`), with a
/// `signingKey` or not, on a promoter that has a key of its own or not. As Kargo: the
/// clone's user is the clone's author, signing with that author's key or with none (the
/// promoter's key belongs to the promoter's identity); without `author`, the promoter's.
pub fn repository_key(clone_sets_author: bool, clone_has_key: bool, promoter_has_key: bool) -> RepositoryKey {
    match (clone_sets_author, clone_has_key, promoter_has_key) {
        (true, true, _) => RepositoryKey::CloneAuthor,
        (true, false, _) => RepositoryKey::Unsigned,
        (false, _, true) => RepositoryKey::Promoter,
        (false, _, false) => RepositoryKey::Unsigned,
    }
}

/// The name and email of a repository's commits: the `git-clone`'s `author` when it set
/// one, else the promoter's.
pub fn repository_person(clone_author: Option<&Person>, promoter: &Person) -> Person {
    clone_author.unwrap_or(promoter).clone()
}

/// Which key signs a `git-commit`'s commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitKey {
    /// The step's `author.signingKey`.
    Step,
    /// The repository's key (see [`repository_key`]), the promoter's unless the clone
    /// set an author.
    Repository,
    /// None: the commit is unsigned.
    Unsigned,
}

/// The key for a `git-commit` whose config sets `author` (`step_sets_author`), with a
/// `signingKey` or not, in a repository that has a key or not. As Kargo: a step that
/// names its author signs with that author's key, and only with it (the repository's key
/// belongs to the repository's identity); a step that does not, with the repository's.
pub fn commit_key(step_sets_author: bool, step_has_key: bool, repository_has_key: bool) -> CommitKey {
    match (step_sets_author, step_has_key, repository_has_key) {
        (true, true, _) => CommitKey::Step,
        (true, false, _) => CommitKey::Unsigned,
        (false, _, true) => CommitKey::Repository,
        (false, _, false) => CommitKey::Unsigned,
    }
}

/// A name and an email, as a commit or a key's user ID names a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub name: String,
    pub email: String,
}

impl Person {
    /// An OpenPGP user ID (`Name (comment) <email>`) as Kargo reads git's `%GS`: the
    /// email between the last `<` and `>`, the name before it; without them, all name.
    pub fn from_user_id(user_id: &str) -> Self {
        match (user_id.rfind('<'), user_id.rfind('>')) {
            (Some(open), Some(close)) if close > open => {
                Person { name: user_id[..open].trim().to_owned(), email: user_id[open + 1..close].to_owned() }
            }
            _ => Person { name: user_id.trim().to_owned(), email: String::new() },
        }
    }
}

/// How `github-push` replays one commit through GitHub's API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attribution {
    /// With its own author and committer: GitHub does not mark it verified.
    Original,
    /// Without author and committer: GitHub makes it as the authenticated identity and
    /// signs it; the message gains `Co-authored-by: <co_author>` when there is one.
    Withheld { co_author: Option<String> },
}

/// Kargo's rule: a commit signed by the trusted key is replayed without its author and
/// committer, with a `Co-authored-by` trailer naming its author when that author (name
/// and email both known) differs from the key's identity (`signer`); any other commit
/// keeps its author and committer, unless the operator asked to have every commit
/// verified (`verify_untrusted`, Kargo's `GITHUB_PUSH_VERIFY_UNTRUSTED_COMMITS`): then it
/// too is replayed without them, its known author credited.
pub fn replay_attribution(
    trusted: bool,
    verify_untrusted: bool,
    author: &Person,
    signer: Option<&Person>,
) -> Attribution {
    if !trusted && !verify_untrusted {
        return Attribution::Original;
    }
    let signer = signer.filter(|_| trusted);
    let known = !author.name.is_empty() && !author.email.is_empty();
    let co_author = (known && signer != Some(author)).then(|| format!("{} <{}>", author.name, author.email));
    Attribution::Withheld { co_author }
}

/// `message` with the trailer `Co-authored-by: <co_author>`: in the message's last
/// paragraph when that paragraph is all trailers (`Token: value` lines, as the
/// `Lading-Promotion` trailer is), else in a paragraph of its own.
pub fn with_co_author(message: &str, co_author: &str) -> String {
    let body = message.trim_end();
    let last_paragraph = body.rsplit("\n\n").next().unwrap_or_default();
    let is_trailer = |line: &str| {
        line.split_once(": ")
            .is_some_and(|(token, _)| !token.is_empty() && token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    };
    let trailers_last = body.contains("\n\n") && !last_paragraph.is_empty() && last_paragraph.lines().all(is_trailer);
    let separator = if trailers_last { "\n" } else { "\n\n" };
    format!("{body}{separator}Co-authored-by: {co_author}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(name: &str, email: &str) -> Person {
        Person { name: name.to_owned(), email: email.to_owned() }
    }

    #[test]
    fn a_step_that_names_its_author_signs_with_that_authors_key_or_not_at_all() {
        // Given a promoter with a key, when a step sets author with a key, then the step's key signs;
        assert_eq!(commit_key(true, true, true), CommitKey::Step);
        // when the step sets author without a key, then nothing signs, as in Kargo;
        assert_eq!(commit_key(true, false, true), CommitKey::Unsigned);
        // when the step sets no author, then the repository's key signs.
        assert_eq!(commit_key(false, false, true), CommitKey::Repository);
        // Given a promoter without a key, a step without author makes an unsigned commit.
        assert_eq!(commit_key(false, false, false), CommitKey::Unsigned);
        assert_eq!(commit_key(true, true, false), CommitKey::Step);
    }

    #[test]
    fn a_clone_that_names_its_author_has_that_authors_key_or_none() {
        // Given a promoter with a key, when the clone sets author with a key, then it is the clone's;
        assert_eq!(repository_key(true, true, true), RepositoryKey::CloneAuthor);
        // when the clone sets author without a key, then the repository has none, as in Kargo;
        assert_eq!(repository_key(true, false, true), RepositoryKey::Unsigned);
        // when the clone sets no author, then the promoter's key is the repository's.
        assert_eq!(repository_key(false, false, true), RepositoryKey::Promoter);
        // Given a promoter without a key, a clone without author has none.
        assert_eq!(repository_key(false, false, false), RepositoryKey::Unsigned);
        assert_eq!(repository_key(true, true, false), RepositoryKey::CloneAuthor);
    }

    #[test]
    fn a_clones_author_names_its_commits_instead_of_the_promoter() {
        let promoter = person("Lading", "lading@example.com");
        let clone = person("Ada", "ada@example.com");
        // Given a clone with an author, then its commits are that author's;
        assert_eq!(repository_person(Some(&clone), &promoter), clone);
        // given one without, then the promoter's.
        assert_eq!(repository_person(None, &promoter), promoter);
    }

    #[test]
    fn a_user_id_splits_into_name_and_email_as_git_names_a_signer() {
        assert_eq!(Person::from_user_id("Lading <lading@example.com>"), person("Lading", "lading@example.com"));
        assert_eq!(Person::from_user_id("A (work) <a@b.c>"), person("A (work)", "a@b.c"));
        assert_eq!(Person::from_user_id("only a name"), person("only a name", ""));
        assert_eq!(Person::from_user_id("odd > order <"), person("odd > order <", ""));
    }

    #[test]
    fn a_trusted_commit_is_replayed_without_its_author_and_credits_another_author() {
        let signer = person("Lading", "lading@example.com");
        // Given a commit signed by the trusted key, whose author is the key's identity,
        // then it is replayed without author and without a co-author.
        assert_eq!(replay_attribution(true, false, &signer, Some(&signer)), Attribution::Withheld { co_author: None });
        // Given its author is someone else, then the author is credited as co-author.
        let other = person("Ada", "ada@example.com");
        assert_eq!(
            replay_attribution(true, false, &other, Some(&signer)),
            Attribution::Withheld { co_author: Some("Ada <ada@example.com>".to_owned()) }
        );
        // Given an author without an email, then there is nobody to credit.
        assert_eq!(
            replay_attribution(true, false, &person("Ada", ""), Some(&signer)),
            Attribution::Withheld { co_author: None }
        );
    }

    #[test]
    fn an_untrusted_commit_keeps_its_author_and_committer() {
        let author = person("Lading", "lading@example.com");
        assert_eq!(replay_attribution(false, false, &author, Some(&author)), Attribution::Original);
        assert_eq!(replay_attribution(false, false, &author, None), Attribution::Original);
    }

    #[test]
    fn with_every_commit_verified_an_untrusted_one_is_replayed_without_its_author_who_is_credited() {
        let author = person("Ada", "ada@example.com");
        // Given the operator's switch, an untrusted commit is withheld, its author credited
        // even when the untrusted signature names the same person.
        let credited = Attribution::Withheld { co_author: Some("Ada <ada@example.com>".to_owned()) };
        assert_eq!(replay_attribution(false, true, &author, None), credited);
        assert_eq!(replay_attribution(false, true, &author, Some(&author)), credited);
        // A trusted commit is as without the switch.
        assert_eq!(replay_attribution(true, true, &author, Some(&author)), Attribution::Withheld { co_author: None });
    }

    #[test]
    fn the_co_author_joins_a_closing_trailer_block_or_opens_one() {
        // Given a message that ends with the promotion trailer, the co-author joins its block.
        assert_eq!(
            with_co_author("update\n\nLading-Promotion: p\n", "Ada <a@b.c>"),
            "update\n\nLading-Promotion: p\nCo-authored-by: Ada <a@b.c>\n"
        );
        // Given a message without trailers, the co-author gets a paragraph of its own.
        assert_eq!(with_co_author("update the app", "Ada <a@b.c>"), "update the app\n\nCo-authored-by: Ada <a@b.c>\n");
        assert_eq!(
            with_co_author("subject\n\nA body: with a colon, and prose.\nMore.", "Ada <a@b.c>"),
            "subject\n\nA body: with a colon, and prose.\nMore.\n\nCo-authored-by: Ada <a@b.c>\n"
        );
    }
}
