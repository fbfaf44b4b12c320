//! Authenticating a request: an HMAC-SHA256 of the body keyed with the shared secret
//! (GitHub, Gitea and Bitbucket send it as `sha256=<hex>`, Artifactory as bare hex), or a
//! token sent as is (GitLab's `X-Gitlab-Token`, Harbor's `Authorization`). Every
//! comparison takes the same time whatever the bytes, so timing reveals nothing of the
//! secret.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{WebhookError, WebhookRequest, hex};

type HmacSha256 = Hmac<Sha256>;

/// The hex HMAC-SHA256 of `body` keyed with `secret`: what a sender signs with.
pub fn sign(secret: &str, body: &[u8]) -> Option<String> {
    mac(secret, body).map(|mac| hex(&mac.finalize().into_bytes()))
}

/// HMAC takes a key of any length, so this is always `Some`.
fn mac(secret: &str, body: &[u8]) -> Option<HmacSha256> {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret.as_bytes()).ok()?;
    mac.update(body);
    Some(mac)
}

fn missing(header: &str) -> WebhookError {
    WebhookError::Unauthorized(format!("the {header} header is missing: the request is not signed"))
}

/// Checks `header` is `sha256=<hex HMAC-SHA256 of the body>` keyed with `secret`.
pub fn verify_prefixed_hmac(request: &WebhookRequest<'_>, header: &str, secret: &str) -> Result<(), WebhookError> {
    let value = request.header(header).ok_or_else(|| missing(header))?;
    let signature = value.trim().strip_prefix("sha256=").ok_or_else(|| {
        WebhookError::Unauthorized(format!("the {header} header must be sha256=<hex HMAC-SHA256 of the body>"))
    })?;
    verify_hex(request, header, signature, secret)
}

/// Checks `header` is the bare hex HMAC-SHA256 of the body keyed with `secret`.
pub fn verify_bare_hmac(request: &WebhookRequest<'_>, header: &str, secret: &str) -> Result<(), WebhookError> {
    let value = request.header(header).ok_or_else(|| missing(header))?;
    verify_hex(request, header, value.trim(), secret)
}

fn verify_hex(request: &WebhookRequest<'_>, header: &str, signature: &str, secret: &str) -> Result<(), WebhookError> {
    let signature = decode_hex(signature)
        .ok_or_else(|| WebhookError::Unauthorized(format!("the {header} header is not a hex HMAC-SHA256")))?;
    let mac = mac(secret, request.body)
        .ok_or_else(|| WebhookError::Unauthorized("the receiver's secret cannot key an HMAC".to_owned()))?;
    mac.verify_slice(&signature).map_err(|_| {
        WebhookError::Unauthorized(format!(
            "the {header} signature does not match the body signed with the receiver's secret"
        ))
    })
}

/// Checks `header` carries exactly `token`.
pub fn verify_token(request: &WebhookRequest<'_>, header: &str, token: &str) -> Result<(), WebhookError> {
    let given = request.header(header).ok_or_else(|| {
        WebhookError::Unauthorized(format!("the {header} header is missing: the request carries no token"))
    })?;
    if same_secret(given, token) {
        Ok(())
    } else {
        Err(WebhookError::Unauthorized(format!("the {header} header does not match the receiver's secret")))
    }
}

/// Whether `a` and `b` are equal, in a time that depends on neither (their lengths
/// included: the hashes of both are compared).
pub fn same_secret(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes()).ct_eq(&Sha256::digest(b.as_bytes())).into()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| text.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &[u8] = br#"{"ref":"refs/heads/main"}"#;

    #[test]
    fn a_body_signed_with_the_secret_passes_and_any_change_fails() {
        // GitHub's documented example: secret "It's a Secret to Everybody", payload
        // "Hello, World!".
        assert_eq!(
            sign("It's a Secret to Everybody", b"Hello, World!").unwrap(),
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
        let signed = format!("sha256={}", sign("s3cret", BODY).unwrap());
        let request = WebhookRequest::new(BODY).with_header("X-Hub-Signature-256", &signed);
        assert!(verify_prefixed_hmac(&request, "X-Hub-Signature-256", "s3cret").is_ok());
        assert!(verify_prefixed_hmac(&request, "X-Hub-Signature-256", "other").is_err());
        let tampered = WebhookRequest::new(br#"{"ref":"refs/heads/evil"}"#).with_header("X-Hub-Signature-256", &signed);
        assert!(verify_prefixed_hmac(&tampered, "X-Hub-Signature-256", "s3cret").is_err());
    }

    #[test]
    fn missing_malformed_and_unprefixed_signatures_are_refused_by_name() {
        let unsigned = WebhookRequest::new(BODY);
        let error = verify_prefixed_hmac(&unsigned, "X-Hub-Signature-256", "s").unwrap_err();
        assert_eq!(error.status(), 401);
        assert!(error.to_string().contains("X-Hub-Signature-256 header is missing"), "{error}");
        let bare = WebhookRequest::new(BODY).with_header("X-Hub-Signature-256", &sign("s", BODY).unwrap());
        assert!(verify_prefixed_hmac(&bare, "X-Hub-Signature-256", "s").unwrap_err().to_string().contains("sha256="));
        assert!(verify_bare_hmac(&bare, "X-Hub-Signature-256", "s").is_ok());
        let odd = WebhookRequest::new(BODY).with_header("X-Jfrog-Event-Auth", "abc");
        assert!(verify_bare_hmac(&odd, "X-Jfrog-Event-Auth", "s").unwrap_err().to_string().contains("not a hex"));
        let not_hex = WebhookRequest::new(BODY).with_header("X-Jfrog-Event-Auth", "zz");
        assert!(verify_bare_hmac(&not_hex, "X-Jfrog-Event-Auth", "s").is_err());
    }

    #[test]
    fn tokens_must_match_exactly() {
        let request = WebhookRequest::new(BODY).with_header("X-Gitlab-Token", "t0ken");
        assert!(verify_token(&request, "X-Gitlab-Token", "t0ken").is_ok());
        assert!(verify_token(&request, "X-Gitlab-Token", "t0ken2").is_err());
        assert!(verify_token(&request, "X-Gitlab-Token", "t0ke").is_err());
        assert!(verify_token(&WebhookRequest::new(BODY), "X-Gitlab-Token", "t0ken").is_err());
    }
}
