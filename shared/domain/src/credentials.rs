//! Credentials matched by repository URL, like Kargo's credential Secrets: a `repoURL`
//! prefix, or a regex with `repoURLIsRegex`, and a `type` (`git`, `image` or `helm`;
//! entries without one are for Git). Passwords never show in `Debug` output.

use serde::Deserialize;

/// What a credential is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CredentialType {
    #[default]
    Git,
    Image,
    Helm,
}

/// One credential entry.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Credential {
    #[serde(default, rename = "type")]
    pub kind: CredentialType,
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    #[serde(default, rename = "repoURLIsRegex")]
    pub repo_url_is_regex: bool,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("kind", &self.kind)
            .field("repo_url", &self.repo_url)
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

/// Every configured credential.
#[derive(Debug, Clone, Default)]
pub struct Credentials(Vec<Credential>);

impl Credentials {
    /// Reads a YAML or JSON list of credentials.
    pub fn parse(text: &str) -> Result<Self, String> {
        let entries: Vec<Credential> = serde_saphyr::from_str(text).map_err(|e| format!("credentials: {e}"))?;
        for (i, entry) in entries.iter().enumerate() {
            if entry.repo_url_is_regex {
                regex::Regex::new(&entry.repo_url).map_err(|e| format!("credentials [{i}].repoURL: {e}"))?;
            }
        }
        Ok(Self(entries))
    }

    /// Adds `others` after the entries held (the earlier entry wins a match).
    pub fn extend(&mut self, others: Credentials) {
        self.0.extend(others.0);
    }

    /// Only the entries of `kinds`.
    pub fn of_kinds(self, kinds: &[CredentialType]) -> Credentials {
        Credentials(self.0.into_iter().filter(|c| kinds.contains(&c.kind)).collect())
    }

    /// Entries already checked (a regex that does not compile never matches).
    pub fn from_entries(entries: Vec<Credential>) -> Self {
        Self(entries)
    }

    /// Whether there is no entry.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The credential of `kind` for `url`: the first entry whose prefix (or regex) matches.
    pub fn for_url(&self, kind: CredentialType, url: &str) -> Option<&Credential> {
        self.0.iter().filter(|c| c.kind == kind).find(|c| {
            if c.repo_url_is_regex {
                regex::Regex::new(&c.repo_url).is_ok_and(|r| r.is_match(url))
            } else {
                url.starts_with(c.repo_url.trim_end_matches('/'))
            }
        })
    }
}

/// Answers a server's credential challenges for one URL: the matching credential the
/// first time; a second challenge means it was refused (asking again would loop).
#[derive(Debug)]
pub struct Challenges {
    credential: Option<Credential>,
    asked: bool,
}

impl Challenges {
    pub fn new(credentials: &Credentials, kind: CredentialType, url: &str) -> Self {
        Self { credential: credentials.for_url(kind, url).cloned(), asked: false }
    }

    /// The credential to answer with, or why there is none.
    pub fn answer(&mut self) -> Result<&Credential, &'static str> {
        match (&self.credential, self.asked) {
            (Some(c), false) => {
                self.asked = true;
                Ok(c)
            }
            (Some(_), true) => Err("the server refused the configured credentials"),
            (None, _) => Err("the server asks for credentials and none are configured for this repository"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_by_type_and_prefix_or_regex_and_hides_passwords() {
        let credentials = Credentials::parse(
            "- repoURL: https://git.example.com/team/\n  username: bot\n  password: s3cret\n\
             - repoURL: '^https://other\\.example\\.com/.*'\n  repoURLIsRegex: true\n  username: x\n  password: y\n\
             - type: image\n  repoURL: ghcr.io/team\n  username: reg\n  password: z\n",
        )
        .unwrap();
        let git = CredentialType::Git;
        assert_eq!(credentials.for_url(git, "https://git.example.com/team/app.git").unwrap().username, "bot");
        assert_eq!(credentials.for_url(git, "https://other.example.com/a.git").unwrap().username, "x");
        assert!(credentials.for_url(git, "https://git.example.com/elsewhere.git").is_none());
        assert_eq!(credentials.for_url(CredentialType::Image, "ghcr.io/team/app").unwrap().username, "reg");
        assert!(credentials.for_url(git, "ghcr.io/team/app").is_none(), "types do not mix");
        let shown = format!("{credentials:?}");
        assert!(!shown.contains("s3cret") && shown.contains("***"), "{shown}");
        assert!(Credentials::parse("- repoURL: '('\n  repoURLIsRegex: true\n  username: a\n  password: b\n").is_err());
        assert!(Credentials::parse("- type: ssh\n  repoURL: x\n  username: a\n  password: b\n").is_err());
        let mut challenges = Challenges::new(&credentials, git, "https://git.example.com/team/app.git");
        assert_eq!(challenges.answer().unwrap().username, "bot");
        assert_eq!(challenges.answer().unwrap_err(), "the server refused the configured credentials");
        assert!(
            Challenges::new(&credentials, git, "https://x/y").answer().unwrap_err().contains("none are configured")
        );
    }
}
