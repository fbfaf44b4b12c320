//! Credentials for promotion steps (see `lading_domain::credentials`): Git ones, handed
//! to libgit2 when a server asks, and registry ones (`image`, `helm`) for the OCI steps,
//! sent only in `Authorization` headers; never written into URLs, logs or events.

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

    /// Adds the `image` and `helm` entries of `registries` (the warehouse's file).
    pub fn add_registries(&mut self, registries: Credentials) {
        self.0.extend(registries.of_kinds(&[CredentialType::Image, CredentialType::Helm]));
    }

    /// The registry credential of `kind` (`image` or `helm`) for `reference`
    /// (`registry/repository[:tag]`, without `oci://`).
    pub fn registry(&self, kind: CredentialType, reference: &str) -> Option<&Credential> {
        self.0.for_url(kind, reference).or_else(|| self.0.for_url(kind, &format!("oci://{reference}")))
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
