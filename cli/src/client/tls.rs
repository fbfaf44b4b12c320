//! How the CLI trusts an HTTPS api: rustls (ring) with the system's roots
//! (`rustls-native-certs`: the OS bundle, or `SSL_CERT_FILE`/`SSL_CERT_DIR`), plus the CA
//! bundle `--certificate-authority` names; or no verification at all with
//! `--insecure-skip-tls-verify`. The provider is passed here, not installed for the
//! process.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

/// How to check the api's certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// Accept any certificate.
    pub insecure_skip_verify: bool,
    /// A PEM bundle of CAs trusted besides the system's.
    pub certificate_authority: Option<PathBuf>,
}

/// Why the TLS settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("the certificate authority file {}: {reason}", .path.display())]
    CertificateAuthority { path: PathBuf, reason: String },
    #[error("TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The client configuration for `settings`. The system's roots are read only when
/// `https` is true (they are not needed for plain HTTP).
pub fn client_config(settings: &TlsSettings, https: bool) -> Result<rustls::ClientConfig, TlsSetupError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder =
        rustls::ClientConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions()?;
    let config = if settings.insecure_skip_verify {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(NoVerification(provider))).with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        if https {
            // Unreadable system certificates are skipped; the error a person sees is then
            // the server's certificate not being trusted, with what to do about it.
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            if let Some(path) = &settings.certificate_authority {
                for cert in certificate_authority(path)? {
                    roots.add(cert).map_err(|e| TlsSetupError::CertificateAuthority {
                        path: path.clone(),
                        reason: e.to_string(),
                    })?;
                }
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(config)
}

fn certificate_authority(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let error = |reason: String| TlsSetupError::CertificateAuthority { path: path.to_owned(), reason };
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| error(e.to_string()))?;
    if certs.is_empty() {
        return Err(error("holds no PEM certificate".into()));
    }
    Ok(certs)
}

/// `--insecure-skip-tls-verify`: any certificate is accepted; the handshake's
/// signatures are still checked, so the connection is encrypted to whoever answered.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_authority_file_without_certificates_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ca.pem");
        std::fs::write(&file, "not a certificate\n").unwrap();
        let settings = TlsSettings { insecure_skip_verify: false, certificate_authority: Some(file.clone()) };
        let error = client_config(&settings, true).unwrap_err().to_string();
        assert!(error.contains("ca.pem") && error.contains("no PEM certificate"), "{error}");
        // Plain HTTP reads no certificates at all.
        assert!(client_config(&settings, false).is_ok());
    }

    #[test]
    fn a_missing_certificate_authority_file_is_named() {
        let settings =
            TlsSettings { insecure_skip_verify: false, certificate_authority: Some("/nonexistent/ca.pem".into()) };
        let error = client_config(&settings, true).unwrap_err().to_string();
        assert!(error.contains("/nonexistent/ca.pem"), "{error}");
    }
}
