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
                prefix_matches(&c.repo_url, url)
            }
        })
    }
}

/// `text` parsed as a URL; a reference without a scheme (`ghcr.io/team/app:1.0`) is
/// read as `oci://` followed by it.
fn parse_location(text: &str) -> Option<url::Url> {
    if text.contains("://") { url::Url::parse(text).ok() } else { url::Url::parse(&format!("oci://{text}")).ok() }
}

/// Whether the credential `prefix` covers `url`: the same scheme, host and port, and a
/// path that is the prefix's path or continues it after a `/` (for references without
/// an HTTP scheme also after `:` or `@`, a tag or digest; for Git, `.git`). Neither may
/// carry userinfo, so `https://host@elsewhere/` is never taken for `host`.
fn prefix_matches(prefix: &str, url: &str) -> bool {
    let (Some(want), Some(have)) = (parse_location(prefix.trim()), parse_location(url.trim())) else {
        return false;
    };
    let userinfo = |u: &url::Url| !u.username().is_empty() || u.password().is_some();
    if userinfo(&want) || userinfo(&have) || want.cannot_be_a_base() || have.cannot_be_a_base() {
        return false;
    }
    let (Some(want_host), Some(have_host)) = (want.host_str(), have.host_str()) else { return false };
    if !want.scheme().eq_ignore_ascii_case(have.scheme())
        || !want_host.eq_ignore_ascii_case(have_host)
        || want.port_or_known_default() != have.port_or_known_default()
    {
        return false;
    }
    let base = want.path().trim_end_matches('/');
    let Some(rest) = have.path().strip_prefix(base) else { return false };
    let http = matches!(have.scheme(), "http" | "https");
    rest.is_empty()
        || rest.starts_with('/')
        || rest == ".git"
        || rest == ".git/"
        || (!http && (rest.starts_with(':') || rest.starts_with('@')))
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
        assert_eq!(credentials.for_url(CredentialType::Image, "ghcr.io/team/app:1.0").unwrap().username, "reg");
        assert_eq!(
            credentials.for_url(CredentialType::Image, "oci://ghcr.io/team/app@sha256:ab").unwrap().username,
            "reg"
        );
        assert!(credentials.for_url(CredentialType::Image, "ghcr.io/teammate/app").is_none());
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

    #[test]
    fn given_a_credential_for_a_host_when_a_url_only_looks_like_it_then_it_does_not_match() {
        let credentials = Credentials::parse(
            "- type: helm\n  repoURL: https://charts.example.com\n  username: bot\n  password: s3cret\n\
             - type: helm\n  repoURL: https://repo.example/team/\n  username: team\n  password: t\n",
        )
        .unwrap();
        let helm = CredentialType::Helm;
        for url in [
            "https://charts.example.com",
            "https://charts.example.com/",
            "https://Charts.Example.com:443/stable/index.yaml",
            "https://charts.example.com?x=1",
        ] {
            assert_eq!(credentials.for_url(helm, url).map(|c| c.username.as_str()), Some("bot"), "{url}");
        }
        assert_eq!(credentials.for_url(helm, "https://repo.example/team/a/index.yaml").unwrap().username, "team");
        for url in [
            "https://charts.example.com.attacker.net/",
            "https://charts.example.com@attacker.net/",
            "https://charts.example.com:x@attacker.net/",
            "https://charts.example.com:8443/",
            "http://charts.example.com/",
            "https://user:pw@charts.example.com/",
            "https://repo.example/teammate/index.yaml",
            "https://repo.example/team.attacker/index.yaml",
            "charts.example.com.attacker.net/x",
        ] {
            assert!(credentials.for_url(helm, url).is_none(), "{url}");
        }
    }
}
