//! HTTPS: the api's certificate and key, read once at start from the PEM files that
//! `LADING_API_TLS_CERT_FILE` and `LADING_API_TLS_KEY_FILE` name, and the handshake of
//! each connection. rustls with the ring provider, chosen here rather than through a
//! process-wide default, so nothing else in the process has to agree on one. HTTP/1.1
//! only, as the server speaks.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::{TLS_CERT_FILE_ENV, TLS_KEY_FILE_ENV};

/// Why the certificate or key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{variable}={}: {reason}", .path.display())]
    File { variable: &'static str, path: PathBuf, reason: String },
    #[error("{TLS_CERT_FILE_ENV} and {TLS_KEY_FILE_ENV} do not go together: {0}")]
    Mismatch(String),
}

/// A certificate chain and its key, ready to accept connections.
#[derive(Clone)]
pub struct TlsIdentity {
    pub cert_file: PathBuf,
    acceptor: TlsAcceptor,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIdentity").field("cert_file", &self.cert_file).finish_non_exhaustive()
    }
}

impl TlsIdentity {
    /// Reads a PEM certificate chain (the server's certificate first) and a PEM private
    /// key (PKCS#8, PKCS#1 or SEC1).
    pub fn load(cert_file: &Path, key_file: &Path) -> Result<TlsIdentity, TlsError> {
        let file_error =
            |variable, path: &Path, reason: String| TlsError::File { variable, path: path.to_owned(), reason };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
            .and_then(|certs| certs.collect())
            .map_err(|e| file_error(TLS_CERT_FILE_ENV, cert_file, e.to_string()))?;
        if certs.is_empty() {
            return Err(file_error(TLS_CERT_FILE_ENV, cert_file, "holds no PEM certificate".into()));
        }
        let key = PrivateKeyDer::from_pem_file(key_file)
            .map_err(|e| file_error(TLS_KEY_FILE_ENV, key_file, format!("no PEM private key: {e}")))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Mismatch(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| TlsError::Mismatch(e.to_string()))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsIdentity { cert_file: cert_file.to_owned(), acceptor: TlsAcceptor::from(Arc::new(config)) })
    }

    pub fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(dir: &Path) -> (PathBuf, PathBuf) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap().self_signed(&key).unwrap();
        let (cert_file, key_file) = (dir.join("tls.crt"), dir.join("tls.key"));
        std::fs::write(&cert_file, cert.pem()).unwrap();
        std::fs::write(&key_file, key.serialize_pem()).unwrap();
        (cert_file, key_file)
    }

    #[test]
    fn a_certificate_and_its_key_load() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pair(dir.path());
        assert_eq!(TlsIdentity::load(&cert, &key).unwrap().cert_file, cert);
    }

    #[test]
    fn a_missing_or_swapped_file_is_named_with_its_variable() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = pair(dir.path());
        let missing = TlsIdentity::load(&dir.path().join("nope.crt"), &key).unwrap_err().to_string();
        assert!(missing.starts_with("LADING_API_TLS_CERT_FILE=") && missing.contains("nope.crt"), "{missing}");
        let swapped = TlsIdentity::load(&key, &cert).unwrap_err().to_string();
        assert!(swapped.starts_with("LADING_API_TLS_CERT_FILE="), "{swapped}");
        assert!(swapped.contains("no PEM certificate"), "{swapped}");
        let no_key = TlsIdentity::load(&cert, &cert).unwrap_err().to_string();
        assert!(no_key.starts_with("LADING_API_TLS_KEY_FILE="), "{no_key}");
    }

    /// Serves an empty app over TLS with a short header timeout and a long idle one.
    async fn serving(dir: &Path) -> std::net::SocketAddr {
        let (cert, key) = pair(dir);
        let identity = TlsIdentity::load(&cert, &key).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let limits = crate::config::Limits {
            header_timeout: std::time::Duration::from_millis(300),
            idle_timeout: std::time::Duration::from_secs(600),
            ..crate::config::Limits::default()
        };
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
        tokio::spawn(super::super::serve(listener, app, limits, Some(identity), std::future::pending()));
        addr
    }

    #[tokio::test]
    async fn a_client_that_never_starts_the_handshake_is_cut_off_at_the_header_timeout() {
        use tokio::io::AsyncReadExt;
        let dir = tempfile::tempdir().unwrap();
        let addr = serving(dir.path()).await;
        // Given a client that connects and says nothing,
        let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
        // then the api closes the connection after the header timeout, not the idle one.
        let mut buffer = [0u8; 16];
        let read = tokio::time::timeout(std::time::Duration::from_secs(30), silent.read(&mut buffer)).await;
        assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "the connection stayed open: {read:?}");
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, _) = pair(dir.path());
        let other = tempfile::tempdir().unwrap();
        let (_, other_key) = pair(other.path());
        let error = TlsIdentity::load(&cert, &other_key).unwrap_err().to_string();
        assert!(error.contains("do not go together"), "{error}");
    }
}
