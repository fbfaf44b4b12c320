//! Git credentials for promotion steps (see `lading_domain::credentials`). They are
//! handed to libgit2 when a server asks, never written into URLs, logs or events.

use lading_domain::credentials::{Credential, CredentialType, Credentials};

/// The Git credentials of a promoter.
#[derive(Debug, Clone, Default)]
pub struct GitCredentials(Credentials);

impl GitCredentials {
    /// Reads a YAML or JSON list of credentials (see [`Credentials`]).
    pub fn parse(text: &str) -> Result<Self, String> {
        Credentials::parse(text).map(Self)
    }

    /// The Git credential for `url`.
    pub fn for_url(&self, url: &str) -> Option<&Credential> {
        self.0.for_url(CredentialType::Git, url)
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
