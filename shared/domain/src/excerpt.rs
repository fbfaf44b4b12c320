//! Quoting input in error messages without echoing all of it: a value from a request can
//! be megabytes long, and an error repeats it wherever it is shown.

/// How many characters of a quoted value an error message keeps.
pub const EXCERPT_CHARS: usize = 64;

/// How long an error reason may grow before it is cut.
pub const REASON_CHARS: usize = 512;

/// `text` quoted like `{:?}` when short; otherwise its first [`EXCERPT_CHARS`] characters,
/// quoted, followed by how much was left out: `"aaaa…" (100000 characters)`.
pub fn quoted(text: &str) -> String {
    match cut(text, EXCERPT_CHARS) {
        None => format!("{text:?}"),
        Some(head) => format!("{:?} ({} characters)", format!("{head}…"), text.chars().count()),
    }
}

/// `text` itself when it has at most `max` characters, else its first `max` characters
/// followed by `… (N characters)`.
pub fn shortened(text: &str, max: usize) -> String {
    match cut(text, max) {
        None => text.to_owned(),
        Some(head) => format!("{head}… ({} characters)", text.chars().count()),
    }
}

/// The first `max` characters of `text` when it is longer, else `None`.
fn cut(text: &str, max: usize) -> Option<&str> {
    let (end, _) = text.char_indices().nth(max)?;
    Some(&text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_quoted_whole() {
        assert_eq!(quoted("uat"), "\"uat\"");
        assert_eq!(shortened("uat", 3), "uat");
    }

    #[test]
    fn long_values_keep_their_head_and_say_how_long_they_were() {
        let long = "a".repeat(100_000);
        let q = quoted(&long);
        assert!(q.len() < 100, "{q}");
        assert!(q.ends_with("…\" (100000 characters)"), "{q}");
        assert_eq!(shortened("abcdef", 3), "abc… (6 characters)");
    }

    #[test]
    fn multibyte_text_is_cut_on_a_character_boundary() {
        let text = "é".repeat(100);
        assert!(quoted(&text).starts_with("\"éé"));
    }
}
