//! Links to a commit on a Git host's web pages, derived from the repository's URL.

/// The web page of `commit` in the repository at `repo_url`, when `repo_url` is an
/// `https://` URL of a Git host (`https://host/owner/repo[.git]`, GitLab's nested groups
/// too): `<repo>/commit/<sha>` (Bitbucket Cloud: `<repo>/commits/<sha>`). User info is
/// dropped; anything else (`ssh://`, SCP-style, `file://`, `http://`, a query or fragment,
/// characters a URL path would need escaped, a commit that is not hex) gives `None`.
pub fn commit_url(repo_url: &str, commit: &str) -> Option<String> {
    if !(7..=64).contains(&commit.len()) || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let rest = repo_url.trim().strip_prefix("https://")?;
    if rest.contains(['?', '#']) {
        return None;
    }
    let (authority, path) = rest.split_once('/')?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let host_ok = !host.is_empty()
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    let path = path.strip_suffix('/').unwrap_or(path);
    let path = path.strip_suffix(".git").unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    let segments_ok = segments.len() >= 2
        && segments.iter().all(|s| {
            !s.is_empty()
                && *s != "."
                && *s != ".."
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~'))
        });
    if !host_ok || !segments_ok {
        return None;
    }
    let commits = if host.eq_ignore_ascii_case("bitbucket.org") { "commits" } else { "commit" };
    Some(format!("https://{host}/{path}/{commits}/{}", commit.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn git_host_urls_link_to_the_commit_page() {
        assert_eq!(
            commit_url("https://github.com/org/gitops.git", SHA).as_deref(),
            Some("https://github.com/org/gitops/commit/0123456789abcdef0123456789abcdef01234567")
        );
        assert_eq!(
            commit_url("https://bot:t0ken@gitlab.example.com/group/sub/repo/", SHA).as_deref(),
            Some("https://gitlab.example.com/group/sub/repo/commit/0123456789abcdef0123456789abcdef01234567"),
            "user info dropped, nested groups kept"
        );
        assert_eq!(
            commit_url("https://git.example.com:8443/o/r", "ABCDEF0").as_deref(),
            Some("https://git.example.com:8443/o/r/commit/abcdef0")
        );
        assert_eq!(
            commit_url("https://bitbucket.org/team/repo.git", SHA).as_deref(),
            Some("https://bitbucket.org/team/repo/commits/0123456789abcdef0123456789abcdef01234567")
        );
    }

    #[test]
    fn other_urls_and_odd_commits_give_no_link() {
        for url in [
            "file:///tmp/gitops",
            "http://git.example.com/o/r",
            "ssh://git@github.com/o/r.git",
            "git@github.com:o/r.git",
            "https://github.com/only-owner",
            "https://github.com/o/r?x=1",
            "https://github.com/o/r#frag",
            "https://github.com/o/../r",
            "https://github.com/o/r\"onmouseover=x",
            "https://github.com/o/r with space",
            "https:///o/r",
            "javascript:alert(1)//github.com/o/r",
        ] {
            assert_eq!(commit_url(url, SHA), None, "{url}");
        }
        for commit in ["", "abc", "not-a-sha", &"a".repeat(65)] {
            assert_eq!(commit_url("https://github.com/o/r", commit), None, "{commit}");
        }
    }
}
