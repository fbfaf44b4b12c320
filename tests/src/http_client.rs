//! HTTP clients for tests. reqwest is built with rustls and no crypto provider of its
//! own (the promoter's OCI client needs TLS, and the workspace's one provider is ring):
//! a client must be built after the process's provider is installed, which these do.

/// Installs ring as the process's TLS provider (once; later calls change nothing).
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// `reqwest::Client::new()`, after the provider is installed.
pub fn client() -> reqwest::Client {
    install_tls_provider();
    reqwest::Client::new()
}

/// `reqwest::Client::builder()`, after the provider is installed.
pub fn builder() -> reqwest::ClientBuilder {
    install_tls_provider();
    reqwest::Client::builder()
}

/// `reqwest::get(url)`, after the provider is installed.
pub async fn get<U: reqwest::IntoUrl>(url: U) -> reqwest::Result<reqwest::Response> {
    install_tls_provider();
    reqwest::get(url).await
}
