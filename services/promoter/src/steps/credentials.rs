//! Git credentials for promotion steps, matched by repository URL like Kargo's git
//! credential Secrets (`repoURL` prefix, or a regex with `repoURLIsRegex`). They are
//! handed to libgit2 when a server asks, never written into URLs, logs or events.

use serde::Deserialize;

/// One credential entry.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GitCredential {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    #[serde(default, rename = "repoURLIsRegex")]
    pub repo_url_is_regex: bool,
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for GitCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitCredential")
            .field("repo_url", &self.repo_url)
            .field("username", &self.username)
            .field("password", &"***")
            .finish()
    }
}

/// Every configured credential.
#[derive(Debug, Clone, Default)]
pub struct GitCredentials(Vec<GitCredential>);

impl GitCredentials {
    /// Reads a YAML or JSON list of credentials.
    pub fn parse(text: &str) -> Result<Self, String> {
        let entries: Vec<GitCredential> = serde_saphyr::from_str(text).map_err(|e| format!("git credentials: {e}"))?;
        for (i, entry) in entries.iter().enumerate() {
            if entry.repo_url_is_regex {
                regex::Regex::new(&entry.repo_url).map_err(|e| format!("git credentials [{i}].repoURL: {e}"))?;
            }
        }
        Ok(Self(entries))
    }

    /// The credential for `url`: the first entry whose prefix (or regex) matches.
    pub fn for_url(&self, url: &str) -> Option<&GitCredential> {
        self.0.iter().find(|c| {
            if c.repo_url_is_regex {
                regex::Regex::new(&c.repo_url).is_ok_and(|r| r.is_match(url))
            } else {
                url.starts_with(c.repo_url.trim_end_matches('/'))
            }
        })
    }

    /// Callbacks answering a server's credential challenge for `url`, once (a second
    /// challenge means the credential was refused, and asking again would loop).
    pub fn callbacks(&self, url: &str) -> git2::RemoteCallbacks<'static> {
        let credential = self.for_url(url).cloned();
        let mut asked = false;
        let mut callbacks = git2::RemoteCallbacks::new();
        callbacks.credentials(move |_url, username_from_url, _allowed| match (&credential, asked) {
            (Some(c), false) => {
                asked = true;
                git2::Cred::userpass_plaintext(username_from_url.unwrap_or(&c.username), &c.password)
            }
            (Some(_), true) => Err(git2::Error::from_str("the server refused the configured credentials")),
            (None, _) => Err(git2::Error::from_str(
                "the server asks for credentials and none are configured for this repository",
            )),
        });
        callbacks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_by_prefix_or_regex_and_hides_passwords() {
        let credentials = GitCredentials::parse(
            "- repoURL: https://git.example.com/team/\n  username: bot\n  password: s3cret\n\
             - repoURL: '^https://other\\.example\\.com/.*'\n  repoURLIsRegex: true\n  username: x\n  password: y\n",
        )
        .unwrap();
        assert_eq!(credentials.for_url("https://git.example.com/team/app.git").unwrap().username, "bot");
        assert_eq!(credentials.for_url("https://other.example.com/a.git").unwrap().username, "x");
        assert!(credentials.for_url("https://git.example.com/elsewhere.git").is_none());
        let shown = format!("{credentials:?}");
        assert!(!shown.contains("s3cret") && shown.contains("***"), "{shown}");
        assert!(
            GitCredentials::parse("- repoURL: '('\n  repoURLIsRegex: true\n  username: a\n  password: b\n").is_err()
        );
    }
}
