//! Git credentials for promotion steps (see `lading_domain::credentials`). They are
//! handed to libgit2 when a server asks, never written into URLs, logs or events.

use lading_domain::credentials::{Challenges, Credential, CredentialType, Credentials};

/// The Git credentials of a promoter.
#[derive(Debug, Clone, Default)]
pub struct GitCredentials(Credentials);

impl From<Credentials> for GitCredentials {
    fn from(credentials: Credentials) -> Self {
        Self(credentials)
    }
}

impl GitCredentials {
    /// Reads a YAML or JSON list of credentials (see [`Credentials`]).
    pub fn parse(text: &str) -> Result<Self, String> {
        Credentials::parse(text).map(Self)
    }

    /// The Git credential for `url`.
    pub fn for_url(&self, url: &str) -> Option<&Credential> {
        self.0.for_url(CredentialType::Git, url)
    }

    /// Callbacks answering a server's credential challenge for `url`, once.
    pub fn callbacks(&self, url: &str) -> git2::RemoteCallbacks<'static> {
        let mut challenges = Challenges::new(&self.0, CredentialType::Git, url);
        let mut callbacks = git2::RemoteCallbacks::new();
        callbacks.credentials(move |_url, username_from_url, _allowed| {
            let c = challenges.answer().map_err(git2::Error::from_str)?;
            git2::Cred::userpass_plaintext(username_from_url.unwrap_or(&c.username), &c.password)
        });
        callbacks
    }
}
