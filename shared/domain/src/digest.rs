//! Content digests of OCI manifests and blobs (`sha256:<64 hex>`, `sha512:<128 hex>`):
//! their format, and whether bytes match them. A registry's digests reach freight and
//! promotion steps, so anything but a well-formed digest of a known algorithm is refused.

use sha2::{Digest as _, Sha256, Sha512};

/// A well-formed digest of a registered algorithm, lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Digest(String);

/// Why a digest was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// Not `algorithm:hex` with the algorithm's length of lowercase hex.
    #[error("{0} is not a digest like sha256:<64 lowercase hex>")]
    Malformed(String),
    /// The bytes hash to something else.
    #[error("the content does not match its digest {expected} (it hashes to {actual})")]
    Mismatch { expected: String, actual: String },
}

/// At most this much of a refused value is quoted in an error.
const QUOTED: usize = 80;

/// `text` quoted for an error: escaped, and cut when long.
fn quote(text: &str) -> String {
    let cut: String = text.chars().take(QUOTED).collect();
    if cut.len() < text.len() { format!("{cut:?}…") } else { format!("{cut:?}") }
}

impl Digest {
    /// Checks `text`'s format.
    pub fn parse(text: &str) -> Result<Self, DigestError> {
        let malformed = || DigestError::Malformed(quote(text));
        let (algorithm, hex) = text.split_once(':').ok_or_else(malformed)?;
        let length = match algorithm {
            "sha256" => 64,
            "sha512" => 128,
            _ => return Err(malformed()),
        };
        let lowercase_hex = hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if hex.len() != length || !lowercase_hex {
            return Err(malformed());
        }
        Ok(Self(text.to_owned()))
    }

    /// The digest of `bytes` with the same algorithm as this one.
    fn of_same_kind(&self, bytes: &[u8]) -> String {
        if self.0.starts_with("sha512:") {
            format!("sha512:{:x}", Sha512::digest(bytes))
        } else {
            format!("sha256:{:x}", Sha256::digest(bytes))
        }
    }

    /// Checks that `bytes` hash to this digest.
    pub fn verify(&self, bytes: &[u8]) -> Result<(), DigestError> {
        let actual = self.of_same_kind(bytes);
        if actual == self.0 { Ok(()) } else { Err(DigestError::Mismatch { expected: self.0.clone(), actual }) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELLO_SHA256: &str = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

    #[test]
    fn given_a_sha256_of_64_lowercase_hex_then_it_is_a_digest() {
        assert_eq!(Digest::parse(HELLO_SHA256).unwrap().as_str(), HELLO_SHA256);
        let sha512 = format!("sha512:{}", "ab".repeat(64));
        assert!(Digest::parse(&sha512).is_ok());
    }

    #[test]
    fn given_anything_else_then_it_is_refused() {
        let cases = [
            "sha256:../../evil?x=1 '\"${{ vars }}",
            "sha256:2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824",
            "sha256:2cf24dba",
            "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b98240",
            "md5:5d41402abc4b2a76b9719d911017c592",
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
            "",
        ];
        for case in cases {
            assert!(matches!(Digest::parse(case), Err(DigestError::Malformed(_))), "{case:?} was accepted");
        }
    }

    #[test]
    fn a_refused_digest_is_quoted_escaped_and_cut() {
        let error = Digest::parse(&format!("sha256:\n{}", "x".repeat(500))).unwrap_err().to_string();
        assert!(error.starts_with("\"sha256:\\nxxx"), "{error}");
        assert!(error.len() < 200, "{error}");
    }

    #[test]
    fn given_bytes_when_they_hash_to_the_digest_then_they_verify() {
        let digest = Digest::parse(HELLO_SHA256).unwrap();
        assert_eq!(digest.verify(b"hello"), Ok(()));
        let Err(DigestError::Mismatch { actual, .. }) = digest.verify(b"hello!") else { panic!("accepted") };
        assert!(actual.starts_with("sha256:ce06092f"), "{actual}");
    }
}
