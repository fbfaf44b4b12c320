//! Human aliases for freight: `<adjective>-<animal>`, derived from the freight ID.
//!
//! The first candidate is a pure function of the ID, so every replica proposes the same
//! alias; uniqueness within a project is decided by whoever stores the alias (atomically),
//! which asks for the next candidate when one is taken.

use sha1::{Digest, Sha1};

use crate::freight_id::FreightId;

/// The label carrying a freight's alias, as Kargo's `kargo.akuity.io/alias`.
pub const ALIAS_LABEL: &str = "lading.dev/alias";

fn words(text: &'static str) -> Vec<&'static str> {
    text.split_whitespace().collect()
}

fn adjectives() -> &'static [&'static str] {
    static WORDS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    WORDS.get_or_init(|| words(include_str!("words/adjectives.txt")))
}

fn animals() -> &'static [&'static str] {
    static WORDS: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    WORDS.get_or_init(|| words(include_str!("words/animals.txt")))
}

/// How many distinct aliases exist.
pub fn combinations() -> u64 {
    (adjectives().len() * animals().len()) as u64
}

/// The `attempt`-th alias candidate for a freight (attempt 0 first).
pub fn candidate(id: &FreightId, attempt: u32) -> String {
    let mut hasher = Sha1::new();
    hasher.update(id.as_str().as_bytes());
    hasher.update(attempt.to_be_bytes());
    let digest = hasher.finalize();
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    let index = u64::from_be_bytes(head) % combinations();
    let adjective = adjectives()[(index / animals().len() as u64) as usize];
    let animal = animals()[(index % animals().len() as u64) as usize];
    format!("{adjective}-{animal}")
}

/// Whether `text` has the shape of an alias (two lowercase words joined by `-`).
pub fn looks_like_alias(text: &str) -> bool {
    match text.split_once('-') {
        Some((a, b)) => {
            !a.is_empty()
                && !b.is_empty()
                && a.bytes().all(|c| c.is_ascii_lowercase())
                && b.bytes().all(|c| c.is_ascii_lowercase())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn id(n: u32) -> FreightId {
        let hex: String = Sha1::digest(n.to_be_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        FreightId::parse(&hex).unwrap()
    }

    #[test]
    fn word_lists_give_at_least_90000_unique_aliases() {
        let unique_adjectives: HashSet<_> = adjectives().iter().collect();
        let unique_animals: HashSet<_> = animals().iter().collect();
        assert_eq!(unique_adjectives.len(), adjectives().len(), "duplicate adjective");
        assert_eq!(unique_animals.len(), animals().len(), "duplicate animal");
        assert!(combinations() >= 90_000, "only {} combinations", combinations());
        for word in unique_adjectives.iter().chain(unique_animals.iter()) {
            assert!(word.bytes().all(|c| c.is_ascii_lowercase()), "{word:?}");
        }
    }

    #[test]
    fn the_first_candidate_is_deterministic() {
        assert_eq!(candidate(&id(1), 0), candidate(&id(1), 0));
        assert!(looks_like_alias(&candidate(&id(1), 0)));
    }

    #[test]
    fn later_attempts_propose_other_aliases() {
        let proposals: HashSet<_> = (0..20).map(|a| candidate(&id(7), a)).collect();
        assert!(proposals.len() >= 19);
    }

    #[test]
    fn candidates_spread_over_the_space() {
        let firsts: HashSet<_> = (0..2000).map(|n| candidate(&id(n), 0)).collect();
        // 2,000 draws from 109,272 aliases collide ~18 times on average.
        assert!(firsts.len() > 1900, "{} distinct", firsts.len());
    }

    #[test]
    fn alias_shape() {
        assert!(looks_like_alias("brave-otter"));
        assert!(!looks_like_alias("brave"));
        assert!(!looks_like_alias("1edc32a855f4aceead43bf3774b7fdd88bb48a79"));
    }
}
