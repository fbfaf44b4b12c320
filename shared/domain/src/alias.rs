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

/// A Freight object's alias as its `alias` field and [`ALIAS_LABEL`] label say it,
/// read from one observed state of the object and the one before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectAlias {
    /// The object says what is known (or nothing new): keep the alias.
    Keep,
    /// The object asks for this alias.
    Change(String),
    /// Field and label are both empty.
    Cleared,
}

/// The alias a Freight object asks for, by Kargo's rule: when the field has a value the
/// label takes it; when the field is empty the alias is the label's value; both empty
/// clear it. Kubernetes has no order between two edits of one object, so the edit that
/// happened wins: a field that changed to a value beats the label, a label that changed
/// while the field stayed put beats the (stale) field. `previous` and `current` are
/// `(field, label)`; `known` is the alias on the log.
pub fn alias_from_object(known: &str, previous: (&str, &str), current: (&str, &str)) -> ObjectAlias {
    let (field, label) = current;
    let wanted = if !field.is_empty() && field != previous.0 {
        field
    } else if !label.is_empty() && label != previous.1 {
        label
    } else if !field.is_empty() {
        field
    } else if !label.is_empty() {
        label
    } else {
        return ObjectAlias::Cleared;
    };
    if wanted == known { ObjectAlias::Keep } else { ObjectAlias::Change(wanted.to_owned()) }
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

    #[test]
    fn given_a_freight_object_when_the_field_is_patched_then_the_field_is_the_alias() {
        let known = "brave-otter";
        let asked = alias_from_object(known, (known, known), ("frozen-tauntaun", known));
        assert_eq!(asked, ObjectAlias::Change("frozen-tauntaun".to_owned()));
    }

    #[test]
    fn given_the_field_cleared_when_the_label_is_overwritten_then_the_label_is_the_alias() {
        let known = "brave-otter";
        // Both edits seen at once, or the label edit after the field was set back.
        for previous in [(known, known), ("", known)] {
            let asked = alias_from_object(known, previous, ("", "frozen-tauntaun"));
            assert_eq!(asked, ObjectAlias::Change("frozen-tauntaun".to_owned()), "{previous:?}");
        }
        let after_restore = alias_from_object(known, (known, known), (known, "frozen-tauntaun"));
        assert_eq!(after_restore, ObjectAlias::Change("frozen-tauntaun".to_owned()));
    }

    #[test]
    fn given_only_the_field_cleared_then_the_label_keeps_the_alias() {
        assert_eq!(
            alias_from_object("brave-otter", ("brave-otter", "brave-otter"), ("", "brave-otter")),
            ObjectAlias::Keep
        );
    }

    #[test]
    fn given_both_cleared_then_the_alias_is_cleared() {
        assert_eq!(alias_from_object("brave-otter", ("brave-otter", "brave-otter"), ("", "")), ObjectAlias::Cleared);
    }

    #[test]
    fn given_field_and_label_disagree_without_an_edit_then_the_field_wins() {
        let asked = alias_from_object("brave-otter", ("calm-koala", "brave-otter"), ("calm-koala", "brave-otter"));
        assert_eq!(asked, ObjectAlias::Change("calm-koala".to_owned()));
    }
}
