//! Webhook signatures as the providers compute them, for requests tests send.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// `bytes` as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `sha256=` and the HMAC-SHA256 of `body` keyed with `secret`, as GitHub and Gitea sign
/// (`X-Hub-Signature-256`).
pub fn hub_signature(secret: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(body.as_bytes());
    format!("sha256={}", hex(&mac.finalize().into_bytes()))
}
