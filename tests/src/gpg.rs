//! GnuPG (`gpg`) in a keyring of its own per test: makes OpenPGP keys as a user would,
//! exports them, and checks commits and tags with `git verify-commit` / `verify-tag`.

use std::path::Path;
use std::process::{Command, Output};

/// A temporary `GNUPGHOME`; its agent is stopped on drop.
pub struct Gpg {
    home: tempfile::TempDir,
}

impl Default for Gpg {
    fn default() -> Self {
        Self::new()
    }
}

impl Gpg {
    /// An empty keyring.
    pub fn new() -> Self {
        // The agent's socket lives in the home: keep its path short.
        let home = tempfile::Builder::new().prefix("gpg").tempdir_in("/tmp").unwrap();
        std::fs::set_permissions(home.path(), std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        Gpg { home }
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// Runs `gpg --batch` with `args`, failing the test when it fails.
    pub fn run(&self, args: &[&str]) -> String {
        let output = self.output(args, None);
        assert!(output.status.success(), "gpg {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn output(&self, args: &[&str], stdin: Option<&str>) -> Output {
        use std::io::Write;
        let mut command = Command::new("gpg");
        command
            .env("GNUPGHOME", self.home())
            .args(["--batch", "--no-tty", "--pinentry-mode", "loopback"])
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = command.spawn().expect("gpg runs (apt-get install gnupg)");
        if let Some(text) = stdin {
            child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        child.wait_with_output().unwrap()
    }

    /// Makes an Ed25519 key for `user_id` that signs (protected by `passphrase` when
    /// given); returns its fingerprint.
    pub fn generate(&self, user_id: &str, passphrase: Option<&str>) -> String {
        self.run(&["--passphrase", passphrase.unwrap_or(""), "--quick-gen-key", user_id, "ed25519", "sign", "never"]);
        self.fingerprint(user_id)
    }

    /// Makes an Ed25519 key for `user_id` whose primary key only certifies, with a
    /// signing subkey; returns the primary key's fingerprint.
    pub fn generate_with_signing_subkey(&self, user_id: &str) -> String {
        self.run(&["--passphrase", "", "--quick-gen-key", user_id, "ed25519", "cert", "never"]);
        let fingerprint = self.fingerprint(user_id);
        self.run(&["--passphrase", "", "--quick-add-key", &fingerprint, "ed25519", "sign", "never"]);
        fingerprint
    }

    /// Makes an Ed25519 signing key for `user_id` as on 2020-01-01, valid for one year:
    /// expired since 2021; returns its fingerprint.
    pub fn generate_expired(&self, user_id: &str) -> String {
        let past = ["--faked-system-time", "20200101T000000!", "--passphrase", ""];
        self.run(&[&past[..], &["--quick-gen-key", user_id, "ed25519", "sign", "1y"]].concat());
        self.fingerprint(user_id)
    }

    /// Makes, as on 2020-01-01, a key for `user_id` whose primary key only certifies and
    /// never expires, with a signing subkey valid for one year: expired since 2021.
    pub fn generate_with_expired_signing_subkey(&self, user_id: &str) -> String {
        let past = ["--faked-system-time", "20200101T000000!", "--passphrase", ""];
        self.run(&[&past[..], &["--quick-gen-key", user_id, "ed25519", "cert", "never"]].concat());
        let fingerprint = self.fingerprint(user_id);
        self.run(&[&past[..], &["--quick-add-key", &fingerprint, "ed25519", "sign", "1y"]].concat());
        fingerprint
    }

    /// Makes an Ed25519 signing key for `user_id` that expires `seconds` from now.
    pub fn generate_expiring(&self, user_id: &str, seconds: u32) -> String {
        let expiry = format!("seconds={seconds}");
        self.run(&["--passphrase", "", "--quick-gen-key", user_id, "ed25519", "sign", &expiry]);
        self.fingerprint(user_id)
    }

    /// Revokes the key `fingerprint` with the revocation certificate GnuPG made with it.
    pub fn revoke(&self, fingerprint: &str) {
        let certificate = self.home().join("openpgp-revocs.d").join(format!("{fingerprint}.rev"));
        let text = std::fs::read_to_string(certificate).expect("GnuPG keeps a revocation certificate");
        // GnuPG guards the certificate against a careless import with a leading colon.
        self.import(&text.replace(":-----BEGIN PGP PUBLIC KEY BLOCK-----", "-----BEGIN PGP PUBLIC KEY BLOCK-----"));
    }

    /// The fingerprint of the primary key of `user_id`.
    pub fn fingerprint(&self, user_id: &str) -> String {
        let listing = self.run(&["--with-colons", "--list-secret-keys", user_id]);
        listing
            .lines()
            .find_map(|l| l.strip_prefix("fpr:").map(|rest| rest.trim_matches(':').to_owned()))
            .expect("a fingerprint")
    }

    /// The ASCII-armored private key (`--export-secret-keys`).
    pub fn export_secret(&self, fingerprint: &str) -> String {
        self.run(&["--passphrase", "", "--armor", "--export-secret-keys", fingerprint])
    }

    /// The ASCII-armored public key.
    pub fn export_public(&self, fingerprint: &str) -> String {
        self.run(&["--armor", "--export", fingerprint])
    }

    /// Imports armored keys.
    pub fn import(&self, armored: &str) {
        let output = self.output(&["--import"], Some(armored));
        assert!(output.status.success(), "gpg --import: {}", String::from_utf8_lossy(&output.stderr));
    }

    /// Trusts `fingerprint` ultimately, as Kargo does its own key.
    pub fn trust(&self, fingerprint: &str) {
        let output = self.output(&["--import-ownertrust"], Some(&format!("{fingerprint}:6:\n")));
        assert!(output.status.success(), "gpg --import-ownertrust: {}", String::from_utf8_lossy(&output.stderr));
    }

    /// `git <args>` in `repo` with this keyring.
    pub fn git(&self, repo: &Path, args: &[&str]) -> Output {
        Command::new("git").arg("-C").arg(repo).args(args).env("GNUPGHOME", self.home()).output().expect("git runs")
    }

    /// `git log -1 --format=%G?:%GP <revision>`: git's verdict on a commit's signature
    /// (`G` good and trusted, `U` good but untrusted, `N` none, `E` unknown key, `B`
    /// bad) and the fingerprint of the primary key of the key that made it.
    pub fn verdict(&self, repo: &Path, revision: &str) -> String {
        let output = self.git(repo, &["log", "-1", "--format=%G?:%GP", revision, "--"]);
        assert!(output.status.success(), "git log: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }
}

impl Drop for Gpg {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf").env("GNUPGHOME", self.home()).args(["--kill", "all"]).output();
    }
}
