//! How `git-push` and `github-push` bring in the commits a remote branch gained since the
//! clone (Kargo's push integration policy): rebase the local commits onto it, or merge
//! it, depending on the policy and on what rebasing would do to signatures.
//!
//! A rebase makes each local commit again: with the repository's key it signs them
//! anew, without one it leaves them unsigned. That is only faithful when the commits
//! were signed by that key already (with a key) or unsigned (without one); otherwise a
//! rebase would put the repository's signature on a commit it did not make, or strip a
//! signature. `RebaseOrMerge` merges instead, `RebaseOrFail` stops.

use std::fmt;
use std::str::FromStr;

/// Kargo's push integration policy (`LADING_GIT_PUSH_INTEGRATION_POLICY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PushIntegrationPolicy {
    /// Rebase whatever the commits' signatures (Kargo's default).
    #[default]
    AlwaysRebase,
    /// Rebase when it is faithful to the signatures, merge otherwise.
    RebaseOrMerge,
    /// Rebase when it is faithful to the signatures, fail the step otherwise.
    RebaseOrFail,
    /// Always merge: no existing commit is made again.
    AlwaysMerge,
}

/// Every policy by its name.
pub const POLICIES: [(&str, PushIntegrationPolicy); 4] = [
    ("AlwaysRebase", PushIntegrationPolicy::AlwaysRebase),
    ("RebaseOrMerge", PushIntegrationPolicy::RebaseOrMerge),
    ("RebaseOrFail", PushIntegrationPolicy::RebaseOrFail),
    ("AlwaysMerge", PushIntegrationPolicy::AlwaysMerge),
];

impl FromStr for PushIntegrationPolicy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        POLICIES.iter().find(|(name, _)| *name == text.trim()).map(|(_, policy)| *policy).ok_or_else(|| {
            let names: Vec<&str> = POLICIES.iter().map(|(name, _)| *name).collect();
            format!("must be one of {}", names.join(", "))
        })
    }
}

impl fmt::Display for PushIntegrationPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = POLICIES.iter().find(|(_, policy)| policy == self).map_or("", |(name, _)| name);
        f.write_str(name)
    }
}

impl PushIntegrationPolicy {
    /// Whether choosing needs the signatures of the commits a rebase would replay.
    pub fn reads_signatures(self) -> bool {
        matches!(self, PushIntegrationPolicy::RebaseOrMerge | PushIntegrationPolicy::RebaseOrFail)
    }
}

/// What signs a commit a rebase would replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureStatus {
    /// The repository's key (it would sign the replayed commit again).
    Trusted,
    /// Another key, or a signature that does not verify.
    Untrusted,
    /// Nothing.
    Unsigned,
}

/// How the remote's commits are brought in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Integration {
    Rebase,
    Merge,
    /// The policy forbids both: the step fails, naming the first commit that is unsafe to
    /// rebase, by its index in the commits given.
    Refuse {
        unsafe_commit: usize,
    },
}

/// Whether rebasing a commit with `status` keeps its signature truthful, in a repository
/// with a key (`signing`) or without (Kargo's decision matrix).
pub fn rebase_keeps_signature(signing: bool, status: SignatureStatus) -> bool {
    match status {
        SignatureStatus::Trusted => signing,
        SignatureStatus::Untrusted => false,
        SignatureStatus::Unsigned => !signing,
    }
}

/// Why rebasing a commit with `status` would not keep its signature truthful, `None` when
/// it would.
pub fn rebase_unsafe_because(signing: bool, status: SignatureStatus) -> Option<&'static str> {
    match (signing, status) {
        _ if rebase_keeps_signature(signing, status) => None,
        (_, SignatureStatus::Untrusted) => Some("it is signed by a key other than the repository's"),
        (true, _) => Some("it is unsigned, and the rebase would sign it with the repository's key"),
        (false, _) => Some("it is signed, and the rebase, without a key, would drop its signature"),
    }
}

/// How `policy` brings in the remote's commits, given the signatures of the local
/// commits a rebase would replay (`replayed`), in a repository with a key or without.
pub fn integration(policy: PushIntegrationPolicy, signing: bool, replayed: &[SignatureStatus]) -> Integration {
    let first_unsafe = || replayed.iter().position(|status| !rebase_keeps_signature(signing, *status));
    match policy {
        PushIntegrationPolicy::AlwaysRebase => Integration::Rebase,
        PushIntegrationPolicy::AlwaysMerge => Integration::Merge,
        PushIntegrationPolicy::RebaseOrMerge => match first_unsafe() {
            None => Integration::Rebase,
            Some(_) => Integration::Merge,
        },
        PushIntegrationPolicy::RebaseOrFail => match first_unsafe() {
            None => Integration::Rebase,
            Some(unsafe_commit) => Integration::Refuse { unsafe_commit },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::SignatureStatus::*;
    use super::*;

    #[test]
    fn a_rebase_is_faithful_only_to_commits_the_repository_would_sign_alike() {
        // Given a repository with a key: its own signatures are made again, others are not.
        assert!(rebase_keeps_signature(true, Trusted));
        assert!(!rebase_keeps_signature(true, Untrusted));
        assert!(!rebase_keeps_signature(true, Unsigned), "it would sign a commit it did not make");
        // Given one without: unsigned commits stay unsigned, a signature would be lost.
        assert!(rebase_keeps_signature(false, Unsigned));
        assert!(!rebase_keeps_signature(false, Trusted), "it would strip the signature");
        assert!(!rebase_keeps_signature(false, Untrusted));
    }

    #[test]
    fn an_unsafe_commit_is_explained_and_a_safe_one_is_not() {
        assert_eq!(rebase_unsafe_because(true, Trusted), None);
        assert_eq!(rebase_unsafe_because(false, Unsigned), None);
        assert!(rebase_unsafe_because(true, Untrusted).unwrap().contains("other than the repository's"));
        assert!(rebase_unsafe_because(true, Unsigned).unwrap().contains("would sign it"));
        assert!(rebase_unsafe_because(false, Trusted).unwrap().contains("drop its signature"));
    }

    #[test]
    fn the_unconditional_policies_ignore_signatures() {
        for replayed in [&[][..], &[Trusted], &[Untrusted, Unsigned]] {
            for signing in [true, false] {
                assert_eq!(integration(PushIntegrationPolicy::AlwaysRebase, signing, replayed), Integration::Rebase);
                assert_eq!(integration(PushIntegrationPolicy::AlwaysMerge, signing, replayed), Integration::Merge);
            }
        }
    }

    #[test]
    fn the_checking_policies_rebase_when_every_commit_is_safe_and_fall_back_otherwise() {
        // Given signed commits of the repository's own key, then both rebase;
        for policy in [PushIntegrationPolicy::RebaseOrMerge, PushIntegrationPolicy::RebaseOrFail] {
            assert_eq!(integration(policy, true, &[Trusted, Trusted]), Integration::Rebase);
            assert_eq!(integration(policy, false, &[Unsigned]), Integration::Rebase);
            assert_eq!(integration(policy, true, &[]), Integration::Rebase, "nothing to replay");
        }
        // given one commit another key signed, then one merges and the other refuses, naming it.
        let replayed = [Trusted, Untrusted, Unsigned];
        assert_eq!(integration(PushIntegrationPolicy::RebaseOrMerge, true, &replayed), Integration::Merge);
        assert_eq!(
            integration(PushIntegrationPolicy::RebaseOrFail, true, &replayed),
            Integration::Refuse { unsafe_commit: 1 }
        );
        assert_eq!(
            integration(PushIntegrationPolicy::RebaseOrFail, false, &[Unsigned, Trusted]),
            Integration::Refuse { unsafe_commit: 1 }
        );
    }

    #[test]
    fn a_policy_is_named_as_kargo_names_it() {
        assert_eq!("RebaseOrMerge".parse(), Ok(PushIntegrationPolicy::RebaseOrMerge));
        assert_eq!(" AlwaysMerge ".parse(), Ok(PushIntegrationPolicy::AlwaysMerge));
        assert_eq!(PushIntegrationPolicy::default(), PushIntegrationPolicy::AlwaysRebase);
        let error = "rebase".parse::<PushIntegrationPolicy>().unwrap_err();
        assert_eq!(error, "must be one of AlwaysRebase, RebaseOrMerge, RebaseOrFail, AlwaysMerge");
        for (name, policy) in POLICIES {
            assert_eq!(policy.to_string(), name);
        }
    }
}
