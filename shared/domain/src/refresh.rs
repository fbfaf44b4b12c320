//! Refresh requests made with an annotation (Kargo's `kargo.akuity.io/refresh`): which
//! token an object asks for, and whether it still has to be requested.
//!
//! The annotation's value is a token; once the request is handled, the object's
//! `status.lastHandledRefresh` equals it, so a client waits for that. A token is
//! requested once: not again when it is already handled (after a restart or a takeover
//! the log says so), nor while a request for it is on its way.

use std::collections::BTreeMap;

/// Lading's refresh annotation.
pub const LADING_REFRESH_ANNOTATION: &str = "lading.dev/refresh";
/// Kargo's refresh annotation (`kargo refresh` sets it), accepted as Lading's.
pub const KARGO_REFRESH_ANNOTATION: &str = "kargo.akuity.io/refresh";
/// Both, in the order they are read.
pub const REFRESH_ANNOTATIONS: [&str; 2] = [LADING_REFRESH_ANNOTATION, KARGO_REFRESH_ANNOTATION];

/// The token an object's annotations ask for: Lading's annotation when it has a value,
/// else Kargo's. One token at a time, so an object carrying both with different values
/// is handled once, not back and forth between them.
pub fn requested_token(annotations: &BTreeMap<String, String>) -> Option<&str> {
    REFRESH_ANNOTATIONS.iter().filter_map(|key| annotations.get(*key)).map(String::as_str).find(|t| !t.is_empty())
}

/// Whether `token` must be requested now: it is neither the object's last handled token
/// (`handled`) nor the one already requested and not yet handled (`in_flight`).
pub fn must_request(token: &str, handled: Option<&str>, in_flight: Option<&str>) -> bool {
    !token.is_empty() && handled != Some(token) && in_flight != Some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn given_either_annotation_when_read_then_its_value_is_the_token() {
        assert_eq!(requested_token(&annotations(&[("lading.dev/refresh", "a")])), Some("a"));
        assert_eq!(requested_token(&annotations(&[("kargo.akuity.io/refresh", "b")])), Some("b"));
    }

    #[test]
    fn given_both_annotations_when_read_then_ladings_wins_unless_empty() {
        let both = annotations(&[("lading.dev/refresh", "a"), ("kargo.akuity.io/refresh", "b")]);
        assert_eq!(requested_token(&both), Some("a"));
        let empty = annotations(&[("lading.dev/refresh", ""), ("kargo.akuity.io/refresh", "b")]);
        assert_eq!(requested_token(&empty), Some("b"));
    }

    #[test]
    fn given_no_refresh_annotation_when_read_then_no_token() {
        assert_eq!(requested_token(&annotations(&[("other", "x")])), None);
        assert_eq!(requested_token(&annotations(&[("lading.dev/refresh", "")])), None);
    }

    #[test]
    fn given_a_new_token_when_decided_then_it_is_requested() {
        assert!(must_request("b", Some("a"), None));
        assert!(must_request("a", None, None));
        assert!(must_request("c", Some("a"), Some("b")));
    }

    #[test]
    fn given_a_handled_token_when_decided_then_it_is_not_requested_again() {
        assert!(!must_request("a", Some("a"), None));
    }

    #[test]
    fn given_a_token_on_its_way_when_decided_then_it_is_not_requested_twice() {
        assert!(!must_request("a", None, Some("a")));
        assert!(!must_request("a", Some("z"), Some("a")));
    }

    #[test]
    fn given_an_empty_token_when_decided_then_nothing_is_requested() {
        assert!(!must_request("", None, None));
    }
}
