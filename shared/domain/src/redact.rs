//! URLs as errors and logs may show them: without user info (a token is often written
//! there), without a query string or fragment (webhook URLs carry secrets there).

/// `url` without user info, query or fragment. Text that is not a `scheme://` URL is
/// returned without a query or fragment.
pub fn redact_url(url: &str) -> String {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    let url = &url[..end];
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    match authority.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://***@{host}{path}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_query_and_fragment_are_removed() {
        assert_eq!(redact_url("https://bot:t0ken@git.example.com/a.git"), "https://***@git.example.com/a.git");
        assert_eq!(redact_url("https://hooks.example.com/x?token=s3cret#frag"), "https://hooks.example.com/x");
        assert_eq!(redact_url("https://u:p@h:8443?x=y"), "https://***@h:8443");
    }

    #[test]
    fn a_bare_token_as_user_info_is_removed_like_a_password() {
        assert_eq!(redact_url("https://ghp_t0ken@github.com/org/app.git"), "https://***@github.com/org/app.git");
        assert_eq!(redact_url("oci://ghp_t0ken@ghcr.io/org/chart"), "oci://***@ghcr.io/org/chart");
        assert_eq!(redact_url("https://ghp_t0ken@h"), "https://***@h");
    }

    #[test]
    fn plain_urls_and_paths_are_unchanged() {
        assert_eq!(redact_url("https://git.example.com/a.git"), "https://git.example.com/a.git");
        assert_eq!(redact_url("file:///tmp/x"), "file:///tmp/x");
        assert_eq!(redact_url("127.0.0.1:5000/app"), "127.0.0.1:5000/app");
    }
}
