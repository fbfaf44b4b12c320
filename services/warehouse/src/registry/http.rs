//! HTTP details of the registry API: `Link` headers, `WWW-Authenticate` challenges,
//! query encoding.

use std::collections::HashMap;

/// The `rel="next"` target of a `Link` header.
pub fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim().replace(' ', "") == "rel=\"next\"" || p.trim() == "rel=next")
            .then(|| target.trim().trim_start_matches('<').trim_end_matches('>').to_owned())
    })
}

/// `realm="…",service="…",scope="…"`.
pub fn parse_challenge(params: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = params.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (value, next) = match after.strip_prefix('"') {
            Some(quoted) => match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            },
            None => after.split_once(',').unwrap_or((after, "")),
        };
        out.insert(key, value.to_owned());
        rest = next.trim_start_matches(',');
    }
    out
}

pub(super) fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

pub(super) fn base64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers_and_challenges_parse() {
        assert_eq!(
            next_link("</v2/app/tags/list?last=b&n=2>; rel=\"next\"").as_deref(),
            Some("/v2/app/tags/list?last=b&n=2")
        );
        assert_eq!(next_link("<https://x/a>; rel=\"prev\""), None);
        let params = parse_challenge(
            "realm=\"https://auth.example.com/token\",service=\"registry\",scope=\"repository:a:pull\"",
        );
        assert_eq!(params["realm"], "https://auth.example.com/token");
        assert_eq!(params["service"], "registry");
        assert_eq!(params["scope"], "repository:a:pull");
    }
}
