//! What a project may read from the Secrets of its Kubernetes namespace, as Kargo reads
//! them: a Secret labelled `kargo.akuity.io/cred-type: generic` is readable with
//! `${{ secret('name').key }}`; one labelled `git`, `image` or `helm` is a repository
//! credential (keys `repoURL`, optional `repoURLIsRegex: "true"`, `username`,
//! `password`). Secrets without the label, or with another value, are never read, so a
//! namespace's service-account tokens and TLS keys stay out of reach of expressions.

use crate::credentials::{Credential, CredentialType, Credentials};
use crate::secrets::{SecretData, Secrets};

/// The label saying what a Secret is for (Kargo's).
pub const CRED_TYPE_LABEL: &str = "kargo.akuity.io/cred-type";
/// The label value of Secrets steps and analysis providers read with `secret()`.
pub const GENERIC: &str = "generic";
/// The label values this module reads: a selector for listing them.
pub const LABEL_SELECTOR: &str = "kargo.akuity.io/cred-type in (generic,git,image,helm)";

/// One Secret of a project's namespace: its name, its `cred-type` label and its data.
#[derive(Clone)]
pub struct LabelledSecret {
    pub name: String,
    pub cred_type: Option<String>,
    pub data: SecretData,
}

/// What a project's namespace holds for it.
#[derive(Debug, Clone, Default)]
pub struct ProjectSecrets {
    /// Readable with `secret(name)`.
    pub secrets: Secrets,
    /// Repository credentials, in the order of their Secrets' names.
    pub credentials: Credentials,
    /// Credential Secrets left out and why (names and keys, never values).
    pub skipped: Vec<String>,
}

/// Sorts the Secrets of `project`'s namespace by what their label says they are for.
pub fn sort(project: &str, secrets: impl IntoIterator<Item = LabelledSecret>) -> ProjectSecrets {
    let mut secrets: Vec<LabelledSecret> = secrets.into_iter().collect();
    secrets.sort_by(|a, b| a.name.cmp(&b.name));
    let mut sorted = ProjectSecrets::default();
    let mut entries = Vec::new();
    for secret in secrets {
        let kind = match secret.cred_type.as_deref() {
            Some(GENERIC) => {
                sorted.secrets.insert(project, &secret.name, secret.data);
                continue;
            }
            Some("git") => CredentialType::Git,
            Some("image") => CredentialType::Image,
            Some("helm") => CredentialType::Helm,
            _ => continue,
        };
        match credential(kind, &secret.data) {
            Ok(entry) => entries.push(entry),
            Err(reason) => sorted.skipped.push(format!("secret {:?}: {reason}", secret.name)),
        }
    }
    sorted.credentials = Credentials::from_entries(entries);
    sorted
}

fn credential(kind: CredentialType, data: &SecretData) -> Result<Credential, String> {
    let field = |key: &str| data.get(key).cloned().ok_or_else(|| format!("has no key {key:?}"));
    let repo_url = field("repoURL")?;
    let repo_url_is_regex = match data.get("repoURLIsRegex").map(|v| v.trim()) {
        None | Some("" | "false") => false,
        Some("true") => true,
        Some(_) => return Err("repoURLIsRegex: must be true or false".to_owned()),
    };
    if repo_url_is_regex {
        regex::Regex::new(&repo_url).map_err(|_| "repoURL: is not a regular expression".to_owned())?;
    }
    Ok(Credential {
        kind,
        repo_url,
        repo_url_is_regex,
        username: data.get("username").cloned().unwrap_or_default(),
        password: field("password")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(name: &str, cred_type: Option<&str>, data: &[(&str, &str)]) -> LabelledSecret {
        LabelledSecret {
            name: name.to_owned(),
            cred_type: cred_type.map(str::to_owned),
            data: data.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    #[test]
    fn given_a_namespace_when_sorted_then_only_generic_secrets_are_readable_and_credentials_match_urls() {
        // Given a generic Secret, an unlabelled one, one of another label, and credentials,
        let sorted = sort(
            "demo",
            [
                secret("api", Some("generic"), &[("token", "t0ken-value")]),
                secret("sa-token", None, &[("token", "kube-sa-token")]),
                secret("tls", Some("other"), &[("tls.key", "private")]),
                secret("z-git", Some("git"), &[("repoURL", "https://git.example.com/"), ("password", "late")]),
                secret(
                    "a-git",
                    Some("git"),
                    &[("repoURL", "https://git.example.com/"), ("username", "bot"), ("password", "first")],
                ),
                secret(
                    "charts",
                    Some("helm"),
                    &[("repoURL", "^oci://charts\\..*"), ("repoURLIsRegex", "true"), ("password", "h")],
                ),
                secret("broken", Some("image"), &[("username", "x")]),
            ],
        );
        // then secret() reads the generic one only, in its project only,
        assert_eq!(sorted.secrets.get("demo", "api").unwrap()["token"], "t0ken-value");
        assert!(sorted.secrets.get("demo", "sa-token").is_none());
        assert!(sorted.secrets.get("demo", "tls").is_none());
        assert!(sorted.secrets.get("other", "api").is_none());
        // credentials match by type and URL, the first by Secret name winning,
        let git = sorted.credentials.for_url(CredentialType::Git, "https://git.example.com/team/app.git").unwrap();
        assert_eq!((git.username.as_str(), git.password.as_str()), ("bot", "first"));
        assert!(sorted.credentials.for_url(CredentialType::Helm, "oci://charts.example.com/app").is_some());
        assert!(sorted.credentials.for_url(CredentialType::Git, "oci://charts.example.com/app").is_none());
        // and a credential Secret without its keys is skipped, named without values.
        assert_eq!(sorted.skipped, vec!["secret \"broken\": has no key \"repoURL\"".to_owned()]);
    }

    #[test]
    fn a_bad_regex_or_flag_skips_the_credential() {
        let sorted = sort(
            "demo",
            [
                secret("a", Some("git"), &[("repoURL", "("), ("repoURLIsRegex", "true"), ("password", "p")]),
                secret("b", Some("git"), &[("repoURL", "x"), ("repoURLIsRegex", "yes"), ("password", "p")]),
            ],
        );
        assert_eq!(sorted.skipped.len(), 2, "{:?}", sorted.skipped);
        assert!(sorted.credentials.for_url(CredentialType::Git, "x").is_none());
    }
}
