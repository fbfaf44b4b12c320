//! HTTPS between the CLI and `lading up`: the api serves the certificate it is given;
//! the CLI refuses one it cannot trust and says how to trust it, and accepts it with
//! the CA that signed it (by flag, from the system's store, or saved by `lading login`)
//! or with --insecure-skip-tls-verify.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::*;

/// A CA and a certificate it signed for 127.0.0.1, as PEM files under `dir`; the CA's
/// file.
fn certificates(dir: &Path) -> std::path::PathBuf {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "Lading test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    std::fs::write(dir.join("tls.crt"), cert.pem()).unwrap();
    std::fs::write(dir.join("tls.key"), key.serialize_pem()).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    dir.join("ca.pem")
}

#[test]
fn the_cli_verifies_the_apis_certificate_and_says_how_to_trust_it() {
    let dir = tempfile::tempdir().unwrap();
    let ca = certificates(dir.path());
    let port = free_port();
    let server = format!("https://127.0.0.1:{port}");
    let _up = Up(up_command()
        .args(["--data-dir", dir.path().join("data").to_str().unwrap(), "--api-addr", &format!("127.0.0.1:{port}")])
        .args(["--tls-cert-file", dir.path().join("tls.crt").to_str().unwrap()])
        .args(["--tls-key-file", dir.path().join("tls.key").to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap());
    let home = dir.path().join("home");
    let token = [("LADING_TOKEN", TOKEN)];
    poll("lading up to serve HTTPS", Duration::from_secs(60), || {
        let out =
            lading_as(&["--insecure-skip-tls-verify", "--server", &server, "get", "projects"], &home, &token, None);
        out.status.success().then_some(())
    });

    // Given a certificate signed by a CA the system does not know, the CLI refuses it
    // and says what to do.
    let untrusted = refused(&lading_as(&["--server", &server, "get", "projects"], &home, &token, None));
    assert!(
        untrusted.contains(&format!("the certificate of the Lading api at {server} is not trusted")),
        "{untrusted}"
    );
    assert!(untrusted.contains("--certificate-authority FILE"), "{untrusted}");
    assert!(untrusted.contains("--insecure-skip-tls-verify"), "{untrusted}");
    assert!(!untrusted.contains("cannot reach"), "{untrusted}");

    // It is trusted with that CA: by flag, or in the system's store (SSL_CERT_FILE).
    let ca = ca.to_str().unwrap();
    ok(&lading_as(&["--server", &server, "--certificate-authority", ca, "get", "projects"], &home, &token, None));
    ok(&lading_as(&["--server", &server, "get", "projects"], &home, &[token[0], ("SSL_CERT_FILE", ca)], None));

    // A CA bundle given to `lading login` is saved with the server and used after.
    let login = ok(&lading_as(&["login", &server, "--token", TOKEN, "--certificate-authority", ca], &home, &[], None));
    assert!(login.contains(&format!("Logged in to {server} as admin")), "{login}");
    ok(&lading_as(&["get", "projects"], &home, &[], None));
    let view = ok(&lading_as(&["config", "view"], &home, &[], None));
    assert!(view.contains(&format!("certificate-authority: {ca}")), "{view}");

    // Plain HTTP to the HTTPS api fails without pretending the server is down.
    let plain =
        refused(&lading_as(&["--server", &format!("http://127.0.0.1:{port}"), "get", "projects"], &home, &token, None));
    assert!(!plain.contains("cannot reach"), "{plain}");
}

#[test]
fn insecure_skip_tls_verify_is_kept_by_login() {
    let dir = tempfile::tempdir().unwrap();
    certificates(dir.path());
    let port = free_port();
    let server = format!("https://127.0.0.1:{port}");
    let _up = Up(up_command()
        .args(["--data-dir", dir.path().join("data").to_str().unwrap(), "--api-addr", &format!("127.0.0.1:{port}")])
        .env("LADING_API_TLS_CERT_FILE", dir.path().join("tls.crt"))
        .env("LADING_API_TLS_KEY_FILE", dir.path().join("tls.key"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap());
    let home = dir.path().join("home");
    poll("lading up to serve HTTPS", Duration::from_secs(60), || {
        let out = lading_as(&["login", &server, "--token", TOKEN, "--insecure-skip-tls-verify"], &home, &[], None);
        out.status.success().then_some(())
    });
    ok(&lading_as(&["get", "projects"], &home, &[], None));
    assert!(ok(&lading_as(&["config", "view"], &home, &[], None)).contains("insecure-skip-tls-verify: true"));
}
