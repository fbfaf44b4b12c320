//! Names of Lading objects: Kubernetes DNS labels, so they fit in NATS subject tokens.

use std::fmt;

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most 63 characters, got {0}")]
    TooLong(usize),
    #[error("must consist of lowercase letters, digits and '-', and start and end with a letter or digit (got {})", crate::excerpt::quoted(.0))]
    Invalid(String),
}

/// Checks that `name` is a DNS-1123 label: what Kubernetes accepts for namespaces and what
/// Lading accepts for project, stage and warehouse names.
pub fn validate_dns_label(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > 63 {
        return Err(NameError::TooLong(name.len()));
    }
    let bytes = name.as_bytes();
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
    let edge = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if !bytes.iter().all(|&b| allowed(b)) || !edge(bytes[0]) || !edge(bytes[bytes.len() - 1]) {
        return Err(NameError::Invalid(name.to_owned()));
    }
    Ok(())
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps a name.
            pub fn new(name: impl Into<String>) -> Result<Self, NameError> {
                let name = name.into();
                validate_dns_label(&name)?;
                Ok(Self(name))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

name_type!(
    /// A project: a unit of tenancy (a namespace in Kubernetes).
    ProjectName
);
name_type!(
    /// A stage within a project.
    StageName
);
name_type!(
    /// A warehouse within a project.
    WarehouseName
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_dns_labels() {
        for ok in ["a", "test", "uat-2", "0abc"] {
            assert_eq!(validate_dns_label(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn rejects_what_breaks_subjects_or_kubernetes() {
        assert_eq!(validate_dns_label(""), Err(NameError::Empty));
        assert_eq!(validate_dns_label(&"a".repeat(64)), Err(NameError::TooLong(64)));
        for bad in ["Test", "a.b", "a_b", "-a", "a-", "a b", "a*", "a>"] {
            assert!(matches!(validate_dns_label(bad), Err(NameError::Invalid(_))), "{bad}");
        }
    }
}

/// A promotion's name as Kargo forms it: `<stage>.<ulid>.<first 7 of the freight ID>`,
/// with the ULID (which the caller generates) in lowercase.
pub fn promotion_name(stage: &str, freight: &crate::FreightId, ulid: &str) -> String {
    format!("{stage}.{}.{}", ulid.to_lowercase(), freight.short())
}

#[cfg(test)]
mod promotion_name_tests {
    #[test]
    fn promotion_names_follow_kargo() {
        let id = crate::FreightId::parse("1edc32a855f4aceead43bf3774b7fdd88bb48a79").unwrap();
        assert_eq!(
            super::promotion_name("uat", &id, "01JG0000000000000000000000"),
            "uat.01jg0000000000000000000000.1edc32a"
        );
    }
}
