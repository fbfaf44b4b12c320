//! Repository URL normalization, as Kargo applies it before computing a freight ID.

/// Why a repository URL could not be normalized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("a Git repository URL must not have a query string: {0:?}")]
    GitQuery(String),
    #[error("{0:?} is not a Git repository URL Lading understands")]
    GitUnrecognized(String),
}

fn printable_trimmed_lowercase(raw: &str) -> String {
    let printable: String = raw.chars().filter(|c| !c.is_control()).collect();
    printable.trim().to_lowercase()
}

/// Removes one trailing `/`, then one trailing `.git`.
fn trim_git_suffixes(path: &str) -> &str {
    let path = path.strip_suffix('/').unwrap_or(path);
    path.strip_suffix(".git").unwrap_or(path)
}

/// Normalizes a Git repository URL: drops non-printable characters, trims, lowercases;
/// HTTP(S) URLs lose their user info, one trailing `/` and then one `.git`; `ssh://` and
/// SCP-style (`git@host:path`) URLs become `ssh://user@host/path` with the same trims.
pub fn normalize_git(raw: &str) -> Result<String, UrlError> {
    let url = printable_trimmed_lowercase(raw);
    for scheme in ["https://", "http://"] {
        if let Some(rest) = url.strip_prefix(scheme) {
            if rest.contains('?') {
                return Err(UrlError::GitQuery(raw.to_owned()));
            }
            let (authority, path) = match rest.find('/') {
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            return Ok(format!("{scheme}{host}{}", trim_git_suffixes(path)));
        }
    }
    if let Some(rest) = url.strip_prefix("ssh://") {
        if rest.contains('?') {
            return Err(UrlError::GitQuery(raw.to_owned()));
        }
        return Ok(format!("ssh://{}", trim_git_suffixes(rest)));
    }
    if url.contains("://") {
        // file://, git:// and other schemes: compared as written, trimmed.
        return Ok(trim_git_suffixes(&url).to_owned());
    }
    // SCP-style: [user@]host:path
    if let Some((user_host, path)) = url.split_once(':')
        && !user_host.is_empty()
        && !user_host.contains('/')
    {
        let path = path.strip_prefix('/').unwrap_or(path);
        return Ok(format!("ssh://{user_host}/{}", trim_git_suffixes(path)));
    }
    if url.starts_with('/') {
        return Ok(trim_git_suffixes(&url).to_owned());
    }
    Err(UrlError::GitUnrecognized(raw.to_owned()))
}

const DOCKER_HUB_HOSTS: [&str; 3] = ["docker.io", "index.docker.io", "registry-1.docker.io"];

/// Normalizes an image repository reference: Docker Hub's host names and its `library/`
/// prefix are dropped (`docker.io/library/nginx` → `nginx`); other registries keep
/// `host/repository`.
pub fn normalize_image_repo(repo: &str) -> String {
    let (first, rest) = match repo.split_once('/') {
        Some((first, rest)) => (first, Some(rest)),
        None => (repo, None),
    };
    let is_host = rest.is_some() && (first.contains('.') || first.contains(':') || first == "localhost");
    let (host, path) = if is_host { (Some(first), rest.unwrap_or_default()) } else { (None, repo) };
    match host {
        Some(h) if !DOCKER_HUB_HOSTS.contains(&h) => format!("{h}/{path}"),
        _ => path.strip_prefix("library/").unwrap_or(path).to_owned(),
    }
}

/// Normalizes a chart repository URL: lowercase, `oci://` stripped, then normalized as an
/// image reference. Classic HTTP(S) repositories are not image references and stay as
/// written (lowercased).
pub fn normalize_chart(raw: &str) -> String {
    let lower = raw.to_lowercase();
    let stripped = lower.strip_prefix("oci://").unwrap_or(&lower);
    if stripped.contains("://") {
        return stripped.to_owned();
    }
    normalize_image_repo(stripped)
}

/// Go's `path.Join`: joins the non-empty elements with `/` and cleans the result
/// (collapsing `//`, resolving `.` and `..`, dropping a trailing `/`).
pub fn go_path_join(elements: &[&str]) -> String {
    let joined: Vec<&str> = elements.iter().copied().filter(|e| !e.is_empty()).collect();
    if joined.is_empty() {
        return String::new();
    }
    go_path_clean(&joined.join("/"))
}

/// Go's `path.Clean`.
pub fn go_path_clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let body = parts.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".to_owned(),
        (false, false) => body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_urls_lose_user_info_slash_and_dot_git() {
        assert_eq!(normalize_git("https://github.com/example/app.git").unwrap(), "https://github.com/example/app");
        assert_eq!(
            normalize_git(" HTTPS://User:Tok@GitHub.com/Example/App.git/\n").unwrap(),
            "https://github.com/example/app"
        );
        assert_eq!(normalize_git("http://h/x.git/").unwrap(), "http://h/x");
        assert_eq!(normalize_git("https://ghp_t0ken@h/x.git").unwrap(), "https://h/x");
        // only one of each suffix goes
        assert_eq!(normalize_git("https://h/x.git.git").unwrap(), "https://h/x.git");
        assert_eq!(normalize_git("https://h/x//").unwrap(), "https://h/x/");
    }

    #[test]
    fn a_query_string_is_an_error() {
        assert!(matches!(normalize_git("https://h/x?ref=main"), Err(UrlError::GitQuery(_))));
    }

    #[test]
    fn ssh_and_scp_style_become_ssh_urls() {
        assert_eq!(normalize_git("git@github.com:example/app.git").unwrap(), "ssh://git@github.com/example/app");
        assert_eq!(normalize_git("ssh://git@github.com/example/app.git/").unwrap(), "ssh://git@github.com/example/app");
    }

    #[test]
    fn non_printable_characters_are_dropped() {
        assert_eq!(normalize_git("https://h/a\u{7}pp").unwrap(), "https://h/app");
    }

    #[test]
    fn image_references_drop_docker_hub() {
        assert_eq!(normalize_image_repo("nginx"), "nginx");
        assert_eq!(normalize_image_repo("docker.io/library/nginx"), "nginx");
        assert_eq!(normalize_image_repo("index.docker.io/bitnami/redis"), "bitnami/redis");
        assert_eq!(normalize_image_repo("registry-1.docker.io/library/x"), "x");
        assert_eq!(normalize_image_repo("ghcr.io/akuity/kargo"), "ghcr.io/akuity/kargo");
        assert_eq!(normalize_image_repo("localhost:5000/app"), "localhost:5000/app");
        assert_eq!(normalize_image_repo("library/nginx"), "nginx");
    }

    #[test]
    fn charts_strip_oci_and_lowercase() {
        assert_eq!(normalize_chart("oci://GHCR.io/Stefan/charts"), "ghcr.io/stefan/charts");
        assert_eq!(normalize_chart("oci://registry-1.docker.io/bitnamicharts"), "bitnamicharts");
        assert_eq!(normalize_chart("https://Charts.Example.com/"), "https://charts.example.com/");
    }

    #[test]
    fn go_path_join_cleans() {
        assert_eq!(go_path_join(&["ghcr.io/x/charts", "app"]), "ghcr.io/x/charts/app");
        assert_eq!(go_path_join(&["ghcr.io/x/charts/", ""]), "ghcr.io/x/charts");
        assert_eq!(go_path_join(&["https://charts.example.com", "nginx"]), "https:/charts.example.com/nginx");
        assert_eq!(go_path_join(&["", ""]), "");
        assert_eq!(go_path_clean("/a/../../b"), "/b");
        assert_eq!(go_path_clean("a/../.."), "..");
    }
}
